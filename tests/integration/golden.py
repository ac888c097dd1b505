#!/usr/bin/env python3
"""Exact requests: what iocsync sends MDE, request by request (method, path,
query, and the JSON body field by field; the token and the secret
redacted by the emulator's log), compared with the transcripts under
tests/golden/. They pin today's behaviour, so a restructuring cannot
change what goes on the wire unseen.

When a change to the wire is intended, rewrite them and have a person
review the diff before it is committed:
  IOCSYNC_UPDATE_GOLDEN=1 golden.py path/to/iocsync path/to/mde-emulator

  golden.py path/to/iocsync path/to/mde-emulator [TEST...]"""
import difflib, json, os, re, sys, time
import itest
from itest import TENANT, ips, test

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
UPDATE = os.environ.get("IOCSYNC_UPDATE_GOLDEN") == "1"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def stable(x, now):
    """Times become their distance from the run's start, in hours: the
    only thing in a request that depends on when it ran."""
    if isinstance(x, dict):
        return {k: stable(v, now) for k, v in x.items()}
    if isinstance(x, list):
        return [stable(v, now) for v in x]
    if isinstance(x, str) and TIME.match(x):
        t = time.mktime(time.strptime(x[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        return "<start %+dh>" % round((t - now) / 3600)
    return x


def transcript(requests, now):
    out = []
    for r in requests:
        out.append("%s %s%s" % (r["method"], r["path"], "?" + r["query"] if r.get("query") else ""))
        body = r.get("body")
        if body is not None:
            out.append(json.dumps(stable(body, now), indent=1, sort_keys=True))
        out.append("")
    return "\n".join(out)


def recorded_run(c, name, *args, expect=0):
    """Runs iocsync with the emulator's request log recording bodies,
    and compares the requests it made with tests/golden/NAME.txt."""
    c.emu.control("/log", {"bodies": True, "clear": True})
    now = time.time()
    c.run(*args, expect=expect)
    got = transcript(c.emu.control("/log")["requests"], now)
    c.emu.control("/log", {"bodies": False})
    path = os.path.join(GOLDEN, name + ".txt")
    if UPDATE:
        with open(path, "w") as f:
            f.write(got)
        print("   rewrote %s: review its diff before committing" % os.path.relpath(path))
        return
    want = open(path).read() if os.path.exists(path) else ""
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "tests/golden/" + name + ".txt",
                                            "what iocsync sent", n=2))
        raise AssertionError("the requests differ from the transcript (if intended: IOCSYNC_UPDATE_GOLDEN=1, "
                             "then review):\n" + diff[:6000])


def setup(c):
    c.emu.control("/limits", {"rate_limits": False})
    c.mde["list_page"] = "10000"


@test
def first_import(c):
    setup(c)
    c.feed("mixed", ["45.0.0.1", "2a00:1450:4001:800::200e", "evil-c2.example-bad.top",
                     "http://Phish.Example-Bad.top/Login", "ab" * 32, "45.0.0.2"], type="auto",
           recommended_actions="Isolate the device", severity="high", generate_alert="yes")
    recorded_run(c, "first_import", "sync")


@test
def renewal(c):
    setup(c)
    c.feed("bad", ips(3), expire_after="30d")
    c.run("sync")
    st = c.emu.control("/state")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2 * 86400))
    for x in st["indicators"]:
        if x["indicator"]["indicatorValue"] == ips(3)[1]:
            x["indicator"]["expirationTime"] = soon
    c.emu.control("/reset", {})
    setup(c)
    c.emu.control("/state", st)
    recorded_run(c, "renewal", "sync")


@test
def action_change(c):
    setup(c)
    vals = ips(2) + ["http://phish.example-bad.top/login"]
    c.feed("bad", vals, action="block")
    c.run("sync")
    c.feed("bad", vals, action="warn", educate_url="https://intranet.example-corp.top/why-blocked")
    recorded_run(c, "action_change", "sync")


@test
def batch_delete(c):
    setup(c)
    c.feed("bad", ips(6), max_shrink="100%")
    c.run("sync")
    c.feed("bad", ips(6)[:2], max_shrink="100%")
    recorded_run(c, "batch_delete", "sync")


@test
def list_paging(c):
    setup(c)
    c.feed("bad", ips(5))
    c.run("sync")
    c.mde["list_page"] = "2"
    recorded_run(c, "list_paging", "sync")


@test
def device_group_scoped_feed(c):
    setup(c)
    c.feed("finance", ips(2), device_groups="Finance, Servers", title="{feed} block: {value}",
           description="Scoped to {feed}'s groups ({type})")
    recorded_run(c, "device_group_scoped_feed", "sync")


assert TENANT  # the transcripts name the suite's tenant and app ids
sys.exit(itest.main())
