#!/usr/bin/env python3
"""A client nobody here wrote: the calls of Microsoft's documented samples
(the v1 and v2 token requests, list, submit, import and BatchDelete), as a
generic client makes them, configured with nothing but a base URL for the
API and the login host. Such clients derive their token audience from the
base URL (<base>/.default, resource=<base>); they send generateAlert as the
documents' "True" and rbacGroupNames as the documents' comma-separated
string. mde-emulator must serve them without any emulator-specific setting.

  foreign_client.py path/to/mde-emulator"""
import json, subprocess, sys, time, urllib.error, urllib.parse, urllib.request

EMU = sys.argv[1]
TENANT, CLIENT_ID, SECRET = "00000000-0000-0000-0000-000000000001", "11111111-1111-1111-1111-111111111111", \
    "emulator-secret"


class DocumentedClient:
    """Settings: base (API and login host alike), tenant, client id, secret."""

    def __init__(self, base, tenant, client_id, secret, token_version):
        self.base, self.tenant, self.client_id, self.secret = base.rstrip("/"), tenant, client_id, secret
        self.token = self.get_token(token_version)

    def get_token(self, version):
        # DD api/exposed-apis-create-app-webapp.md and api/api-hello-world.md
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.secret}
        if version == 1:
            url = "%s/%s/oauth2/token" % (self.base, self.tenant)
            form["resource"] = self.base
        else:
            url = "%s/%s/oauth2/v2.0/token" % (self.base, self.tenant)
            form["scope"] = self.base + "/.default"
        req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(req, timeout=30) as r:
            tok = json.loads(r.read())
        assert tok["token_type"] == "Bearer" and tok["expires_in"] > 0, tok
        return tok["access_token"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


def indicator(value, typ, action, **kw):
    """As in DD api/post-ti-indicator.md's example, with a future expiry."""
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    d = {"indicatorValue": value, "indicatorType": typ, "title": "test", "application": "demo-test",
         "expirationTime": exp, "action": action, "severity": "Informational", "description": "test",
         "recommendedActions": "nothing"}
    d.update(kw)
    return d


def main():
    p = subprocess.Popen([EMU, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    failed = []
    try:
        base = p.stdout.readline().split("listening on ")[1].strip()
        for version in (1, 2):
            name = "v%d token, then list, submit, import, BatchDelete" % version
            try:
                c = DocumentedClient(base, TENANT, CLIENT_ID, SECRET, version)
                st, b = c.call("GET", "/api/indicators")
                assert st == 200 and b["value"] == [], (st, b)
                st, one = c.call("POST", "/api/indicators",
                                 indicator("220e7d15b011d7fac48f2bd61114db1022197f7f", "FileSha1", "AlertAndBlock",
                                           rbacGroupNames="Finance, Servers"))
                assert st == 200 and one["rbacGroupNames"] == ["Finance", "Servers"], (st, one)
                st, b = c.call("POST", "/api/indicators/import", {"Indicators": [
                    indicator("45.1.2.3", "IpAddress", "Audit", generateAlert="True"),
                    indicator("evil.example-bad.top", "DomainName", "Block", generateAlert="False")]})
                assert st == 200 and [x["isFailed"] for x in b["value"]] == [False, False], (st, b)
                ids = [one["id"]] + [x["id"] for x in b["value"]]
                st, b = c.call("GET", "/api/indicators?$filter=" + urllib.parse.quote("indicatorType eq 'IpAddress'"))
                assert st == 200 and [x["generateAlert"] for x in b["value"]] == [True], (st, b)
                st, b = c.call("POST", "/api/indicators/BatchDelete", {"IndicatorIds": ids})
                assert st == 204, (st, b)
                st, b = c.call("GET", "/api/indicators")
                assert st == 200 and b["value"] == [], (st, b)
                print("ok   %s" % name)
            except Exception as e:
                failed.append(name)
                print("FAIL %s: %r" % (name, e))
    finally:
        p.terminate()
        p.communicate(timeout=30)
    print("%d/2 documented-client runs passed" % (2 - len(failed)))
    return 1 if failed else 0


sys.exit(main())
