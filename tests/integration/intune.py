#!/usr/bin/env python3
"""Issue 22, UDP closed centrally: iocsync firewall push against the
emulator's Microsoft Graph subset (docs/graph-firewall.md). Every blocked
IP in a rule, no policy over 150 rules, the policies follow the feed,
only iocsync's are touched, and an app without the permission changes
nothing.

  intune.py path/to/iocsync path/to/mde-emulator [TEST...]"""
import json, os, sys, urllib.parse, urllib.request

import itest
from itest import CID, SECRET, TENANT, test

GRAPH = "https://graph.microsoft.com"
POLICIES = "/beta/deviceManagement/configurationPolicies"
GROUP = "8f0a6b1c-0000-4000-8000-000000000001"


def scattered(n, skip=()):
    """n public IPv4 addresses, none adjacent to another (no range merges)."""
    out = []
    for i in range(n):
        if i not in skip:
            out.append("45.%d.%d.%d" % (1 + i // 100, (i * 7) % 250, 2 + 2 * (i % 100)))
    return out


def graph(c, method, path, body=None, roles=("DeviceManagementConfiguration.ReadWrite.All",)):
    """Graph as another app of the tenant (the admin's view)."""
    cid = "abababab-abab-abab-abab-abababababab"
    c.emu.control("/apps", {"tenant": TENANT, "client_id": cid, "secret": "admin-" + SECRET[:6], "name": "admin",
                            "roles": list(roles)})
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cid,
                                   "client_secret": "admin-" + SECRET[:6], "scope": GRAPH + "/.default"}).encode()
    req = urllib.request.Request("%s/%s/oauth2/v2.0/token" % (c.emu.base, TENANT), data=form, method="POST")
    with urllib.request.urlopen(req, timeout=60, context=c.emu.ctx) as r:
        tok = json.loads(r.read())["access_token"]
    st, b = c.emu.call(method, path, body, token=tok)
    return st, b


def rules_of(c):
    """{policy name: [(rule name, protocol, [addresses])]} and each policy's assignments."""
    st, b = graph(c, "GET", POLICIES)
    assert st == 200, b
    out, assigned = {}, {}
    for p in b["value"]:
        st, full = graph(c, "GET", POLICIES + "/" + p["id"] + "?$expand=settings")
        rules = []
        groups = full["settings"][0]["settingInstance"]["groupSettingCollectionValue"] if full["settings"] else []
        for item in groups:
            ch = {x["settingDefinitionId"].rsplit("}", 1)[1]: x for x in item["children"]}
            rules.append((ch["_name"]["simpleSettingValue"]["value"], ch["_protocol"]["simpleSettingValue"]["value"],
                          [v["value"] for v in ch["_remoteaddressranges"]["simpleSettingCollectionValue"]]))
            assert ch["_action_type"]["choiceSettingValue"]["value"].endswith("_action_type_0"), ch
            assert ch["_direction"]["choiceSettingValue"]["value"].endswith("_direction_out"), ch
        out[p["name"]] = rules
        st, a = graph(c, "GET", POLICIES + "/" + p["id"] + "/assignments")
        assigned[p["name"]] = [x["target"].get("groupId") for x in a["value"]]
    return out, assigned


def setup(c, roles=("Ti.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All")):
    c.emu.app(CID, SECRET, "iocsync-it", list(roles))
    c.extra = "\n[firewall]\ngraph_url = %s\nrule_max_addresses = 2\nassign_groups = %s\n" % (c.emu.base, GROUP)


@test
def push_400_scattered_ips_then_follow_the_feed(c):
    setup(c)
    ips = scattered(400)
    c.feed("bad", ips)
    # Someone else's rules policy is never touched.
    st, other = graph(c, "POST", POLICIES, {"name": "Helpdesk rules", "description": "by hand", "platforms": "windows10",
                                            "technologies": "mdm"})
    assert st == 201, other
    p = c.run("firewall", "push")
    assert "400 addresses in 200 rules, 2 policies: created 2, kept 0, deleted 0" in p.stdout, p.stdout
    pol, assigned = rules_of(c)
    ours = {k: v for k, v in pol.items() if k.startswith("iocsync UDP block")}
    assert sorted(ours) == ["iocsync UDP block 1/2", "iocsync UDP block 2/2"], sorted(pol)
    assert all(len(r) <= 150 for r in ours.values()) and sum(len(r) for r in ours.values()) == 200
    covered = [a for r in ours.values() for (_, proto, addrs) in r for a in addrs]
    assert all(proto == 17 for r in ours.values() for (_, proto, _) in r), "UDP only by default"
    assert sorted(covered) == sorted(ips), "every blocked IP in exactly one rule"
    assert all(g == [GROUP] for k, g in assigned.items() if k in ours), assigned
    assert "Helpdesk rules" in pol
    # Again: nothing changes.
    p = c.run("firewall", "push")
    assert "created 0, kept 2, deleted 0" in p.stdout, p.stdout
    # 10 leave the feed: the policies follow, the old ones go after the new are in place.
    left = set(range(0, 400, 40))
    c.feed("bad", scattered(400, skip=left))
    p = c.run("firewall", "push", "--dry-run")
    assert "would create" in p.stdout and "would delete" in p.stdout, p.stdout
    assert sorted(rules_of(c)[0]) == sorted(pol), "a dry run changed something"
    p = c.run("firewall", "push")
    pol2, _ = rules_of(c)
    ours2 = {k: v for k, v in pol2.items() if k.startswith("iocsync UDP block")}
    covered = sorted(a for r in ours2.values() for (_, _, addrs) in r for a in addrs)
    assert covered == sorted(scattered(400, skip=left)), "the policies did not follow the feed"
    assert len(ours2) == 2 and "Helpdesk rules" in pol2, sorted(pol2)


TEMPLATES = "/beta/deviceManagement/configurationPolicyTemplates/19c8aa67-f286-4861-9aa0-f23541d31680_1/settingTemplates"


@test
def policies_carry_the_templates_references_under_either_reading(c):
    """Whether Graph requires a template's references on a policy made from
    it is not in its pages (the emulator's reading template-references):
    the push reads them from the tenant's template and sends them, so it
    works whichever way Graph is, and reads the template once a push."""
    setup(c)
    st, t = graph(c, "GET", TEMPLATES)
    assert st == 200, t
    want = {"settingInstanceTemplateId": t["value"][0]["settingInstanceTemplate"]["settingInstanceTemplateId"]}
    for i, choice in enumerate(("required", "optional")):
        c.emu.control("/readings", {"template-references": choice})
        c.feed("bad", scattered(4 + 2 * i))  # another set each time: a new policy
        before = c.emu.calls()
        p = c.run("firewall", "push")
        assert "created 1, kept 0" in p.stdout, (choice, p.stdout)
        assert "without its references" not in p.stderr, p.stderr
        st, b = graph(c, "GET", POLICIES)
        assert len(b["value"]) == 1, b
        st, full = graph(c, "GET", POLICIES + "/" + b["value"][0]["id"] + "?$expand=settings")
        inst = full["settings"][0]["settingInstance"]
        assert inst["settingInstanceTemplateReference"] == want, (choice, inst.get("settingInstanceTemplateReference"))
    # Without them, a tenant that requires them refuses the policy: Graph's
    # answer is shown as it came, and nothing of iocsync's changed.
    c.emu.control("/readings", {"template-references": "required"})
    body = {"name": "by hand", "description": "d", "platforms": "windows10", "technologies": "mdm",
            "templateReference": {"templateId": "19c8aa67-f286-4861-9aa0-f23541d31680_1"},
            "settings": [{"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
                "settingDefinitionId": "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}",
                "groupSettingCollectionValue": []}}]}
    st, b = graph(c, "POST", POLICIES, body)
    assert st == 400 and "settingInstanceTemplateReference" in b["error"]["message"], (st, b)
    c.emu.control("/readings", {"template-references": "optional"})


@test
def sync_pushes_too_with_push_yes(c):
    setup(c)
    c.extra += "push = yes\n"
    c.feed("bad", scattered(6))
    c.run("sync")
    ours = {k: v for k, v in rules_of(c)[0].items() if k.startswith("iocsync UDP block")}
    assert sorted(a for r in ours.values() for (_, _, addrs) in r for a in addrs) == sorted(scattered(6)), ours
    assert "firewall: 6 addresses in 3 rules, 1 policies: created 1" in open(os.path.join(c.dir, "iocsync.log")).read()


@test
def plan_doctor_and_metrics_see_the_push(c):
    setup(c)
    prom = os.path.join(c.dir, "iocsync.prom")
    c.sync_opts["metrics_file"] = prom
    c.extra += "push = yes\n"
    c.feed("bad", scattered(4))
    p = c.run("doctor", expect=None)
    assert "no iocsync policy in Intune yet" in p.stdout, p.stdout
    p = c.run("plan", expect=2)
    assert "firewall: would create iocsync UDP block 1/1" in p.stdout, p.stdout
    st, b = graph(c, "GET", POLICIES)
    assert b["value"] == [], "plan pushed"
    c.run("sync")
    p = c.run("doctor", expect=None)
    assert "1 iocsync policies in Intune, all assigned" in p.stdout, p.stdout
    text = open(prom).read()
    assert 'iocsync_firewall_rules{tenant=' in text and 'iocsync_firewall_addresses{tenant="%s"} 4' % TENANT in text, text
    c.extra = c.extra.replace("assign_groups = %s\n" % GROUP, "")
    c.feed("bad", scattered(5))
    c.run("sync")
    p = c.run("doctor", expect=None)
    assert "1 of 1 iocsync policies are assigned to no group" in p.stdout, p.stdout
    setup(c, roles=("Ti.ReadWrite.All",))
    c.extra += "push = yes\n"
    p = c.run("doctor", expect=None)
    assert "lacks DeviceManagementConfiguration.ReadWrite.All" in p.stdout, p.stdout


@test
def assign_groups_by_name_or_id(c):
    setup(c, roles=("Ti.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All", "Group.Read.All"))
    other = "8f0a6b1c-0000-4000-8000-000000000002"
    c.emu.control("/groups", {"tenant": TENANT, "id": other, "displayName": "SOC Workstations"})
    c.emu.control("/groups", {"tenant": TENANT, "id": "8f0a6b1c-0000-4000-8000-000000000003", "displayName": "Twin"})
    c.emu.control("/groups", {"tenant": TENANT, "id": "8f0a6b1c-0000-4000-8000-000000000004", "displayName": "Twin"})
    c.extra = c.extra.replace("assign_groups = %s" % GROUP, "assign_groups = %s, SOC Workstations" % GROUP)
    c.feed("bad", scattered(3))
    p = c.run("firewall", "push", expect=None)
    assert p.returncode == 0, (p.stdout, p.stderr[-600:])
    _, assigned = rules_of(c)
    assert assigned == {"iocsync UDP block 1/1": [GROUP, other]}, assigned
    for name, said in (("Nobody's", "no Entra group named"), ("Twin", "more than one Entra group named")):
        c.extra = c.extra.replace("SOC Workstations", name).replace("Nobody's", name)
        c.feed("bad", scattered(4))
        p = c.run("firewall", "push", expect=1)
        assert said in p.stderr, p.stderr
        assert sorted(rules_of(c)[0]) == ["iocsync UDP block 1/1"], "a failed lookup changed something"
        c.extra = c.extra.replace(name, "SOC Workstations")


@test
def adjacent_addresses_merge_into_ranges_and_both_protocols(c):
    setup(c)
    c.extra = c.extra.replace("rule_max_addresses = 2", "protocol = both")
    c.feed("bad", ["45.9.148.1", "45.9.148.2", "45.9.148.3", "45.9.148.9", "2a01:4f8:c17:b8f::2",
                   "2a01:4f8:c17:b8f::3"])
    c.run("firewall", "push")
    rules = rules_of(c)[0]["iocsync UDP block 1/1"]
    assert sorted(p for _, p, _ in rules) == [6, 17], rules
    assert rules[0][2] == ["45.9.148.1-45.9.148.3", "45.9.148.9", "2a01:4f8:c17:b8f::2-2a01:4f8:c17:b8f::3"], rules


@test
def push_without_the_graph_permission_fails_clearly_and_changes_nothing(c):
    setup(c, roles=("Ti.ReadWrite.All",))
    c.feed("bad", scattered(5))
    p = c.run("firewall", "push", expect=1)
    assert "HTTP 403" in p.stderr and "DeviceManagementConfiguration.ReadWrite.All" in p.stderr, p.stderr
    st, b = graph(c, "GET", POLICIES)
    assert b["value"] == [], b


sys.exit(itest.main())
