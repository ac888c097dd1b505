#!/usr/bin/env python3
"""Issue 22, no secret to steal: workload identity federation (an outside
issuer's JWT in federated_token_file, or AZURE_FEDERATED_TOKEN_FILE with
AZURE_CLIENT_ID and AZURE_TENANT_ID) against mde-emulator's federated
credentials, each failure with Entra's code.

  identity.py path/to/iocsync path/to/mde-emulator [TEST...]"""
import base64, json, os, subprocess, sys, time

import itest
from itest import TENANT, ips, test

FCID = "55555555-5555-5555-5555-555555555555"
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "repo:contoso/secops-feeds:ref:refs/heads/main"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Issuer:
    """An outside issuer (a CI system, a Kubernetes cluster): an RSA key,
    its certificate, and tokens signed with it."""

    def __init__(self, d):
        self.key, self.crt = os.path.join(d, "issuer.key"), os.path.join(d, "issuer.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out",
                        self.crt, "-days", "1", "-subj", "/CN=outside-issuer"], check=True, capture_output=True)

    def token(self, sub=SUBJECT, iss=ISSUER, aud="api://AzureADTokenExchange", exp_in=600):
        now = int(time.time())
        head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
        body = b64(json.dumps({"iss": iss, "sub": sub, "aud": aud, "iat": now, "nbf": now - 5,
                               "exp": now + exp_in}).encode())
        msg = (head + "." + body).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=msg, capture_output=True,
                             check=True).stdout
        return head + "." + body + "." + b64(sig)


def federated_app(c, issuer):
    c.emu.control("/apps", {
        "tenant": TENANT, "client_id": FCID, "name": "iocsync-federated", "roles": ["Ti.ReadWrite.All"],
        "federated": {"issuer": ISSUER, "subject": SUBJECT, "certificate_pem": open(issuer.crt).read()}})


def write(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


@test
def a_federated_sync_with_no_secret_anywhere(c):
    issuer = Issuer(c.dir)
    federated_app(c, issuer)
    tok = os.path.join(c.dir, "token")
    write(tok, issuer.token())
    os.chmod(tok, 0o644)  # a projected token is readable by others: accepted
    c.feed("bad", ips(5))
    c.mde.update({"client_secret_file": None, "client_id": FCID, "federated_token_file": tok})
    p = c.run("sync")
    got = sorted(x["indicatorValue"] for x in c.emu.indicators() if x.get("createdBy") == FCID)
    assert got == sorted(ips(5)), got
    conf = open(c.conf()).read()
    assert not any(l.startswith(("client_secret", "certificate")) for l in conf.splitlines()), conf
    p = c.run("doctor", expect=None)
    assert "no secret: a federated token from" in p.stdout, p.stdout
    # The file is read again for each token: a rotated token is taken.
    write(tok, issuer.token(exp_in=900))
    c.feed("bad", ips(6))
    c.run("sync")
    os.unlink(tok)  # (the suite searches every file for tokens)


@test
def an_untrusted_subject_an_expired_token_and_a_forged_one_are_refused(c):
    issuer = Issuer(c.dir)
    federated_app(c, issuer)
    tok = os.path.join(c.dir, "token")
    c.feed("bad", ips(3))
    c.mde.update({"client_secret_file": None, "client_id": FCID, "federated_token_file": tok})
    write(tok, issuer.token(sub="repo:someone-else/fork:pull_request"))
    p = c.run("sync", expect=1)
    assert "AADSTS70021" in p.stderr and "no federated credential trusting this token's issuer" in p.stderr, p.stderr
    write(tok, issuer.token(aud="api://SomethingElse"))
    p = c.run("sync", expect=1)
    assert "AADSTS70021" in p.stderr, p.stderr
    write(tok, issuer.token(exp_in=-60))
    p = c.run("sync", expect=1)
    assert "federated_token_file" in p.stderr and "expired at" in p.stderr, p.stderr
    os.makedirs(c.dir + "-other")
    write(tok, Issuer(c.dir + "-other").token())  # signed by a key the app does not trust
    p = c.run("sync", expect=1)
    assert "AADSTS700027" in p.stderr, p.stderr
    os.unlink(tok)
    p = c.run("sync", expect=2)
    assert "federated_token_file" in p.stderr and "not a readable file" in p.stderr, p.stderr
    assert [x for x in c.emu.indicators() if x.get("createdBy") == FCID] == []


@test
def workload_identity_from_the_environment(c):
    """AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID, as a
    Kubernetes pod with workload identity (or a CI job) sets them."""
    issuer = Issuer(c.dir)
    federated_app(c, issuer)
    tok = os.path.join(c.dir, "token")
    write(tok, issuer.token())
    c.feed("bad", ips(2))
    c.mde.update({"client_secret_file": None, "client_id": None, "tenant_id": None})
    conf = c.conf()
    with open(conf) as f:
        text = f.read().replace("tenant_id = %s\n" % TENANT, "")
    with open(conf, "w") as f:
        f.write(text)
    env = dict(os.environ, AZURE_FEDERATED_TOKEN_FILE=tok, AZURE_CLIENT_ID=FCID, AZURE_TENANT_ID=TENANT)
    p = subprocess.run([*itest.WRAP, itest.IOCSYNC, "-c", conf, "sync"], capture_output=True, text=True, env=env,
                       timeout=300)
    itest.ARTIFACTS.append(("env sync", p.stdout + p.stderr))
    assert p.returncode == 0, p.stderr[-2000:]
    got = sorted(x["indicatorValue"] for x in c.emu.indicators() if x.get("createdBy") == FCID)
    assert got == sorted(ips(2)), got
    os.unlink(tok)


sys.exit(itest.main())
