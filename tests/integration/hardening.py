#!/usr/bin/env python3
"""Issue 19's red-team items, each reproduced against the real binary and
named after what it proves; and every verb under the shipped units' exact
system call filter (tests/seccomp/unitfilter.c builds it from the unit
files' own lines).

  hardening.py path/to/iocsync path/to/mde-emulator path/to/unitfilter SOURCE_DIR [TEST...]"""
import http.server, json, os, socketserver, subprocess, sys, threading

UNITFILTER = os.path.abspath(sys.argv.pop(3))
SRC = os.path.abspath(sys.argv.pop(3))
import itest  # noqa: E402  (after the arguments it does not know are taken)
from itest import IOCSYNC, WORK, WRAP, ips, test  # noqa: E402

UNITS = [os.path.join(SRC, "packaging", "systemd", u) for u in ("iocsync.service.in", "iocsync-sync.service.in")]


class Files(threading.Thread):
    """A plain HTTP server for feed files on loopback, stopped at the end."""

    def __init__(self, root):
        super().__init__(daemon=True)
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=root, **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.srv = socketserver.TCPServer(("127.0.0.1", 0), handler)
        self.url = "http://127.0.0.1:%d/" % self.srv.server_address[1]
        self.start()

    def run(self):
        self.srv.serve_forever()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def under(unit):
    """From now on Ctx.run runs iocsync under unit's filter."""
    WRAP[:] = [UNITFILTER, unit, "--"]


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
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (unit, p.returncode, p.stderr[-1000:])
        assert "SIGSYS" not in p.stderr


@test
def seccomp_every_verb_of_a_deployment_under_the_units_filter(c):
    files = Files(c.dir)
    try:
        big_feed(os.path.join(c.dir, "served.txt"), 400000)
        c.feed("local", ips(50))
        c.feeds["served"] = {"url": files.url + "served.txt", "format": "text"}
        c.sync_opts["metrics_file"] = os.path.join(c.dir, "iocsync.prom")
        c.sync_opts["cap"] = "1000"
        for_the_service_user(c)
        for unit in UNITS:
            under(unit)
            for args, rc in ((["feeds", "--summary"], 0), (["plan"], None), (["sync"], None), (["sync"], 0),
                             (["daemon", "--once"], 0), (["status"], 0), (["list", "--json"], 0),
                             (["report", "--html", os.path.join(c.dir, "r.html")], 0),
                             (["export", "--format", "firewall-ps1", "--out", os.path.join(c.dir, "fw.ps1")], 0),
                             (["doctor"], None), (["config"], 0)):
                p = c.run(*args, expect=None)
                assert p.returncode not in (159, 128 + 31) and "SIGSYS" not in p.stderr, (unit, args, p.stderr[-800:])
                assert rc is None or p.returncode == rc, (unit, args, p.returncode, p.stderr[-800:])
    finally:
        WRAP[:] = []
        files.stop()


sys.exit(itest.main())
