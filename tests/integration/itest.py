"""The harness the integration scripts share: the real iocsync binary
against a real mde-emulator over TLS, with a throwaway CA made here; a
fresh tenant and state per test; every output kept and searched for the
secret and for tokens at the end. Scripts import it and call main():
  SCRIPT path/to/iocsync path/to/mde-emulator [TEST...]
IOCSYNC_WRAPPER (e.g. valgrind ...) runs iocsync under a wrapper."""
import json, os, random, shutil, signal, ssl, subprocess, sys, tempfile, time, traceback
import urllib.error, urllib.parse, urllib.request

IOCSYNC, EMU = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ONLY = sys.argv[3:]
TENANT = "00000000-0000-0000-0000-000000000001"
CID = "22222222-2222-2222-2222-222222222222"      # iocsync's app in these tests
OTHER = "33333333-3333-3333-3333-333333333333"    # another app, and the "portal"
# A secret nobody else uses: every artifact of the suite is searched for it.
SECRET = "itest-%016x-secret" % random.SystemRandom().getrandbits(64)
# A webhook's URL carries its token in the path (Slack, Teams): never shown.
HOOK_TOKEN = "hooktoken-%016x" % random.SystemRandom().getrandbits(64)
WORK = tempfile.mkdtemp(prefix="iocsync-it-")
ARTIFACTS = []   # (name, text) of every output, for the secrets test
WRAP = os.environ.get("IOCSYNC_WRAPPER", "").split()


def sh(*cmd):
    subprocess.run(cmd, check=True, cwd=WORK, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca():
    """A CA and a server certificate for 127.0.0.1, valid one day."""
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
       "-subj", "/CN=iocsync test CA", "-days", "1")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
       "-subj", "/CN=127.0.0.1")
    with open(os.path.join(WORK, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sh("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "srv.pem", "-days", "1", "-extfile", "san.ext")
    # The app's certificate for client assertions (key and certificate in one file).
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "app.key", "-out", "app.crt",
       "-subj", "/CN=iocsync app", "-days", "1")
    with open(os.path.join(WORK, "app.pem"), "w") as f:
        f.write(open(os.path.join(WORK, "app.key")).read() + open(os.path.join(WORK, "app.crt")).read())
    os.chmod(os.path.join(WORK, "app.pem"), 0o600)


class Emulator:
    def __init__(self):
        self.p = subprocess.Popen([EMU, "--listen", "127.0.0.1:0", "--tls-cert", os.path.join(WORK, "srv.pem"),
                                   "--tls-key", os.path.join(WORK, "srv.key")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert "listening on " in line, "no ready line: %r" % line
        self.base = line.split("listening on ")[1].strip()
        assert self.base.startswith("https://"), self.base
        self.ctx = ssl.create_default_context(cafile=os.path.join(WORK, "ca.pem"))

    def stop(self):
        self.p.terminate()
        _, err = self.p.communicate(timeout=60)
        assert self.p.returncode == 0, "emulator exit %s: %s" % (self.p.returncode, err)

    def call(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=60, context=self.ctx) as r:
                t = r.read()
                return r.status, json.loads(t) if t else None
        except urllib.error.HTTPError as e:
            t = e.read()
            return e.code, json.loads(t) if t else None

    def control(self, path, body=None):
        st, b = self.call("POST" if body is not None else "GET", "/_emulator" + path, body)
        assert st == 200, (path, st, b)
        return b

    def token(self, cid, secret):
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cid,
                                       "client_secret": secret,
                                       "scope": "https://api.securitycenter.microsoft.com/.default"}).encode()
        req = urllib.request.Request("%s/%s/oauth2/v2.0/token" % (self.base, TENANT), data=form, method="POST")
        with urllib.request.urlopen(req, timeout=60, context=self.ctx) as r:
            return json.loads(r.read())["access_token"]

    def app(self, cid, secret, name, roles, pem=None):
        body = {"tenant": TENANT, "client_id": cid, "secret": secret, "name": name, "roles": roles}
        if pem:
            body["certificate_pem"] = pem
        self.control("/apps", body)

    def indicators(self):
        """Every indicator of the tenant, through the control plane."""
        return [x["indicator"] for x in self.control("/state")["indicators"] if x["tenant"] == TENANT]

    def calls(self):
        c = self.control("/calls")
        return {ep: sum(v.values()) for ep, v in c.items() if v}


class Loopback:
    """A test's HTTP server on loopback: serve(handler) runs it in a
    thread of its own (its address in self.base), stop() ends it."""

    def serve(self, handler):
        import http.server, threading
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class FeedServer(Loopback):
    """The files under root over HTTP, counting the GETs of each path; a
    path in `down` answers 503."""

    def __init__(self, root):
        import http.server
        srv = self
        self.gets, self.down = {}, set()

        class H(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=root, **k)

            def do_GET(self):
                srv.gets[self.path] = srv.gets.get(self.path, 0) + 1
                if self.path in srv.down:
                    self.send_error(503)
                    return
                super().do_GET()

            def log_message(self, *a):
                pass

        self.serve(H)


class Webhook(Loopback):
    """An alert receiver on loopback: records every POST (path, headers,
    body); answers `status` (a list is used up one per request, then 200).
    Stopped with stop()."""

    def __init__(self, status=200):
        import http.server
        hook = self
        self.posts, self.status = [], status

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace")
                hook.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                st = hook.status.pop(0) if isinstance(hook.status, list) and hook.status else hook.status
                st = 200 if isinstance(st, list) else st
                self.send_response(st)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.serve(H)
        self.url = "%s/hook/%s" % (self.base, HOOK_TOKEN)  # the path carries a token, as Slack's and Teams' do

    def bodies(self):
        return [json.loads(p["body"]) for p in self.posts]


class Skip(Exception):
    pass


def require_tool(name, why):
    """A tool a case needs: skipped when it is missing, except under CI
    (CI=true), where `make check` installs it and its absence must fail
    the case, not hide it."""
    if shutil.which(name):
        return
    if os.environ.get("CI", "").lower() in ("true", "1"):
        raise AssertionError("%s is not installed, and CI=true: %s" % (name, why))
    raise Skip("%s is not installed: %s" % (name, why))


class Ctx:
    """One test: a fresh tenant, a fresh state, iocsync's and another app."""

    def __init__(self, emu, name):
        self.emu = emu
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        emu.control("/reset", {})
        emu.app(CID, SECRET, "iocsync-it", ["Ti.ReadWrite.All", "Machine.Read.All"],
                pem=open(os.path.join(WORK, "app.crt")).read())
        emu.app(OTHER, "other-" + SECRET[:6], "portal", ["Ti.ReadWrite.All"])
        self.secret_file = os.path.join(self.dir, "secret")
        with open(self.secret_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(self.secret_file, 0o600)
        self.feeds = {}
        self.mde = {}
        self.sync_opts = {"reserve": "0", "max_delete": "100%"}
        self.extra = ""         # more sections, appended as they are

    def feed(self, name, values, **opts):
        path = os.path.join(self.dir, name + ".txt")
        with open(path, "w") as f:
            f.write("# test feed %s\n" % name + "".join(v + "\n" for v in values))
        self.feeds[name] = dict({"url": "file://" + path, "format": "text"}, **opts)
        return path

    def conf(self):
        lines = ["[mde]", "tenant_id = " + TENANT]
        m = dict({"cloud": "custom", "client_id": CID, "api_url": self.emu.base, "login_url": self.emu.base, "client_secret_file": self.secret_file, "ca_file": os.path.join(WORK, "ca.pem")}, **self.mde)
        lines += ["%s = %s" % kv for kv in m.items() if kv[1] is not None]
        sync = dict({"state": os.path.join(self.dir, "state.db"), "log_file": os.path.join(self.dir, "iocsync.log"),
                     "log_level": "debug"}, **self.sync_opts)
        lines += ["", "[sync]"] + ["%s = %s" % kv for kv in sync.items()]
        for n, f in self.feeds.items():
            lines += ["", '[feed "%s"]' % n] + ["%s = %s" % kv for kv in f.items()]
        path = os.path.join(self.dir, "iocsync.conf")
        with open(path, "w") as fp:
            fp.write("\n".join(lines) + "\n" + self.extra)
        return path

    def run(self, *args, expect=0, env=None, timeout=600):
        cmd = [*WRAP, IOCSYNC, "-c", self.conf(), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
        ARTIFACTS.append((" ".join(args) + " stdout", p.stdout))
        ARTIFACTS.append((" ".join(args) + " stderr", p.stderr))
        assert expect is None or p.returncode == expect, "iocsync %s: exit %d, want %s\n%s\n%s" % (
            " ".join(args), p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:])
        return p

    def sync_json(self, *args, expect=0):
        p = self.run("sync", "--json", *args, expect=expect)
        doc = json.loads(p.stdout)
        for k in ("changes", "feeds"):   # keep assertion messages short
            doc.pop(k, None)
        doc["failures"] = doc.get("failures", [])[:5]
        return doc

    def sync_killed_after(self, seconds):
        """A sync killed with SIGKILL after this long; its (stdout, stderr)."""
        p = subprocess.Popen([*WRAP, IOCSYNC, "-c", self.conf(), "sync"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(seconds)
        p.send_signal(signal.SIGKILL)
        return p.communicate()

    def portal(self, value, action="Allowed", **extra):
        """One indicator created by another owner (the portal), as a person would."""
        tok = self.emu.token(OTHER, "other-" + SECRET[:6])
        body = dict({"indicatorValue": value, "indicatorType": "IpAddress", "action": action, "title": "portal",
                     "description": "by hand"}, **extra)
        st, b = self.emu.call("POST", "/api/indicators", body, token=tok)
        assert st == 200, b

    def owned(self):
        return [x for x in self.emu.indicators() if x.get("createdBy") == CID and x.get("application") == "iocsync"]

    def expect_exactly(self, values, action="Block", typ="IpAddress"):
        got = [(x["indicatorType"], x["indicatorValue"], x["action"]) for x in self.owned()]
        assert len(got) == len(set(got)), "duplicates in MDE: %d of %d" % (len(got) - len(set(got)), len(got))
        want = {(typ, v, action) for v in values}
        missing, extra = want - set(got), set(got) - want
        assert not missing and not extra, "MDE differs from the feeds: %d missing %s, %d extra %s" % (
            len(missing), sorted(missing)[:3], len(extra), sorted(extra)[:3])

    def calls_since(self, before):
        now = self.emu.calls()
        return {k: now.get(k, 0) - before.get(k, 0) for k in now if now.get(k, 0) - before.get(k, 0)}


T2, CID2 = "00000000-0000-0000-0000-000000000002", "44444444-4444-4444-4444-444444444444"


def second_tenant(c):
    """A second tenant with iocsync's app in it; the path of its secret file."""
    c.emu.control("/apps", {"tenant": T2, "client_id": CID2, "secret": "second-" + SECRET[:8], "name": "iocsync-2",
                            "roles": ["Ti.ReadWrite.All"]})
    s2 = os.path.join(c.dir, "secret2")
    with open(s2, "w") as f:
        f.write("second-" + SECRET[:8] + "\n")
    os.chmod(s2, 0o600)
    return s2


def ips(n, start=0, net=45):
    """n public IPv4 addresses (outside every special-purpose range)."""
    return ["%d.%d.%d.%d" % (net, (i // 250) >> 8, (i // 250) & 255, 1 + i % 250) for i in range(start, start + n)]


TESTS = []


def test(f):
    TESTS.append(f)
    return f


# A JWT: a base64url JSON header, a dot, a base64url JSON payload. (A bare
# "eyJ" also turns up by chance in the base64 of a PEM.)
JWT = __import__("re").compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


SAMPLE_TOKEN = []


def secrets_never_appear():
    """Every output, log and state file of the suite: no secret, no token."""
    jwt = JWT
    hits = []
    for name, text in ARTIFACTS:
        if SECRET in text:
            hits.append("secret in %s" % name)
        if HOOK_TOKEN in text:
            hits.append("webhook token in %s" % name)
        if jwt.search(text.encode()):
            hits.append("token in %s" % name)
    for root, _, files in os.walk(WORK):
        for fn in files:
            p = os.path.join(root, fn)
            if fn == "secret":
                continue
            data = open(p, "rb").read()
            if SECRET.encode() in data:
                hits.append("secret in %s" % p)
            if HOOK_TOKEN.encode() in data and not fn.endswith(".conf") and fn != "webhook":
                hits.append("webhook token in %s" % p)
            if jwt.search(data):
                hits.append("token in %s" % p)
    return hits


def main():
    if WRAP and os.environ.get("IOCSYNC_NO_VALGRIND"):
        print("SKIPPED: wrapped run not wanted here (IOCSYNC_NO_VALGRIND)")
        return 77
    make_ca()
    emu = Emulator()
    emu.app(CID, SECRET, "iocsync-it", ["Ti.ReadWrite.All"])
    SAMPLE_TOKEN.append(emu.token(CID, SECRET))
    failed, ran = [], 0
    try:
        for t in TESTS:
            if ONLY and t.__name__ not in ONLY:
                continue
            ran += 1
            start = time.time()
            try:
                t(Ctx(emu, t.__name__))
                print("ok   %s (%.1f s)" % (t.__name__, time.time() - start), flush=True)
            except Skip as e:
                print("SKIP %s: %s" % (t.__name__, e), flush=True)
            except Exception:
                failed.append(t.__name__)
                print("FAIL %s\n%s" % (t.__name__, traceback.format_exc()), flush=True)
    finally:
        emu.stop()
    if ONLY and ran != len(ONLY):
        print("unknown test names: %s" % sorted(set(ONLY) - {t.__name__ for t in TESTS}))
        return 1
    # The search would see a token if one were there.
    assert JWT.search(SAMPLE_TOKEN[0].encode()), "the token pattern misses the emulator's tokens"
    hits = secrets_never_appear()
    n_art = len(ARTIFACTS)
    if hits:
        print("FAIL secrets_never_appear: %s" % hits[:10])
        failed.append("secrets_never_appear")
    else:
        print("ok   secrets_never_appear (%d outputs and every file under the work directory searched)" % n_art)
    print("%d/%d %s tests passed" % (ran + 1 - len(failed), ran + 1, os.path.basename(sys.argv[0])))
    if not failed:
        subprocess.run(["rm", "-rf", WORK])
    else:
        print("artifacts kept in", WORK)
    return 1 if failed else 0

