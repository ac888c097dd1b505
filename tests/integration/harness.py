"""Counted checks for the Python integration tests that are a list of
cases rather than scenarios (probe.py, taxii.py)."""
import sys


class Checks:
    def __init__(self):
        self.failed = []

    def check(self, name, cond, out=""):
        print("%s %s" % ("ok  " if cond else "FAIL", name), flush=True)
        if not cond:
            self.failed.append(name)
            print(out)

    def finish(self):
        print("%d failed" % len(self.failed))
        return 1 if self.failed else 0
