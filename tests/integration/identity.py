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


MCID = "66666666-6666-6666-6666-666666666666"


def managed_identity(c):
    keys = os.path.join(c.dir, "tokens")
    os.makedirs(keys, mode=0o700)
    c.emu.control("/apps", {"tenant": TENANT, "client_id": MCID, "name": "arc-server", "roles": ["Ti.ReadWrite.All"],
                            "managed_identity": True, "imds_key_dir": keys})
    c.mde.update({"client_secret_file": None, "client_id": MCID, "credential": "managed-identity",
                  "imds_url": c.emu.base + "/metadata/identity/oauth2/token", "imds_key_dir": keys})
    return keys


@test
def a_managed_identity_sync(c):
    """Azure Arc's challenge: a first request answered 401 naming a key
    file under imds_key_dir, a second with its content; no secret."""
    if os.geteuid() != 0:
        raise itest.Skip("SKIPPED loudly: the key file must be root's, and this test does not run as root")
    keys = managed_identity(c)
    c.feed("bad", ips(4))
    c.run("sync")
    got = sorted(x["indicatorValue"] for x in c.emu.indicators() if x.get("createdBy") == MCID)
    assert got == sorted(ips(4)), got
    p = c.run("doctor", expect=None)
    assert "no secret: the machine's managed identity at" in p.stdout, p.stdout
    # The keys it read are never shown.
    shown = "".join(t for _, t in itest.ARTIFACTS) + open(os.path.join(c.dir, "iocsync.log")).read()
    assert os.listdir(keys), "no challenge was made"
    for f in os.listdir(keys):
        key = open(os.path.join(keys, f)).read().strip()
        assert key and key not in shown, "a challenge key was shown"
        os.unlink(os.path.join(keys, f))


class Challenger(itest.Loopback):
    """A hostile identity endpoint on loopback: its 401 names a key file
    of the test's choosing."""

    def __init__(self, realm):
        import http.server
        me = self
        self.realm, self.auth = realm, []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                me.auth.append(self.headers.get("Authorization"))
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Basic realm=" + me.realm)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.serve(H)
        self.url = self.base + "/metadata/identity/oauth2/token"


@test
def a_challenge_key_outside_its_directory_or_open_to_others_is_never_read(c):
    if os.geteuid() != 0:
        raise itest.Skip("SKIPPED loudly: the key file must be root's, and this test does not run as root")
    keys = os.path.join(c.dir, "tokens")
    os.makedirs(keys, mode=0o700)
    outside = os.path.join(c.dir, "elsewhere.key")
    loose = os.path.join(keys, "loose.key")
    link = os.path.join(keys, "link.key")
    for f in (outside, loose):
        write(f, "NOT-TO-BE-SENT")
    os.chmod(outside, 0o600)
    os.chmod(loose, 0o666)
    os.symlink(outside, link)
    c.feed("bad", ips(1))
    cases = [(outside, "not a .key file in imds_key_dir"), (loose, "writable by root only"),
             (link, "not a .key file in imds_key_dir"), (os.path.join(keys, "..", "elsewhere.key"), "not a .key file"),
             (os.path.join(keys, "absent.key"), "not a .key file")]
    for realm, said in cases:
        ch = Challenger(realm)
        try:
            c.mde.update({"client_secret_file": None, "client_id": MCID, "credential": "managed-identity",
                          "imds_url": ch.url, "imds_key_dir": keys, "allow_http": "yes"})
            p = c.run("sync", expect=1)
            assert said in p.stderr, (realm, p.stderr[-1500:])
            assert ch.auth == [None], "a second request went out: %s" % ch.auth
            assert "NOT-TO-BE-SENT" not in p.stderr + p.stdout
        finally:
            ch.stop()
    c.mde["credential"] = "browser"
    p = c.run("config", expect=2)
    assert "the only one is managed-identity" in p.stderr, p.stderr


sys.exit(itest.main())
