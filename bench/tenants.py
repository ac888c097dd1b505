#!/usr/bin/env python3
"""Many tenants in one process: wall time for one tenant alone, then for
TENANTS tenants synced by one `iocsync sync`, against mde-emulator, in the
same run. MDE's limits are per tenant, so the second should take about as
long as the first, not TENANTS times as long (the sequential baseline,
printed beside it).

Each tenant gets 2,000 indicators (4 import batches) and iocsync runs with
rate_limit_percent = 10 (3 imports a minute instead of 30), so every run
waits once on the import window: the wait, not the machine, sets the time.
Then the same tenants are synced again (the daily run: every tenant lists
its 2,000 and changes nothing). The peak memory (VmHWM) of iocsync and of
mde-emulator is printed beside each figure. Targets (issue 21): the first
sync of 1,000 tenants within 1.3 x one tenant's time; iocsync at most
500 MB and mde-emulator at most 2 GB, in the first sync and the daily one.
Usage: bench/tenants.py path/to/iocsync path/to/mde-emulator [TENANTS]"""
import http.client, json, os, shutil, subprocess, sys, tempfile, time

IOCSYNC, EMU = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
K = int(sys.argv[3]) if len(sys.argv) > 3 else 10
N = 2000
work = tempfile.mkdtemp(prefix="iocsync-bench-tenants-")
emu = subprocess.Popen([EMU, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
base = emu.stdout.readline().split("listening on ")[1].strip()
port = int(base.rsplit(":", 1)[1])


def ctl(path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/_emulator" + path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()


try:
    sec = os.path.join(work, "secret")
    with open(sec, "w") as f:
        f.write("bench-secret\n")
    os.chmod(sec, 0o600)
    feed = os.path.join(work, "feed.txt")
    with open(feed, "w") as f:
        f.write("".join("45.%d.%d.%d\n" % (i // 62500, i // 250 % 250, 1 + i % 250) for i in range(N)))

    def conf(k):
        path = os.path.join(work, "c%d.conf" % k)
        with open(path, "w") as f:
            f.write("[mde]\ncloud = custom\napi_url = %s\nlogin_url = %s\nallow_http = yes\nrate_limit_percent = 10\n"
                    "[sync]\nstate = %s/s%d.db\nreserve = 0\n[feed \"f\"]\nurl = file://%s\ntype = ip\n"
                    % (base, base, work, k, feed))
            for t in range(k):
                tid = "00000000-0000-0000-0000-%012d" % (100 + t + 10 * k)
                cid = "11111111-1111-1111-1111-%012d" % (100 + t + 10 * k)
                ctl("/apps", {"tenant": tid, "client_id": cid, "secret": "bench-secret", "name": "b",
                              "roles": ["Ti.ReadWrite.All"]})
                f.write("[tenant \"t%d\"]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n" % (t, tid, cid, sec))
        return path

    cpu = {}

    def run(k, fresh=True):
        c = conf(k) if fresh else os.path.join(work, "c%d.conf" % k)
        with open(os.path.join(work, "out%d" % k), "w+") as out:
            t0 = time.time()
            p = subprocess.Popen([IOCSYNC, "-q", "-c", c, "sync"], stdout=out, stderr=subprocess.STDOUT)
            cpu0 = emu_cpu()
            _, status, ru = os.wait4(p.pid, 0)
            took = time.time() - t0
            out.seek(0)
            assert status == 0, out.read()[-4000:]
        cpu[k] = (ru.ru_utime + ru.ru_stime, emu_cpu() - cpu0)
        return took, ru.ru_maxrss / 1024.0

    def emu_peak():
        with open("/proc/%d/status" % emu.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0

    def emu_cpu():
        """The emulator's CPU seconds so far: it serves every tenant under one lock."""
        with open("/proc/%d/stat" % emu.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    one, one_rss = run(1)
    many, many_rss = run(K)
    many_emu, many_cpu = emu_peak(), cpu[K]
    again, again_rss = run(K, fresh=False)
    print("one tenant, %d indicators, first sync:   %6.1f s  iocsync peak %6.0f MB" % (N, one, one_rss))
    print("%d tenants in one process, first sync: %6.1f s  (%.2f x one tenant; target 1.3)  iocsync peak %6.0f MB"
          " (target 500)  mde-emulator peak %6.0f MB (target 2048)" % (K, many, many / one, many_rss, many_emu))
    print("   CPU: iocsync %.1f s, mde-emulator %.1f s (one lock: its CPU is a floor under the wall time)" % many_cpu)
    print("%d tenants again, nothing to change:   %6.1f s  iocsync peak %6.0f MB (target 500)  mde-emulator peak"
          " %6.0f MB (target 2048)" % (K, again, again_rss, emu_peak()))
    print("baseline, %d tenants one after another: %6.1f s  (measured one x %d)" % (K, one * K, K))
finally:
    emu.terminate()
    emu.wait()
    shutil.rmtree(work, ignore_errors=True)
