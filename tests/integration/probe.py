#!/usr/bin/env python3
"""iocsync probe on loopback (127.0.0.1 and ::1 only): TCP to a listener
(connected, answered), TCP to a closed port (refused), UDP to a listener
(the listener receives the payload and answers), UDP to a socket that
never answers (sent, no answer), UDP to a closed port (refused), IPv6, and
--listen printing what it received with the sender.
Usage: probe.py IOCSYNC"""
import os, socket, subprocess, sys, time

from harness import Checks

IOCSYNC = sys.argv[1]
WRAP = os.environ.get("IOCSYNC_WRAPPER", "").split()
checks = Checks()
check = checks.check


def probe(*args):
    p = subprocess.run([*WRAP, IOCSYNC, "probe", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET6, kind)
    s.bind(("::", 0))
    port = s.getsockname()[1]
    s.close()
    return port


port = free_port()
lst = subprocess.Popen([*WRAP, IOCSYNC, "probe", "--listen", str(port), "--count", "4"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
try:
    t = time.time() + 30
    while time.time() < t and lst.poll() is None:   # bound: a first connection gets in
        try:
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(0.1)
            c.connect(("127.0.0.1", port))
            c.close()
            break
        except OSError:
            time.sleep(0.05)
    # That connection counted as message 1. Three more: TCP, UDP, TCP over IPv6.
    rc, out = probe("127.0.0.1", str(port), "--tcp", "--payload", "hello tcp")
    check("tcp to a listener: connected and answered", rc == 0 and "connected in" in out and
          "answered with 18 bytes" in out and "TCP gets through" in out, out)
    rc, out = probe("127.0.0.1", str(port), "--udp", "--payload", "hello udp")
    check("udp to a listener: sent and answered", rc == 0 and "sent 9 bytes, answered" in out, out)
    rc, out = probe("::1", str(port), "--tcp", "--payload", "hello v6")
    check("tcp over IPv6 loopback", rc == 0 and "[::1]:%d" % port in out and "TCP gets through" in out, out)
    lout, lerr = lst.communicate(timeout=30)
    check("--listen printed each arrival with its sender", lst.returncode == 0 and
          'tcp from [::ffff:127.0.0.1]:' in lout and '"hello tcp"' in lout and
          'udp from [::ffff:127.0.0.1]:' in lout and '"hello udp"' in lout and
          'tcp from [::1]:' in lout and '"hello v6"' in lout, lout + lerr)
finally:
    if lst.poll() is None:
        lst.kill()

closed = free_port()
rc, out = probe("127.0.0.1", str(closed), "--tcp", "--timeout", "1")
check("tcp to a closed port: refused, exit 1", rc == 1 and "refused" in out, out)
rc, out = probe("127.0.0.1", str(free_port(socket.SOCK_DGRAM)), "--udp", "--timeout", "1")
check("udp to a closed port: refused (ICMP), exit 1", rc == 1 and "refused (ICMP port unreachable)" in out, out)
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
silent.bind(("127.0.0.1", 0))
rc, out = probe("127.0.0.1", str(silent.getsockname()[1]), "--udp", "--timeout", "0.5", "--payload", "anyone?")
got = silent.recv(100)
silent.close()
check("udp to nothing that answers: sent, no answer, exit 1", rc == 1 and "sent 7 bytes, no answer" in out and
      got == b"anyone?", out)
rc, out = probe("127.0.0.1", str(closed), "--count", "2", "--timeout", "1")
check("--count 2 --both: four tries", out.count("tcp 127.0.0.1") == 2 and out.count("udp 127.0.0.1") == 2, out)
rc, out = probe("127.0.0.1", "80", "--timeout", "0")
check("a zero timeout is a usage error (exit 2)", rc == 2, out)
rc, out = probe("127.0.0.1")
check("a missing port is a usage error", rc == 2 and "usage:" in out, out)
sys.exit(checks.finish())
