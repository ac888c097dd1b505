#!/usr/bin/env python3
"""Conformance suite for mde-emulator, over raw HTTP (urllib and sockets),
never through iocsync's client code. One test per documented behaviour or
contract decision of ../shared/spec/mde-api.md (sections 1-5, 8), named
after the rule. Usage: conformance.py path/to/mde-emulator [TEST...]"""
import json, os, socket, subprocess, sys, tempfile, threading, time, traceback
import urllib.error, urllib.parse, urllib.request

EMU = sys.argv[1]
TENANT = "00000000-0000-0000-0000-000000000001"
CID = "11111111-1111-1111-1111-111111111111"
SECRET = "emulator-secret"
RES = "https://api.securitycenter.microsoft.com"
ODATA_CT = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"


class Emulator:
    def __init__(self, *args):
        wrap = os.environ.get("EMU_WRAPPER", "").split()
        self.p = subprocess.Popen([*wrap, EMU, "--listen", "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert "listening on " in line, "no ready line: %r" % line
        self.base = line.split("listening on ")[1].strip()
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self):
        self.p.terminate()
        _, err = self.p.communicate(timeout=60)
        assert self.p.returncode == 0, "exit %s: %s" % (self.p.returncode, err)
        assert "stopped" in err


def parse(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON (libmicrohttpd's own error pages)


def call(base, method, path, body=None, token=None, ctype="application/json", raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None and ctype:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, parse(text), r.headers
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, parse(text), e.headers


def post_form(base, path, form):
    return call(base, "POST", path, raw=urllib.parse.urlencode(form).encode(),
                ctype="application/x-www-form-urlencoded")


def token(base, v2=False, cid=CID, secret=SECRET, tenant=TENANT, aud=RES):
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    if v2:
        form["scope"] = aud + "/.default"
    else:
        form["resource"] = aud
    return post_form(base, "/%s/oauth2/%stoken" % (tenant, "v2.0/" if v2 else ""), form)


def ind(value, typ="IpAddress", action="Block", **kw):
    d = {"indicatorValue": value, "indicatorType": typ, "action": action, "title": "t", "description": "d"}
    d.update(kw)
    return d


class Ctx:
    def __init__(self, emu):
        self.emu = emu
        self.base = emu.base
        st, body, _ = token(self.base)
        assert st == 200, body
        self.tok = body["access_token"]

    def api(self, method, path, body=None, **kw):
        return call(self.base, method, path, body, token=self.tok, **kw)

    def control(self, path, body=None):
        st, b, _ = call(self.base, "POST" if body is not None else "GET", "/_emulator" + path, body)
        assert st == 200, (path, st, b)
        return b

    def app(self, cid, roles, name="other-app"):
        self.control("/apps", {"tenant": TENANT, "client_id": cid, "secret": "s-" + cid, "name": name,
                               "roles": roles})
        st, b, _ = token(self.base, cid=cid, secret="s-" + cid)
        assert st == 200, b
        return b["access_token"]

    def expect_entra(self, st, body, status, error, code=None):
        assert st == status and body["error"] == error, "status %s, want %s %s: %s" % (st, status, error, body)
        assert code is None or code in body["error_codes"], body
        assert body["error_description"].startswith("AADSTS"), body

    def expect_error(self, st, body, status, code):
        assert st == status, "status %s, want %s: %s" % (st, status, body)
        assert body["error"]["code"] == code, "code %s, want %s" % (body["error"]["code"], code)
        assert body["error"]["message"] and body["error"]["target"], body


class Skip(Exception):
    """A test that cannot run here: reported as SKIP, never as ok."""


TESTS = []


def test(f):
    TESTS.append(f)
    return f

# ---- 1. authentication ----

@test
def token_v1_client_secret_returns_bearer_with_expiry(c):
    st, b, h = token(c.base)
    assert st == 200 and b["token_type"] == "Bearer" and b["expires_in"] == 3599, b
    assert b["resource"] == RES and int(b["expires_on"]) > time.time()
    claims = json.loads(__import__("base64").urlsafe_b64decode(b["access_token"].split(".")[1] + "=="))
    assert claims["tid"] == TENANT and claims["appid"] == CID and claims["aud"] == RES
    assert "Ti.ReadWrite.All" in claims["roles"] and claims["exp"] > time.time()


@test
def token_v2_scope_default(c):
    st, b, _ = token(c.base, v2=True)
    assert st == 200 and "resource" not in b, b
    st, b, _ = call(c.base, "GET", "/api/indicators", token=b["access_token"])
    assert st == 200


@test
def token_other_documented_audiences_accepted(c):
    for aud in ("https://securitycenter.onmicrosoft.com/windowsatpservice", "https://api.securitycenter.windows.com"):
        st, b, _ = token(c.base, aud=aud)
        assert st == 200, (aud, b)


@test
def token_bad_secret_is_invalid_client_401(c):
    st, b, _ = token(c.base, secret="wrong")
    c.expect_entra(st, b, 401, "invalid_client", 7000215)
    assert "wrong" not in json.dumps(b)


@test
def token_unknown_app_is_unauthorized_client_400(c):
    st, b, _ = token(c.base, cid="99999999-9999-9999-9999-999999999999")
    c.expect_entra(st, b, 400, "unauthorized_client")


@test
def token_unknown_tenant_400(c):
    st, b, _ = token(c.base, tenant="00000000-0000-0000-0000-00000000dead")
    c.expect_entra(st, b, 400, "invalid_request")


@test
def token_unknown_resource_400(c):
    # (Microsoft Graph is known since issue 22: another resource stands in.)
    st, b, _ = token(c.base, aud="https://vault.azure.net")
    c.expect_entra(st, b, 400, "invalid_resource")


@test
def token_v2_scope_without_default_400(c):
    form = {"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET, "scope": RES}
    st, b, _ = post_form(c.base, "/%s/oauth2/v2.0/token" % TENANT, form)
    c.expect_entra(st, b, 400, "invalid_scope")


@test
def token_wrong_grant_type_400(c):
    form = {"grant_type": "password", "client_id": CID, "client_secret": SECRET, "resource": RES}
    st, b, _ = post_form(c.base, "/%s/oauth2/token" % TENANT, form)
    c.expect_entra(st, b, 400, "unsupported_grant_type")


@test
def api_without_token_401(c):
    st, b, _ = call(c.base, "GET", "/api/indicators")
    c.expect_error(st, b, 401, "Unauthorized")


@test
def api_with_tampered_token_401(c):
    t = c.tok[:-2] + ("AA" if not c.tok.endswith("AA") else "BB")
    st, b, _ = call(c.base, "GET", "/api/indicators", token=t)
    c.expect_error(st, b, 401, "Unauthorized")


@test
def api_with_expired_token_401(c):
    c.control("/clock", {"advance_seconds": 3600})
    st, b, _ = c.api("GET", "/api/indicators")
    c.expect_error(st, b, 401, "Unauthorized")

# ---- 3. endpoints, headers, prefixes ----

@test
def response_headers_are_odata(c):
    st, _, h = c.api("GET", "/api/indicators")
    assert st == 200 and h["Content-Type"] == ODATA_CT and h["OData-Version"] == "4.0", dict(h)


@test
def api_v1_prefix_and_bare_api_are_the_same(c):
    st, b, _ = c.api("POST", "/api/v1.0/indicators", ind("45.1.2.3"))
    assert st == 200
    st, b, _ = c.api("GET", "/api/indicators")
    assert [x["indicatorValue"] for x in b["value"]] == ["45.1.2.3"]
    assert b["@odata.context"] == c.base + "/api/$metadata#Indicators"


@test
def submit_returns_entity_with_server_fields(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("evil-domain.net", "DomainName", application="app1",
                                                    expirationTime="2099-01-01T00:00:00Z"))
    assert st == 200, b
    assert b["@odata.context"].endswith("#Indicators/$entity")
    assert b["id"].isdigit() and b["createdBy"] == CID and b["createdByDisplayName"] == "iocsync-demo"
    assert b["sourceType"] == "AadApp" and b["application"] == "app1"
    assert b["expirationTime"].startswith("2099-01-01T00:00:00") and b["severity"] == "Informational"


@test
def overlong_path_is_414_not_cut_and_routed(c):
    st, b, _ = c.api("DELETE", "/api/indicators/1" + "0" * 2000)
    c.expect_error(st, b, 414, "BadRequest")


@test
def unknown_endpoint_404(c):
    st, b, _ = c.api("GET", "/api/nothing")
    c.expect_error(st, b, 404, "ResourceNotFound")


@test
def no_patch_or_put_on_indicators(c):
    st, b, _ = c.api("PATCH", "/api/indicators", {})
    assert st == 404, st

# ---- validation (sections 2, 4 and 8) ----

@test
def missing_required_parameter_named(c):
    for k in ("indicatorValue", "indicatorType", "action", "title", "description"):
        d = ind("45.1.2.3")
        del d[k]
        st, b, _ = c.api("POST", "/api/indicators", d)
        c.expect_error(st, b, 400, "MissingRequiredParameter")
        assert k in b["error"]["message"]


@test
def body_keys_are_case_sensitive(c):
    d = ind("45.1.2.3")
    d["IndicatorValue"] = d.pop("indicatorValue")
    st, b, _ = c.api("POST", "/api/indicators", d)
    c.expect_error(st, b, 400, "MissingRequiredParameter")


@test
def content_type_json_required(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"), ctype="text/plain")
    c.expect_error(st, b, 400, "InvalidRequestBody")


@test
def invalid_ip_addresses_rejected(c):
    for v in ("10.0.0.1", "127.0.0.1", "169.254.1.1", "192.168.1.1", "100.64.0.1", "224.0.0.1", "192.0.2.1",
              "1.2.3.0/24", "1.2.3.4-1.2.3.9", "1.2.3.*", "256.1.1.1", "01.2.3.4", "2001:db8::1",
              "2a00:1450::200e", "fe80:0:0:0:0:0:0:1", "fd00:0:0:0:0:0:0:1", "ff02:0:0:0:0:0:0:1"):
        st, b, _ = c.api("POST", "/api/indicators", ind(v))
        c.expect_error(st, b, 400, "InvalidIpAddress")


@test
def ipv6_only_full_eight_groups(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("2a00:1450:4001:80b:0:0:0:200e"))
    assert st == 200, b
    st, b, _ = c.api("POST", "/api/indicators", ind("2a00:1450:4001:80b::200e"))
    c.expect_error(st, b, 400, "InvalidIpAddress")


@test
def invalid_domain_url_hash_codes(c):
    cases = [("*.evil.com", "DomainName", "InvalidDomainName"), ("http://evil.com", "DomainName", "InvalidDomainName"),
             ("evil", "DomainName", "InvalidDomainName"), ("evil.com/x", "Url", "InvalidUrl"),
             ("ftp://evil.com/x", "Url", "InvalidUrl"), ("http://10.0.0.1/x", "Url", "InvalidUrl"),
             ("abc", "FileSha1", "InvalidHashValue"), ("a" * 32, "FileSha256", "InvalidHashValue"),
             ("g" * 32, "FileMd5", "InvalidHashValue"), ("a" * 41, "CertificateThumbprint", "InvalidHashValue")]
    for v, t, code in cases:
        action = "Allowed" if t == "CertificateThumbprint" else "Block"
        st, b, _ = c.api("POST", "/api/indicators", ind(v, t, action))
        c.expect_error(st, b, 400, code)


@test
def leading_or_trailing_white_space_rejected(c):
    for v in (" 45.1.2.3", "45.1.2.3 ", "45.1.2.3\t"):
        st, b, _ = c.api("POST", "/api/indicators", ind(v))
        c.expect_error(st, b, 400, "InvalidInput")


@test
def expiration_in_the_past_rejected(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", expirationTime="2001-01-01T00:00:00Z"))
    c.expect_error(st, b, 400, "InvalidInput")
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", expirationTime="tomorrow"))
    c.expect_error(st, b, 400, "InvalidInput")


@test
def title_over_100_and_description_over_1000_rejected(c):
    st, b, _ = c.api("POST", "/api/indicators", dict(ind("45.1.2.3"), title="x" * 101))
    c.expect_error(st, b, 400, "InvalidInput")
    st, b, _ = c.api("POST", "/api/indicators", dict(ind("45.1.2.3"), description="x" * 1001))
    c.expect_error(st, b, 400, "InvalidInput")
    st, b, _ = c.api("POST", "/api/indicators", dict(ind("45.1.2.3"), title="x" * 100, description="y" * 1000))
    assert st == 200, b


@test
def audit_requires_generate_alert(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Audit"))
    c.expect_error(st, b, 400, "InvalidInput")
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Audit", generateAlert=True))
    assert st == 200, b


@test
def action_type_matrix(c):
    h = "a" * 40
    ok = [("45.1.2.4", "IpAddress", "Warn"), (h, "FileSha1", "BlockAndRemediate"), (h, "CertificateThumbprint", "Allowed"),
          (h, "CertificateThumbprint", "BlockAndRemediate"), ("evil-x.net", "DomainName", "Allowed")]
    bad = [("45.1.2.4", "IpAddress", "BlockAndRemediate"), ("evil-x.net", "DomainName", "BlockAndRemediate"),
           ("http://evil-x.net/a", "Url", "BlockAndRemediate"), (h, "CertificateThumbprint", "Block"),
           (h, "CertificateThumbprint", "Warn")]
    for v, t, a in ok:
        st, b, _ = c.api("POST", "/api/indicators", ind(v, t, a))
        assert st == 200, (v, t, a, b)
    for v, t, a in bad:
        st, b, _ = c.api("POST", "/api/indicators", ind(v, t, a))
        c.expect_error(st, b, 400, "InvalidInput")


@test
def legacy_actions_accepted_as_given(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.5", action="AlertAndBlock"))
    assert st == 200 and b["action"] == "AlertAndBlock", b


@test
def unknown_type_or_action_rejected(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", "IP"))
    c.expect_error(st, b, 400, "InvalidInput")
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="block"))
    c.expect_error(st, b, 400, "InvalidInput")

# ---- upsert, cap, expiry ----

@test
def upsert_same_key_updates_in_place(c):
    st, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", title="first"))
    time.sleep(0.01)
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", title="second"))
    assert st == 200 and a["id"] == b["id"] and b["title"] == "second" and b["lastUpdatedBy"] == CID
    _, l, _ = c.api("GET", "/api/indicators")
    assert len(l["value"]) == 1


@test
def upsert_other_action_makes_second_indicator(c):
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Block"))
    _, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Allowed"))
    assert a["id"] != b["id"]
    _, l, _ = c.api("GET", "/api/indicators")
    assert len(l["value"]) == 2


@test
def application_not_changed_on_update(c):
    c.api("POST", "/api/indicators", ind("45.1.2.3", application="one"))
    _, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", application="two"))
    assert b["application"] == "one", b


@test
def tenant_cap_counts_every_creator(c):
    c.control("/limits", {"cap": 3})
    other = c.app("22222222-2222-2222-2222-222222222222", ["Ti.ReadWrite"])
    st, _, _ = call(c.base, "POST", "/api/indicators", ind("45.9.9.9"), token=other)
    assert st == 200
    for v in ("45.1.1.1", "45.1.1.2"):
        assert c.api("POST", "/api/indicators", ind(v))[0] == 200
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.1.3"))
    c.expect_error(st, b, 400, "InvalidInput")
    # An update of an existing one still passes at the cap.
    assert c.api("POST", "/api/indicators", ind("45.1.1.1", title="new"))[0] == 200
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.1.2", title="u"), ind("45.1.1.4")]})
    assert st == 200 and [x["isFailed"] for x in b["value"]] == [False, True], b


@test
def expiry_deletes_to_the_second_by_emulator_clock(c):
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    c.api("POST", "/api/indicators", ind("45.1.2.3", expirationTime=exp))
    c.control("/clock", {"advance_seconds": 60})
    c.tok = token(c.base)[1]["access_token"]
    assert len(c.api("GET", "/api/indicators")[1]["value"]) == 1
    c.control("/clock", {"advance_seconds": 61})
    c.tok = token(c.base)[1]["access_token"]
    assert len(c.api("GET", "/api/indicators")[1]["value"]) == 0

# ---- list ----

def load(c, n, tenant=TENANT, by=CID):
    inds = [{"tenant": tenant, "indicator": {"id": str(i + 1), "indicatorValue": "45.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                                             "indicatorType": "IpAddress", "action": "Block", "createdBy": by,
                                             "title": "t%d" % i, "description": "d", "generateAlert": i % 2 == 0,
                                             "creationTimeDateTimeUtc": "2026-01-01T00:00:00.0000000Z"}} for i in range(n)]
    c.control("/state", {"indicators": inds, "next_id": n + 1})


@test
def list_top_over_10000_is_400(c):
    st, b, _ = c.api("GET", "/api/indicators?$top=10001")
    c.expect_error(st, b, 400, "ODataError")


@test
def list_without_top_caps_at_10000_with_nextlink(c):
    load(c, 10005)
    c.control("/limits", {"cap": 20000})
    st, b, _ = c.api("GET", "/api/indicators")
    assert st == 200 and len(b["value"]) == 10000 and "$skip=10000" in b["@odata.nextLink"], len(b["value"])
    nxt = b["@odata.nextLink"][len(c.base):]
    st, b, _ = c.api("GET", nxt)
    assert len(b["value"]) == 5 and "@odata.nextLink" not in b


@test
def a_page_is_byte_for_byte_what_its_objects_give(c):
    """An unfiltered page is written from the kept text; a filtered one
    from the indicators as objects. The two must not differ by a byte:
    defaults filled, the API's order, escapes, an update's fields, and a
    loaded state's field the list does not name."""
    c.control("/state", {"indicators": [{"tenant": TENANT, "indicator": {
        "id": "50", "indicatorValue": "45.9.9.9", "indicatorType": "IpAddress", "action": "Audit",
        "createdBy": CID, "title": "x", "description": "y", "generateAlert": True, "customField": {"a": [1, "}]"]},
        "creationTimeDateTimeUtc": "2026-01-01T00:00:00.0000000Z"}}], "next_id": 51})
    items = [ind("45.1.1.1", title='q"uote \\ back/slash caf\u00e9 \u20ac', description="line\nbreak\ttab\u0001"),
             ind("45.1.1.2", severity="High", recommendedActions="patch", generateAlert=True,
                 expirationTime="2030-01-02T03:04:05Z"),
             ind("evil.example.com", typ="DomainName", action="Warn")]
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": items})
    assert st == 200, b
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.1.2", title="again")]})
    assert st == 200, b

    def raw(path):
        req = urllib.request.Request(c.base + path)
        req.add_header("Authorization", "Bearer " + c.tok)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()
    plain = raw("/api/indicators")
    filtered = raw("/api/indicators?$filter=" + urllib.parse.quote("indicatorValue ne 'none'"))
    assert plain == filtered, (plain, filtered)
    doc = json.loads(plain)
    assert len(doc["value"]) == 4 and list(doc) == ["@odata.context", "value"], list(doc)
    again = [x for x in doc["value"] if x["indicatorValue"] == "45.1.1.2"][0]
    assert again["title"] == "again" and again["lastUpdatedBy"], again
    assert list(again)[:3] == ["id", "application", "sourceType"], list(again)
    loaded = [x for x in doc["value"] if x["indicatorValue"] == "45.9.9.9"][0]
    assert loaded["customField"] == {"a": [1, "}]"]} and list(loaded)[-1] == "customField", loaded
    # Paged, with a nextLink: each page the same bytes both ways.
    for q in ("$top=2&$skip=1", "$top=4"):
        assert raw("/api/indicators?" + q) == raw("/api/indicators?%s&$filter=%s" % (
            q, urllib.parse.quote("indicatorValue ne 'none'"))), q


@test
def list_top_and_skip_page(c):
    load(c, 25)
    got = []
    while True:
        _, b, _ = c.api("GET", "/api/indicators?$top=10&$skip=%d" % len(got))
        got += b["value"]
        assert "@odata.nextLink" not in b
        if len(b["value"]) < 10:
            break
    assert len(got) == 25 and len({x["id"] for x in got}) == 25


@test
def filter_operators(c):
    load(c, 10)
    cases = {"indicatorValue eq '45.0.0.3'": 1, "indicatorValue ne '45.0.0.3'": 9,
             "generateAlert eq true": 5, "not (generateAlert eq true)": 5,
             "startswith(title,'t1') or title eq 't2'": 2, "title ge 't5' and title lt 't8'": 3,
             "creationTimeDateTimeUtc gt 2025-12-31T00:00:00Z": 10, "expirationTime eq null": 10,
             "indicatorType eq 'IpAddress' and (action eq 'Block' or action eq 'Warn')": 10,
             "title eq 'it''s'": 0,
             # one value: kept texts that cannot hold it are passed over (a prefix of every
             # value is still decided by the filter itself; or-ed values are not narrowed)
             "indicatorValue eq '45.0.0'": 0, "indicatorValue eq '45.0.0.3' and indicatorType eq 'IpAddress'": 1,
             "indicatorValue eq '45.0.0.3' or indicatorValue eq '45.0.0.4'": 2}
    for f, n in cases.items():
        st, b, _ = c.api("GET", "/api/indicators?$filter=" + urllib.parse.quote(f))
        assert st == 200 and len(b["value"]) == n, (f, st, b if st != 200 else len(b["value"]))


@test
def filter_unsupported_is_400_odataerror(c):
    for f in ("title has 'x'", "nosuchfield eq 1", "title eq", "(title eq 'a'", "contains(title)",
              "rbacGroupNames eq 'x'", "title/any(x: x eq 'a')", "rbacGroupNames/any(x: x/any(y: y eq 'a'))",
              "rbacGroupNames/all(x: x eq 'a')", "rbacGroupNames/any(x x eq 'a')", "title eq 'a' xor title eq 'b'", "(" * 200 + "title eq 'a'" + ")" * 200,
              # fuzzing found reads past the end on these (fixed):
              "startswith", "startswith(title", "startswith(title,'a'", "not", "title eq 'a' and"):
        st, b, _ = c.api("GET", "/api/indicators?$filter=" + urllib.parse.quote(f))
        c.expect_error(st, b, 400, "ODataError")


@test
def unknown_query_parameters_ignored(c):
    st, _, _ = c.api("GET", "/api/indicators?foo=bar&$count=true")
    assert st == 200

# ---- permissions ----

@test
def ti_readwrite_sees_and_touches_only_own(c):
    other = c.app("33333333-3333-3333-3333-333333333333", ["Ti.ReadWrite"])
    _, mine, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    _, theirs, _ = call(c.base, "POST", "/api/indicators", ind("45.1.2.4"), token=other)
    _, l, _ = call(c.base, "GET", "/api/indicators", token=other)
    assert [x["id"] for x in l["value"]] == [theirs["id"]]
    st, b, _ = call(c.base, "DELETE", "/api/indicators/" + mine["id"], token=other)
    c.expect_error(st, b, 404, "ResourceNotFound")
    st, b, _ = call(c.base, "POST", "/api/indicators", ind("45.1.2.3"), token=other)
    c.expect_error(st, b, 403, "Forbidden")
    _, l, _ = c.api("GET", "/api/indicators")  # the .All app sees both
    assert len(l["value"]) == 2


@test
def roles_are_the_tokens_until_a_new_token(c):
    cid = "77777777-7777-7777-7777-777777777777"
    old = c.app(cid, ["Machine.Read.All"])
    c.control("/apps", {"tenant": TENANT, "client_id": cid, "secret": "s-" + cid, "name": "x",
                        "roles": ["Ti.ReadWrite.All"]})
    assert call(c.base, "GET", "/api/indicators", token=old)[0] == 403
    assert call(c.base, "GET", "/api/machines", token=old)[0] == 200
    new = token(c.base, cid=cid, secret="s-" + cid)[1]["access_token"]
    assert call(c.base, "GET", "/api/indicators", token=new)[0] == 200


@test
def no_ti_role_is_403(c):
    t = c.app("44444444-4444-4444-4444-444444444444", ["Machine.Read.All"])
    st, b, _ = call(c.base, "GET", "/api/indicators", token=t)
    c.expect_error(st, b, 403, "Forbidden")

# ---- import ----

@test
def import_one_result_per_input_in_order(c):
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3"), ind("10.0.0.1"), ind("45.1.2.4")]})
    assert st == 200, b
    assert b["@odata.context"] == c.base + "/api/$metadata#Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)"
    assert [x["indicator"] for x in b["value"]] == ["45.1.2.3", "10.0.0.1", "45.1.2.4"]
    assert [x["isFailed"] for x in b["value"]] == [False, True, False]
    assert b["value"][1]["id"] is None and b["value"][1]["failureReason"]


@test
def import_over_500_is_maximum_batch_size_exceeded(c):
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.%d.%d" % (i // 200, i % 200 + 1)) for i in range(501)]})
    c.expect_error(st, b, 400, "MaximumBatchSizeExceeded")
    assert "Received: 501, allowed: 500" in b["error"]["message"]


@test
def import_key_is_capital_indicators(c):
    st, b, _ = c.api("POST", "/api/indicators/import", {"indicators": [ind("45.1.2.3")]})
    c.expect_error(st, b, 400, "MissingRequiredParameter")

# ---- delete ----

@test
def delete_204_then_404(c):
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    st, b, _ = c.api("DELETE", "/api/indicators/" + a["id"])
    assert st == 204 and b is None
    st, b, _ = c.api("DELETE", "/api/indicators/" + a["id"])
    c.expect_error(st, b, 404, "ResourceNotFound")


@test
def batch_delete_is_atomic_on_unknown_id(c):
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    st, b, _ = c.api("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [a["id"], "99999"]})
    c.expect_error(st, b, 404, "ResourceNotFound")
    assert len(c.api("GET", "/api/indicators")[1]["value"]) == 1
    st, b, _ = c.api("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [a["id"]]})
    assert st == 204
    assert len(c.api("GET", "/api/indicators")[1]["value"]) == 0


@test
def batch_delete_many_and_expiry_keep_the_rest_in_order(c):
    """Deletes and expiries among many go in one sweep of the store: what
    is left stays listed in id order and can still be named by id."""
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30))
    made = [c.api("POST", "/api/indicators", ind("45.1.3.%d" % i, **({"expirationTime": soon} if i in (3, 8) else {})))[1]
            for i in range(1, 10)]
    ids = [m["id"] for m in made]
    before = len(c.control("/changes")["changes"])
    st, b, _ = c.api("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [ids[5], ids[1], ids[5], ids[6]]})
    assert st == 204, b
    assert [x["indicatorValue"] for x in value_of(c)] == ["45.1.3.%d" % i for i in (1, 3, 4, 5, 8, 9)]
    c.control("/clock", {"advance_seconds": 60})
    assert [x["id"] for x in value_of(c)] == [ids[i] for i in (0, 3, 4, 8)]
    ch = c.control("/changes")["changes"][before:]
    assert [(x["op"], x["value"]) for x in ch] == [("delete", "45.1.3.6"), ("delete", "45.1.3.2"),
                                                   ("delete", "45.1.3.7"), ("expire", "45.1.3.8"),
                                                   ("expire", "45.1.3.3")], ch
    st, b, _ = c.api("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [ids[8], ids[0]]})
    assert st == 204, b
    st, b, _ = c.api("DELETE", "/api/indicators/" + ids[4])
    assert st == 204, b
    c.expect_error(*c.api("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [ids[3], ids[1]]})[:2], 404, "ResourceNotFound")
    assert [x["indicatorValue"] for x in value_of(c)] == ["45.1.3.4"]


@test
def batch_delete_forbidden_touches_nothing(c):
    other = c.app("55555555-5555-5555-5555-555555555555", ["Ti.ReadWrite", "Ti.Read.All"])
    _, mine, _ = call(c.base, "POST", "/api/indicators", ind("45.1.2.3"), token=other)
    _, notmine, _ = c.api("POST", "/api/indicators", ind("45.1.2.4"))
    st, b, _ = call(c.base, "POST", "/api/indicators/BatchDelete", {"IndicatorIds": [mine["id"], notmine["id"]]}, token=other)
    c.expect_error(st, b, 403, "Forbidden")
    assert len(c.api("GET", "/api/indicators")[1]["value"]) == 2


@test
def batch_delete_bad_lists_400(c):
    for body in ({"IndicatorIds": []}, {"IndicatorIds": "1"}, {"IndicatorIds": [1]}, {"IndicatorIds": ["x"]},
                 {"IndicatorIds": [str(i) for i in range(1, 502)]}):
        st, b, _ = c.api("POST", "/api/indicators/BatchDelete", body)
        assert st == 400, (body if len(str(body)) < 80 else "501 ids", st, b)

# ---- rate limits ----

@test
def rate_limit_429_with_retry_after_per_endpoint(c):
    for i in range(30):
        st, _, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3")]})
        assert st == 200, i
    st, b, h = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3")]})
    c.expect_error(st, b, 429, "TooManyRequests")
    ra = int(h["Retry-After"])
    assert 1 <= ra <= 60, ra
    assert c.api("GET", "/api/indicators")[0] == 200  # another endpoint has its own window
    c.control("/clock", {"advance_seconds": ra})
    st, _, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3")]})
    assert st == 200


@test
def rate_limit_hourly_window(c):
    c.control("/limits", {"rate_limits": True})
    n = 0
    for minute in range(16):
        for i in range(100):
            st, _, h = c.api("GET", "/api/indicators?$top=1")
            if st == 429:
                break
            n += 1
        c.control("/clock", {"advance_seconds": 60})
        c.tok = token(c.base)[1]["access_token"]
    assert n == 1500, n
    st, b, h = c.api("GET", "/api/indicators?$top=1")
    assert st == 429 and int(h["Retry-After"]) > 60, (st, h.get("Retry-After"))

# ---- machines and advanced hunting ----

@test
def machines_list_and_findbytag(c):
    st, b, _ = c.api("GET", "/api/machines")
    assert st == 200 and len(b["value"]) == 4 and all(len(m["id"]) == 40 for m in b["value"])
    st, b, _ = c.api("GET", "/api/machines/findbytag?tag=server&useStartsWithFilter=false")
    assert st == 200 and len(b["value"]) == 2
    st, b, _ = c.api("GET", "/api/machines/findbytag?tag=fin&useStartsWithFilter=true")
    assert len(b["value"]) == 2
    st, b, _ = c.api("GET", "/api/machines/findbytag?tag=nothing")
    assert st == 404


@test
def advanced_query_network_protection_only(c):
    q = "DeviceTvmSecureConfigurationAssessment | where ConfigurationId == 'scid-96'"
    st, b, _ = c.api("POST", "/api/advancedqueries/run", {"Query": q})
    assert st == 200 and len(b["Results"]) == 4
    # The table's documented columns and nothing invented (no NetworkProtectionMode).
    documented = ["DeviceId", "DeviceName", "OSPlatform", "Timestamp", "ConfigurationId", "ConfigurationCategory",
                  "ConfigurationSubcategory", "ConfigurationImpact", "IsCompliant", "IsApplicable", "Context",
                  "IsExpectedUserImpact"]
    assert [s["Name"] for s in b["Schema"]] == documented, b["Schema"]
    assert all(sorted(r) == sorted(documented) for r in b["Results"]), b["Results"][0]
    assert sorted(r["IsCompliant"] for r in b["Results"]) == [False, False, True, True]
    st, b, _ = c.api("POST", "/api/advancedqueries/run", {"Query": "DeviceEvents | take 1"})
    assert st == 400

# ---- readings (spec section 9) ----

def readings(c, **kw):
    """Sets readings by their spec names (upsert_key -> upsert-key)."""
    return c.control("/readings", {k.replace("_", "-"): v for k, v in kw.items()})


def value_of(c, **filters):
    st, b, _ = c.api("GET", "/api/indicators")
    assert st == 200, b
    return b["value"]


@test
def readings_listed_set_and_refused_by_name(c):
    r = c.control("/readings")
    names = ["upsert-key", "empty-list", "import-errors", "created-by", "normalize", "omitted-fields",
             "group-names", "list-permission", "text-limits", "past-expiry", "legacy-actions", "gov-audience",
             "template-references"]
    assert sorted(r) == sorted(names), sorted(r)
    for n in names:
        x = r[n]
        assert len(x["choices"]) == 2 and x["current"] == x["default"] == x["choices"][0] and x["evidence"], (n, x)
    r = readings(c, upsert_key="type-value", empty_list="404")
    assert r["upsert-key"]["current"] == "type-value" and r["empty-list"]["current"] == "404"
    # An unknown name or choice is an error that lists the valid ones, and changes nothing.
    st, b, _ = call(c.base, "POST", "/_emulator/readings", {"normalize": "canonical", "upsert-kee": "type-value"})
    assert st == 400 and "upsert-key" in b["error"]["message"] and "gov-audience" in b["error"]["message"], b
    st, b, _ = call(c.base, "POST", "/_emulator/readings", {"normalize": "sometimes"})
    assert st == 400 and "none, canonical" in b["error"]["message"], b
    assert c.control("/readings")["normalize"]["current"] == "none"
    c.control("/reset", {})
    assert c.control("/readings")["upsert-key"]["current"] == "type-value-action"


@test
def readings_from_the_command_line_and_the_config_file(c):
    p = subprocess.run([EMU, "--list-readings", "--reading", "normalize=canonical"], capture_output=True, text=True,
                       timeout=10)
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and len(lines) == 14 and lines[0].startswith("READING"), p.stdout
    assert any(l.split()[:2] == ["normalize", "canonical"] for l in lines), p.stdout
    for bad in ("normalize", "normalise=canonical", "normalize=maybe"):
        p = subprocess.run([EMU, "--reading", bad], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and ("choices:" in p.stderr or "readings:" in p.stderr or "NAME=CHOICE" in p.stderr), (bad, p.stderr)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.conf")
        with open(path, "w") as f:
            f.write("[readings]\nupsert-key = type-value\nempty-list = 404\n\n[app a]\ntenant = %s\n"
                    "client_id = %s\nsecret = %s\nroles = Ti.ReadWrite.All\n" % (TENANT, CID, SECRET))
        e = Emulator("--config", path, "--reading", "empty-list=200", "--reading", "created-by=object-id")
        try:
            r = call(e.base, "GET", "/_emulator/readings")[1]
            assert (r["upsert-key"]["current"], r["empty-list"]["current"], r["created-by"]["current"]) == \
                ("type-value", "200", "object-id"), r
            call(e.base, "POST", "/_emulator/readings", {"created-by": "client-id"})
            call(e.base, "POST", "/_emulator/reset", {})   # back to what it started with
            assert call(e.base, "GET", "/_emulator/readings")[1]["created-by"]["current"] == "object-id"
        finally:
            e.stop()
        with open(path, "w") as f:
            f.write("[readings]\nupsert-key = sometimes\n")
        p = subprocess.run([EMU, "--config", path], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "r.conf:2:" in p.stderr and "type-value-action, type-value" in p.stderr, p.stderr


@test
def reading_upsert_key_type_value_changes_the_action_in_place(c):
    readings(c, upsert_key="type-value")
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Block"))
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3", action="Warn")]})
    assert st == 200 and b["value"][0]["id"] == a["id"], (a, b)
    got = value_of(c)
    assert [(x["id"], x["action"]) for x in got] == [(a["id"], "Warn")], got
    # The default keeps both (section 8).
    readings(c, upsert_key="type-value-action")
    _, d, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Block"))
    assert d["id"] != a["id"] and len(value_of(c)) == 2


@test
def reading_empty_list_404_for_nothing_and_past_the_end(c):
    st, b, _ = c.api("GET", "/api/indicators")
    assert st == 200 and b["value"] == [], (st, b)
    readings(c, empty_list="404")
    st, b, _ = c.api("GET", "/api/indicators")
    c.expect_error(st, b, 404, "NotFound")
    c.api("POST", "/api/indicators", ind("45.1.2.3"))
    assert c.api("GET", "/api/indicators?$top=10&$skip=0")[0] == 200
    st, b, _ = c.api("GET", "/api/indicators?$top=10&$skip=1")
    c.expect_error(st, b, 404, "NotFound")
    st, b, _ = c.api("GET", "/api/indicators?$filter=" + urllib.parse.quote("title eq 'nothing'"))
    assert st == 404, st


@test
def reading_import_errors_whole_batch_refuses_the_request(c):
    readings(c, import_errors="whole-batch")
    items = [ind("45.1.2.%d" % i) for i in range(1, 6)] + [ind("10.0.0.1")]
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": items})
    c.expect_error(st, b, 400, "InvalidIpAddress")
    assert value_of(c) == [], "a refused batch stored something"
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": items[:5]})
    assert st == 200 and not any(x["isFailed"] for x in b["value"]), b
    # The tenant cap refuses the whole request too, counting the batch's new items once.
    c.control("/limits", {"cap": 7})
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.3.%d" % i) for i in range(1, 4)]})
    c.expect_error(st, b, 400, "InvalidInput")
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.3.1"), ind("45.1.3.1"), ind("45.1.3.2")]})
    assert st == 200 and len(value_of(c)) == 7, (st, b)


@test
def reading_created_by_object_id_everywhere_the_id_appears(c):
    readings(c, created_by="object-id")
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    oid = a["createdBy"]
    assert oid != CID and len(oid) == 36 and oid.count("-") == 4, oid
    _, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.4"))
    assert b["createdBy"] == oid, "the object id is not stable"
    f = urllib.parse.quote("createdBy eq '%s'" % oid)
    assert len(c.api("GET", "/api/indicators?$filter=" + f)[1]["value"]) == 2
    f = urllib.parse.quote("createdBy eq '%s'" % CID)
    assert c.api("GET", "/api/indicators?$filter=" + f)[1]["value"] == []
    _, u, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", severity="High"))
    assert u["lastUpdatedBy"] == oid, u
    # A Ti.ReadWrite app still sees, updates and deletes its own (it is the same app).
    other = c.app("77777777-7777-7777-7777-777777777777", ["Ti.ReadWrite"])
    _, x, _ = call(c.base, "POST", "/api/indicators", ind("45.1.2.9"), token=other)
    assert x["createdBy"] not in (oid, "77777777-7777-7777-7777-777777777777"), x
    _, l, _ = call(c.base, "GET", "/api/indicators", token=other)
    assert [y["id"] for y in l["value"]] == [x["id"]], l
    assert call(c.base, "DELETE", "/api/indicators/" + x["id"], token=other)[0] == 204


@test
def reading_normalize_canonical_stores_matches_and_returns_the_normal_form(c):
    readings(c, normalize="canonical")
    h = "ab" * 32
    v6full, v6short = "2001:4860:0:0:0:0:0:8888", "2001:4860::8888"
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [
        ind(h, "FileSha256", "Block"), ind(v6full), ind("HTTP://Evil.Example.COM/Path/X", "Url"),
        ind("Evil.Example.ORG", "DomainName")]})
    assert st == 200 and [x["indicator"] for x in b["value"]] == [
        h.upper(), v6short, "http://evil.example.com/Path/X", "evil.example.org"], b
    ids = [x["id"] for x in b["value"]]
    # The same indicators in another spelling: updated in place, not doubled.
    st, b2, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind(h.upper(), "FileSha256", "Block"),
                                                                      ind(v6short)]})
    assert [x["id"] for x in b2["value"]] == ids[:2], (ids, b2)
    got = {x["indicatorValue"] for x in value_of(c)}
    assert got == {h.upper(), v6short, "http://evil.example.com/Path/X", "evil.example.org"}, got
    # The default stores what it was given, and still wants the full IPv6 form.
    c.control("/reset", {})
    c.control("/limits", {"rate_limits": False})
    st, b, _ = c.api("POST", "/api/indicators", ind(h, "FileSha256"))
    assert b["indicatorValue"] == h
    c.expect_error(*c.api("POST", "/api/indicators", ind(v6short))[:2], 400, "InvalidIpAddress")


@test
def reading_normalize_a_refused_item_is_reported_as_sent(c):
    # Checked on a copy of the item: normalising it for the upsert key
    # must not change what the failure report quotes.
    readings(c, normalize="canonical")
    other = c.app("33333333-3333-3333-3333-333333333333", ["Ti.ReadWrite"])
    st, b, _ = c.api("POST", "/api/indicators", ind("evil.example.net", "DomainName"))
    assert st == 200, b
    st, b, _ = call(c.base, "POST", "/api/indicators/import",
                    {"Indicators": [ind("EVIL.Example.NET", "DomainName", rbacGroupNames="a, b", generateAlert="true")]},
                    token=other)
    assert st == 200 and b["value"][0]["isFailed"], b
    assert b["value"][0]["indicator"] == "EVIL.Example.NET" and "Forbidden" in b["value"][0]["failureReason"], b


@test
def reading_omitted_fields_keep_or_reset(c):
    full = ind("45.1.2.3", recommendedActions="isolate", severity="High", rbacGroupNames=["Finance"])
    c.api("POST", "/api/indicators", full)
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    assert (a["recommendedActions"], a["severity"], a["rbacGroupNames"]) == ("isolate", "High", ["Finance"]), a
    readings(c, omitted_fields="reset")
    _, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    assert (b["recommendedActions"], b["severity"], b["rbacGroupNames"]) == (None, "Informational", []), b
    # Sent explicitly as null, a field clears under either reading.
    readings(c, omitted_fields="keep")
    c.api("POST", "/api/indicators", full)
    _, d, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", recommendedActions=None))
    assert d["recommendedActions"] is None and d["severity"] == "High", d


@test
def reading_group_names_validate_fails_unknown_and_fills_ids(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", rbacGroupNames=["Finanse"]))
    assert st == 200 and b["rbacGroupIds"] == [], b      # accept: a typo scopes to nothing, silently
    readings(c, group_names="validate")
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [
        ind("45.1.2.4", rbacGroupNames=["Finanse"]), ind("45.1.2.5", rbacGroupNames=["Finance", "Servers"])]})
    assert st == 200 and b["value"][0]["isFailed"] and "Finanse" in b["value"][0]["failureReason"], b
    assert "InvalidInput" in b["value"][0]["failureReason"]
    x = [y for y in value_of(c) if y["indicatorValue"] == "45.1.2.5"][0]
    assert x["rbacGroupIds"] == ["101", "102"], x


@test
def reading_list_permission_readwrite_only(c):
    reader = c.app("88888888-8888-8888-8888-888888888888", ["Ti.Read.All"])
    assert call(c.base, "GET", "/api/indicators", token=reader)[0] == 200
    readings(c, list_permission="readwrite-only")
    st, b, _ = call(c.base, "GET", "/api/indicators", token=reader)
    c.expect_error(st, b, 403, "Forbidden")
    assert c.api("GET", "/api/indicators")[0] == 200


@test
def reading_text_limits_none_takes_long_titles(c):
    c.expect_error(*c.api("POST", "/api/indicators", ind("45.1.2.3", title="t" * 150))[:2], 400, "InvalidInput")
    readings(c, text_limits="none")
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", title="t" * 4000, description="d" * 5000))
    assert st == 200 and len(b["title"]) == 4000, st


@test
def reading_past_expiry_accept_then_expires(c):
    past = "2020-01-01T00:00:00Z"
    c.expect_error(*c.api("POST", "/api/indicators", ind("45.1.2.3", expirationTime=past))[:2], 400, "InvalidInput")
    readings(c, past_expiry="accept")
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", expirationTime=past))
    assert st == 200, b
    assert value_of(c) == [], "an expired indicator is still listed"


@test
def reading_legacy_actions_reject(c):
    readings(c, legacy_actions="reject")
    for a in ("Alert", "AlertAndBlock"):
        st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action=a, generateAlert=True))
        c.expect_error(st, b, 400, "InvalidInput")
    assert c.api("POST", "/api/indicators", ind("45.1.2.3", action="Block"))[0] == 200


@test
def reading_gov_audience_picks_which_gov_audience_works(c):
    host, onms = "https://api-gcc.securitycenter.microsoft.us", "https://securitycenter.onmicrosoft.us"
    for v2 in (False, True):
        assert token(c.base, v2=v2, aud=host)[0] == 200
        st, b, _ = token(c.base, v2=v2, aud=onms)
        c.expect_entra(st, b, 400, "invalid_resource", 500011)
    readings(c, gov_audience="onmicrosoft-us")
    st, b, _ = token(c.base, aud=onms)
    assert st == 200, b
    tok = b["access_token"]
    c.expect_entra(*token(c.base, aud="https://api-gov.securitycenter.microsoft.us")[:2], 400, "invalid_resource", 500011)
    assert call(c.base, "GET", "/api/indicators", token=tok)[0] == 200


@test
def reject_values_per_item_or_whole_batch(c):
    c.control("/reject", {"values": ["45.1.2.4", "evil.example.net"]})
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3"), ind("45.1.2.4"), ind("45.1.2.5")]})
    assert [x["isFailed"] for x in b["value"]] == [False, True, False], b
    assert b["value"][1]["failureReason"].startswith("InvalidInput"), b
    c.expect_error(*c.api("POST", "/api/indicators", ind("evil.example.net", "DomainName"))[:2], 400, "InvalidInput")
    readings(c, import_errors="whole-batch")
    st, b, _ = c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.6"), ind("45.1.2.4")]})
    c.expect_error(st, b, 400, "InvalidInput")
    assert "45.1.2.6" not in {x["indicatorValue"] for x in value_of(c)}
    c.control("/reset", {})
    c.control("/limits", {"rate_limits": False})
    assert c.api("POST", "/api/indicators", ind("45.1.2.4"))[0] == 200, "reset keeps the rejected values"

# ---- leniencies the documents allow (section 9, last paragraph) ----

@test
def generate_alert_as_true_false_strings(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", action="Audit", generateAlert="True"))
    assert st == 200 and b["generateAlert"] is True, b
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.4", generateAlert="False"))
    assert st == 200 and b["generateAlert"] is False, b
    assert c.api("POST", "/api/indicators", ind("45.1.2.5", generateAlert="maybe"))[0] == 400


@test
def rbac_group_names_as_a_comma_separated_string(c):
    st, b, _ = c.api("POST", "/api/indicators", ind("45.1.2.3", rbacGroupNames="Finance, Servers"))
    assert st == 200 and b["rbacGroupNames"] == ["Finance", "Servers"], b


@test
def filter_any_and_contains(c):
    c.api("POST", "/api/indicators", ind("45.1.2.3", rbacGroupNames=["Finance"], title="alpha one"))
    c.api("POST", "/api/indicators", ind("45.1.2.4", rbacGroupNames=["Servers", "Finance"], title="beta"))
    c.api("POST", "/api/indicators", ind("45.1.2.5", title="alphabet"))
    for f, n in {"rbacGroupNames/any(g: g eq 'Finance')": 2, "rbacGroupNames/any(g: g eq 'Servers')": 1,
                 "rbacGroupNames/any(x: startswith(x,'Fin'))": 2, "contains(title,'pha')": 2,
                 "contains(title,'pha') and not rbacGroupNames/any(g: g eq 'Finance')": 1}.items():
        st, b, _ = c.api("GET", "/api/indicators?$filter=" + urllib.parse.quote(f))
        assert st == 200 and len(b["value"]) == n, (f, st, b)


@test
def exposure_score_by_machine_groups(c):
    st, b, _ = c.api("GET", "/api/exposureScore/ByMachineGroups")
    c.expect_error(st, b, 403, "Forbidden")         # the demo app lacks Score.Read.All
    tok = c.app("99999999-9999-9999-9999-999999999999", ["Score.Read.All"])
    st, b, _ = call(c.base, "GET", "/api/exposureScore/ByMachineGroups", token=tok)
    assert st == 200 and b["@odata.context"].endswith("#ExposureScore"), b
    assert sorted(x["rbacGroupName"] for x in b["value"]) == ["Finance", "Servers"], b
    assert all(set(x) == {"time", "score", "rbacGroupName"} for x in b["value"]), b


@test
def machines_top_skip_and_filter(c):
    st, b, _ = c.api("GET", "/api/machines?$top=2&$skip=1")
    assert st == 200 and len(b["value"]) == 2, b
    for f, n in {"rbacGroupId eq 101": 2, "machineTags/any(t: t eq 'server')": 2,
                 "startswith(computerDnsName,'srv-')": 2, "healthStatus eq 'Active' and rbacGroupId eq 102": 2}.items():
        st, b, _ = c.api("GET", "/api/machines?$filter=" + urllib.parse.quote(f))
        assert st == 200 and len(b["value"]) == n, (f, st, b)
    st, b, _ = c.api("GET", "/api/machines?$filter=" + urllib.parse.quote("title eq 'x'"))
    c.expect_error(st, b, 400, "ODataError")
    assert c.api("GET", "/api/machines?$top=10001")[0] == 400
    st, b, _ = c.api("GET", "/api/machines?$filter=" + urllib.parse.quote("rbacGroupId eq 999"))
    assert st == 404, st


@test
def own_base_url_accepted_as_resource_and_scope(c):
    for v2 in (False, True):
        st, b, _ = token(c.base, v2=v2, aud=c.base)
        assert st == 200, (v2, b)
        assert call(c.base, "GET", "/api/indicators", token=b["access_token"])[0] == 200
    st, b, _ = token(c.base, aud=c.base + "/")
    assert st == 200, b
    c.expect_entra(*token(c.base, aud=c.base + "/other")[:2], 400, "invalid_resource", 500011)


@test
def change_log_records_every_change_in_order(c):
    _, a, _ = c.api("POST", "/api/indicators", ind("45.1.2.3"))
    c.api("POST", "/api/indicators", ind("45.1.2.3", severity="High"))
    c.api("POST", "/api/indicators", ind("45.1.2.4", expirationTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30))))
    c.api("POST", "/api/indicators/BatchDelete", {"IndicatorIds": [a["id"]]})
    c.control("/clock", {"advance_seconds": 60})
    ch = c.control("/changes")["changes"]
    assert [(x["op"], x["value"]) for x in ch] == [("create", "45.1.2.3"), ("update", "45.1.2.3"),
                                                   ("create", "45.1.2.4"), ("delete", "45.1.2.3"),
                                                   ("expire", "45.1.2.4")], ch
    assert all(x["type"] == "IpAddress" and x["action"] == "Block" and x["createdBy"] == CID for x in ch)


@test
def request_log_bodies_on_request_with_the_credential_redacted(c):
    c.control("/log", {"bodies": True, "clear": True})
    token(c.base, v2=True)
    c.api("GET", "/api/indicators?$top=5&$skip=0")
    c.api("POST", "/api/indicators/import", {"Indicators": [ind("45.1.2.3")]})
    log = c.control("/log")["requests"]
    tok, lst, imp = log[-3:]
    assert tok["body"]["client_secret"] == "<redacted>" and tok["body"]["grant_type"] == "client_credentials", tok
    assert lst["query"] == "$top=5&$skip=0" and lst["body"] is None, lst
    assert imp["body"] == {"Indicators": [ind("45.1.2.3")]}, imp
    assert SECRET not in json.dumps(log)
    c.control("/log", {"bodies": False})
    c.api("GET", "/api/indicators")
    assert "body" not in c.control("/log")["requests"][-1]

# ---- control plane ----

@test
def faults_scripted_sequence(c):
    c.control("/faults", {"sequence": [429, 500, 503, 0]})
    codes = [c.api("GET", "/api/indicators")[0] for _ in range(5)]
    assert codes == [429, 500, 503, 200, 200], codes
    calls = c.control("/calls")
    assert calls["list"]["429"] == 1 and calls["list"]["5xx"] == 2 and calls["list"]["2xx"] == 2, calls


@test
def faults_slow_reset_truncate_happen_after_the_work(c):
    import http.client
    c.control("/faults", {"sequence": ["reset", "truncate", "slow"], "slow_ms": 700})
    try:
        c.api("POST", "/api/indicators", ind("45.1.2.3"))
        raise AssertionError("a reset fault answered")
    except (http.client.RemoteDisconnected, ConnectionResetError, urllib.error.URLError):
        pass
    try:
        c.api("POST", "/api/indicators", ind("45.1.2.4"))
        raise AssertionError("a truncated answer was read whole")
    except (http.client.IncompleteRead, ConnectionResetError, urllib.error.URLError, ValueError):
        pass
    t0 = time.time()
    st, b, _ = c.api("GET", "/api/indicators")
    assert st == 200 and time.time() - t0 >= 0.65, time.time() - t0
    # The work was done before the wire failed: both indicators exist.
    assert sorted(x["indicatorValue"] for x in b["value"]) == ["45.1.2.3", "45.1.2.4"], b
    faults = [x.get("fault") for x in c.control("/log")["requests"] if "fault" in x]
    assert faults == ["reset", "truncate", "slow"], faults


@test
def faults_probabilities_are_seeded_and_repeatable(c):
    runs = []
    for _ in range(2):
        c.control("/faults", {"probabilities": {"429": 0.2, "500": 0.1, "503": 0.1}, "seed": 7})
        runs.append([c.api("GET", "/api/indicators?$top=1")[0] for _ in range(60)])
    assert runs[0] == runs[1], runs
    n = {s: runs[0].count(s) for s in (200, 429, 500, 503)}
    assert n[200] > 15 and n[429] > 3 and n[500] + n[503] > 3, n
    c.control("/faults", {"probabilities": {"429": 0.2}, "seed": 8})
    other = [c.api("GET", "/api/indicators?$top=1")[0] for _ in range(60)]
    assert other != runs[0]
    st, b, _ = call(c.base, "POST", "/_emulator/faults", {"probabilities": {"500": 0.7, "503": 0.7}})
    assert st == 400, b


@test
def control_log_has_no_secrets(c):
    c.api("GET", "/api/indicators")
    log = c.control("/log")
    text = json.dumps(log)
    assert "/api/indicators" in text and SECRET not in text and c.tok not in text

# ---- hostile requests ----

@test
def malformed_truncated_and_deep_json_400(c):
    for raw in (b"{", b'{"indicatorValue": "45.1.2.3", "indicatorType"', b"[" * 100000 + b"]" * 100000,
                b'{"indicatorValue": "\xff\xfe", "indicatorType": "IpAddress", "action": "Block", "title": "t", "description": "d"}',
                b'{"a":1,"a":2}', b"", b"null"):
        st, b, _ = c.api("POST", "/api/indicators", raw=raw)
        assert st == 400 and b["error"]["code"] in ("InvalidRequestBody", "MissingRequiredParameter"), (raw[:30], st, b)


@test
def body_of_100_mb_is_413(c):
    s = socket.create_connection(("127.0.0.1", c.emu.port))
    size = 100 << 20
    s.sendall(b"POST /api/indicators HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + c.tok.encode() + b"\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b" " * (1 << 20)
    try:
        for _ in range(100):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(10)
    head = s.recv(200)
    s.close()
    assert head.startswith(b"HTTP/1.1 413"), head[:40]


@test
def filter_of_1_mb_is_4xx(c):
    f = urllib.parse.quote("title eq '" + "a" * (1 << 20) + "'")
    try:
        st, _, _ = c.api("GET", "/api/indicators?$filter=" + f)
    except (ConnectionResetError, urllib.error.URLError) as e:
        raise AssertionError("connection dropped instead of a 4xx: %s" % e)
    assert 400 <= st < 500, st


@test
def slow_client_and_200_connections_do_not_block(c):
    slow = socket.create_connection(("127.0.0.1", c.emu.port))
    slow.sendall(b"GET /api/ind")
    conns = [socket.create_connection(("127.0.0.1", c.emu.port)) for _ in range(200)]
    t0 = time.time()
    st, _, _ = c.api("GET", "/api/indicators")
    assert st == 200 and time.time() - t0 < 5
    for s in conns:
        s.close()
    slow.close()


@test
def state_survives_restart(c):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "state.json")
        e1 = Emulator("--state", path)
        c1 = Ctx(e1)
        _, a, _ = c1.api("POST", "/api/indicators", ind("45.1.2.3"))
        e1.stop()
        e2 = Emulator("--state", path)
        c2 = Ctx(e2)
        _, l, _ = c2.api("GET", "/api/indicators")
        _, b, _ = c2.api("POST", "/api/indicators", ind("45.1.2.4"))
        e2.stop()
        assert [x["id"] for x in l["value"]] == [a["id"]] and int(b["id"]) > int(a["id"])


@test
def state_keeps_intune_policies_across_restarts(c):
    target = {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "8f0a6b1c-0000-4000-8000-000000000001"}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "state.json")
        e1 = Emulator("--state", path)
        try:
            c1 = Ctx(e1)
            tok = graph_token(c1)
            st, p, _ = call(e1.base, "POST", POLICIES, fw_policy("iocsync UDP block 1", 3), token=tok)
            assert st == 201, p
            st, b, _ = call(e1.base, "POST", POLICIES + "/" + p["id"] + "/assign", {"assignments": [{"target": target}]},
                            token=tok)
            assert st == 200, b
            st, gone, _ = call(e1.base, "POST", POLICIES, fw_policy("iocsync UDP block 2", 1), token=tok)
            assert call(e1.base, "DELETE", POLICIES + "/" + gone["id"], token=tok)[0] == 204
        finally:
            e1.stop()
        e2 = Emulator("--state", path)
        try:
            c2 = Ctx(e2)
            tok = graph_token(c2)  # (apps made by a control call are not kept)
            st, l, _ = call(e2.base, "GET", POLICIES, token=tok)
            assert st == 200 and [x["id"] for x in l["value"]] == [p["id"]], l
            assert l["value"][0]["isAssigned"] is True and l["value"][0]["name"] == "iocsync UDP block 1", l
            st, got, _ = call(e2.base, "GET", POLICIES + "/" + p["id"] + "?$expand=settings", token=tok)
            assert len(got["settings"][0]["settingInstance"]["groupSettingCollectionValue"]) == 3, got
            st, a, _ = call(e2.base, "GET", POLICIES + "/" + p["id"] + "/assignments", token=tok)
            assert [x["target"]["groupId"] for x in a["value"]] == [target["groupId"]], a
            dump = c2.control("/state")
            for bad, why in (({"indicators": [], "policies": {}}, "must be an array"),
                             ({"indicators": [], "policies": [{"id": "x"}]}, "needs \"id\" and \"_tenant\""),
                             ({"indicators": [], "policies": dump["policies"]}, "exists already")):
                st, b, _ = call(e2.base, "POST", "/_emulator/state", bad)
                assert st == 400 and why in b["error"]["message"], (st, b)
            assert len(c2.control("/state")["policies"]) == 1
        finally:
            e2.stop()


@test
def config_file_defines_apps_machines_limits(c):
    here = os.path.dirname(os.path.abspath(__file__))
    e = Emulator("--config", os.path.join(here, "../../packaging/mde-emulator.conf.example"))
    try:
        st, b, _ = token(e.base, cid="22222222-2222-2222-2222-222222222222", secret="another-secret")
        assert st == 200, b
        t = b["access_token"]
        st, b, _ = call(e.base, "GET", "/api/machines", token=t)
        assert st == 403, st  # Ti.ReadWrite only
        st, b, _ = token(e.base)
        st, b, _ = call(e.base, "GET", "/api/machines", token=b["access_token"])
        assert st == 200 and [m["computerDnsName"] for m in b["value"]] == ["ws-01"], b
    finally:
        e.stop()


@test
def config_sets_rate_limits_per_endpoint(c):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rl.conf")
        with open(path, "w") as f:
            f.write("[emulator]\nlist_per_minute = 2\n\n[app a]\ntenant = %s\nclient_id = %s\nsecret = %s\n"
                    "roles = Ti.ReadWrite.All\n" % (TENANT, CID, SECRET))
        e = Emulator("--config", path)
        try:
            t = token(e.base)[1]["access_token"]
            codes = [call(e.base, "GET", "/api/indicators", token=t)[0] for _ in range(3)]
            assert codes == [200, 200, 429], codes
        finally:
            e.stop()
        with open(path, "w") as f:
            f.write("[emulator]\nlist_per_fortnight = 2\n")
        p = subprocess.run([EMU, "--config", path], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "rl.conf:2:" in p.stderr, p.stderr


@test
def config_errors_name_file_and_line(c):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.conf")
        with open(path, "w") as f:
            f.write("[emulator]\ncap = 10\n\n[app x]\ntenant = t\nclient_id = c\nsecret = s\nroles = Ti.Write\n")
        p = subprocess.run([EMU, "--config", path], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "bad.conf:8: unknown role Ti.Write" in p.stderr, (p.returncode, p.stderr)


@test
def listens_on_ipv6_loopback(c):
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        raise Skip("no IPv6 loopback")
    e = Emulator("--listen", "[::1]:0")
    try:
        assert e.base.startswith("http://[::1]:"), e.base
        st, b, _ = token(e.base)
        assert st == 200, b
    finally:
        e.stop()


@test
def tls_when_given_a_certificate(c):
    import shutil, ssl
    if shutil.which("openssl") is None:
        raise Skip("no openssl command")
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        e = Emulator("--tls-cert", cert, "--tls-key", key)
        try:
            assert e.base.startswith("https://"), e.base
            ctx = ssl.create_default_context(cafile=cert)
            with urllib.request.urlopen(e.base + "/_emulator/calls", context=ctx, timeout=10) as r:
                assert r.status == 200
        finally:
            e.stop()


def b64u(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Cert:
    """An RSA key and self-signed certificate made with the openssl command;
    assertions are signed with it too (Python's standard library has no RSA)."""
    def __init__(self, d):
        import hashlib
        self.d = d
        self.key, self.cert = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out",
                        self.cert, "-days", "1", "-subj", "/CN=iocsync-test"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "der"], check=True,
                             capture_output=True).stdout
        self.x5t, self.x5t256 = b64u(hashlib.sha1(der).digest()), b64u(hashlib.sha256(der).digest())
        self.pem = open(self.cert).read()

    def assertion(self, cid, aud, alg="PS256", now=None, jti=None, iss=None, x5t=None):
        import uuid
        now = int(now or time.time())
        head = {"alg": alg, "typ": "JWT"}
        if alg == "RS256":
            head["x5t"] = x5t or self.x5t
        else:
            head["x5t#S256"] = x5t or self.x5t256
        claims = {"aud": aud, "iss": iss or cid, "sub": cid, "jti": jti or str(uuid.uuid4()), "nbf": now, "exp": now + 600}
        msg = (b64u(json.dumps(head).encode()) + "." + b64u(json.dumps(claims).encode())).encode()
        opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if alg == "PS256" else []
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key, *opts], input=msg, check=True,
                             capture_output=True).stdout
        return msg.decode() + "." + b64u(sig)


def assertion_token(base, cid, jwt, tenant=TENANT):
    form = {"grant_type": "client_credentials", "client_id": cid, "scope": RES + "/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": jwt}
    return post_form(base, "/%s/oauth2/v2.0/token" % tenant, form)


@test
def client_assertion_rs256_x5t_and_ps256_x5t_s256(c):
    import shutil
    if shutil.which("openssl") is None:
        raise Skip("no openssl command")
    with tempfile.TemporaryDirectory() as d:
        cert = Cert(d)
        cid = "66666666-6666-6666-6666-666666666666"
        c.control("/apps", {"tenant": TENANT, "client_id": cid, "secret": "unused-" + cid, "name": "cert-app",
                            "roles": ["Ti.ReadWrite.All"], "certificate_pem": cert.pem})
        aud = "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % TENANT
        for alg in ("RS256", "PS256"):
            st, b, _ = assertion_token(c.base, cid, cert.assertion(cid, aud, alg))
            assert st == 200, (alg, b)
            assert call(c.base, "GET", "/api/indicators", token=b["access_token"])[0] == 200
        # the emulator's own token URL is an accepted audience too
        st, b, _ = assertion_token(c.base, cid, cert.assertion(cid, c.base + "/%s/oauth2/v2.0/token" % TENANT))
        assert st == 200, b
        bad = [("wrong audience", cert.assertion(cid, "https://login.microsoftonline.com/other/oauth2/v2.0/token"), 700023),
               ("expired", cert.assertion(cid, aud, now=time.time() - 3600), 700024),
               ("iss is not the client", cert.assertion(cid, aud, iss="someone"), 700021),
               ("RS256 with the SHA-256 thumbprint", cert.assertion(cid, aud, "RS256", x5t=cert.x5t256), 700027),
               ("signature", cert.assertion(cid, aud)[:-6] + "AAAAAA", 700027)]
        for what, jwt, code in bad:
            st, b, _ = assertion_token(c.base, cid, jwt)
            c.expect_entra(st, b, 401, "invalid_client", code)
        jwt = cert.assertion(cid, aud, jti="fixed-jti")
        assert assertion_token(c.base, cid, jwt)[0] == 200
        st, b, _ = assertion_token(c.base, cid, jwt)
        assert st == 401 and 7000282 in b["error_codes"], ("jti reuse", b)


# ---- Microsoft Graph: the Intune firewall rules policies (docs/graph-firewall.md) ----

GRAPH = "https://graph.microsoft.com"
POLICIES = "/beta/deviceManagement/configurationPolicies"
FW_TEMPLATE = "19c8aa67-f286-4861-9aa0-f23541d31680_1"
RULE_GROUP = "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}"


def graph_token(c, roles=("DeviceManagementConfiguration.ReadWrite.All",), cid="77777777-7777-7777-7777-777777777777"):
    c.control("/apps", {"tenant": TENANT, "client_id": cid, "secret": "g-" + cid, "name": "graph-app",
                        "roles": list(roles)})
    st, b, _ = token(c.base, v2=True, cid=cid, secret="g-" + cid, aud=GRAPH)
    assert st == 200, b
    return b["access_token"]


def fw_policy(name, rules):
    rule = lambda k: {"children": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
                                    "settingDefinitionId": RULE_GROUP[:-1] + "}_name",
                                    "simpleSettingValue": {"value": "r%d" % k}}]}
    return {"name": name, "description": "managed by iocsync", "platforms": "windows10",
            "technologies": "mdm,microsoftSense", "templateReference": {"templateId": FW_TEMPLATE},
            "settings": [{"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
                "settingDefinitionId": RULE_GROUP, "groupSettingCollectionValue": [rule(k) for k in range(rules)]}}]}


def graph_error(st, body, status, code):
    assert st == status, "status %s, want %s: %s" % (st, status, body)
    e = body["error"]
    assert e["code"] == code and e["message"] and e["innerError"]["request-id"] and e["innerError"]["date"], body


@test
def graph_policies_create_get_patch_assign_delete(c):
    tok = graph_token(c)
    g = lambda m, path, body=None: call(c.base, m, path, body, token=tok)
    st, p, _ = g("POST", POLICIES, fw_policy("iocsync UDP block 1", 150))
    assert st == 201 and p["id"] and p["settingCount"] == 1 and p["isAssigned"] is False and "settings" not in p, p
    pid = p["id"]
    st, got, _ = g("GET", POLICIES + "/" + pid)
    assert st == 200 and got["name"] == "iocsync UDP block 1" and "settings" not in got, got
    st, got, _ = g("GET", POLICIES + "/" + pid + "?$expand=settings")
    assert len(got["settings"][0]["settingInstance"]["groupSettingCollectionValue"]) == 150
    st, sets, _ = g("GET", POLICIES + "/" + pid + "/settings")
    assert st == 200 and len(sets["value"]) == 1, sets
    st, got, _ = g("PATCH", POLICIES + "/" + pid, {"description": "managed by iocsync: v2"})
    assert st == 200 and got["description"] == "managed by iocsync: v2", got
    st, b, _ = g("PATCH", POLICIES + "/" + pid, {"settings": []})
    graph_error(st, b, 400, "BadRequest")
    target = {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "8f0a6b1c-0000-4000-8000-000000000001"}
    st, a, _ = g("POST", POLICIES + "/" + pid + "/assign", {"assignments": [{"target": target}]})
    assert st == 200 and a["value"][0]["target"]["groupId"] == target["groupId"], a
    st, got, _ = g("GET", POLICIES + "/" + pid)
    assert got["isAssigned"] is True
    st, a, _ = g("GET", POLICIES + "/" + pid + "/assignments")
    assert len(a["value"]) == 1, a
    st, b, _ = g("DELETE", POLICIES + "/" + pid)
    assert st == 204 and b is None, (st, b)
    st, b, _ = g("GET", POLICIES + "/" + pid)
    graph_error(st, b, 404, "ResourceNotFound")


@test
def graph_firewall_rules_at_most_150_a_policy_and_the_template_shape(c):
    tok = graph_token(c)
    st, b, _ = call(c.base, "POST", POLICIES, fw_policy("too many", 151), token=tok)
    graph_error(st, b, 400, "BadRequest")
    assert "at most 150 rules" in b["error"]["message"], b
    bad = fw_policy("bare id", 1)
    bad["settings"][0]["settingInstance"]["settingDefinitionId"] = "vendor_msft_firewall_mdmstore_firewallrules"
    st, b, _ = call(c.base, "POST", POLICIES, bad, token=tok)
    graph_error(st, b, 400, "BadRequest")
    st, b, _ = call(c.base, "POST", POLICIES, {"name": "no platforms"}, token=tok)
    graph_error(st, b, 400, "BadRequest")


@test
def graph_template_references_read_checked_and_required_by_reading(c):
    tok = graph_token(c)
    g = lambda m, path, body=None: call(c.base, m, path, body, token=tok)
    st, t, _ = g("GET", "/beta/deviceManagement/configurationPolicyTemplates/" + FW_TEMPLATE + "/settingTemplates")
    assert st == 200, t
    inst = t["value"][0]["settingInstanceTemplate"]
    assert inst["settingDefinitionId"] == RULE_GROUP and inst["settingInstanceTemplateId"], inst
    ref = {"settingInstanceTemplateId": inst["settingInstanceTemplateId"]}
    graph_error(*g("GET", "/beta/deviceManagement/configurationPolicyTemplates/nope_1/settingTemplates")[:2],
                404, "ResourceNotFound")
    with_ref = fw_policy("with", 1)
    with_ref["settings"][0]["settingInstance"]["settingInstanceTemplateReference"] = ref
    wrong = fw_policy("wrong", 1)
    wrong["settings"][0]["settingInstance"]["settingInstanceTemplateReference"] = {"settingInstanceTemplateId": "x"}
    for choice in ("optional", "required"):
        c.control("/readings", {"template-references": choice})
        assert g("POST", POLICIES, with_ref)[0] == 201
        graph_error(*g("POST", POLICIES, wrong)[:2], 400, "BadRequest")
        st, b, _ = g("POST", POLICIES, fw_policy("without", 1))
        if choice == "optional":
            assert st == 201, b
        else:
            graph_error(st, b, 400, "BadRequest")
            assert "settingInstanceTemplateReference" in b["error"]["message"], b
    # Without the permission, the template is not read either.
    other = graph_token(c, roles=(), cid="78787878-7878-7878-7878-787878787878")
    st, b, _ = call(c.base, "GET", "/beta/deviceManagement/configurationPolicyTemplates/" + FW_TEMPLATE +
                    "/settingTemplates", token=other)
    graph_error(st, b, 403, "Forbidden")


@test
def graph_list_is_paged_with_nextlink_and_per_tenant(c):
    tok = graph_token(c)
    for k in range(30):
        st, b, _ = call(c.base, "POST", POLICIES, fw_policy("p%02d" % k, 1), token=tok)
        assert st == 201, b
    names, path = [], POLICIES
    while path:
        st, b, _ = call(c.base, "GET", path, token=tok)
        assert st == 200, b
        names += [p["name"] for p in b["value"]]
        link = b.get("@odata.nextLink")
        assert link is None or link.startswith(c.base), link
        path = link[len(c.base):] if link else None
    assert sorted(names) == ["p%02d" % k for k in range(30)], names
    # Another tenant sees none of them.
    c.control("/apps", {"tenant": "00000000-0000-0000-0000-000000000009", "client_id": CID, "secret": "t9",
                        "name": "t9", "roles": ["DeviceManagementConfiguration.ReadWrite.All"]})
    st, b, _ = token(c.base, v2=True, tenant="00000000-0000-0000-0000-000000000009", secret="t9", aud=GRAPH)
    st, b, _ = call(c.base, "GET", POLICIES, token=b["access_token"])
    assert st == 200 and b["value"] == [], b


@test
def graph_needs_its_permission_and_its_audience(c):
    ro = graph_token(c, roles=("DeviceManagementConfiguration.Read.All",), cid="88888888-8888-8888-8888-888888888888")
    st, b, _ = call(c.base, "GET", POLICIES, token=ro)
    assert st == 200, b
    st, b, _ = call(c.base, "POST", POLICIES, fw_policy("x", 1), token=ro)
    graph_error(st, b, 403, "Forbidden")
    assert "DeviceManagementConfiguration.ReadWrite.All" in b["error"]["message"], b
    none = graph_token(c, roles=("Ti.ReadWrite.All",), cid="99999999-9999-9999-9999-999999999999")
    st, b, _ = call(c.base, "GET", POLICIES, token=none)
    graph_error(st, b, 403, "Forbidden")
    # An MDE token is refused by Graph, a Graph token by the MDE API.
    st, b, _ = call(c.base, "GET", POLICIES, token=c.tok)
    graph_error(st, b, 401, "InvalidAuthenticationToken")
    rw = graph_token(c)
    st, b, _ = call(c.base, "GET", "/api/indicators", token=rw)
    assert st == 401, (st, b)
    st, b, _ = call(c.base, "GET", POLICIES)
    assert st == 401, (st, b)


@test
def graph_groups_by_display_name(c):
    tok = graph_token(c, roles=("Group.Read.All",), cid="12121212-1212-1212-1212-121212121212")
    c.control("/groups", {"tenant": TENANT, "id": "8f0a6b1c-0000-4000-8000-00000000000a", "displayName": "SOC"})
    q = "/v1.0/groups?%s" % urllib.parse.urlencode({"$filter": "displayName eq 'SOC'"})
    st, b, _ = call(c.base, "GET", q, token=tok)
    assert st == 200 and [g["id"] for g in b["value"]] == ["8f0a6b1c-0000-4000-8000-00000000000a"], b
    st, b, _ = call(c.base, "GET", "/v1.0/groups?%s" % urllib.parse.urlencode({"$filter": "startswith(x)"}), token=tok)
    graph_error(st, b, 400, "Request_UnsupportedQuery")
    st, b, _ = call(c.base, "GET", q, token=graph_token(c))
    graph_error(st, b, 403, "Authorization_RequestDenied")


@test
def rate_limit_graph_writes_100_a_minute(c):
    tok = graph_token(c)
    codes = [call(c.base, "POST", POLICIES, fw_policy("r%d" % k, 1), token=tok) for k in range(101)]
    assert all(st == 201 for st, _, _ in codes[:100]), [st for st, _, _ in codes[:100]]
    st, b, h = codes[100]
    graph_error(st, b, 429, "TooManyRequests")
    assert int(h["Retry-After"]) >= 1, dict(h)
    st, b, _ = call(c.base, "GET", POLICIES, token=tok)
    assert st == 200, "reads are not limited by the write budget"


def main():
    names = sys.argv[2:]
    if "valgrind" in os.environ.get("EMU_WRAPPER", "") and os.environ.get("IOCSYNC_NO_VALGRIND"):
        print("SKIPPED: valgrind run not wanted here (IOCSYNC_NO_VALGRIND)")
        return 77
    unknown = set(names) - {t.__name__ for t in TESTS}
    if unknown:  # a typo must not quietly drop a test
        print("unknown test(s): %s" % ", ".join(sorted(unknown)))
        return 2
    chosen = [t for t in TESTS if not names or t.__name__ in names]
    emu = Emulator()
    failed = skipped = 0
    try:
        for t in chosen:
            call(emu.base, "POST", "/_emulator/reset", {})
            call(emu.base, "POST", "/_emulator/limits", {"rate_limits": False})
            if t.__name__.startswith("rate_limit"):
                call(emu.base, "POST", "/_emulator/limits", {"rate_limits": True})
            try:
                t(Ctx(emu))
                print("ok   %s" % t.__name__)
            except Skip as why:
                skipped += 1
                print("SKIP %s: %s" % (t.__name__, why))
            except Exception:
                failed += 1
                print("FAIL %s\n%s" % (t.__name__, traceback.format_exc()))
    finally:
        emu.stop()
    print("%d/%d conformance tests passed, %d skipped (each named above)" %
          (len(chosen) - failed - skipped, len(chosen), skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
