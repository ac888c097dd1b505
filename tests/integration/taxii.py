#!/usr/bin/env python3
"""TAXII 2.1 feeds against a local server this test starts and stops
(127.0.0.1 only): discovery, API root, collections, objects paged with
more/next, added_after from X-TAXII-Date-Added-Last on the next reading,
a revocation replacing what it revokes, basic authentication and an API key
header, and a refused login keeping the snapshot.

Usage: taxii.py IOCSYNC
"""
import base64
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import urllib.parse

from harness import Checks

IOCSYNC = sys.argv[1]
WRAP = os.environ.get("IOCSYNC_WRAPPER", "").split()
COLL = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
USER, PASSWORD, API_KEY = "reader", "s3cret-taxii-pw", "k-5f1e0c7a"
OBJECTS = []        # (date_added, object), in the order added
REQUESTS = []       # (path, query) of every objects request
SEEN = []           # (Host header, path, credentials sent) of every request
PAGE = 2            # the server pages by two whatever the client asks


def indicator(n, ip, modified="2026-11-01T00:00:00.000Z", **extra):
    o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-%012d" % n,
         "created": "2026-11-01T00:00:00.000Z", "modified": modified, "name": "c2 %d" % n,
         "pattern": "[ipv4-addr:value = '%s']" % ip, "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z"}
    o.update(extra)
    return o


def add(obj):
    OBJECTS.append(("2026-11-%02dT00:00:%02d.000Z" % (2 + len(OBJECTS) // 60, len(OBJECTS) % 60), obj))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, doc, headers=()):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/taxii+json;version=2.1")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        SEEN.append((self.headers.get("Host", ""), self.path, bool(auth or self.headers.get("X-API-Key"))))
        port = self.server.server_address[1]
        if self.path == "/elsewhere/":     # discovery naming an API root on another host
            return self.send(200, {"title": "t", "default": "http://localhost:%d/api1/" % port,
                                   "api_roots": ["http://localhost:%d/api1/" % port]})
        if self.path == "/moved/":         # a redirect, with credentials riding along
            self.send_response(302)
            self.send_header("Location", "http://localhost:%d/api1/" % port)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ok = auth == "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode() or \
            self.headers.get("X-API-Key") == API_KEY
        if not ok:
            return self.send(401, {"title": "unauthorized"})
        if "application/taxii+json;version=2.1" not in self.headers.get("Accept", ""):
            return self.send(406, {"title": "not acceptable"})
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/taxii2/":
            return self.send(200, {"title": "test", "default": "/api1/", "api_roots": ["/api1/"]})
        if u.path == "/api1/":
            return self.send(200, {"title": "api1", "versions": ["application/taxii+json;version=2.1"],
                                   "max_content_length": 10485760})
        if u.path == "/api1/collections/":
            return self.send(200, {"collections": [
                {"id": "0000-other", "title": "Other", "can_read": True},
                {"id": COLL, "title": "Indicators", "can_read": True}]})
        if u.path == "/api1/collections/%s/objects/" % COLL:
            REQUESTS.append((u.path, q))
            rows = [r for r in OBJECTS if "added_after" not in q or r[0] > q["added_after"]]
            start = int(q.get("next", "0"))
            page = rows[start:start + PAGE]
            more = start + PAGE < len(rows)
            doc = {"more": more, "objects": [o for _, o in page]}
            if more:
                doc["next"] = str(start + PAGE)
            hdr = [("X-TAXII-Date-Added-First", page[0][0]), ("X-TAXII-Date-Added-Last", page[-1][0])] if page else []
            return self.send(200, doc, hdr)
        return self.send(404, {"title": "not found"})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    work = tempfile.mkdtemp(prefix="iocsync-taxii-")
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    pw, key = os.path.join(work, "pw"), os.path.join(work, "key")
    for path, text in ((pw, PASSWORD), (key, API_KEY)):
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
    conf = os.path.join(work, "f.conf")

    def write_conf(password_file=pw):
        with open(conf, "w") as f:
            f.write("[sync]\nstate = %s/state.db\n"
                    "[feed \"tx\"]\nurl = %s/taxii2/\nformat = taxii\ntaxii_collection = Indicators\n"
                    "username = %s\npassword_file = %s\nallow_http = yes\n"
                    "[feed \"tk\"]\nurl = %s/api1/\nformat = taxii\ntaxii_collection = %s\n"
                    "api_key_header = X-API-Key\napi_key_file = %s\nenabled = no\nallow_http = yes\n"
                    % (work, base, USER, password_file, base, COLL, key))

    checks = Checks()
    check = checks.check

    def feeds(*names):
        p = subprocess.run([*WRAP, IOCSYNC, "-c", conf, "feeds", *names], capture_output=True, text=True, timeout=120)
        vals = sorted(l.split("\t")[1] for l in p.stdout.splitlines() if l.startswith("IpAddress\t"))
        return p.returncode, vals, p.stdout + p.stderr

    try:
        write_conf()
        for i in range(5):
            add(indicator(i, "45.1.0.%d" % (i + 1)))
        rc, vals, out = feeds("tx")
        check("first reading: every object over three pages", rc == 0 and vals == ["45.1.0.%d" % i for i in range(1, 6)], out)
        check("  discovery, then the default API root's collection by title", len(REQUESTS) == 3, REQUESTS)
        check("  no added_after the first time", all("added_after" not in q for _, q in REQUESTS), REQUESTS)

        REQUESTS.clear()
        add(indicator(5, "45.1.0.6"))
        add(indicator(6, "45.1.0.7"))
        add(indicator(0, "45.1.0.1", modified="2026-11-20T00:00:00.000Z", revoked=True))
        rc, vals, out = feeds("tx")
        want = ["45.1.0.%d" % i for i in range(2, 8)]
        check("second reading: two new, one revoked", rc == 0 and vals == want, out)
        check("  added_after is the last reading's X-TAXII-Date-Added-Last",
              REQUESTS and REQUESTS[0][1].get("added_after") == OBJECTS[4][0], REQUESTS)
        check("  only what was added since was sent", len(REQUESTS) == 2, REQUESTS)

        REQUESTS.clear()
        rc, vals, out = feeds("tx")
        check("third reading: nothing new, the snapshot stands", rc == 0 and vals == want and "unchanged" in out, out)

        write_conf(password_file=key)              # the wrong password
        rc, vals, out = feeds("tx")
        check("a refused login fails the feed and keeps its snapshot",
              rc == 1 and "HTTP status 401" in out and "keeping the last good snapshot" in out and vals == want, out)
        check("  the password is never printed", PASSWORD not in out and API_KEY not in out, out)

        write_conf()
        with open(conf) as f:
            text = f.read().replace("enabled = no\n", "")
        with open(conf, "w") as f:
            f.write(text)
        rc, vals, out = feeds("tk")
        check("an API key header, and the API root URL given directly", rc == 0 and vals == want, out)

        with open(conf) as f:
            text = f.read().replace("url = %s/taxii2/\n" % base,
                                    "url = %s/nowhere/\ntaxii_api_root = %s/api1\n" % (base, base))
        with open(conf, "w") as f:
            f.write(text)
        REQUESTS.clear()
        rc, vals, out = feeds("tx")
        check("taxii_api_root: used as it is, the discovery URL is never asked",
              rc == 0 and vals == want and all("/nowhere" not in p for p, _ in REQUESTS), (REQUESTS, out))

        write_conf()
        os.chmod(pw, 0o644)
        rc, vals, out = feeds("tx")
        check("a password file others may read is refused", rc == 1 and "chmod 600" in out, out)
        os.chmod(pw, 0o600)

        def conf_with(old, new):
            write_conf()
            with open(conf) as f:
                text = f.read().replace(old, new, 1)
            with open(conf, "w") as f:
                f.write(text)

        # Issue 19: TAXII credentials leave home.
        conf_with("url = %s/taxii2/" % base, "url = %s/elsewhere/" % base)
        SEEN.clear()
        rc, vals, out = feeds("tx")
        check("taxii_credentials_only_to_the_feeds_origin: an API root elsewhere gets none",
              rc == 1 and "its credentials are not sent there" in out and
              not [s for s in SEEN if s[0].startswith("localhost")], (SEEN, out))
        conf_with("url = %s/taxii2/" % base, "url = %s/moved/" % base)
        SEEN.clear()
        rc, vals, out = feeds("tx")
        check("taxii_credentials_never_follow_a_redirect", rc == 1 and "not followed with credentials" in out and
              not [s for s in SEEN if s[0].startswith("localhost")], (SEEN, out))
        conf_with("allow_http = yes\n", "")
        SEEN.clear()
        rc, vals, out = feeds("tx")
        check("taxii_credentials_never_over_http_unless_allow_http", rc == 1 and "never sent over plain http" in out
              and SEEN == [], (SEEN, out))
        # A collection bounded as a whole, not only page by page.
        for i in range(40):
            add(indicator(100 + i, "45.2.0.%d" % (i + 1), description="x" * 400))
        conf_with("allow_http = yes\n", "allow_http = yes\nmax_bytes = 6000\n")
        os.unlink(os.path.join(work, "state.db"))   # a first reading: the whole collection
        rc, vals, out = feeds("tx")
        check("taxii_collection_bounded_in_total: its pages together past max_bytes",
              rc == 1 and "passed max_bytes = 6000 together" in out, out)
    finally:
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(work, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
