#!/usr/bin/env python3
"""Feed fetching over HTTP against a local server this test starts and
stops (127.0.0.1 only): conditional GET with ETag and Last-Modified, gzip,
redirects (never to file://), and every hostile answer we know of. After a
good fetch, each hostile answer must fail the feed with a clear reason, keep
its last good snapshot (so nothing of it would be deleted) and exit 1.

Usage: fetch.py IOCSYNC
"""
import gzip
import http.server
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

IOCSYNC = sys.argv[1]
WRAP = os.environ.get("IOCSYNC_WRAPPER", "").split()
GOOD = "".join("45.%d.0.%d\n" % (i // 200, 1 + i % 200) for i in range(40))
MODE = {"mode": "good"}
SEEN = []   # the request headers of each request, for the validator checks


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        SEEN.append(dict(self.headers))
        m = MODE["mode"]
        if self.path == "/start":                       # where a redirect lands
            return self.send(200, GOOD)
        if m == "good":
            if self.headers.get("If-None-Match") == '"v1"':
                return self.send(304, b"", [("ETag", '"v1"')])
            return self.send(200, GOOD, [("ETag", '"v1"'), ("Content-Type", "text/plain")])
        if m == "lastmod":
            lm = "Wed, 21 Oct 2026 07:28:00 GMT"
            if self.headers.get("If-Modified-Since") == lm:
                return self.send(304, b"")
            return self.send(200, GOOD, [("Last-Modified", lm)])
        if m == "gzip":
            return self.send(200, gzip.compress(GOOD.encode()), [("Content-Encoding", "gzip")])
        if m == "redirect":
            return self.send(302, b"", [("Location", "/start")])
        if m == "redirect-file":
            return self.send(302, b"", [("Location", "file:///etc/hosts")])
        if m == "redirect-loop":
            return self.send(302, b"", [("Location", self.path)])
        if m in ("404", "500", "503"):
            return self.send(int(m), "<html><body>error</body></html>")
        if m == "html":
            return self.send(200, "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>login</body></html>\n")
        if m == "empty":
            return self.send(200, b"")
        if m == "truncated-gzip":
            z = gzip.compress(GOOD.encode())
            return self.send(200, z[:len(z) // 2], [("Content-Encoding", "gzip")])
        if m == "corrupt-gzip":
            z = bytearray(gzip.compress(GOOD.encode()))
            z[20:30] = b"\xff" * 10
            return self.send(200, bytes(z), [("Content-Encoding", "gzip")])
        if m == "gzip-bomb":                            # 180 kB on the wire, 10 MB unpacked
            return self.send(200, gzip.compress(b"0" * 10000000), [("Content-Encoding", "gzip")])
        if m == "gz-file":                              # a .gz served as application/gzip
            return self.send(200, gzip.compress(GOOD.encode()), [("Content-Type", "application/gzip")])
        if m == "binary":
            return self.send(200, bytes(range(256)) * 64)
        if m == "over-cap":
            return self.send(200, GOOD * 400)   # ~180 kB, cap 100 kB
        if m == "over-cap-chunked":                     # no Content-Length: the cap must hold anyway
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = GOOD.encode() * 20
            for _ in range(20):
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    return
            self.wfile.write(b"0\r\n\r\n")
            return
        if m == "shrunk":
            return self.send(200, GOOD.splitlines(True)[0])
        if m in ("slow", "hang"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            for ch in GOOD.encode():
                try:
                    self.wfile.write(bytes([ch]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(1 if m == "slow" else 30)
            return
        if m == "reset":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(GOOD.encode()[:50])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        raise AssertionError("unknown mode " + m)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass    # iocsync hanging up on a hostile answer is the point


def main():
    work = tempfile.mkdtemp(prefix="iocsync-fetch-")
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/feed.txt" % srv.server_address[1]
    conf = os.path.join(work, "f.conf")
    with open(conf, "w") as f:
        f.write("[sync]\nstate = %s/state.db\n[fetch]\ntimeout = 4s\nmax_redirects = 3\n"
                "max_bytes = 100000\n[feed \"f\"]\nurl = %s\ntype = ip\nformat = text\n" % (work, url))
    passed = failed = 0

    def run():
        p = subprocess.run([*WRAP, IOCSYNC, "-c", conf, "feeds", "--summary"], capture_output=True,
                           text=True, timeout=120)
        return p.returncode, p.stdout + p.stderr

    def case(name, mode, rc_want, *want):
        nonlocal passed, failed
        MODE["mode"] = mode
        SEEN.clear()
        t0 = time.time()
        rc, out = run()
        took = time.time() - t0
        miss = [w for w in want if w not in out]
        if rc != rc_want or miss:
            failed += 1
            print("FAIL %s: exit %d (want %d), missing %s\n%s" % (name, rc, rc_want, miss, out))
        else:
            passed += 1
            print("ok   %-28s exit %d in %.1f s" % (name, rc, took))
        return out

    kept = "keeping the last good snapshot"
    try:
        case("first good fetch", "good", 0, "accepted 40", "fetch 200, snapshot fresh")
        case("304 on If-None-Match", "good", 0, "fetch 304, snapshot unchanged", "accepted 40")
        assert SEEN and SEEN[0].get("If-None-Match") == '"v1"', SEEN
        case("Last-Modified then 304", "lastmod", 0, "snapshot fresh")
        case("If-Modified-Since sent", "lastmod", 0, "fetch 304")
        case("gzip", "gzip", 0, "accepted 40", "snapshot fresh")
        case("redirect followed", "redirect", 0, "accepted 40")
        # Each hostile answer: the feed fails, the snapshot is kept, exit 1.
        case("404", "404", 1, "HTTP status 404", kept, "accepted 40")
        case("500", "500", 1, "HTTP status 500", kept, "accepted 40")
        case("503", "503", 1, "HTTP status 503", kept)
        case("HTML page", "html", 1, "an HTML page, not a feed", kept, "accepted 40")
        case("empty 200", "empty", 1, "empty body", kept, "accepted 40")
        case("truncated gzip", "truncated-gzip", 1, "truncated gzip", kept, "accepted 40")
        case("corrupt gzip", "corrupt-gzip", 1, "corrupt gzip", kept, "accepted 40")
        case("gzip bomb", "gzip-bomb", 1, "larger than max_bytes = 100000 once unpacked", kept)
        case(".gz file as it is", "gz-file", 0, "accepted 40", "snapshot fresh")
        case("binary", "binary", 1, "binary data, not a text feed", kept, "accepted 40")
        case("over the cap", "over-cap", 1, "larger than max_bytes", kept)
        case("over the cap, chunked", "over-cap-chunked", 1, "larger than max_bytes", kept)
        # A guard holds deletions only: the new body is read (its values go
        # out), the old one stays the baseline, and the feed is not failed.
        case("shrinks by 97%", "shrunk", 0, "shrank from 40 to 1", "its deletions are held", "snapshot kept (shrank)",
             "accepted 1")
        case("redirect to file://", "redirect-file", 1, "only http and https are followed", kept)
        case("redirect loop", "redirect-loop", 1, kept)
        case("connection reset", "reset", 1, kept, "accepted 40")
        case("one byte a second", "slow", 1, kept, "accepted 40")
        # A server that went away: connection refused.
        srv.shutdown()
        srv.server_close()
        case("server gone", "good", 1, kept, "accepted 40")
    finally:
        try:
            srv.shutdown()
        except Exception:
            pass
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
