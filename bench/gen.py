#!/usr/bin/env python3
"""Deterministic generator of a mixed feed for bench/parse.sh: IPv4, IPv6,
domains, URLs, hashes, comments, defanged entries, ~5% invalid lines and
~30% repeats. Usage: gen.py LINES > file"""
import random, sys

n = int(sys.argv[1])
r = random.Random(20261123)
tlds = ["com", "net", "org", "ru", "xyz", "top", "info", "io", "de", "cn"]
words = ["update", "secure", "login", "cdn", "mail", "portal", "check", "drop", "panel", "api"]
out = sys.stdout
seen = []
def ipv4():
    return "%d.%d.%d.%d" % (r.choice([5, 23, 45, 62, 77, 91, 103, 141, 176, 185, 194, 212]),
                            r.randrange(256), r.randrange(256), r.randrange(1, 255))
def dom():
    return "%s-%s%d.%s" % (r.choice(words), r.choice(words), r.randrange(10**6), r.choice(tlds))
gens = [
    (30, ipv4),
    (5, lambda: "2a0%x:%x:%x::%x" % (r.randrange(1, 16), r.randrange(65536), r.randrange(65536), r.randrange(65536))),
    (25, dom),
    (15, lambda: "http%s://%s/%s/%d.php" % (r.choice(["", "s"]), dom(), r.choice(words), r.randrange(10**5))),
    (10, lambda: "%032x" % r.getrandbits(128)),
    (5, lambda: "%064x" % r.getrandbits(256)),
    (3, lambda: ipv4().replace(".", "[.]", 1)),
    (2, lambda: "hxxp://" + dom().replace(".", "[.]") + "/x"),
]
total = sum(w for w, _ in gens)
buf = []
for i in range(n):
    x = r.random()
    if x < 0.02:
        line = "# comment %d" % i
    elif x < 0.07:
        line = r.choice(["300.%d.1.1" % r.randrange(256), "not an indicator", "10.%d.0.1" % r.randrange(256),
                         "ftp://x.%s/" % r.choice(tlds), "%031x" % r.getrandbits(124)])
    elif x < 0.37 and seen:
        line = seen[r.randrange(len(seen))]
    else:
        k = r.randrange(total)
        for w, g in gens:
            if k < w:
                line = g()
                break
            k -= w
        if len(seen) < 1000000:
            seen.append(line)
        else:
            seen[r.randrange(len(seen))] = line
    buf.append(line)
    if len(buf) >= 100000:
        out.write("\n".join(buf) + "\n")
        buf = []
if buf:
    out.write("\n".join(buf) + "\n")
