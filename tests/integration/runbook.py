#!/usr/bin/env python3
"""docs/runbook.md, and the README's "Running unattended" section, run as
written: every command of every `sh` block, in order, against
mde-emulator. /etc/iocsync, /var/lib/iocsync and /var/log/iocsync are moved
into a scratch directory; apt, make, systemctl, journalctl, chown and
editor are stand-ins that record what they were asked (systemctl start of
iocsync.service runs what the unit runs: the daemon's one sync, with the
secret as the credential mde-secret). `# exit N` after a command is the
exit it must have; any other is 0.

  runbook.py path/to/iocsync path/to/mde-emulator SOURCE_DIR [TEST...]"""
import json, os, re, shlex, stat, subprocess, sys

SRC = os.path.abspath(sys.argv.pop(3))
import itest  # noqa: E402
from itest import CID, IOCSYNC, SECRET, TENANT, WORK, Webhook, test  # noqa: E402

FEED = ["45.9.148.3 # Emotet C2", "185.220.101.4", "91.92.109.17", "10.0.0.1"]


def blocks(path, heading=None):
    """The sh blocks of a Markdown file (under one heading only, if given)."""
    text = open(path).read()
    if heading:
        start = text.index(heading)
        nxt = re.search(r"^#{1,3} ", text[start + len(heading):], re.M)
        text = text[start:start + len(heading) + (nxt.start() if nxt else len(text))]
    return re.findall(r"```sh\n(.*?)```", text, re.S)


class Sandbox:
    def __init__(self, c, hook):
        self.c, self.root = c, os.path.join(c.dir, "root")
        self.bin, self.log = os.path.join(self.root, "bin"), os.path.join(c.dir, "stand-ins.log")
        for d in ("bin", "etc/iocsync", "var/lib/iocsync", "var/log/iocsync", "creds"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.conf = self.path("/etc/iocsync/iocsync.conf")
        feed = os.path.join(c.dir, "feed.txt")
        with open(feed, "w") as f:
            f.write("".join(v + "\n" for v in FEED))
        self.files = {  # what editor writes into each file
            "client-secret": SECRET + "\n",
            "alert-webhook": hook.url + "\n",
            "iocsync.conf": "\n".join([
                "[mde]", "tenant_id = " + TENANT, "client_id = " + CID, "cloud = custom",
                "api_url = " + c.emu.base, "login_url = " + c.emu.base, "ca_file = " + os.path.join(WORK, "ca.pem"),
                "client_secret_credential = mde-secret",
                "client_secret_file = " + self.path("/etc/iocsync/client-secret"),
                "", "[sync]", "state = " + self.path("/var/lib/iocsync/state.db"),
                "log_file = " + self.path("/var/log/iocsync/iocsync.log"),
                "metrics_file = " + self.path("/var/lib/iocsync/iocsync.prom"), "reserve = 0",
                "", "[alert]", "webhook_file = " + self.path("/etc/iocsync/alert-webhook"),
                "", '[feed "c2"]', "url = file://" + feed, "format = text", ""]),
        }
        self.stand_ins()

    def forget_secrets(self):
        """The files that hold the secret or the webhook by design go
        before the suite searches every file for them."""
        for p in (self.path("/etc/iocsync/client-secret"), self.path("/etc/iocsync/alert-webhook"),
                  os.path.join(self.root, "creds", "mde-secret"), os.path.join(self.bin, "editor")):
            if os.path.exists(p):
                os.unlink(p)

    def path(self, p):
        for d in ("/etc/iocsync", "/var/lib/iocsync", "/var/log/iocsync"):
            if p.startswith(d):
                return self.root + p
        return p

    def rewrite(self, line):
        for d in ("/etc/iocsync", "/var/lib/iocsync", "/var/log/iocsync"):
            line = line.replace(d, self.root + d)
        return line.replace("/usr/share/doc/iocsync", os.path.join(SRC, "packaging"))

    def stand_ins(self):
        creds = os.path.join(self.root, "creds")
        unit = ("mkdir -p %s && cp %s %s/mde-secret && CREDENTIALS_DIRECTORY=%s %s -c %s daemon --once"
                % (creds, self.path("/etc/iocsync/client-secret"), creds, creds, IOCSYNC, self.conf))
        scripts = {
            "iocsync": 'case " $* " in *" -c "*) exec %s "$@";; esac\nexec %s -c %s "$@"' % (IOCSYNC, IOCSYNC,
                                                                                           self.conf),
            "systemctl": 'case "$*" in\n'
                         '  "enable --now iocsync.service"|"start iocsync.service"|"restart iocsync.service") %s;;\n'
                         '  "disable --now iocsync.service"|"stop iocsync.service") ;;\n'
                         '  *) echo "systemctl: not expected here: $*" >&2; exit 1;;\nesac' % unit,
            "journalctl": 'cat %s' % self.path("/var/log/iocsync/iocsync.log"),
            "apt": 'case "$*" in\n  "install ./build-deb/iocsync_"*"_amd64.deb") ;;\n'
                   '  "purge iocsync") rm -rf %s %s;;\n  *) echo "apt: not expected: $*" >&2; exit 1;;\nesac'
                   % (self.path("/var/lib/iocsync"), self.path("/var/log/iocsync")),
            "make": 'for t; do grep -q "^$t:" %s/Makefile || { echo "make: no target $t" >&2; exit 1; }; done'
                    % SRC,
            "chown": 'case "$1" in root:iocsync|iocsync:iocsync) [ -e "$2" ];; *) exit 1;; esac',
            "editor": 'exec python3 -c "import sys, json; open(sys.argv[1], \'w\').write(json.loads(sys.argv[2])'
                      '[sys.argv[1].rsplit(\'/\', 1)[1]])" "$1" %s' % shlex.quote(json.dumps(self.files)),
        }
        for name, body in scripts.items():
            p = os.path.join(self.bin, name)
            with open(p, "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >>%s\n%s\n' % (name, self.log, body))
            os.chmod(p, 0o755)

    def run_block(self, block, where):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.search(r"#.*\bexit (\d+)", line)
            want = int(m.group(1)) if m else 0
            cmd = self.rewrite(line)
            env = dict(os.environ, PATH=self.bin + ":" + os.environ["PATH"])
            env.pop("CREDENTIALS_DIRECTORY", None)
            p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env, cwd=SRC, timeout=300)
            itest.ARTIFACTS.append((where + ": " + line, p.stdout + p.stderr))
            assert p.returncode == want, "%s: %r exited %d, want %d\n%s\n%s" % (
                where, line, p.returncode, want, p.stdout[-2000:], p.stderr[-2000:])
            yield line, p


@test
def the_runbook_works_as_written(c):
    hook = Webhook()
    box = Sandbox(c, hook)
    try:
        ran = []
        for b in blocks(os.path.join(SRC, "docs", "runbook.md")):
            for line, p in box.run_block(b, "docs/runbook.md"):
                ran.append(line)
                if line.startswith("iocsync status") and "enable" in " ".join(ran):
                    assert "indicators iocsync owns: 3" in p.stdout, p.stdout
                if line.startswith("iocsync why"):
                    assert "c2" in p.stdout, p.stdout
        assert len(ran) >= 20, ran
        # Went live: the feed's three public addresses are in MDE; removed: none is.
        assert hook.posts and json.loads(hook.posts[0]["body"])["alerts"][0]["key"] == "test", hook.posts
        assert c.owned() == [], "purge left indicators: %s" % c.owned()
        assert not os.path.exists(box.path("/var/lib/iocsync")), "apt purge left the state"
        log = open(box.log).read()
        assert "systemctl enable --now iocsync.service" in log and "apt purge iocsync" in log, log
    finally:
        box.forget_secrets()
        hook.stop()


@test
def the_readmes_unattended_section_works_as_written(c):
    hook = Webhook()
    box = Sandbox(c, hook)
    try:
        # The README's install step from source, as its Installing section says.
        os.makedirs(box.path("/etc/iocsync"), exist_ok=True)
        ran = [line for b in blocks(os.path.join(SRC, "README.md"), "### Running unattended")
               for line, _ in box.run_block(b, "README.md")]
        assert len(ran) == 5 and ran[-1].startswith("systemctl enable --now iocsync.service"), ran
        c.expect_exactly(["45.9.148.3", "185.220.101.4", "91.92.109.17"])
        mode = stat.S_IMODE(os.stat(box.path("/etc/iocsync/client-secret")).st_mode)
        assert mode == 0o600, oct(mode)
    finally:
        box.forget_secrets()
        hook.stop()


sys.exit(itest.main())
