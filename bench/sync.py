#!/usr/bin/env python3
"""Sync benchmark: API calls and wall time for iocsync to converge MDE
(mde-emulator) to a 15,000-indicator feed, against the per-indicator way
of the daily scripts (one POST /api/indicators each), measured in the
same run. Every rate limit, the emulator's and iocsync's own budget, is
scaled by the same factor for every contender (default 100: MDE's hour
of 1,500 calls becomes 150,000).
  (a) 15,000 indicators from empty   (b) the same run again
  (c) 10% churn: 1,500 out, 1,500 in (d) per-indicator POSTs, for (a)
The emulator runs under its default readings of what MDE leaves
undocumented, or under those given (spec section 9); the call counts must
be the same under every one.
Usage: bench/sync.py path/to/iocsync path/to/mde-emulator [SCALE] [--reading NAME=CHOICE ...]"""
import argparse, http.client, json, os, subprocess, sys, tempfile, time, urllib.parse

ap = argparse.ArgumentParser(description="API calls and time for iocsync to converge 15,000 indicators")
ap.add_argument("iocsync")
ap.add_argument("emulator")
ap.add_argument("scale", nargs="?", type=int, default=100)
ap.add_argument("--reading", action="append", default=[], metavar="NAME=CHOICE")
ap.add_argument("--no-baseline", action="store_true", help="skip (d), which takes a minute and no reading changes")
opt = ap.parse_args()
IOCSYNC, EMU, SCALE, READINGS = os.path.abspath(opt.iocsync), os.path.abspath(opt.emulator), opt.scale, opt.reading
N, CHURN = 15000, 1500
TENANT, CID, SECRET = "00000000-0000-0000-0000-000000000001", "11111111-1111-1111-1111-111111111111", "emulator-secret"
# MDE's documented limits (spec section 3), per minute and per hour.
LIMITS = {"list": (100, 1500), "submit": (100, 1500), "import": (30, 0), "delete": (100, 1500),
          "batchdelete": (30, 1500)}
work = tempfile.mkdtemp(prefix="iocsync-bench-")

with open(os.path.join(work, "emu.conf"), "w") as f:
    f.write("[emulator]\ncap = 15000\n")
    for ep, (pm, ph) in LIMITS.items():
        f.write("%s_per_minute = %d\n%s_per_hour = %d\n" % (ep, pm * SCALE, ep, ph * SCALE))
    f.write("\n[app iocsync]\ntenant = %s\nclient_id = %s\nsecret = %s\nroles = Ti.ReadWrite.All\n"
            % (TENANT, CID, SECRET))
emu = subprocess.Popen([EMU, "--listen", "127.0.0.1:0", "--config", os.path.join(work, "emu.conf"),
                        *["--reading=" + r for r in READINGS]],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
base = emu.stdout.readline().split("listening on ")[1].strip()
port = int(base.rsplit(":", 1)[1])


def ctl(path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST" if body is not None else "GET", "/_emulator" + path,
              body=json.dumps(body) if body is not None else None, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, (path, r.status, data)
    return json.loads(data) if data else None


def calls():
    return {ep: sum(v.values()) for ep, v in ctl("/calls").items() if v}


def ips(lo, hi):
    return ["%d.%d.%d.%d" % (45, (i // 250) >> 8, (i // 250) & 255, 1 + i % 250) for i in range(lo, hi)]


secret = os.path.join(work, "secret")
with open(secret, "w") as f:
    f.write(SECRET + "\n")
os.chmod(secret, 0o600)
feed = os.path.join(work, "feed.txt")
conf = os.path.join(work, "iocsync.conf")
with open(conf, "w") as f:
    f.write("[mde]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\ncloud = custom\n"
            "api_url = %s\nlogin_url = %s\nallow_http = yes\nrate_limit_percent = %d\n\n"
            "[sync]\nstate = %s\nreserve = 0\nmax_delete = 100%%\n\n"
            "[feed \"bench\"]\nurl = file://%s\ntype = ip\nmax_shrink = 100%%\n"
            % (TENANT, CID, secret, base, base, SCALE * 100, os.path.join(work, "state.db"), feed))


def write_feed(values):
    with open(feed, "w") as f:
        f.write("".join(v + "\n" for v in values))


def iocsync_run(label):
    before = calls()
    t = time.perf_counter()
    p = subprocess.run([IOCSYNC, "-c", conf, "sync", "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    assert p.returncode == 0, (label, p.returncode, p.stderr[-2000:])
    after = calls()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}
    return delta, wall


def owned():
    return sorted(x["indicator"]["indicatorValue"] for x in ctl("/state")["indicators"])


def per_indicator(values):
    """The daily script: a token, then one POST per indicator; a 429 waits Retry-After."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET,
                                   "resource": "https://api.securitycenter.microsoft.com"})
    c.request("POST", "/%s/oauth2/token" % TENANT, body=form,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    tok = json.loads(r.read())["access_token"]
    hdr = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
    waited = 0.0
    for v in values:
        body = json.dumps({"indicatorValue": v, "indicatorType": "IpAddress", "action": "Block",
                           "title": "bench: " + v, "description": "per-indicator baseline",
                           "application": "script", "severity": "Medium"})
        while True:
            try:
                c.request("POST", "/api/indicators", body=body, headers=hdr)
                r = c.getresponse()
                r.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed an idle keep-alive connection (after a
                # Retry-After wait): open a new one, as any script would.
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                continue
            if r.status == 429:
                w = float(r.getheader("Retry-After", "1"))
                time.sleep(w)
                waited += w
                continue
            assert r.status == 200, r.status
            break
    c.close()
    return waited


all_vals = ips(0, N + CHURN)
write_feed(all_vals[:N])
a, ta = iocsync_run("a")
assert len(owned()) == N
b, tb = iocsync_run("b")
write_feed(all_vals[CHURN:N + CHURN])
c, tc = iocsync_run("c")
assert owned() == sorted(all_vals[CHURN:N + CHURN]), "(c) did not converge"
if not opt.no_baseline:
    ctl("/reset", {})
    before = calls()
    t = time.perf_counter()
    waited = per_indicator(all_vals[:N])
    td = time.perf_counter() - t
    d = {k: v - before.get(k, 0) for k, v in calls().items() if v - before.get(k, 0)}
    assert len(ctl("/state")["indicators"]) == N
emu.terminate()
emu.wait()
sys.stdout.flush()


def api(x):
    return sum(v for k, v in x.items() if k != "token")


def writes(x):
    return sum(x.get(k, 0) for k in ("submit", "import", "delete", "batchdelete"))


def fmt(x):
    return ", ".join("%s %d" % kv for kv in sorted(x.items()))


print("Sync benchmark: %d indicators, every rate limit x%d (emulator and client alike); readings: %s"
      % (N, SCALE, " ".join(READINGS) or "the defaults"))
print("| run | API calls | write calls | calls by endpoint (token not an API call) | wall s |")
print("|---|---|---|---|---|")
rows = [("(a) iocsync, from empty", a, ta), ("(b) iocsync, again", b, tb),
        ("(c) iocsync, 10%% churn (%d out, %d in)" % (CHURN, CHURN), c, tc)]
if not opt.no_baseline:
    rows.append(("(d) per-indicator POSTs, for (a)", d, td))
for label, x, tt in rows:
    print("| %s | %d | %d | %s | %.2f |" % (label, api(x), writes(x), fmt(x), tt))
print()
print("targets: (a) <= 32 calls: %s (%d); (b) no write call: %s (%d); (c) <= 8 calls: %s (%d)"
      % ("met" if api(a) <= 32 else "MISSED", api(a), "met" if writes(b) == 0 else "MISSED", writes(b),
         "met" if api(c) <= 8 else "MISSED", api(c)))
if not opt.no_baseline:
    print("ratio (d)/(a): %.0f calls (target >= 400: %s), %.1f x the wall time (the baseline waited %.0f s on 429s)"
          % (api(d) / api(a), "met" if api(d) / api(a) >= 400 else "MISSED", td / ta, waited))
print("at MDE's real limits (%d calls/hour for POST), (d) would take %.1f hours; (a) needs %d imports at 30/min"
      % (LIMITS["submit"][1], N / LIMITS["submit"][1], a.get("import", 0)))
subprocess.run(["rm", "-rf", work])
