#!/usr/bin/env python3
"""Issue 21, running iocsync as a security team does: the monitoring that
ships with it (Prometheus rules, Grafana dashboard) over the metrics a real
run writes, and the alerts it posts.

  operations.py path/to/iocsync path/to/mde-emulator SOURCE_DIR [TEST...]"""
import json, os, re, subprocess, sys

SRC = os.path.abspath(sys.argv.pop(3))
import itest  # noqa: E402  (after the arguments it does not know are taken)
from itest import ips, test  # noqa: E402

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


sys.exit(itest.main())
