#!/usr/bin/env python3
"""The readings matrix (spec section 9): the same scenario under the
emulator's default reading, under each reading's other choice alone, and
under every other choice at once. It must converge every time, never leave
a listed value without an indicator between two calls (replayed from the
emulator's change log), and never touch another owner's indicators.

  readings.py path/to/iocsync path/to/mde-emulator [COMBINATION...]

COMBINATION is "default", "all", or NAME=CHOICE (the test names below)."""
import ipaddress, json, os, sys
import itest
from itest import ips, test


def canon(typ, v):
    """iocsync's canonical form of a value (what it compares with)."""
    if typ.startswith("File") or typ == "CertificateThumbprint" or typ == "DomainName":
        return v.lower()
    if typ == "IpAddress" and ":" in v:
        return ":".join("%x" % int(g, 16) for g in ipaddress.IPv6Address(v).exploded.split(":"))
    if typ == "Url":
        scheme, rest = v.split("://", 1)
        host, sep, path = rest.partition("/")
        return scheme.lower() + "://" + host.lower() + sep + path
    return v


def mine(x):
    return x.get("createdByDisplayName") == "iocsync-it" and x.get("application") == "iocsync"


def foreign(c):
    return sorted(json.dumps(x, sort_keys=True) for x in c.emu.indicators() if not mine(x))


class Scenario:
    """Feeds of every type, the desired set as iocsync would send it, and
    the checks after each step."""

    def __init__(self, c, choice):
        self.c = c
        self.choice = choice
        self.hashes = ["%064x" % (0xabc0000 + i) for i in range(20)] + ["%032X" % (0xdef000 + i) for i in range(8)]
        self.v4 = ips(60)
        self.v6 = ["2a00:1450:4001:%x::200e" % (0x800 + i) for i in range(4)]
        self.urls = ["http://Evil-%d.BadHost.TOP/Login/Page" % i for i in range(8)] + \
                    ["bad-%d.malware.click" % i for i in range(4)]
        self.action_ips = "Block"
        self.others_before = None

    def feeds(self):
        c = self.c
        c.feed("ips", self.v4 + self.v6, type="ip", action=self.action_ips.lower(),
               device_groups="Finance, Servers", **({"recommended_actions": "isolate the host"}
                                                    if self.action_ips == "Block" else {}))
        c.feed("hashes", self.hashes, type="hash")
        if self.urls is not None:
            c.feed("urls", self.urls, type="url, domain")

    def desired(self):
        want = set()
        for v in self.v4 + self.v6:
            want.add(("IpAddress", canon("IpAddress", v), self.action_ips))
        for h in self.hashes:
            want.add(({64: "FileSha256", 32: "FileMd5"}[len(h)], h.lower(), "Block"))
        for u in self.urls or []:
            typ = "Url" if "://" in u else "DomainName"
            want.add((typ, canon(typ, u), "Block"))
        return want

    def owned(self):
        return [(x["indicatorType"], canon(x["indicatorType"], x["indicatorValue"]), x["action"])
                for x in self.c.emu.indicators() if mine(x)]

    def converged(self, step, minus=()):
        got = self.owned()
        assert len(got) == len(set(got)), "%s: duplicates in MDE: %s" % (step, sorted(set(x for x in got if got.count(x) > 1))[:3])
        want = self.desired() - set(minus)
        missing, extra = want - set(got), set(got) - want
        assert not missing and not extra, "%s: MDE differs from the feeds: missing %s, extra %s" % (
            step, sorted(missing)[:3], sorted(extra)[:3])
        assert foreign(self.c) == self.others_before, "%s: another owner's indicator changed" % step

    def sync(self, step, expect=0):
        """One sync, checked: no value desired before and after it is ever
        without an indicator while it runs."""
        c = self.c
        kept = {(t, v) for t, v, _ in self.owned()}
        mark = len(c.emu.control("/changes")["changes"])
        self.feeds()
        kept &= {(t, v) for t, v, _ in self.desired()}
        doc = c.sync_json(expect=expect)
        count = {}
        for t, v, _ in self.owned_at_mark:
            count[(t, v)] = count.get((t, v), 0) + 1
        for ch in c.emu.control("/changes")["changes"][mark:]:
            if ch["createdBy"] is None or ch["tenant"] != itest.TENANT:
                continue
            key = (ch["type"], canon(ch["type"], ch["value"]))
            if ch["op"] == "create":
                count[key] = count.get(key, 0) + 1
            elif ch["op"] in ("delete", "expire"):
                count[key] = count.get(key, 0) - 1
                assert key not in kept or count[key] > 0, "%s: %s %s was left without an indicator (%s of id %s)" % (
                    step, key[0], key[1], ch["op"], ch["id"])
        self.owned_at_mark = self.owned() + [x for x in self.foreign_tv()]
        return doc

    def foreign_tv(self):
        return [(x["indicatorType"], canon(x["indicatorType"], x["indicatorValue"]), x["action"])
                for x in self.c.emu.indicators() if not mine(x)]


def run_scenario(c, readings):
    c.emu.control("/limits", {"rate_limits": False})
    r = c.emu.control("/readings", readings)
    for k, v in readings.items():
        assert r[k]["current"] == v, r[k]
    s = Scenario(c, readings)
    # A gov cloud, so that the gov-audience reading matters; pages the size of
    # the first run's set, so that the second run's second page is empty
    # (empty-list=404 answers it with a 404).
    c.mde.update({"cloud": "gcc", "rate_limit_percent": "0", "list_page": str(len(s.desired()))})
    c.sync_opts["max_delete"] = "100%"
    s.others_before = foreign(c)
    s.owned_at_mark = []
    assert s.others_before == [], "the tenant is not empty"

    doc = s.sync("create from empty")
    assert doc["done"]["create"] == len(s.desired()) and doc["failed"] == 0, doc
    s.converged("create from empty")

    # Another owner: an Allow on a value a feed lists later (a conflict), and two more.
    conflict = "45.9.9.9"
    c.portal(conflict, "Allowed")
    c.portal("77.1.1.1", "Block")
    c.portal("77.1.1.2", "Audit", generateAlert=True)
    s.others_before = foreign(c)
    s.owned_at_mark = s.owned() + s.foreign_tv()

    before = c.emu.calls()
    doc = s.sync("no-change resync")
    writes = {k: v for k, v in c.calls_since(before).items() if k not in ("token", "list", "machines")}
    assert writes == {} and sum(doc["done"].values()) == 0, ("no-change resync wrote", writes, doc["done"])

    s.action_ips = "Warn"   # and recommended_actions removed: the omitted-fields reading matters
    doc = s.sync("action change")
    assert doc["done"]["replace"] == len(s.v4) + len(s.v6), doc["done"]
    s.converged("action change")
    reco = {x["recommendedActions"] for x in c.emu.indicators() if mine(x) and x["indicatorType"] == "IpAddress"}
    assert reco == {None}, "recommended_actions did not clear: %s" % reco
    doc = s.sync("resync after the action change")
    assert sum(doc["done"].values()) == 0, doc["done"]

    s.v4 = s.v4[6:] + ips(5, start=500) + [conflict]
    s.hashes = s.hashes[2:] + ["%064x" % (0xfff000 + i) for i in range(2)]
    doc = s.sync("10% churn")
    assert doc["done"]["create"] == 7 and doc["done"]["delete"] == 8, doc["done"]
    assert doc["planned"]["conflict"] == 1 and doc["conflicts"][0]["value"] == conflict, doc["planned"]
    blocked = ("IpAddress", conflict, "Warn")
    s.converged("10% churn", minus=[blocked])

    del c.feeds["urls"]
    s.urls = None
    doc = s.sync("removal of a feed")
    assert doc["done"]["delete"] == 12, doc["done"]
    s.converged("removal of a feed", minus=[blocked])

    refused = "46.6.6.6"
    c.emu.control("/reject", {"values": [refused]})
    c.sync_opts["metrics_file"] = os.path.join(c.dir, "iocsync.prom")
    s.v4 = s.v4 + [refused] + ips(3, start=900)
    doc = s.sync("a refused value", expect=1)
    assert doc["done"]["create"] == 3 and doc["failed"] == 1, doc
    f = doc["failures"][0]
    assert f["value"] == refused and f["code"] == "InvalidInput" and "not allowed" in f["reason"], f
    metrics = open(c.sync_opts["metrics_file"]).read()
    assert 'iocsync_refused{tenant="%s",code="InvalidInput",feed="ips"} 1\n' % itest.TENANT in metrics, \
        [l for l in metrics.splitlines() if "refused" in l]
    s.converged("a refused value", minus=[blocked, ("IpAddress", refused, "Warn")])
    return doc


def readings_of():
    """The emulator's readings and their non-default choices, from a plain
    emulator (the suite's TLS one starts later)."""
    import subprocess, urllib.request
    p = subprocess.Popen([itest.EMU, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    try:
        base = p.stdout.readline().split("listening on ")[1].strip()
        with urllib.request.urlopen(base + "/_emulator/readings", timeout=30) as r:
            got = json.loads(r.read())
    finally:
        p.terminate()
        p.wait(timeout=30)
    return {k: v["choices"][1] for k, v in sorted(got.items())}


ALT = readings_of()


def combo(name, readings):
    def t(c):
        doc = run_scenario(c, readings)
        print("   %-32s converged; the refused value cost %d import calls" % (name, doc["calls"].get("import", 0)))
    t.__name__ = name
    test(t)


combo("default", {})
for _k, _v in ALT.items():
    combo("%s=%s" % (_k, _v), {_k: _v})
combo("all", dict(ALT))


@test
def a_misspelt_device_group_holds_its_feed_and_names_the_groups(c):
    c.emu.control("/readings", {"group-names": "validate"})
    c.feed("good", ips(5))
    c.feed("typo", ips(5, start=100), device_groups="Finanse")
    p = c.run("plan", expect=1)
    assert 'device group "Finanse" does not exist' in p.stderr and "Finance, Servers" in p.stderr, p.stderr
    s = c.sync_json(expect=1)
    assert s["done"]["create"] == 5 and s["device_groups"]["unknown"] == {"typo": ["Finanse"]}, s
    assert sorted(x["indicatorValue"] for x in c.owned()) == sorted(ips(5))
    # Once fixed, the feed goes out; before, nothing of it was sent or deleted.
    c.feed("typo", ips(5, start=100), device_groups="Finance")
    s = c.sync_json()
    assert s["done"]["create"] == 5, s
    # Without Machine.Read.All the groups cannot be checked: a warning, and the sync goes on.
    c.emu.app(itest.CID, itest.SECRET, "iocsync-it", ["Ti.ReadWrite.All"])
    p = c.run("sync")
    assert "device groups are unverified" in p.stderr, p.stderr


@test
def gov_cloud_tries_the_other_audience_once_and_says_which(c):
    c.feed("bad", ips(3))
    c.mde["cloud"] = "gcc"
    c.emu.control("/readings", {"gov-audience": "onmicrosoft-us"})
    before = c.emu.calls()
    p = c.run("sync")
    assert "AADSTS500011" in p.stderr and "the audience https://securitycenter.onmicrosoft.us worked" in p.stderr, p.stderr
    assert "set resource = https://securitycenter.onmicrosoft.us" in p.stderr
    assert c.calls_since(before)["token"] == 2, c.calls_since(before)
    c.emu.control("/readings", {"gov-audience": "api-host"})
    before = c.emu.calls()
    p = c.run("sync")
    assert "AADSTS500011" not in p.stderr and c.calls_since(before)["token"] == 1, p.stderr


@test
def created_by_object_id_owns_by_id_and_learns_it(c):
    """Under created-by=object-id nothing iocsync made says so by its
    client id: owned by the ids it recorded, then by what it learned."""
    c.emu.control("/readings", {"created-by": "object-id"})
    c.feed("bad", ips(20))
    c.sync_json()
    db = os.path.join(c.dir, "state.db")
    import sqlite3
    con = sqlite3.connect(db)
    learned = con.execute("SELECT value FROM meta WHERE key = ?", ("created_by:" + itest.CID,)).fetchone()
    con.close()
    oid = c.emu.indicators()[0]["createdBy"]
    assert learned and learned[0] == oid != itest.CID, (learned, oid)
    # What was learned forgotten, the ids kept: owned by the ids iocsync
    # recorded, and createdBy learned again from them, with no extra call.
    con = sqlite3.connect(db)
    con.execute("DELETE FROM meta")
    con.commit()
    con.close()
    before = c.emu.calls()
    s = c.sync_json()
    assert s["planned"]["conflict"] == 0 and s["planned"]["keep"] == 20, s["planned"]
    assert c.calls_since(before) == {"token": 1, "list": 1}, c.calls_since(before)
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta").fetchone() == (oid,)
    con.close()
    # The state lost: ownership comes from the learned createdBy alone... which
    # went with the state, so the first run sees conflicts and touches nothing;
    # it learns createdBy back only from its own next import.
    os.unlink(db)
    c.feed("bad", ips(20) + ips(1, start=300))
    s = c.sync_json()
    assert s["planned"]["conflict"] == 20 and s["done"]["create"] == 1, s["planned"]
    s = c.sync_json()
    assert s["planned"]["conflict"] == 0 and s["planned"]["keep"] == 21, s["planned"]


@test
def owned_by_recorded_id_when_mde_drops_the_application(c):
    """What MDE keeps of `application` is not documented beyond "not
    changed on update": an indicator whose id iocsync recorded is its own
    whatever the listing says of it, and never a conflict with itself."""
    c.feed("bad", ips(10))
    c.sync_json()
    st = c.emu.control("/state")
    for x in st["indicators"]:
        x["indicator"]["application"] = None
    c.emu.control("/reset", {})
    c.emu.control("/state", st)
    c.feed("bad", ips(8))
    s = c.sync_json()
    assert s["planned"]["conflict"] == 0 and s["done"]["delete"] == 2 and s["planned"]["keep"] == 8, s["planned"]
    assert sorted(x["indicatorValue"] for x in c.emu.indicators()) == sorted(ips(8))


PROBED = {"upsert_key": "upsert-key", "empty_list": "empty-list", "import_errors": "import-errors",
          "created_by": "created-by", "normalizes": "normalize", "omitted_fields": "omitted-fields"}


@test
def api_probe_tells_each_reading_and_leaves_nothing(c):
    """doctor --api-probe under the defaults, under each probed reading's
    other choice alone, and under all of them: it reports each as set,
    spends at most 12 API calls, and leaves the tenant as it found it."""
    c.portal("77.1.1.1", "Block")          # somebody else's, which must stay
    before_state = foreign(c)
    combos = [{}] + [{r: ALT[r]} for r in PROBED.values()] + [{r: ALT[r] for r in PROBED.values()}]
    default = {r: x["default"] for r, x in c.emu.control("/readings").items()}
    seen = set()
    for combo in combos:
        c.emu.control("/readings", {r: combo.get(r, default[r]) for r in PROBED.values()})
        before = c.emu.calls()
        p = c.run("doctor", "--api-probe", "--json")
        doc = json.loads(p.stdout)
        calls = c.calls_since(before)
        for key, reading in PROBED.items():
            want = combo.get(reading, default[reading])
            assert doc[key] == want, (combo, key, doc[key], want, doc["evidence"][key])
        assert doc["left"] == [] and doc["deleted"] and doc["exit"] == 0, doc
        assert sum(v for k, v in calls.items() if k != "token") == doc["calls"] <= 12, (calls, doc["calls"])
        assert foreign(c) == before_state and not [x for x in c.emu.indicators() if mine(x)], "the probe left something"
        assert all(x["type"] == "FileSha256" for x in c.emu.control("/changes")["changes"]
                   if x["createdBy"] != "33333333-3333-3333-3333-333333333333"), "the probe made more than file hashes"
        seen.add(json.dumps({k: doc[k] for k in PROBED}, sort_keys=True))
    assert len(seen) == len(combos), "two reading sets gave the same answer"
    # The table form says the same, reading by reading.
    p = c.run("doctor", "--api-probe")
    assert p.stdout.splitlines()[1].split()[:2] == ["READING", "FOUND"], p.stdout
    assert any(l.split()[:2] == ["upsert-key", ALT["upsert-key"]] for l in p.stdout.splitlines()), p.stdout


sys.exit(itest.main())
