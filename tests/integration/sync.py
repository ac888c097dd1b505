#!/usr/bin/env python3
"""Integration: the real iocsync binary against a real mde-emulator over
TLS (itest.py). Each test states the calls that must be sent and the
state that must result. Usage:
  sync.py path/to/iocsync path/to/mde-emulator [TEST...]"""
import json, os, random, signal, sqlite3, subprocess, sys, time, zlib
import itest
from itest import (CID, EMU, IOCSYNC, OTHER, SECRET, TENANT, WORK, WRAP, ARTIFACTS, Ctx, ips, sh,
                   test)


@test
def cold_start_imports_in_batches_of_500(c):
    vals = ips(1200)
    c.feed("bad", vals)
    before = c.emu.calls()
    s = c.sync_json()
    assert s["done"]["create"] == 1200 and s["failed"] == 0, s
    calls = c.calls_since(before)
    # The second list reads back one new indicator to learn what MDE puts in
    # createdBy for this app (spec 9, created-by); later runs know it.
    assert calls == {"token": 1, "list": 2, "import": 3}, calls
    c.expect_exactly(vals)
    x = c.owned()[0]
    assert x["title"].startswith("bad: ") and x["severity"] == "Medium" and x["expirationTime"], x


@test
def resync_without_change_makes_no_write_call(c):
    vals = ips(600)
    c.feed("bad", vals)
    c.sync_json()
    before = c.emu.calls()
    c.run("plan", expect=0)
    c.run("plan", "--bogus", expect=1)      # never 2, which says "changes pending"
    s = c.sync_json()
    assert s["done"] == {k: 0 for k in s["done"]}, s
    calls = c.calls_since(before)
    assert set(calls) <= {"token", "list"}, calls


@test
def churn_deletes_with_batchdelete_and_imports_the_new(c):
    vals = ips(1000)
    c.feed("bad", vals)
    c.sync_json()
    new = vals[150:] + ips(120, start=5000)
    c.feed("bad", new)
    p = c.run("plan", "--json", expect=2)
    plan = json.loads(p.stdout)
    assert plan["planned"]["create"] == 120 and plan["planned"]["delete"] == 150, plan["planned"]
    before = c.emu.calls()
    s = c.sync_json()
    assert s["done"]["create"] == 120 and s["done"]["delete"] == 150, s
    assert c.calls_since(before) == {"token": 1, "list": 1, "import": 1, "batchdelete": 1}, c.calls_since(before)
    c.expect_exactly(new)


@test
def action_change_creates_the_new_then_deletes_the_old(c):
    vals = ips(30)
    c.feed("bad", vals, action="block")
    c.sync_json()
    old_ids = {x["id"] for x in c.owned()}
    c.feed("bad", vals, action="warn")
    s = c.sync_json()
    assert s["done"]["replace"] == 30 and s["done"]["delete"] == 0, s
    c.expect_exactly(vals, action="Warn")
    assert not old_ids & {x["id"] for x in c.owned()}
    log = c.emu.control("/log")["requests"]
    paths = [e["path"] for e in log if "import" in e["path"] or "BatchDelete" in e["path"]]
    assert paths[-2:] == ["/api/indicators/import", "/api/indicators/BatchDelete"], paths[-4:]


@test
def attribute_change_updates_in_place(c):
    vals = ips(20)
    c.feed("bad", vals, severity="medium")
    c.sync_json()
    ids = {x["indicatorValue"]: x["id"] for x in c.owned()}
    c.feed("bad", vals, severity="high", device_groups="Servers, Finance")
    s = c.sync_json()
    assert s["done"]["update"] == 20, s
    for x in c.owned():
        assert x["id"] == ids[x["indicatorValue"]] and x["severity"] == "High", x
        assert sorted(x["rbacGroupNames"]) == ["Finance", "Servers"], x


@test
def renewal_before_expiry_not_on_every_run(c):
    vals = ips(10)
    c.feed("bad", vals, expire_after="30d")
    c.sync_json()
    # Two indicators come close to their expiry (as if 25 days passed for them).
    st = c.emu.control("/state")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))
    changed = 0
    for x in st["indicators"]:
        if x["indicator"]["indicatorValue"] in vals[:2]:
            x["indicator"]["expirationTime"] = soon
            changed += 1
    assert changed == 2
    c.emu.control("/reset", {})
    c.emu.control("/state", st)
    s = c.sync_json()
    assert s["done"]["renew"] == 2 and s["planned"]["keep"] == 8, s
    for x in c.owned():
        exp = time.mktime(time.strptime(x["expirationTime"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert exp - time.time() > 29 * 86400 - 3600 * 24, x  # renewed to ~30 days
    s = c.sync_json()
    assert s["done"]["renew"] == 0, s


@test
def conflict_with_a_portal_indicator_is_reported_and_left_alone(c):
    vals = ips(5)
    c.portal(vals[0])
    c.feed("bad", vals)
    p = c.run("plan", "--json", expect=2)
    plan = json.loads(p.stdout)
    assert plan["planned"]["conflict"] == 1 and plan["planned"]["create"] == 4, plan["planned"]
    cf = [x for x in plan["changes"] if x["op"] == "conflict"][0]
    assert cf["value"] == vals[0] and cf["owner"] == "portal" and cf["their_action"] == "Allowed", cf
    assert cf["overrides"] is True, cf
    # A person's Allow over a feed's Block is a warning, in plan and sync, the log and the report.
    assert "Allowed by portal overrides feed bad's Block: the value is not blocked" in p.stderr, p.stderr
    p = c.run("plan", expect=2)
    assert "(Allowed by portal: it overrides the feed's block)" in p.stdout, p.stdout
    c.sync_json()
    assert "Allowed by portal overrides feed bad's Block" in open(os.path.join(c.dir, "iocsync.log")).read()
    c.run("report", "--html", os.path.join(c.dir, "r.html"))
    html = open(os.path.join(c.dir, "r.html")).read()
    assert "portal: Allowed <strong>overrides the block</strong>" in html, html[html.find("conflicts"):][:1500]
    c.expect_exactly(vals[1:])
    mine = [x for x in c.emu.indicators() if x["indicatorValue"] == vals[0]]
    assert len(mine) == 1 and mine[0]["action"] == "Allowed" and mine[0]["title"] == "portal", mine


@test
def indicators_of_another_app_are_never_touched(c):
    tok = c.emu.token(OTHER, "other-" + SECRET[:6])
    theirs = ips(40, net=77)
    items = [{"indicatorValue": v, "indicatorType": "IpAddress", "action": "Block", "title": "theirs",
              "description": "other app", "application": "iocsync"} for v in theirs]
    st, b = c.emu.call("POST", "/api/indicators/import", {"Indicators": items}, token=tok)
    assert st == 200, b
    snap = {x["id"]: x for x in c.emu.indicators()}
    c.feed("bad", ips(30))
    c.sync_json()
    c.feed("bad", ips(20))
    c.sync_json()
    after = {x["id"]: x for x in c.emu.indicators()}
    for i, x in snap.items():
        assert after.get(i) == x, "another app's indicator changed: %s" % x
    c.expect_exactly(ips(20))


@test
def cap_reached_with_others_present_fills_by_priority(c):
    c.emu.control("/limits", {"cap": 100})
    tok = c.emu.token(OTHER, "other-" + SECRET[:6])
    items = [{"indicatorValue": v, "indicatorType": "IpAddress", "action": "Block", "title": "t",
              "description": "d"} for v in ips(40, net=77)]
    assert c.emu.call("POST", "/api/indicators/import", {"Indicators": items}, token=tok)[0] == 200
    c.sync_opts.update({"cap": "100", "reserve": "10"})
    hi, lo = ips(20, net=46), ips(60, net=47)
    c.feed("high", hi, priority="10")
    c.feed("low", lo, priority="1")
    p = c.run("sync", expect=0)
    assert "over budget: feed low: 30 indicators did not fit" in p.stdout, p.stdout
    got = {x["indicatorValue"] for x in c.owned()}
    assert set(hi) <= got and len(got) == 50, len(got)
    assert len(c.emu.indicators()) == 90


@test
def per_item_import_failures_retried_or_reported(c):
    vals = ips(40)
    c.feed("bad", vals)
    c.emu.control("/faults", {"sequence": ["none", "item"]})
    s = c.sync_json()
    assert s["done"]["create"] == 40 and s["failed"] == 0, s
    assert c.calls_since({}).get("import") == 2, c.calls_since({})
    c.expect_exactly(vals)
    # With Ti.ReadWrite only the others are invisible: past the cap,
    # MDE fails items one by one and iocsync reports each with MDE's reason.
    c2 = Ctx(c.emu, "per_item_b")
    c2.emu.app(CID, SECRET, "iocsync-it", ["Ti.ReadWrite"])
    c2.emu.control("/limits", {"cap": 30})
    tok = c2.emu.token(OTHER, "other-" + SECRET[:6])
    items = [{"indicatorValue": v, "indicatorType": "IpAddress", "action": "Block", "title": "t",
              "description": "d"} for v in ips(20, net=77)]
    assert c2.emu.call("POST", "/api/indicators/import", {"Indicators": items}, token=tok)[0] == 200
    c2.feed("bad", vals[:15])
    s = c2.sync_json(expect=1)
    assert s["done"]["create"] == 10 and s["failed"] == 5, s
    assert all("maximum" in f["reason"] for f in s["failures"]), s["failures"]
    assert len(c2.owned()) == 10


@test
def a_401_mid_run_refreshes_the_token_once(c):
    vals = ips(700)
    c.feed("bad", vals)
    c.emu.control("/faults", {"sequence": ["none", "401"]})
    before = c.emu.calls()
    s = c.sync_json()
    assert s["done"]["create"] == 700, s
    calls = c.calls_since(before)
    assert calls["token"] == 2, calls
    c.expect_exactly(vals)


@test
def a_429_storm_is_waited_out(c):
    vals = ips(1500)
    c.feed("bad", vals)
    c.emu.control("/faults", {"probabilities": {"429": 0.5, "500": 0.1, "503": 0.05}, "seed": 7})
    s = c.sync_json()
    assert s["done"]["create"] == 1500 and s["failed"] == 0, s
    assert sum(s["retries"].values()) > 0, s
    c.expect_exactly(vals)


@test
def a_second_run_finds_the_lock_and_names_its_holder(c):
    vals = ips(600)
    c.feed("bad", vals)
    c.emu.control("/faults", {"sequence": ["slow", "slow"], "slow_ms": 2500})
    conf = c.conf()
    first = subprocess.Popen([*WRAP, IOCSYNC, "-c", conf, "sync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = os.path.join(c.dir, "state.db.lock")
    for _ in range(400):
        if os.path.exists(lock) and os.path.getsize(lock) > 0:
            break
        time.sleep(0.02)
    try:
        for verb in ("sync", "plan", "purge", "feeds"):
            p = c.run(verb, *(["--yes"] if verb == "purge" else []), expect=1)
            assert "is busy: iocsync sync (pid %d, since " % first.pid in p.stderr, p.stderr
        st = c.run("status", "--json")              # a reader: no lock, and no false "killed"
        assert "killed" not in st.stdout, st.stdout
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "killed" not in err, err
    c.expect_exactly(vals)
    c.run("sync")                                   # the lock went with its holder


def start_daemon(c, *args, env=None):
    p = subprocess.Popen([*WRAP, IOCSYNC, "-c", c.conf(), "daemon", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})))
    return p


def notify_socket(c):
    """What systemd gives a Type=notify service: a datagram socket."""
    import socket
    path = os.path.join(c.dir, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    return s, path


def notifications(sock):
    got = []
    while True:
        try:
            got += sock.recv(4096).decode().split("\n")
        except OSError:
            return got


def wait_for(pred, what, timeout=60):
    t = time.time() + timeout
    while time.time() < t:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def state_rows(c, sql):
    db = sqlite3.connect(os.path.join(c.dir, "state.db"))
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@test
def a_killed_run_keeps_each_recorded_batch_with_its_history(c):
    """The ids of an import batch and each value's change are written together as the batch comes
    back: a run killed in the next batch leaves no recorded value without the change that made it
    (iocsync why answers for it)."""
    vals = ips(1500)
    c.feed("bad", vals)
    c.emu.control("/faults", {"probabilities": {"slow": 1.0}, "slow_ms": 800, "seed": 1})
    before = c.emu.calls()
    p = subprocess.Popen([*WRAP, IOCSYNC, "-c", c.conf(), "sync"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: c.calls_since(before).get("import", 0) >= 2, "the second import batch")
        wait_for(lambda: state_rows(c, "SELECT count(*) FROM indicators")[0][0] >= 500, "the first batch's ids")
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    c.emu.control("/faults", {})
    recorded = state_rows(c, "SELECT value FROM indicators")
    created = state_rows(c, "SELECT DISTINCT value FROM history WHERE op = 'create'")
    assert len(recorded) >= 500 and set(recorded) == set(created), (len(recorded), len(created))
    why = c.run("why", recorded[0][0])
    assert "create" in why.stdout, why.stdout
    c.run("sync")
    c.expect_exactly(vals)


@test
def daemon_term_mid_batch_finishes_it_and_loses_nothing(c):
    vals = ips(3000)
    c.feed("bad", vals)
    c.emu.control("/faults", {"probabilities": {"slow": 1.0}, "slow_ms": 600, "seed": 1})
    before = c.emu.calls()
    sock, path = notify_socket(c)
    d = start_daemon(c, env={"NOTIFY_SOCKET": path})
    try:
        wait_for(lambda: c.calls_since(before).get("import", 0) >= 2, "the second import batch")
        t0 = time.time()
        d.send_signal(signal.SIGTERM)
        out, err = d.communicate(timeout=60)
    finally:
        if d.poll() is None:
            d.kill()
    assert d.returncode == 0, (d.returncode, err[-2000:])
    assert time.time() - t0 < 10, "TERM took %.1f s" % (time.time() - t0)
    assert "stopping on SIGTERM" in err, err[-2000:]
    told = notifications(sock)
    sock.close()
    os.unlink(path)
    for want in ("READY=1", "STATUS=syncing", "STOPPING=1"):
        assert want in told, (want, told)
    c.emu.control("/faults", {})
    owned = c.owned()
    assert 0 < len(owned) < 3000, len(owned)
    # Nothing lost: what reached MDE is in the state, the run says it stopped.
    rows = state_rows(c, "SELECT count(*) FROM indicators")
    assert rows[0][0] == len(owned), (rows, len(owned))
    outcome = state_rows(c, "SELECT outcome FROM runs ORDER BY id DESC LIMIT 1")[0][0]
    assert outcome == "stopped", outcome
    p = c.run("sync")
    assert "killed" not in p.stderr, p.stderr
    c.expect_exactly(vals)


@test
def daemon_hup_with_a_broken_config_keeps_running_and_reopens_its_log(c):
    c.feed("bad", ips(20))
    c.sync_opts["interval"] = "1h"
    d = start_daemon(c)
    log = os.path.join(c.dir, "iocsync.log")
    try:
        wait_for(lambda: os.path.exists(log) and "daemon: next run at" in open(log).read(), "the first run")
        c.expect_exactly(ips(20))
        os.rename(log, log + ".1")                      # what logrotate does
        conf = os.path.join(c.dir, "iocsync.conf")
        good = open(conf).read()
        with open(conf, "w") as f:
            f.write(good + "\n[sync]\nbogus = 1\n")
        d.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(log) and "keeping the running one" in open(log).read(),
                 "the refusal in the reopened log")
        assert d.poll() is None, "the daemon died of a bad configuration"
        with open(conf, "w") as f:
            f.write(good.replace("interval = 1h", "interval = 2h"))
        d.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in open(log).read(), "the reload")
        assert d.poll() is None
        d.send_signal(signal.SIGTERM)
        out, err = d.communicate(timeout=30)
    finally:
        if d.poll() is None:
            d.kill()
    assert d.returncode == 0, err
    assert "unknown key \"bogus\"" in err, err[-2000:]
    assert "daemon: started" in open(log + ".1").read()


@test
def daemon_once_exits_with_the_run(c):
    c.feed("bad", ips(10))
    d = start_daemon(c, "--once")
    d.communicate(timeout=60)
    assert d.returncode == 0
    c.expect_exactly(ips(10))
    c.mde["client_secret_file"] = os.path.join(c.dir, "nope")
    d = start_daemon(c, "--once")
    out, err = d.communicate(timeout=60)
    assert d.returncode != 0, err


def parse_metrics(text):
    """Prometheus text exposition -> {(name, frozenset(labels)): value}; checks the syntax."""
    import re
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-z_]+)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.]+)', line)
        assert m, "bad metrics line: %r" % line
        assert m.group(1) in typed, "no TYPE for " + m.group(1)
        labels = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(ms, name, **labels):
    want = set(labels.items())
    got = [v for (n, l), v in ms.items() if n == name and want <= set(l)]
    assert got, "no %s%s in the metrics" % (name, labels)
    return sum(got)


@test
def metrics_file_and_json_log_after_a_run(c):
    c.feed("bad", ips(700) + ["10.0.0.1", "192.168.1.1", "not-an-ip"])
    c.feed("more", ips(5, start=9000), type="ip")
    mf = os.path.join(c.dir, "iocsync.prom")
    c.sync_opts.update({"metrics_file": mf, "log_format": "json"})
    c.sync_json()
    ms = parse_metrics(open(mf).read())
    assert metric(ms, "iocsync_indicators") == 705
    assert metric(ms, "iocsync_indicators", feed="bad", type="IpAddress", action="Block") == 700
    assert metric(ms, "iocsync_budget_used", owner="iocsync") == 705
    assert metric(ms, "iocsync_budget_free") == 15000 - 705
    assert metric(ms, "iocsync_api_calls", endpoint="import", status="2xx") == 2
    assert metric(ms, "iocsync_api_calls", endpoint="list", status="2xx") == 2     # and the createdBy read-back
    assert metric(ms, "iocsync_rejects", feed="bad", reason="special-purpose") == 2
    assert metric(ms, "iocsync_feed_up", feed="more") == 1
    assert 0 <= metric(ms, "iocsync_feed_age_seconds", feed="bad") < 60
    assert metric(ms, "iocsync_last_run_ok") == 1
    assert abs(metric(ms, "iocsync_last_success_timestamp_seconds") - time.time()) < 60
    assert not [f for f in os.listdir(c.dir) if ".tmp." in f], "a temporary file was left"
    # A feed outage shows in the next file; the old one was replaced whole.
    os.unlink(c.feeds["more"]["url"][len("file://"):])
    c.sync_json(expect=1)
    ms = parse_metrics(open(mf).read())
    assert metric(ms, "iocsync_feed_up", feed="more") == 0
    assert metric(ms, "iocsync_last_run_ok") == 0
    assert metric(ms, "iocsync_indicators") == 705
    # The JSON log: one object a line, and one run summary for each run.
    lines = [json.loads(l) for l in open(os.path.join(c.dir, "iocsync.log"))]
    runs = [l["run"] for l in lines if "run" in l]
    assert [r["outcome"] for r in runs] == ["ok", "partial"], runs
    assert runs[0]["calls"]["import"] == 2 and runs[0]["done"]["create"] == 705, runs[0]
    assert all({"time", "level", "msg"} <= set(l) for l in lines)
    assert "created 705" in [l for l in lines if "run" in l][0]["msg"]


@test
def report_html_is_well_formed_and_self_contained(c):
    import xml.etree.ElementTree as ET
    vals = ips(30)
    c.portal(vals[0])
    c.feed("bad", vals + ["10.1.2.3", "<script>alert(1)</script>", "a&b\"c'"])
    c.feed("gone", ips(3, start=7000))
    for _ in range(3):
        c.sync_json()
    os.unlink(c.feeds["gone"]["url"][len("file://"):])
    c.sync_json(expect=1)
    out = os.path.join(c.dir, "report.html")
    c.run("report", "--html", out)
    html = open(out, encoding="utf-8").read()
    root = ET.fromstring(html[html.index("<html"):])              # well-formed (XHTML)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    ids = {e.get("id") for e in root.iter("{http://www.w3.org/1999/xhtml}section")}
    assert ids == {"cap", "indicators", "feeds", "rejects", "conflicts", "enforcement", "changes", "runs"}, ids
    low = html.lower()
    for bad in ("<script", "src=", "href=", "url(", "@import", "<link", "<img"):
        assert bad not in low, "report has %r" % bad
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html       # the hostile line, escaped
    text = "".join(root.itertext())
    assert "stale snapshot in use" in text, "the failed feed's snapshot is not shown"
    assert vals[0] in text and "conflict" in text                 # the portal's indicator
    assert "special-purpose" in text and "10.1.2.3" in text      # rejects with examples
    runs = root.find(".//h:section[@id='runs']", ns)
    assert len(runs.findall(".//{http://www.w3.org/2000/svg}rect")) >= 4 * 3, "the runs chart is empty"
    assert "The last 4 runs" in "".join(runs.itertext())
    c.run("report", "--bogus", expect=2)


def wrong_secret(c):
    """A secret file that MDE's sign-in refuses; its path."""
    bad = os.path.join(c.dir, "secret-bad")
    with open(bad, "w") as f:
        f.write("not-the-secret\n")
    os.chmod(bad, 0o600)
    return bad


@test
def many_tenants_in_one_run_and_one_failing_stops_no_other(c):
    T2, CID2, s2 = itest.T2, itest.CID2, itest.second_tenant(c)
    bad = wrong_secret(c)
    c.feed("a", ips(600))
    c.feed("b", ips(40, start=3000))
    mf = os.path.join(c.dir, "iocsync.prom")
    c.sync_opts["metrics_file"] = mf
    c.mde.update({"client_secret_file": None})
    c.extra = ('\n[tenant "one"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n' % (TENANT, CID, c.secret_file)
               + '\n[tenant "two"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\nfeeds = b\n'
                 'device_groups = Servers\n' % (T2, CID2, s2)
               + '\n[tenant "broken"]\ntenant_id = 00000000-0000-0000-0000-000000000003\nclient_id = %s\n'
                 'client_secret_file = %s\n' % (CID, bad))
    p = c.run("sync", expect=1)                         # one tenant failed...
    assert "=== tenant one (exit 0)" in p.stdout and "=== tenant two (exit 0)" in p.stdout, p.stdout
    assert "=== tenant broken (exit 1)" in p.stdout, p.stdout
    assert "tenant broken: " in p.stderr, p.stderr
    c.expect_exactly(ips(600) + ips(40, start=3000))    # ...the others converged
    two = [x["indicator"] for x in c.emu.control("/state")["indicators"] if x["tenant"] == T2]
    assert sorted(x["indicatorValue"] for x in two) == sorted(ips(40, start=3000)), len(two)
    assert all(x.get("rbacGroupNames") == ["Servers"] for x in two), two[0]
    for t in ("one", "two", "broken"):                 # a state, a lock and metrics each
        assert os.path.exists(os.path.join(c.dir, "state-%s.db" % t)), t
    m2 = parse_metrics(open(os.path.join(c.dir, "iocsync-two.prom")).read())
    assert metric(m2, "iocsync_indicators", tenant="two") == 40
    m1 = parse_metrics(open(os.path.join(c.dir, "iocsync-one.prom")).read())
    assert metric(m1, "iocsync_indicators", tenant="one") == 640
    p = c.run("-t", "two", "status", "--json")
    assert json.loads(p.stdout)["indicators"]["total"] == 40, p.stderr
    p = c.run("status", expect=2)
    assert "name the tenant with -t NAME (tenants: one, two, broken)" in p.stderr, p.stderr
    p = c.run("sync", "--json", expect=1)
    doc = json.loads(p.stdout)
    assert set(doc["tenants"]) == {"one", "two", "broken"} and doc["tenants"]["one"]["outcome"] == "ok", doc


@test
def tenants_that_take_one_feed_fetch_it_once(c):
    """A feed two tenants take is fetched once a run, not once a tenant;
    each tenant still judges the body against its own snapshot (the same
    bytes: unchanged) and falls back on it when the one fetch fails. A
    feed one tenant takes is fetched by that tenant, as before."""
    T2, CID2, s2 = itest.T2, itest.CID2, itest.second_tenant(c)
    srv = itest.FeedServer(c.dir)
    try:
        c.feed("a", ips(30))
        c.feed("b", ips(5, start=500))
        c.feeds["a"]["url"] = srv.base + "/a.txt"
        c.feeds["b"]["url"] = srv.base + "/b.txt"
        c.mde.update({"client_secret_file": None})
        c.extra = ('\n[tenant "one"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\nfeeds = a\n'
                   % (TENANT, CID, c.secret_file)
                   + '\n[tenant "two"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\nfeeds = a, b\n'
                   % (T2, CID2, s2))
        c.run("sync")
        assert srv.gets == {"/a.txt": 1, "/b.txt": 1}, srv.gets
        log = open(os.path.join(c.dir, "iocsync.log")).read()
        assert "feed a: fetched once for its 2 tenants" in log, log[-3000:]

        def tenant(t):
            return sorted(x["indicator"]["indicatorValue"] for x in c.emu.control("/state")["indicators"]
                          if x["tenant"] == t)
        assert tenant(TENANT) == sorted(ips(30)) and tenant(T2) == sorted(ips(30) + ips(5, start=500))
        # The same bytes again: each tenant's snapshot is unchanged.
        doc = json.loads(c.run("sync", "--json").stdout)
        assert srv.gets == {"/a.txt": 2, "/b.txt": 2}, srv.gets
        for t in ("one", "two"):
            a = [f for f in doc["tenants"][t]["feeds"] if f["name"] == "a"][0]
            assert (a["fetch"], a["snapshot"]) == ("200", "unchanged"), (t, a)
        # A new value reaches both from the one fetch.
        c.feed("a", ips(31))
        c.feeds["a"]["url"] = srv.base + "/a.txt"
        c.feeds["b"]["url"] = srv.base + "/b.txt"
        c.run("sync")
        assert srv.gets["/a.txt"] == 3 and tenant(TENANT) == sorted(ips(31)), srv.gets
        # The one fetch fails: every tenant keeps its own snapshot, deletes nothing.
        srv.down.add("/a.txt")
        doc = json.loads(c.run("sync", "--json", expect=1).stdout)
        assert srv.gets["/a.txt"] == 4, srv.gets
        for t in ("one", "two"):
            a = [f for f in doc["tenants"][t]["feeds"] if f["name"] == "a"][0]
            assert (a["fetch"], a["snapshot"]) == ("error", "stale"), (t, a)
            assert "503" in a["error"], a
        assert tenant(TENANT) == sorted(ips(31)) and tenant(T2) == sorted(ips(31) + ips(5, start=500))
    finally:
        srv.stop()


def tenant_times(c):
    """From the JSON log: each tenant's first and last line, as epoch seconds."""
    import calendar
    seen = {}
    for line in open(os.path.join(c.dir, "iocsync.log")):
        x = json.loads(line)
        if "tenant" in x:
            t = calendar.timegm(time.strptime(x["time"], "%Y-%m-%dT%H:%M:%SZ"))
            first, _ = seen.get(x["tenant"], (t, t))
            seen[x["tenant"]] = (first, t)
    return seen


@test
def a_failing_tenant_delays_no_other_beyond_its_own_budget(c):
    """A 429 storm, a refused secret and timeouts, each in its own tenant:
    the healthy tenant converges at once, not after the failing ones give
    up; with max_parallel_tenants = 1 it waits for one failing tenant's
    own deadline at most, in configuration order."""
    T2, CID2, s2 = itest.T2, itest.CID2, itest.second_tenant(c)
    bad = wrong_secret(c)
    c.feed("a", ips(600))
    c.sync_opts["log_format"] = "json"
    c.mde.update({"client_secret_file": None})
    one = '\n[tenant "one"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n' % (TENANT, CID, c.secret_file)
    c.extra = ('\n[tenant "storm"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\ndeadline = 15s\n' % (T2, CID2, s2)
               + '\n[tenant "locked"]\ntenant_id = 00000000-0000-0000-0000-000000000003\nclient_id = %s\n'
                 'client_secret_file = %s\n' % (CID, bad) + one)
    c.emu.control("/faults", {"probabilities": {"429": 1.0}, "tenant": T2})
    p = c.run("sync", expect=1)
    assert "=== tenant one (exit 0)" in p.stdout, p.stdout
    assert "=== tenant storm (exit 1)" in p.stdout and "=== tenant locked (exit 1)" in p.stdout, p.stdout
    c.expect_exactly(ips(600))
    assert not [x for x in c.emu.control("/state")["indicators"] if x["tenant"] == T2]
    times = tenant_times(c)
    # The storm tenant retried for its 15 s deadline; the healthy one was done long before.
    assert times["one"][1] + 8 <= times["storm"][1], times
    # One at a time, in order: the healthy tenant waits for the failing one's own budget only.
    os.remove(os.path.join(c.dir, "iocsync.log"))
    c.emu.control("/faults", {"probabilities": {"slow": 1.0}, "slow_ms": 4000, "tenant": T2})
    c.feed("a", ips(650))
    c.sync_opts["max_parallel_tenants"] = "1"
    c.extra = ('\n[tenant "slow"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\ntimeout = 1s\n'
               'deadline = 5s\n' % (T2, CID2, s2) + one)
    p = c.run("sync", expect=1)
    assert "=== tenant slow (exit 1)" in p.stdout and "=== tenant one (exit 0)" in p.stdout, p.stdout
    c.expect_exactly(ips(650))
    times = tenant_times(c)
    assert times["slow"][1] <= times["one"][0], times          # in turn, not side by side
    assert times["slow"][1] - times["slow"][0] <= 20, times    # within its own budget
    c.emu.control("/faults", {})


@test
def progress_line_on_a_terminal_only(c):
    import pty, select
    c.feed("bad", ips(1500))
    # list, import 1, the createdBy read-back, then a rate-limit wait on import 2
    c.emu.control("/faults", {"sequence": [0, 0, 0, 429], "seed": 3})
    conf = c.conf()
    pid, fd = pty.fork()
    if pid == 0:                                    # the child: stdout and stderr are the terminal
        os.execvp(WRAP[0] if WRAP else IOCSYNC, [*WRAP, IOCSYNC, "-c", conf, "sync"])
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.WEXITSTATUS(status) == 0, text[-2000:]
    assert "import batch 1/3" in text and "import batch 3/3" in text, text[-2000:]
    assert "\r" in text and "waiting " in text and " s for import" in text, text[-2000:]
    c.expect_exactly(ips(1500))
    # Not a terminal: no progress at all.
    c.feed("bad", ips(1500, start=2000))
    p = c.run("sync")
    assert "batch" not in p.stderr and "\r" not in p.stderr, p.stderr


@test
def firewall_export_from_the_feeds_and_from_mde(c):
    vals = ips(5)
    c.feed("bad", vals)
    c.feed("doms", ["evil-example-domain.top"], type="domain")
    out = os.path.join(c.dir, "fw.ps1")
    c.run("export", "--format", "firewall-ps1", "--out", out)
    text = open(out).read()
    assert all("'%s'" % v in text for v in vals) and "evil-example" not in text, text
    assert text.count("New-NetFirewallRule") == 2 and "from the desired set of" in text, text
    # From MDE: every owner's IP block, the portal's too.
    c.sync_json()
    c.portal("45.200.0.9", "Block")
    p = c.run("export", "--format", "firewall-ps1", "--from", "mde", "--inbound")
    assert "'45.200.0.9'" in p.stdout and all("'%s'" % v in p.stdout for v in vals), p.stdout
    assert p.stdout.count("New-NetFirewallRule") == 4 and "what MDE holds" in p.stdout, p.stdout
    p = c.run("export", "--format", "firewall-ps1", "--uninstall")
    assert "Remove-NetFirewallRule" in p.stdout and "New-NetFirewallRule" not in p.stdout, p.stdout
    c.run("export", "--format", "firewall-ps1", "--per-rule", "0", expect=2)
    c.run("export", "--format", "nope", expect=2)
    # UDP only (the gap network protection leaves), and one device group's
    # script: its own scoped indicators and those for all devices.
    fin = ips(2, start=60)
    c.feed("fin", fin, device_groups="Finance")
    p = c.run("export", "--format", "firewall-ps1", "--protocol", "udp", "--device-group", "Servers")
    assert p.stdout.count("New-NetFirewallRule") == 1 and "-Protocol UDP" in p.stdout, p.stdout
    assert "-Protocol TCP" not in p.stdout and "device group Servers" in p.stdout, p.stdout
    assert all("'%s'" % v in p.stdout for v in vals) and not any("'%s'" % v in p.stdout for v in fin), p.stdout
    p = c.run("export", "--format", "firewall-ps1", "--device-group", "Finance")
    assert all("'%s'" % v in p.stdout for v in vals + fin) and p.stdout.count("New-NetFirewallRule") == 2, p.stdout
    c.sync_json()
    p = c.run("export", "--format", "firewall-ps1", "--from", "mde", "--device-group", "Servers", "--protocol", "tcp")
    assert "'45.200.0.9'" in p.stdout and not any("'%s'" % v in p.stdout for v in fin), p.stdout
    assert "-Protocol UDP" not in p.stdout and p.stdout.count("-Protocol TCP") == 1, p.stdout
    c.run("export", "--format", "firewall-ps1", "--protocol", "icmp", expect=2)
    c.run("export", "--format", "mde-csv", "--protocol", "udp", expect=2)
    c.run("export", "--format", "firewall-ps1", "--device-group", "", expect=2)


@test
def doctor_verdicts_for_roles_groups_and_network_protection(c):
    def doctor(roles, groups="Finance", expect=None):
        cid = "55555555-5555-5555-5555-%012d" % zlib.crc32(",".join(roles).encode())
        c.emu.app(cid, SECRET, "doctor-" + "-".join(roles), roles)
        c.mde["client_id"] = cid
        c.feeds["bad"]["device_groups"] = groups
        p = c.run("doctor", "--json", expect=expect)
        doc = json.loads(p.stdout)
        return {x["check"]: x for x in doc["checks"]}, doc, p
    c.feed("bad", ips(3))
    every = ["Ti.ReadWrite.All", "Machine.Read.All", "AdvancedQuery.Read.All"]
    v, doc, p = doctor(every, expect=2)             # WARN only: a Finance device is in audit mode
    for k in ("configuration", "secret", "token", "role Ti.ReadWrite.All", "role Machine.Read.All",
              "role AdvancedQuery.Read.All", "api", "cap", "device group Finance"):
        assert v[k]["verdict"] == "OK", (k, v[k])
    np = v["network protection in Finance"]
    assert np["verdict"] == "WARN" and "1 of 2 devices in block mode; not: ws-finance-02" in np["detail"], np
    assert "scid-96" in np["advice"] and "community" in np["advice"], np
    assert v["custom network indicators"]["verdict"] == "MANUAL" and "Advanced features" in v["custom network indicators"]["advice"]
    assert v["TCP only"]["verdict"] == "NOTE" and "firewall-ps1" in v["TCP only"]["advice"]
    assert doc["fail"] == 0 and doc["exit"] == 2
    # A group that does not exist.
    v, doc, p = doctor(every, groups="Finance, Finanse", expect=1)
    assert v["device group Finanse"]["verdict"] == "FAIL" and "case included" in v["device group Finanse"]["advice"]
    # Each role missing in turn.
    v, _, _ = doctor(["Ti.ReadWrite", "Machine.Read.All", "AdvancedQuery.Read.All"], expect=2)
    assert v["role Ti.ReadWrite.All"]["verdict"] == "WARN" and "cannot count" in v["role Ti.ReadWrite.All"]["detail"]
    v, _, _ = doctor(["Machine.Read.All", "AdvancedQuery.Read.All"], expect=1)
    assert v["role Ti.ReadWrite.All"]["verdict"] == "FAIL" and v["api"]["verdict"] == "FAIL"
    assert "admin consent" in v["role Ti.ReadWrite.All"]["advice"]
    v, _, _ = doctor(["Ti.ReadWrite.All", "AdvancedQuery.Read.All"], expect=2)
    assert v["role Machine.Read.All"]["verdict"] == "WARN" and "not checked" in v["device groups"]["detail"]
    v, _, _ = doctor(["Ti.ReadWrite.All", "Machine.Read.All"], expect=2)
    assert v["role AdvancedQuery.Read.All"]["verdict"] == "WARN"
    assert "not checked" in v["network protection"]["detail"]
    # A secret others may read.
    os.chmod(c.secret_file, 0o644)
    v, _, p = doctor(every, expect=1)
    assert v["secret"]["verdict"] == "FAIL" and "chmod 600" in v["secret"]["advice"], v["secret"]
    os.chmod(c.secret_file, 0o600)
    p = c.run("doctor", expect=2)                   # the text form
    assert "WARN   network protection in Finance" in p.stdout and "doctor: " in p.stdout, p.stdout


@test
def feed_outage_keeps_its_indicators(c):
    vals = ips(50)
    path = c.feed("bad", vals)
    c.sync_json()
    os.unlink(path)
    p = c.run("sync", expect=1)
    assert "keeping the last good snapshot" in p.stderr + p.stdout, p.stderr
    c.expect_exactly(vals)
    # No snapshot at all (the state is new) and the feed down: held.
    os.unlink(os.path.join(c.dir, "state.db"))
    s = c.sync_json(expect=1)
    assert s["planned"]["hold"] == 50 and s["done"]["delete"] == 0, s
    c.expect_exactly(vals)
    # An HTML page or an empty body is refused the same way.
    c.feed("bad", vals)
    c.sync_json()
    with open(path, "w") as f:
        f.write("<!DOCTYPE html><html><body>Login</body></html>\n")
    c.run("sync", expect=1)
    c.expect_exactly(vals)


@test
def guards_hold_deletions_never_blocks(c):
    """The acceptance scenario: 100 synced; the feed drops 90 and adds 20,
    with max_delete = 25% (and max_shrink's 50% tripped too): the 20 are in
    MDE after that run, the 90 are still there, plan and sync say 90
    deletions are held; the exit says so (1), and --force lets them go."""
    c.sync_opts["max_delete"] = "25%"
    old = ips(100)
    c.feed("bad", old)
    c.sync_json()
    new = old[:10] + ips(20, start=1000)
    c.feed("bad", new)
    p = c.run("plan", expect=2)
    assert "held: 90 deletions" in p.stdout, p.stdout[-1500:]
    plan = json.loads(c.run("plan", "--json", expect=2).stdout)
    assert plan["planned"]["create"] == 20 and plan["held"] == 90 and plan["planned"]["delete"] == 0, plan["planned"]
    s = c.sync_json(expect=1)
    assert s["done"]["create"] == 20 and s["done"]["delete"] == 0 and s["held"] == 90, s
    assert s["outcome"] == "held" and "90 deletions held" in s.get("message", ""), s
    got = {x["indicatorValue"] for x in c.owned()}
    assert got == set(old) | set(new), (len(got), len(set(old) | set(new)))
    # Held again on the next run, nothing re-sent; --force-feed lets this feed's go.
    s = c.sync_json(expect=1)
    assert s["held"] == 90 and sum(s["done"].values()) == 0, s
    s = c.sync_json("--force-feed", "bad")
    assert s["done"]["delete"] == 90 and s["held"] == 0, s
    c.expect_exactly(new)


@test
def the_daemon_keeps_syncing_creates_while_deletions_wait(c):
    """Held deletions are not a failure to retry in a minute: the daemon
    keeps its interval, and each run sends what is new."""
    c.sync_opts.update({"max_delete": "25%", "interval": "1h"})
    c.feed("bad", ips(40))
    c.sync_json()
    c.feed("bad", ips(5) + ips(3, start=900))
    d = start_daemon(c)
    log = os.path.join(c.dir, "iocsync.log")
    try:
        wait_for(lambda: "daemon: next run at" in open(log).read(), "the daemon's first run")
        text = open(log).read()
        assert "run failed" not in text and "35 deletions held" in text, text[-2000:]
        d.send_signal(signal.SIGTERM)
        d.communicate(timeout=30)
    finally:
        if d.poll() is None:
            d.kill()
    c.expect_exactly(ips(40) + ips(3, start=900))


@test
def max_delete_alone_holds_and_force_lets_go(c):
    c.sync_opts["max_delete"] = "25%"
    a, b = ips(60), ips(40, net=46)
    c.feed("a", a)
    c.feed("b", b)
    c.sync_json()
    del c.feeds["b"]
    c.feed("a", a + ips(5, start=700))
    s = c.sync_json(expect=1)
    assert s["done"]["create"] == 5 and s["held"] == 40 and s["held_by"] == {"held by max_delete": 40}, s
    c.expect_exactly(a + b + ips(5, start=700))
    s = c.sync_json("--force")
    assert s["done"]["delete"] == 40, s
    c.expect_exactly(a + ips(5, start=700))


@test
def audit_trail_per_value_and_why(c):
    """Every change logged per value, kept as the value's history, and
    `iocsync why VALUE` answering from feeds, policy, MDE and history."""
    c.feed("bad", ["45.0.0.1", "8.8.8.8", "10.0.0.1", "45.0.0.2"])
    c.feed("more", ["45.0.0.1"], type="ip")
    c.sync_json()
    c.feed("bad", ["45.0.0.1", "8.8.8.8", "10.0.0.1", "45.0.0.2"], action="warn")
    c.sync_json()
    c.portal("46.1.1.1", "Allowed")
    c.feed("more", ["45.0.0.1", "46.1.1.1"], type="ip")
    c.run("sync")
    log = open(os.path.join(c.dir, "iocsync.log")).read()
    assert "change: create IpAddress 45.0.0.2 Block (feed bad: new) id " in log, log[-2000:]
    assert "change: replace IpAddress 45.0.0.2 Warn (feed bad: its action changed) id " in log, log[-2000:]
    doc = json.loads(c.run("why", "45.0.0.2", "--json").stdout)
    assert doc["verdict"].startswith("in MDE by iocsync"), doc
    assert [(x["op"], x["action"]) for x in doc["history"]] == [("replace", "Warn"), ("create", "Block")], doc["history"]
    bad = [f for f in doc["feeds"] if f["feed"] == "bad"][0]
    assert bad["lines"] == [{"verdict": "listed", "line": 5}], bad
    assert doc["mde"][0]["action"] == "Warn" and doc["mde"][0]["iocsync"] is True, doc["mde"]
    assert doc["state"][0]["feeds"] == "bad", doc["state"]
    # A value policy refuses: the rule named, and the feed's line that was refused.
    doc = json.loads(c.run("why", "8.8.8.8", "--json", "--offline").stdout)
    assert doc["verdict"] == "never sent: policy refuses it" and "resolver" in doc["policy"].lower(), doc
    assert [f for f in doc["feeds"] if f["feed"] == "bad"][0]["lines"][0]["verdict"] == "refused", doc["feeds"]
    # Another owner's Allow wins: said so.
    p = c.run("why", "46.1.1.1")
    assert "not blocked: another owner's Allow" in p.stdout and "Allowed by portal" in p.stdout, p.stdout
    p = c.run("why", "not a value", expect=2)
    assert "not an indicator" in p.stderr, p.stderr
    # A JSON log carries each change as an object.
    c.sync_opts["log_format"] = "json"
    c.feed("bad", ["45.0.0.1", "45.0.0.3"], max_shrink="100%")
    c.run("sync")
    changes = [json.loads(l)["change"] for l in open(os.path.join(c.dir, "iocsync.log")) if l.startswith("{")
               and "change" in json.loads(l)]
    assert {"op": "create", "value": "45.0.0.3"}.items() <= changes[-2].items() or \
        any(x["op"] == "create" and x["value"] == "45.0.0.3" and x["feed"] == "bad" for x in changes), changes[-3:]
    assert any(x["op"] == "delete" and x["value"] == "45.0.0.2" for x in changes), changes[-3:]


@test
def a_paused_feed_keeps_its_indicators(c):
    """enabled = no pauses a feed: what it put in MDE stays (not renewed),
    plan says so; purge --feed removes one feed's indicators."""
    c.feed("a", ips(10))
    c.feed("b", ips(5, net=46))
    c.sync_json()
    c.feeds["b"]["enabled"] = "no"
    p = c.run("plan", expect=2)
    assert "its feed is paused (enabled = no)" in p.stdout, p.stdout
    s = c.sync_json(expect=1)
    assert s["done"]["delete"] == 0 and s["held"] == 5, s
    c.expect_exactly(ips(10) + ips(5, net=46))
    p = c.run("purge", "--feed", "b", expect=2)
    assert "not confirmed" in p.stderr, p.stderr
    c.run("purge", "--feed", "b", "--yes")
    c.expect_exactly(ips(10))
    s = c.sync_json()          # paused: nothing of it comes back
    assert s["done"]["create"] == 0, s
    c.expect_exactly(ips(10))


@test
def a_growing_feed_never_evicts_another_of_equal_rank(c):
    """Feeds A and B of equal priority, 300 each, cap 1,000; B grows by 1,200
    newer values: all of A's 300 stay, and what did not fit is said per feed."""
    c.sync_opts.update({"cap": "1000", "reserve": "0"})
    a, b = ips(300), ips(300, net=46)
    c.feed("a", a)
    c.feed("b", b)
    c.sync_json()
    c.feed("b", b + ips(1200, net=47))
    s = c.sync_json()
    got = {x["indicatorValue"] for x in c.owned()}
    assert set(a) <= got and len(got) == 1000, (len(set(a) & got), len(got))
    p = c.run("plan")
    assert "over budget: feed b: 800 indicators did not fit" in p.stdout, p.stdout[-800:]
    # A quota keeps a feed to its share: b at 50% of the room.
    c.feeds["b"]["quota"] = "50%"
    s = c.sync_json()
    assert len([x for x in c.owned() if not x["indicatorValue"].startswith("45.")]) == 500, s["done"]


@test
def certificate_credentials_ps256_and_rs256(c):
    vals = ips(5)
    c.feed("bad", vals)
    c.mde = {"client_secret_file": None, "certificate": os.path.join(WORK, "app.pem")}
    c.sync_json()
    c.expect_exactly(vals)
    c.mde["certificate_alg"] = "rs256"
    c.feed("bad", vals[:3])
    c.sync_json()
    c.expect_exactly(vals[:3])


@test
def secret_file_readable_by_others_is_refused(c):
    c.feed("bad", ips(3))
    os.chmod(c.secret_file, 0o644)
    p = c.run("sync", expect=2)
    assert "readable by group or others" in p.stderr, p.stderr
    assert c.calls_since({}) == {}, "no call may be made"


@test
def secret_from_environment(c):
    c.feed("bad", ips(3))
    c.mde = {"client_secret_file": None, "client_secret_env": "ITEST_SECRET"}
    c.run("sync", env={"ITEST_SECRET": SECRET})
    c.expect_exactly(ips(3))


@test
def tls_unknown_ca_and_plain_http_are_refused(c):
    c.feed("bad", ips(3))
    c.mde = {"ca_file": "/etc/ssl/certs/ca-certificates.crt"}
    p = c.run("sync", expect=1)
    assert "certificate" in p.stderr.lower(), p.stderr
    c.mde = {"api_url": "http://192.0.2.1:1", "login_url": "http://192.0.2.1:1", "allow_http": "yes"}
    p = c.run("sync", expect=2)
    assert "loopback" in p.stderr, p.stderr
    assert c.owned() == []


def sign_cert(name, san, start=None, end=None):
    """A certificate from the suite's CA, for san, optionally dated (openssl ca takes dates)."""
    d = os.path.join(WORK, "ca-" + name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("%02X\n" % (len(os.listdir(WORK)) + 16))
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndir = %s\ndatabase = %s/index.txt\nserial = %s/serial\n"
                "new_certs_dir = %s\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\ndefault_days = 1\n"
                "[p]\ncommonName = supplied\n" % (d, d, d, d))
    key, csr, pem = (os.path.join(d, x) for x in ("k.pem", "c.csr", "c.pem"))
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name,
       "-addext", "subjectAltName=" + san)
    dates = ["-startdate", start, "-enddate", end] if start else []
    sh("openssl", "ca", "-batch", "-config", os.path.join(d, "ca.cnf"), "-cert", os.path.join(WORK, "ca.pem"),
       "-keyfile", os.path.join(WORK, "ca.key"), "-in", csr, "-out", pem, *dates)
    return pem, key


@test
def tls_expired_and_wrong_name_certificates_are_refused(c):
    c.feed("bad", ips(3))
    for name, san, dates, want in (
            ("expired", "IP:127.0.0.1", ("20200101000000Z", "20200102000000Z"), "expired"),
            ("wrong.example", "DNS:wrong.example", (None, None), "match")):
        pem, key = sign_cert(name, san, *dates)
        other = subprocess.Popen([EMU, "--listen", "127.0.0.1:0", "--tls-cert", pem, "--tls-key", key],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            base = other.stdout.readline().split("listening on ")[1].strip()
            c.mde = {"api_url": base, "login_url": base}
            p = c.run("sync", expect=1)
            assert want in p.stderr.lower() and "certificate" in p.stderr.lower(), (name, p.stderr)
            p = c.run("doctor", expect=1)           # doctor says so too
            assert "no token" in p.stdout and want in p.stdout.lower(), (name, p.stdout)
        finally:
            other.terminate()
            other.communicate(timeout=30)
    assert c.owned() == []


@test
def sigkill_at_random_points_then_a_run_converges(c):
    rng = random.Random(int(os.environ.get("IOCSYNC_SEED", "4")))
    vals = ips(1800)
    c.feed("bad", vals[:1200])
    # Most calls slow, so that most kills land inside a run whatever its calls.
    c.emu.control("/faults", {"probabilities": {"slow": 0.8}, "slow_ms": 200, "seed": 3})
    kills = int(os.environ.get("IOCSYNC_KILLS", "6"))
    for k in range(kills):
        # Churn between kills: what is desired moves.
        lo = rng.randrange(0, 600)
        c.feed("bad", vals[lo:lo + 1200])
        out, err = c.sync_killed_after(rng.uniform(0.05, 1.5))
        ARTIFACTS.append(("killed stdout", out))
        ARTIFACTS.append(("killed stderr", err))
    c.emu.control("/faults", {})
    s = c.sync_json()
    assert s["failed"] == 0, s
    c.expect_exactly(vals[lo:lo + 1200])
    db = sqlite3.connect(os.path.join(c.dir, "state.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = db.execute("SELECT count(*) FROM indicators").fetchone()[0]
    killed = db.execute("SELECT count(*) FROM runs WHERE outcome = 'killed'").fetchone()[0]
    db.close()
    assert n == 1200, n
    assert killed >= 1, killed
    s = c.sync_json()
    assert s["done"] == {k: 0 for k in s["done"]}, s


def portal_indicators(c, n=5):
    """n indicators of another owner (the portal), for 'never touched' checks."""
    for i in range(n):
        c.portal("46.0.0.%d" % (i + 1), "Audit", generateAlert=True)
    return others(c)


def others(c):
    return sorted(json.dumps(x, sort_keys=True) for x in c.emu.indicators() if x.get("createdBy") != CID)


@test
def fault_soak(c):
    """IOCSYNC_SOAK_RUNS seeded runs (default 5; make soak-faults: 100) with faults on: 20% 429, 10% 5xx,
    5% resets, 5% slow answers, 2% tokens refused mid-run, tokens living 2 minutes, and feed churn
    between runs. After each: exactly the desired set, no duplicate, the portal's indicators untouched."""
    runs = int(os.environ.get("IOCSYNC_SOAK_RUNS", "5"))
    rng = random.Random(int(os.environ.get("IOCSYNC_SEED", "7")))
    theirs = portal_indicators(c)
    c.emu.control("/limits", {"token_lifetime": 120})
    pool = ips(3000)
    rows, converged, calls_total, retries_total = [], 0, 0, 0
    for i in range(runs):
        lo = rng.randrange(0, 1500)
        want = pool[lo:lo + rng.randrange(300, 1500)]
        c.feed("bad", want, max_shrink="100%")              # churn, not the shrink guard, is tested here
        c.emu.control("/faults", {"probabilities": {"429": 0.2, "500": 0.05, "503": 0.05, "reset": 0.05,
                                                    "slow": 0.05, "401": 0.02}, "slow_ms": 300, "seed": 1000 + i})
        c.emu.control("/clock", {"advance_seconds": 150})      # the last token has expired
        before = c.emu.calls()
        p = c.run("sync", "--json", expect=None)
        c.emu.control("/faults", {})
        doc = json.loads(p.stdout) if p.stdout.strip().startswith("{") else {}
        spent = sum(c.calls_since(before).values())
        retries = sum(doc.get("retries", {}).values())
        ok = True
        try:
            c.expect_exactly(want)
            assert others(c) == theirs, "another owner's indicators changed"
        except AssertionError as e:
            ok = False
            print("   run %d: %s\n%s" % (i + 1, e, p.stderr[-1500:]))
        converged += ok
        calls_total += spent
        retries_total += retries
        rows.append((i + 1, len(want), p.returncode, spent, retries, "yes" if ok else "NO"))
    print("   %4s %8s %5s %6s %8s %10s" % ("run", "desired", "exit", "calls", "retries", "converged"))
    for r in rows if len(rows) <= 10 else rows[:5] + [("...",) * 6] + rows[-5:]:
        print("   %4s %8s %5s %6s %8s %10s" % r)
    print("   fault soak: %d runs, %d converged, %d calls, %d retries" % (runs, converged, calls_total, retries_total))
    assert converged == runs, "%d of %d runs converged" % (converged, runs)


@test
def crash_soak(c):
    """IOCSYNC_CRASH_RUNS runs (default 3; make soak-crash: 50) killed with SIGKILL at a random moment
    (fetching, listing, between batches, mid-request, mid-transaction), each followed by an unkilled run:
    the tenant converges with no duplicate and PRAGMA integrity_check is ok every time."""
    runs = int(os.environ.get("IOCSYNC_CRASH_RUNS", "3"))
    rng = random.Random(int(os.environ.get("IOCSYNC_SEED", "11")))
    theirs = portal_indicators(c, 3)
    pool = ips(4000)
    converged = 0
    for i in range(runs):
        lo = rng.randrange(0, 2000)
        want = pool[lo:lo + rng.randrange(500, 2000)]
        c.feed("bad", want, max_shrink="100%")
        c.emu.control("/faults", {"probabilities": {"slow": 0.7}, "slow_ms": 150, "seed": 2000 + i})
        _, err = c.sync_killed_after(rng.uniform(0.0, 0.7))
        ARTIFACTS.append(("crash soak killed stderr", err))
        c.emu.control("/faults", {})
        c.run("sync", expect=0)
        c.expect_exactly(want)
        assert others(c) == theirs
        db = sqlite3.connect(os.path.join(c.dir, "state.db"))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM indicators").fetchone()[0] == len(want)
        db.close()
        converged += 1
    db = sqlite3.connect(os.path.join(c.dir, "state.db"))
    mid = db.execute("SELECT count(*) FROM runs WHERE outcome = 'killed'").fetchone()[0]
    steps = db.execute("SELECT count(DISTINCT run) FROM journal WHERE run IN (SELECT id FROM runs WHERE outcome = 'killed')").fetchone()[0]
    db.close()
    print("   crash soak: %d runs killed (%d inside a run, %d of them mid-apply), %d converged after, "
          "integrity ok every time" % (runs, mid, steps, converged))


@test
def list_status_export_and_purge(c):
    vals = ips(1100)
    c.feed("bad", vals + ["evil-c2-host.top"], type="auto")
    tok = c.emu.token(OTHER, "other-" + SECRET[:6])
    items = [{"indicatorValue": v, "indicatorType": "IpAddress", "action": "Block", "title": "t",
              "description": "d"} for v in ips(5, net=77)]
    assert c.emu.call("POST", "/api/indicators/import", {"Indicators": items}, token=tok)[0] == 200
    c.sync_json()
    mine = json.loads(c.run("list", "--json").stdout)
    assert len(mine) == 1101 and all(x["createdBy"] == CID for x in mine), len(mine)
    rows = c.run("list", "--all", "--csv").stdout.splitlines()
    assert len(rows) == 1 + 1101 + 5 and rows[0].startswith("id,indicatorType,indicatorValue"), len(rows)
    dom = json.loads(c.run("list", "--json", "--type", "domain").stdout)
    assert [x["indicatorValue"] for x in dom] == ["evil-c2-host.top"], dom
    st = json.loads(c.run("status", "--json").stdout)
    assert st["indicators"]["total"] == 1101 and st["indicators"]["by_type"]["IpAddress"] == 1100, st["indicators"]
    assert st["runs"][0]["outcome"] == "ok" and st["runs"][0]["summary"]["done"]["create"] == 1101, st["runs"][0]
    assert st["feeds"][0]["name"] == "bad" and st["feeds"][0]["indicators"] == 1101, st["feeds"]
    prefix = os.path.join(c.dir, "export")
    c.run("export", "--format", "mde-csv", "--out", prefix)
    sizes = [len(open("%s-%03d.csv" % (prefix, i)).read().splitlines()) for i in (1, 2, 3)]
    assert sizes == [501, 501, 102], sizes
    assert not os.path.exists(prefix + "-004.csv")
    head = open(prefix + "-001.csv").readline().strip()
    assert head == ("IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,"
                    "RecommendedActions,RbacGroups,Category,MitreTechniques,GenerateAlert"), head
    p = c.run("purge", expect=2)
    assert "not confirmed" in p.stderr and len(c.owned()) == 1101
    before = c.emu.calls()
    c.run("purge", "--yes")
    assert c.owned() == [] and len(c.emu.indicators()) == 5
    assert c.calls_since(before) == {"token": 1, "list": 1, "batchdelete": 3}, c.calls_since(before)
    st = json.loads(c.run("status", "--json").stdout)
    assert st["indicators"]["total"] == 0 and st["runs"][0]["verb"] == "purge", st




sys.exit(itest.main())
