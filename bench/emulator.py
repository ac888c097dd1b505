#!/usr/bin/env python3
"""mde-emulator throughput: 500-item imports and 15,000-indicator lists,
over one keep-alive connection, against (a) the cheapest request it
serves (GET /_emulator/calls, the HTTP floor) and (b) the rates MDE
itself allows (30 imports/min, 100 lists/min), all in the same run.
Usage: bench/emulator.py path/to/mde-emulator"""
import http.client, json, subprocess, sys, time, urllib.parse

emu = subprocess.Popen([sys.argv[1], "--listen", "127.0.0.1:0", "--no-rate-limits"], stdout=subprocess.PIPE, text=True)
base = emu.stdout.readline().split("listening on ")[1].strip()
port = int(base.rsplit(":", 1)[1])
conn = http.client.HTTPConnection("127.0.0.1", port)


def req(method, path, body=None, headers=None, ctype="application/json"):
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "11111111-1111-1111-1111-111111111111",
                               "client_secret": "emulator-secret", "resource": "https://api.securitycenter.microsoft.com"})
st, data = req("POST", "/00000000-0000-0000-0000-000000000001/oauth2/token", form, ctype="application/x-www-form-urlencoded")
auth = {"Authorization": "Bearer " + json.loads(data)["access_token"]}


def timed(n, fn):
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


floor = timed(2000, lambda i: req("GET", "/_emulator/calls"))

batches = []
for b in range(30):
    items = [{"indicatorValue": "45.%d.%d.%d" % (b, k // 250, k % 250 + 1), "indicatorType": "IpAddress",
              "action": "Block", "title": "bench", "description": "bench"} for k in range(500)]
    batches.append(json.dumps({"Indicators": items}))


def one_import(i):
    st, data = req("POST", "/api/indicators/import", batches[i], auth)
    assert st == 200, data[:200]


imports = timed(30, one_import)  # fills the tenant to 15,000
_, data = req("GET", "/api/indicators?$top=1&$skip=14999", headers=auth)
assert len(json.loads(data)["value"]) == 1


def one_list(i):
    size = 0
    for skip in (0, 10000):
        st, data = req("GET", "/api/indicators?$top=10000&$skip=%d" % skip, headers=auth)
        assert st == 200
        size += len(data)
        if i == 0:  # check once; parsing 9 MB in Python would time the client
            assert len(json.loads(data)["value"]) == (10000 if skip == 0 else 5000)
    return size


one_list(0)
lists = timed(10, one_list)
emu.terminate()
emu.wait()
print("%-46s %12s %22s" % ("", "per second", "baseline in this run"))
print("%-46s %12.0f %22s" % ("HTTP floor: GET /_emulator/calls", floor, "-"))
print("%-46s %12.1f %22s" % ("import of 500 indicators (requests)", imports, "MDE allows 0.5/s"))
print("%-46s %12.0f %22s" % ("  indicators imported", imports * 500, "MDE allows 250/s"))
print("%-46s %12.1f %22s" % ("list of 15,000 indicators (2 pages)", lists, "MDE allows 0.8/s"))
ri, rl = imports / 0.5, lists / (100 / 60 / 2)
print("emulator is %.0fx MDE's import rate and %.0fx its list rate%s" %
      (ri, rl, ": never the bottleneck" if min(ri, rl) >= 10 else ": TOO SLOW, it could bound a benchmark"))
