#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_mde and fuzz_taxii (replay records, see
../replay.h): a good run, faults, paging, errors. Run from this folder;
the outputs are kept in the repository so a campaign starts from them."""
import base64
import json

S = "\n%%\n"
ME = "22222222-2222-2222-2222-222222222222"


def b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


JWT = b64({"alg": "RS256", "typ": "JWT"}) + "." + b64(
    {"aud": "https://api.securitycenter.microsoft.com", "roles": ["Ti.ReadWrite.All", "Machine.Read.All"],
     "appid": ME}) + ".c2ln"
JWT_NOROLES = b64({"alg": "none"}) + "." + b64({"aud": "x"}) + ".c2ln"
TOK = "200\n" + json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": JWT})
TOK_STR = "200\n" + json.dumps({"token_type": "Bearer", "expires_in": "3599", "access_token": JWT_NOROLES})

# fuzz_mde's fixed feed, as MDE names its types
FEED = [("45.1.2.3", "IpAddress"), ("185.220.101.4", "IpAddress"), ("evil-fuzz.top", "DomainName"),
        ("http://bad-fuzz.top/x?y=1", "Url"), ("44d88612fea8a8f36de82e1278abb02f", "FileMd5"),
        ("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "FileSha256")]


def ind(i, v, t, by=ME, app="iocsync", act="Block", **kw):
    d = {"id": i, "indicatorValue": v, "indicatorType": t, "action": act, "createdBy": by, "application": app,
         "expirationTime": "2099-01-01T00:00:00Z", "title": "f: " + v, "description": "Indicator from feed f",
         "severity": "Medium", "rbacGroupNames": []}
    d.update(kw)
    return d


def ok_json(o, head="200"):
    return head + "\n" + json.dumps(o)


LIST = ok_json({"value": [ind(7, "203.0.113.9", "IpAddress"), ind("8", "other-fuzz.top", "DomainName", by="someone@x"),
                          ind(9, "45.1.2.3", "IpAddress", act="Audit"),
                          ind(10, "evil-fuzz.top", "DomainName", expirationTime="2020-01-01T00:00:00Z"),
                          ind(11, "185.220.101.4", "IpAddress", title="old title"),
                          ind(12, "bad-fuzz.top", "DomainName", rbacGroupNames=["g1"], application="other")]})


def imp(vals):
    return ok_json({"value": [{"id": str(100 + i), "indicator": v, "isFailed": False, "failureReason": None}
                              for i, v in enumerate(vals)]})


def impfail(vals):
    return ok_json({"value": [{"id": None, "indicator": v, "isFailed": True,
                               "failureReason": ["Throttled", "Invalid value", "exceeded the limit"][i % 3]}
                              for i, v in enumerate(vals)]})


def mde(name, flags, recs):
    with open("mde/" + name, "wb") as f:
        f.write(bytes([flags]) + S.join(recs).encode())


# flags: 1 plan, 2 tiny cap, 4 pages of 2, 8 token v1, 16 --force
VALS = [v for v, _ in FEED]
mde("sync-ok", 16, [TOK, LIST, "200\n", imp(VALS), "200\n"])
mde("sync-faults", 16, ["429 ra=2\n{}", "503 ra=Wed, 21 Oct 2015 07:28:00 GMT\n", "0 fail=3", TOK,
                        ok_json({"error": {"code": "Unauthorized", "message": "expired"}}, "401"), TOK_STR, LIST,
                        "500\n<html>", ok_json({"error": {"code": "NotFound", "message": "id 7"}}, "404"), LIST,
                        "200\n", impfail(VALS), impfail(VALS[:2]), impfail(VALS[:1]), "200\n"])
mde("plan-paged", 1 | 4, [TOK, ok_json({"value": [ind(1, "45.1.2.3", "IpAddress"), ind(2, "x-fuzz.top", "DomainName")]}),
                          ok_json({"value": [ind(2, "x-fuzz.top", "DomainName"), ind(3, "y-fuzz.top", "DomainName")]}),
                          ok_json({"value": []})])
mde("sync-cap", 2 | 16, [TOK, LIST, "200\n", ok_json({"value": [{"id": 5, "indicator": "45.1.2.3"}]}), "200\nnot json",
                         "200\n"])
mde("token-v1-errors", 8, [ok_json({"error": "invalid_client",
                                    "error_description": "AADSTS7000215: Invalid client secret\r\nTrace ID: x"}, "400"),
                           '200\n{"access_token":""}', TOK, '200\n{"value":{}}'])
mde("import-mismatch", 16, [TOK, ok_json({"value": []}), ok_json({"value": [{"id": 1, "indicator": "other"}] * 6})])
mde("delete-404", 16, [TOK, LIST, ok_json({"error": {"code": "NotFound", "message": "x"}}, "404"), LIST, "200\n",
                       imp(VALS), "200\n"])

# doctor (flag 32): token with every role, the list (cap use), machines,
# the network-protection query
JWT_ALL = b64({"alg": "RS256"}) + "." + b64({"roles": ["Ti.ReadWrite.All", "Machine.Read.All",
                                                        "AdvancedQuery.Read.All"]}) + ".c2ln"
TOK_ALL = "200\n" + json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": JWT_ALL})
MACHINES = ok_json({"value": [{"id": "m%d" % i, "computerDnsName": "pc%d.corp" % i,
                               "rbacGroupName": ["Servers", "Tier 0", "Other"][i % 3]} for i in range(7)]})
QUERY = ok_json({"Results": [{"DeviceId": "m%d" % i, "IsCompliant": i % 2 == 0} for i in range(7)]})
mde("doctor-ok", 32, [TOK_ALL, LIST, MACHINES, QUERY])
mde("doctor-errors", 32 | 8, [TOK, ok_json({"error": {"code": "Forbidden", "message": "no"}}, "403"),
                              '200\n{"value":[{"rbacGroupName":7},null]}', "500\n"])

# TAXII
DISC = ok_json({"title": "t", "default": "https://taxii.fuzz.test/api1/",
                "api_roots": ["https://taxii.fuzz.test/api1/", "/api2/"]})
COLS = ok_json({"collections": [{"id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116", "title": "indicators",
                                 "can_read": True, "can_write": False}]})


def objs(n, mod="2026-01-02T00:00:00.000Z"):
    return [{"type": "indicator", "spec_version": "2.1", "id": "indicator--%08d-0000-4000-8000-000000000000" % i,
             "created": "2026-01-01T00:00:00.000Z", "modified": mod,
             "pattern": "[ipv4-addr:value = '45.1.2.%d'] OR [domain-name:value = 'd%d-fuzz.top']" % (i, i),
             "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"} for i in range(n)]


def taxii(name, flags, recs):
    with open("taxii/" + name, "wb") as f:
        f.write(bytes([flags]) + S.join(recs).encode())


# flags: 1 snapshot first, 2 cursor, 4 api root, 8 basic auth, 16 API key
taxii("discovery-paged", 0, [DISC, COLS, ok_json({"more": True, "next": "abc", "objects": objs(2)},
                                                 "200 last=2026-01-02T00:00:00.000Z"),
                             ok_json({"more": False, "objects": objs(1, "2026-02-01T00:00:00.000Z") +
                                      [{"type": "indicator", "id": "indicator--x", "revoked": True,
                                        "modified": "2027-01-01T00:00:00Z"}]})])
taxii("snapshot-cursor", 1 | 2, [json.dumps({"type": "bundle", "id": "bundle--1", "objects": objs(3)}), DISC, COLS,
                                 '200 last=2026-03-01T00:00:00Z\n{"more":true,"objects":[]}', '200\n{"more":false}'])
taxii("api-root-auth", 4 | 8, [COLS, ok_json({"objects": objs(2)})])
taxii("errors", 16, ['401\n{"title":"no"}', DISC])
taxii("no-collection", 0, [DISC, ok_json({"collections": [{"id": "other", "title": "x", "can_read": False},
                                                          {"id": "y", "title": "indicators", "can_read": False}]})])
taxii("more-no-next", 0, [DISC, COLS, '200\n{"more":true,"objects":[1,"x",null]}'])
