#!/usr/bin/env python3
"""Issue 19's red-team items, each reproduced against the real binary and
named after what it proves; and every verb under the shipped units' exact
system call filter (tests/seccomp/unitfilter.c builds it from the unit
files' own lines).

  hardening.py path/to/iocsync path/to/mde-emulator path/to/unitfilter SOURCE_DIR [TEST...]"""
import json, os, subprocess, sys

UNITFILTER = os.path.abspath(sys.argv.pop(3))
SRC = os.path.abspath(sys.argv.pop(3))
import itest  # noqa: E402  (after the arguments it does not know are taken)
from itest import IOCSYNC, WORK, WRAP, Webhook, ips, test  # noqa: E402

UNITS = [os.path.join(SRC, "packaging", "systemd", u) for u in ("iocsync.service.in", "iocsync-sync.service.in",
                                                                      "iocsync-alert@.service.in")]


# LeakSanitizer stops the world with ptrace at exit, which the units'
# filter forbids (and kills): under a sanitizer build the leak check is
# the other suites' (ASan itself still runs).
NO_LEAK_CHECK = {"ASAN_OPTIONS": "detect_leaks=0"}


SAVED_ASAN = os.environ.get("ASAN_OPTIONS")


def under(unit):
    """From now on Ctx.run runs iocsync under unit's filter (None: not)."""
    if unit is None:
        WRAP[:] = []
        if SAVED_ASAN is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = SAVED_ASAN
        return
    WRAP[:] = [UNITFILTER, unit, "--"]
    os.environ.update(NO_LEAK_CHECK)


def for_the_service_user(c):
    """The units run iocsync as a DynamicUser: unitfilter becomes uid
    65534, so the test's files become that user's (the CA copied in)."""
    import shutil
    os.chmod(WORK, 0o711)
    ca = os.path.join(c.dir, "ca.pem")
    shutil.copy(os.path.join(WORK, "ca.pem"), ca)
    c.mde["ca_file"] = ca
    c.conf()
    for root, dirs, files in os.walk(c.dir):
        for n in [root] + [os.path.join(root, f) for f in files]:
            os.chown(n, 65534, 65534)


def big_feed(path, n=700000):
    with open(path, "w") as f:
        for i in range(n):
            f.write("%d.%d.%d.%d\n" % (45 + i % 50, (i >> 16) & 255, (i >> 8) & 255, 1 + i % 250))
    return path


@test
def seccomp_big_feed_check_under_each_units_filter(c):
    """A feed big enough for the parallel parser (about 4 MiB) once died of
    SIGSYS: its workers called setpriority, which @resources forbids."""
    path = big_feed(os.path.join(c.dir, "big.txt"))
    for_the_service_user(c)
    for unit in UNITS:
        p = subprocess.run([UNITFILTER, unit, "--", IOCSYNC, "-c", "/dev/null", "check", "--summary", path],
                           capture_output=True, text=True, timeout=600, env=dict(os.environ, **NO_LEAK_CHECK))
        assert p.returncode == 0, (unit, p.returncode, p.stderr[-1000:])
        assert "SIGSYS" not in p.stderr


@test
def seccomp_every_verb_of_a_deployment_under_the_units_filter(c):
    files, hook = itest.FeedServer(c.dir), Webhook()
    try:
        c.extra = "\n[alert]\nwebhook = %s\n" % hook.url
        big_feed(os.path.join(c.dir, "served.txt"), 400000)
        c.feed("local", ips(50))
        c.feeds["served"] = {"url": files.base + "/served.txt", "format": "text"}
        c.sync_opts["metrics_file"] = os.path.join(c.dir, "iocsync.prom")
        c.sync_opts["cap"] = "1000"
        for_the_service_user(c)
        for unit in UNITS:
            under(unit)
            for args, rc in ((["feeds", "--summary"], 0), (["plan"], None), (["sync"], None), (["sync"], 0),
                             (["daemon", "--once"], 0), (["status"], 0), (["list", "--json"], 0),
                             (["report", "--html", os.path.join(c.dir, "r.html")], 0),
                             (["export", "--format", "firewall-ps1", "--out", os.path.join(c.dir, "fw.ps1")], 0),
                             (["doctor"], None), (["config"], 0), (["alert", "--test"], 0),
                             (["alert", "--failed-unit", "iocsync.service"], 0)):
                p = c.run(*args, expect=None)
                assert p.returncode not in (159, 128 + 31) and "SIGSYS" not in p.stderr, (unit, args, p.stderr[-800:])
                assert rc is None or p.returncode == rc, (unit, args, p.returncode, p.stderr[-800:])
        assert len(hook.posts) >= 2 * len(UNITS), hook.posts
    finally:
        under(None)
        files.stop()
        hook.stop()


@test
def seccomp_a_providers_tenants_under_the_units_filter(c):
    """Several tenants in one run: the pool of threads, and the open files
    limit raised to the hard one (prlimit64), under every unit's filter."""
    s2 = itest.second_tenant(c)
    c.feed("local", ips(30))
    c.mde.update({"client_secret_file": None})
    c.sync_opts["max_parallel_tenants"] = "2"
    c.extra = ('\n[tenant "one"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n'
               % (itest.TENANT, itest.CID, c.secret_file)
               + '\n[tenant "two"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n' % (itest.T2, itest.CID2, s2))
    for_the_service_user(c)
    try:
        for unit in UNITS:
            under(unit)
            for args, rc in ((["plan"], None), (["sync"], 0), (["sync"], 0)):
                p = c.run(*args, expect=None)
                assert p.returncode not in (159, 128 + 31) and "SIGSYS" not in p.stderr, (unit, args, p.stderr[-800:])
                assert rc is None or p.returncode == rc, (unit, args, p.returncode, p.stdout[-800:], p.stderr[-800:])
                assert "=== tenant one" in p.stdout and "=== tenant two" in p.stdout, p.stdout[-800:]
    finally:
        under(None)


def mounted_tmpfs(path, size):
    """A small tmpfs at path (for a full disk), or a Skip naming why not."""
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path], capture_output=True, text=True)
    if p.returncode != 0:
        raise itest.Skip("SKIPPED loudly: cannot mount a tmpfs here (%s): the full-disk case is not tested"
                         % p.stderr.strip())


@test
def core_dumps_and_other_users_ptrace_are_off(c):
    """A core once held the secret: iocsync makes itself non-dumpable (so
    /proc/PID of it is root's, even for its own user) with RLIMIT_CORE 0."""
    os.chmod(WORK, 0o711)
    drop = lambda: (os.setgid(65534), os.setuid(65534))  # noqa: E731
    p = subprocess.Popen([IOCSYNC, "probe", "--listen", "0", "--tcp", "--count", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=drop)
    try:
        assert "listening" in p.stdout.readline()        # past main's first lines
        limits = open("/proc/%d/limits" % p.pid).read()
        core = [l for l in limits.splitlines() if l.startswith("Max core file size")][0].split()
        assert core[4:6] == ["0", "0"], core
        # The same user may not read it: non-dumpable makes /proc/PID root's.
        r = subprocess.run(["cat", "/proc/%d/environ" % p.pid], capture_output=True, preexec_fn=drop)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, r
        assert os.stat("/proc/%d/environ" % p.pid).st_uid == 0
    finally:
        p.kill()
        p.wait()


@test
def sslkeylogfile_is_ignored(c):
    c.feed("bad", ips(2))
    keylog = os.path.join(c.dir, "keys.log")
    c.run("sync", env={"SSLKEYLOGFILE": keylog})
    assert not os.path.exists(keylog), "TLS session keys were written"


@test
def the_secret_never_goes_to_a_host_hidden_behind_userinfo(c):
    """api_url = http://127.0.0.1:1@evil.example/ is evil.example: refused
    before anything is sent (it once sent the secret there in clear)."""
    c.feed("bad", ips(2))
    for key in ("api_url", "login_url"):
        c.mde = {key: "http://127.0.0.1:1@evil.example/", "allow_http": "yes"}
        p = c.run("sync", expect=2)
        assert "holds a user or password before '@'" in p.stderr and "evil.example" in p.stderr, p.stderr
    c.mde = {}
    c.feeds["bad"]["url"] = "https://user:pw@feeds.example-bad.top/list.txt"
    p = c.run("sync", expect=2)
    assert "holds a user or password" in p.stderr, p.stderr


@test
def the_secret_is_read_only_after_every_feed_is_parsed(c):
    """The credential's file is checked early (owner, mode) but its bytes
    are read only when the first token is needed: after every feed, the
    hostile input, is parsed, even when device groups must be checked
    with MDE first. Seen by the system calls themselves (strace -y)."""
    itest.require_tool("strace", "scripts/install-deps --dev installs it")
    a = c.feed("first", ips(50))
    b = c.feed("second", ips(50, start=100), device_groups="Finance")
    trace = os.path.join(c.dir, "trace")
    c.conf()
    p = subprocess.run(["strace", "-f", "-y", "-s", "0", "-e", "trace=read", "-o", trace, IOCSYNC, "-c",
                        os.path.join(c.dir, "iocsync.conf"), "sync"], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **NO_LEAK_CHECK))  # LeakSanitizer cannot run under ptrace
    assert p.returncode == 0, p.stderr[-2000:]
    lines = open(trace).read().splitlines()
    def reads(path):
        return [i for i, l in enumerate(lines) if "<%s>" % path in l]
    secret, feeds = reads(c.secret_file), reads(a) + reads(b)
    assert secret and feeds, (len(secret), len(feeds))
    assert min(secret) > max(feeds), "the secret was read before a feed was parsed: %s" % lines[min(secret)]
    c.expect_exactly(ips(50) + ips(50, start=100))


@test
def a_feed_cannot_swallow_the_environment_or_a_device(c):
    c.feed("ok", ips(2))
    for url, want in (("file:///proc/self/environ", "under /proc"), ("file:///dev/zero", "under /dev"),
                      ("file:///proc/self/fd/0", "under /"), ("file:///sys/kernel/mm/transparent_hugepage/enabled",
                                                           "under /sys"), ("file://%s" % c.dir, "not a regular file")):
        c.feeds["evil"] = {"url": url, "format": "text"}
        p = c.run("sync", expect=1, env={"IOCSYNC_CANARY": "canary-" + itest.SECRET[:8]})
        assert want in p.stderr, (url, p.stderr)
    import sqlite3
    db = sqlite3.connect(os.path.join(c.dir, "state.db"))
    rows = db.execute("SELECT name, snapshot FROM feeds").fetchall()
    db.close()
    assert all(b"canary" not in (r[1] or b"") for r in rows) and ("evil", None) in [(r[0], r[1]) for r in rows], rows


@test
def a_feeds_ca_file_is_not_trusted_for_microsoft(c):
    """[fetch] ca_file adds a CA for feeds only: with the emulator's CA
    there and not in [mde], the calls to "Microsoft" fail verification."""
    c.feed("bad", ips(2))
    c.mde["ca_file"] = None
    c.extra = "\n[fetch]\nca_file = %s\n" % os.path.join(WORK, "ca.pem")
    p = c.run("sync", expect=1)
    assert "certificate" in p.stderr.lower(), p.stderr
    assert c.owned() == []


@test
def values_read_from_mde_are_checked_before_a_firewall_export(c):
    st = c.emu.control("/state")
    for i, v in enumerate(("8.8.8.8", "Any", "10.0.0.0/8", "45.9.9.9")):
        st["indicators"].append({"tenant": itest.TENANT, "indicator": {
            "id": str(9000 + i), "indicatorValue": v, "indicatorType": "IpAddress", "action": "Block",
            "createdBy": itest.OTHER, "title": "t", "description": "d"}})
    c.emu.control("/state", st)
    out = os.path.join(c.dir, "fw.ps1")
    p = c.run("export", "--format", "firewall-ps1", "--from", "mde", "--out", out)
    script = open(out).read()
    addrs = script[script.index("$Addresses = @("):].split(")")[0]
    assert "45.9.9.9" in addrs and "8.8.8.8" not in addrs and "Any" not in addrs and "10.0.0.0" not in addrs, addrs
    assert "left out" in p.stderr and "8.8.8.8" in p.stderr, p.stderr


@test
def csv_exports_neutralise_spreadsheet_formulas(c):
    c.feed("bad", ips(2), title="=HYPERLINK(\"http://evil.top\",\"x\") {value}",
           description="+cmd|' /C calc'!A0")
    c.sync_json()
    prefix = os.path.join(c.dir, "x")
    c.run("export", "--format", "mde-csv", "--out", prefix)
    text = open(prefix + "-001.csv").read()
    assert '"\'=HYPERLINK(' in text and '"\'+cmd|' in text, text
    rows = c.run("list", "--csv").stdout
    assert "'=HYPERLINK(" in rows and ",=HYPERLINK" not in rows and ',"=HYPERLINK' not in rows, rows


@test
def corrupt_state_rows_are_reported_not_a_crash(c):
    c.feed("bad", ips(3))
    c.sync_json()
    import sqlite3
    db = sqlite3.connect(os.path.join(c.dir, "state.db"))
    db.executescript("ALTER TABLE indicators RENAME TO old;"
                     "CREATE TABLE indicators (type INTEGER, value TEXT, action INTEGER, mde_id TEXT, feeds TEXT,"
                     " first_seen INTEGER, last_seen INTEGER, expires_at INTEGER, gone_since INTEGER);"
                     "INSERT INTO indicators SELECT * FROM old; DROP TABLE old;"
                     "INSERT INTO indicators VALUES (1, NULL, 3, NULL, NULL, 0, 0, 0, 0);")
    db.commit()
    db.close()
    p = c.run("sync")
    assert "1 rows of the indicators table have no value: ignored" in p.stderr, p.stderr
    c.expect_exactly(ips(3))


@test
def files_are_never_readable_by_others_and_never_followed(c):
    c.feed("bad", ips(2))
    c.sync_opts["metrics_file"] = os.path.join(c.dir, "m.prom")
    old = os.umask(0)
    try:
        c.run("sync")
    finally:
        os.umask(old)
    for name, mode in (("state.db", 0o600), ("iocsync.log", 0o640), ("m.prom", 0o640)):
        got = os.stat(os.path.join(c.dir, name)).st_mode & 0o777
        assert got == mode, (name, oct(got))
    # A symlink planted where the log goes is not written through.
    target = os.path.join(c.dir, "victim")
    open(target, "w").close()
    os.unlink(os.path.join(c.dir, "iocsync.log"))
    os.symlink(target, os.path.join(c.dir, "iocsync.log"))
    p = c.run("sync", expect=None)
    assert os.path.getsize(target) == 0, "the log followed a symlink"
    assert p.returncode != 0 or "log" in p.stderr, p.stderr


@test
def a_secret_file_of_another_user_is_refused(c):
    c.feed("bad", ips(2))
    os.chown(c.secret_file, 65534, 65534)
    p = c.run("sync", expect=2)
    assert "owned by uid 65534, not by the user iocsync runs as" in p.stderr, p.stderr
    assert c.owned() == []


@test
def terminal_and_log_output_is_escaped(c):
    """Feed text quoted in a reason (a bad URL port) reaches neither the
    terminal nor the log with a raw ESC or BEL."""
    c.feed("bad", ips(1) + ["http://evil.top:99\x1b]0;pwned\x07\x1b[31m/x"], type="url, ip")
    p = c.run("sync")
    log = open(os.path.join(c.dir, "iocsync.log"), "rb").read()
    chk = c.run("check", c.feeds["bad"]["url"][7:], expect=None)
    for name, text in (("stderr", p.stderr.encode()), ("log", log), ("check", chk.stdout.encode() + chk.stderr.encode())):
        assert b"\x1b" not in text and b"\x07" not in text, (name, text[-600:])


@test
def a_full_disk_fails_the_run_and_says_so(c):
    disk = os.path.join(c.dir, "disk")
    mounted_tmpfs(disk, "4m")
    try:
        c.sync_opts["state"] = os.path.join(disk, "state.db")
        c.sync_opts["log_file"] = os.path.join(disk, "iocsync.log")
        c.feed("bad", ips(200))
        c.sync_json()
        # Fill the disk, leaving a few bytes.
        fd = os.open(os.path.join(disk, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 1024)
        except OSError:
            pass
        os.close(fd)
        c.feed("bad", ips(2000, start=300))
        p = c.run("sync", expect=1)
        assert "disk is full" in p.stderr, p.stderr[-1500:]
        log = open(os.path.join(disk, "iocsync.log"), "rb").read()
        assert log.endswith(b"\n"), "a log line cut in half"
        os.unlink(os.path.join(disk, "filler"))
        p = c.run("sync")                      # room again: converges
        c.expect_exactly(ips(2000, start=300))
    finally:
        subprocess.run(["umount", "-l", disk])


sys.exit(itest.main())
