#!/usr/bin/env python3
"""Issue 21, running iocsync as a security team does: the monitoring that
ships with it (Prometheus rules, Grafana dashboard) over the metrics a real
run writes, and the alerts it posts.

  operations.py path/to/iocsync path/to/mde-emulator SOURCE_DIR [TEST...]"""
import json, os, re, sqlite3, subprocess, sys

SRC = os.path.abspath(sys.argv.pop(3))
import itest  # noqa: E402  (after the arguments it does not know are taken)
from itest import HOOK_TOKEN, JWT, SECRET, Webhook, ips, test  # noqa: E402

RULES = os.path.join(SRC, "packaging", "prometheus", "iocsync.rules.yml")
RULES_TEST = os.path.join(SRC, "packaging", "prometheus", "iocsync.rules.test.yml")
DASHBOARD = os.path.join(SRC, "packaging", "grafana", "iocsync.json")
METRIC = re.compile(r"\biocsync_[a-z_]+")


def written_metrics(c):
    """The metric families one real sync writes (a feed down among them)."""
    path = os.path.join(c.dir, "iocsync.prom")
    c.sync_opts["metrics_file"] = path
    c.feed("good", ips(5))
    c.feeds["gone"] = {"url": "file://" + os.path.join(c.dir, "nowhere.txt"), "format": "text"}
    c.run("sync", expect=1)
    text = open(path).read()
    return text, set(re.findall(r"^# TYPE (iocsync_[a-z_]+) ", text, re.M))


@test
def monitoring_rules_and_dashboard_use_metrics_that_exist(c):
    text, families = written_metrics(c)
    assert len(families) >= 15 and 'iocsync_feed_up{tenant=' in text, text
    rules = open(RULES).read()
    used = set(METRIC.findall(rules))
    assert used and used <= families, "rules name metrics iocsync does not write: %s" % sorted(used - families)
    dash = json.load(open(DASHBOARD))  # valid JSON, or this raises
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert len(exprs) >= 12 and used <= families, "dashboard metrics not written: %s" % sorted(used - families)
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"]), "panel ids repeat"
    itest.require_tool("promtool", "scripts/install-deps --dev installs prometheus")
    for args in (["check", "rules", RULES], ["test", "rules", os.path.basename(RULES_TEST)]):
        p = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=os.path.dirname(RULES))
        assert p.returncode == 0, "promtool %s:\n%s%s" % (" ".join(args), p.stdout, p.stderr)


def alert_conf(c, hook, fmt="generic", **more):
    keys = dict({"webhook": hook.url, "format": fmt}, **more)
    c.extra = "\n[alert]\n" + "".join("%s = %s\n" % kv for kv in keys.items())


def clean(hook):
    """No secret, token or webhook URL in anything posted."""
    for p in hook.posts:
        assert SECRET not in p["body"] and HOOK_TOKEN not in p["body"], p["body"]
        assert not JWT.search(p["body"].encode()), p["body"]
        assert "Authorization" not in p["headers"], p["headers"]


def alerts(hook, i=-1):
    return {(a["key"], a["state"]) for a in hook.bodies()[i]["alerts"]}


@test
def a_failed_run_against_an_unreachable_mde_posts_one_alert(c):
    hook = Webhook()
    try:
        c.feed("bad", ips(5))
        alert_conf(c, hook)
        good = dict(c.mde)
        c.mde.update({"api_url": "http://127.0.0.1:1", "login_url": "http://127.0.0.1:1", "allow_http": "yes",
                      "deadline": "3s", "timeout": "2s"})
        p = c.run("sync", expect=1)
        assert len(hook.posts) == 1, hook.posts
        doc = hook.bodies()[0]
        assert alerts(hook) == {("run-failed", "firing")}, doc
        assert doc["source"] == "iocsync" and doc["alerts"][0]["severity"] == "critical", doc
        assert hook.posts[0]["headers"]["Content-Type"] == "application/json", hook.posts[0]["headers"]
        # Still failing: told already, not again.
        c.run("sync", expect=1)
        assert len(hook.posts) == 1, hook.posts
        # MDE back: the run converges and the alert is resolved, once.
        c.mde = good
        c.run("sync")
        assert len(hook.posts) == 2 and alerts(hook) == {("run-failed", "resolved")}, hook.bodies()
        c.run("sync")
        assert len(hook.posts) == 2, hook.bodies()
        clean(hook)
        log = open(os.path.join(c.dir, "iocsync.log")).read()
        assert "alert: 1 posted to the webhook" in log and HOOK_TOKEN not in log + p.stderr, log[-2000:]
    finally:
        hook.stop()


@test
def held_deletions_overrides_and_a_stale_feed_alert_in_teams_and_slack(c):
    hook = Webhook()
    try:
        vals = ips(20)
        c.feed("bad", vals)
        c.sync_opts["max_delete"] = "10%"
        alert_conf(c, hook, "teams", feed_stale_after="1h")
        c.run("sync")
        assert hook.posts == [], hook.bodies()
        # Half the feed leaves (held by max_delete); someone allows one of the rest.
        c.feed("bad", vals[:10])
        c.portal(vals[0], "Allowed")
        c.run("sync", expect=1)
        card = hook.bodies()[-1]
        assert card["type"] == "message", card
        att = card["attachments"][0]
        assert att["contentType"] == "application/vnd.microsoft.card.adaptive", att
        text = att["content"]["body"][0]["text"]
        assert "deletions held" in text and "overrides feed bad's block" in text and vals[0] in text, text
        assert "[firing] warning" in text, text
        # A feed down for more than feed_stale_after (its last good copy made old).
        c.feeds["bad"]["url"] = "file://" + os.path.join(c.dir, "gone.txt")
        db = sqlite3.connect(os.path.join(c.dir, "state.db"))
        db.execute("UPDATE feeds SET last_good_at = last_good_at - 7200")
        db.commit()
        db.close()
        alert_conf(c, hook, "slack", feed_stale_after="1h")
        n = len(hook.posts)
        c.run("sync", expect=1)
        assert len(hook.posts) == n + 1, hook.bodies()
        text = hook.bodies()[-1]["text"]
        assert "feed bad has been down for 2 hours" in text and "[firing]" in text, text
        assert "warning: 10 deletions held" not in text, "told already: %s" % text
        clean(hook)
    finally:
        hook.stop()


@test
def a_webhook_that_fails_is_retried_and_then_tried_next_run(c):
    hook = Webhook(status=[500, 200])
    try:
        c.feed("bad", ips(3))
        c.feeds["down"] = {"url": "file://" + os.path.join(c.dir, "nowhere.txt"), "format": "text"}
        path = os.path.join(c.dir, "webhook")
        with open(path, "w") as f:
            f.write(hook.url + "\n")
        os.chmod(path, 0o600)
        c.extra = "\n[alert]\nwebhook_file = %s\n" % path
        c.run("sync", expect=1)
        assert len(hook.posts) == 2 and hook.posts[0]["body"] == hook.posts[1]["body"], hook.posts
        # A webhook down for good: the run goes on, says so, and the next
        # run tries again. (The new condition: deletions held.)
        hook.status = 503
        hook.posts.clear()
        c.sync_opts["max_delete"] = "0%"
        c.feed("bad", ips(1))
        c.run("sync", expect=1)
        assert len(hook.posts) == 3, hook.posts  # LIMIT_ALERT_ATTEMPTS
        log = open(os.path.join(c.dir, "iocsync.log")).read()
        assert "not posted, tried again next run: http://127.0.0.1:" in log and "(HTTP 503)" in log, log[-1500:]
        hook.status = 200
        hook.posts.clear()
        c.run("sync", expect=1)
        assert len(hook.posts) == 1 and ("deletions-held", "firing") in alerts(hook), hook.bodies()
        clean(hook)
    finally:
        hook.stop()


@test
def alert_verb_for_a_failed_unit_and_a_test(c):
    hook = Webhook()
    try:
        c.feed("bad", ips(3))
        alert_conf(c, hook)
        p = c.run("alert", "--test")
        assert "posted" in p.stdout and len(hook.posts) == 1, (p.stdout, hook.posts)
        assert alerts(hook) == {("test", "firing")}, hook.bodies()
        c.run("alert", "--failed-unit", "iocsync.service")
        assert alerts(hook) == {("unit-failed:iocsync.service", "firing")}, hook.bodies()
        p = c.run("alert", "--failed-unit", "iocsync.service")
        assert len(hook.posts) == 2 and "told already" in p.stdout, (p.stdout, hook.bodies())
        # A converged run clears it.
        c.run("sync")
        assert alerts(hook) == {("unit-failed:iocsync.service", "resolved")}, hook.bodies()
        c.run("alert", "--failed-unit", "iocsync.service")
        assert len(hook.posts) == 4, hook.bodies()
        c.run("alert", expect=2)
        c.run("alert", "--test", "--failed-unit", "x", expect=2)
        c.extra = ""
        p = c.run("alert", "--test", expect=2)
        assert "no [alert] webhook" in p.stderr, p.stderr
        # A bad webhook URL is refused without being echoed.
        c.extra = "\n[alert]\nwebhook = http://192.0.2.1/%s\n" % HOOK_TOKEN
        p = c.run("config", expect=2)
        assert "webhook: not an https:// URL" in p.stderr and HOOK_TOKEN not in p.stderr, p.stderr
        # config prints that one is set, never what it is.
        alert_conf(c, hook)
        p = c.run("config")
        assert "# webhook = (set, not shown" in p.stdout and HOOK_TOKEN not in p.stdout, p.stdout
        clean(hook)
    finally:
        hook.stop()


@test
def the_units_configuration_runs_by_hand_too(c):
    """The README's "check it once by hand": the units read the secret as
    the credential mde-secret; by hand (no $CREDENTIALS_DIRECTORY) the same
    configuration reads client_secret_file."""
    c.feed("bad", ips(3))
    c.mde["client_secret_credential"] = "mde-secret"
    p = c.run("plan", expect=2)
    assert "create" in p.stdout, p.stdout
    # Under the unit: the credential, not the file (made wrong here to prove it).
    creds = os.path.join(c.dir, "creds")
    os.makedirs(creds, mode=0o700)
    with open(os.path.join(creds, "mde-secret"), "w") as f:
        f.write(SECRET + "\n")
    os.chmod(os.path.join(creds, "mde-secret"), 0o600)
    with open(c.secret_file, "w") as f:
        f.write("not-the-secret\n")
    c.run("plan", expect=2, env={"CREDENTIALS_DIRECTORY": creds})
    os.unlink(os.path.join(creds, "mde-secret"))  # (the suite's search for the secret skips only "secret")
    p = c.run("plan", expect=1)
    assert "invalid_client" in p.stderr or "AADSTS" in p.stderr or "401" in p.stderr, p.stderr[-800:]
    c.mde["client_secret_env"] = "X"
    p = c.run("config", expect=2)
    assert "client_secret_file (or client_secret_credential), client_secret_env, certificate, " in p.stderr, p.stderr


@test
def a_feed_comment_becomes_the_description(c):
    vals = ips(3)
    c.feed("bad", [vals[0] + " # Emotet C2", vals[1] + "\t# \x1b[31mred\x1b[0m", vals[2]])
    c.run("sync")
    got = {x["indicatorValue"]: x["description"] for x in c.owned()}
    assert got == {vals[0]: "Indicator from feed bad (iocsync) Emotet C2",
                   vals[1]: "Indicator from feed bad (iocsync) [31mred [0m",
                   vals[2]: "Indicator from feed bad (iocsync)"}, got
    # A template of one's own.
    c.feeds["bad"]["description"] = "{comment} ({feed})"
    c.run("sync")
    got = {x["indicatorValue"]: x["description"] for x in c.owned()}
    assert got == {vals[0]: "Emotet C2 (bad)", vals[1]: "[31mred [0m (bad)", vals[2]: "(bad)"}, got


@test
def plan_list_and_status_show_what_is_sent(c):
    a, b = ips(2), ips(1, start=10)
    c.feed("fin", a, device_groups="Finance, Servers", generate_alert="yes", expire_after="7d")
    c.feed("all", a[:1] + b)
    p = c.run("plan", expect=2)
    lines = [l for l in p.stdout.splitlines() if l.startswith("  create")]
    assert len(lines) == 3, p.stdout
    one = next(l for l in lines if " %s " % a[0] in l)
    assert "feeds fin,all; groups Finance,Servers; alert yes; expires " in one, one
    other = next(l for l in lines if " %s " % b[0] in l)
    assert "feed all; groups all; alert no; expires " in other, other
    doc = json.loads(c.run("plan", "--json", expect=2).stdout)
    ch = {x["value"]: x for x in doc["changes"]}
    assert ch[a[0]]["feeds"] == ["fin", "all"] and ch[a[0]]["device_groups"] == ["Finance", "Servers"], ch[a[0]]
    assert ch[a[0]]["generate_alert"] is True and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", ch[a[0]]["expires"])
    assert ch[b[0]]["feeds"] == ["all"] and ch[b[0]]["device_groups"] == [], ch[b[0]]
    c.run("sync")
    p = c.run("list")
    head, *rows = p.stdout.splitlines()
    assert head.split()[:6] == ["id", "type", "action", "severity", "alert", "expires"], head
    row = next(r for r in rows if r.endswith(" " + a[0]))
    assert " yes " in row and " Finance,Servers " in row and " fin,all " in row, row
    row = next(r for r in rows if r.endswith(" " + b[0]))
    assert " no " in row and " all " in row, row
    got = {x["indicatorValue"]: x for x in json.loads(c.run("list", "--json").stdout)}
    assert got[a[0]]["iocsyncFeeds"] == ["fin", "all"] and got[a[0]]["generateAlert"] is True, got[a[0]]
    csv = c.run("list", "--csv").stdout.splitlines()
    assert csv[0] == ("id,indicatorType,indicatorValue,action,severity,generateAlert,rbacGroupNames,expirationTime,"
                      "application,createdBy,title,iocsyncFeeds"), csv[0]
    assert any(a[0] in l and "Finance,Servers" in l and "fin,all" in l for l in csv), csv
    p = c.run("status")
    assert "fin                  enabled, 2 indicators, Block, alert yes, groups Finance,Servers, expire after 7d" in p.stdout, p.stdout
    st = json.loads(c.run("status", "--json").stdout)
    f = {x["name"]: x for x in st["feeds"]}
    assert f["fin"]["device_groups"] == ["Finance", "Servers"] and f["fin"]["expire_after_s"] == 7 * 86400, f["fin"]


def png_colours(path):
    """The distinct colours of an 8-bit RGB or RGBA PNG (a plain decoder:
    the tests use no imaging library)."""
    import struct, zlib
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, colours = zlib.decompress(idat), w * bpp, None, set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        prev = prev or bytearray(stride)
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp * 2))
        prev = line
    return colours


@test
def a_leads_report_enforcement_changes_and_every_tenant(c):
    c.feed("fin", ips(4), device_groups="Finance")
    c.feed("all", ips(3, start=50))
    c.run("sync")
    c.run("doctor", expect=None)
    c.feed("all", ips(2, start=50))             # one leaves: a delete in the history
    c.run("sync")
    page = os.path.join(c.dir, "report.html")
    c.run("report", "--html", page)
    html = open(page).read()
    import xml.etree.ElementTree as ET
    root = ET.fromstring(html)                  # well-formed XHTML
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    enf = "".join(root.find(".//h:section[@id='enforcement']", ns).itertext())
    assert "as iocsync doctor saw it at" in enf and "device group Finance" in enf, enf
    assert "custom network indicators" in enf and "MANUAL" in enf, enf
    ch = root.find(".//h:section[@id='changes']", ns)
    rows = [[("".join(td.itertext())) for td in tr.findall("h:td", ns)] for tr in ch.findall(".//h:tr", ns)]
    assert ["last 7 days", "7", "0", "0", "0", "1", "0", "0"] in rows, rows
    assert any(r[1:2] == ["delete"] and r[3] == ips(3, start=50)[2] for r in rows if len(r) == 5), rows
    # Headless Chromium draws it: not a blank page.
    itest.require_tool("chromium", "scripts/install-deps --dev installs it")
    png = os.path.join(c.dir, "report.png")
    p = subprocess.run([os.path.join(SRC, "scripts", "render-report.sh"), page, png, "1100x1600"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and os.path.getsize(png) > 10000, p.stderr
    colours = png_colours(png)
    assert len(colours) > 20, "the rendered page looks blank: %d colours" % len(colours)

    # Two tenants: one synced (no drift), one only planned (drift).
    T2, CID2, s2 = itest.T2, itest.CID2, itest.second_tenant(c)
    c.mde.update({"client_secret_file": None})
    c.extra = ('\n[tenant "one"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n'
               % (itest.TENANT, itest.CID, c.secret_file)
               + '\n[tenant "two"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\nfeeds = all\n'
               % (T2, CID2, s2))
    c.run("-t", "one", "sync")
    c.run("-t", "two", "plan", expect=2)
    p = c.run("report", "--tenants", expect=2)
    lines = {l.split()[0]: l.split() for l in p.stdout.splitlines()[1:]}
    assert lines["one"][1:3] == ["6", "0"] and lines["two"][1:3] == ["0", "2"], p.stdout
    rows = {r["tenant"]: r for r in json.loads(c.run("report", "--tenants", "--json", expect=2).stdout)}
    assert rows["one"]["drift"] == 0 and rows["one"]["last_success"] and rows["two"]["drift"] == 2, rows
    assert rows["two"]["last_outcome"] == "planned" and rows["two"]["last_success"] is None, rows
    all_page = os.path.join(c.dir, "tenants.html")
    c.run("report", "--html", all_page)
    text = "".join(ET.fromstring(open(all_page).read()).itertext())
    assert "every tenant" in text and "00000000-0000-0000-0000-000000000002" in text, text
    c.run("-t", "two", "sync")
    c.run("report", "--tenants")                # no drift anywhere: 0
    c.run("report", "--tenants", "--html", page, expect=2)


@test
def a_hand_run_as_root_leaves_the_service_its_state_and_log(c):
    """The runbook's 'check it by hand' as root, where the service keeps its
    state and log as its own user: the files stay that user's."""
    if os.geteuid() != 0:
        raise itest.Skip("SKIPPED loudly: needs root to make files another user owns")
    d = os.path.join(c.dir, "var-lib-iocsync")
    os.makedirs(d)
    os.chown(d, 65534, 65534)
    c.sync_opts["state"] = os.path.join(d, "state.db")
    c.sync_opts["log_file"] = os.path.join(d, "iocsync.log")
    c.feed("bad", ips(2))
    c.run("plan", expect=2)
    for f in ("state.db", "state.db-wal", "state.db-shm", "state.db.lock", "iocsync.log"):
        p = os.path.join(d, f)
        if os.path.exists(p):
            st = os.stat(p)
            assert (st.st_uid, st.st_gid) == (65534, 65534), (f, st.st_uid, st.st_gid)
    assert os.path.exists(os.path.join(d, "state.db")) and os.path.exists(os.path.join(d, "iocsync.log"))
    # As that user now: the state takes a write, the log an append.
    for x in (itest.WORK, c.dir):
        os.chmod(x, 0o711)
    code = ("import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute('BEGIN IMMEDIATE'); "
            "db.execute('PRAGMA user_version'); db.commit(); open(sys.argv[2], 'a').write('x\\n')")
    p = subprocess.run(["python3", "-c", code, os.path.join(d, "state.db"), os.path.join(d, "iocsync.log")],
                       capture_output=True, text=True, preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
    assert p.returncode == 0, p.stderr[-800:]


sys.exit(itest.main())
