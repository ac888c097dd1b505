#!/bin/sh
# Feed parsing throughput and memory: `iocsync check` on a deterministic
# 10,000,000-line mixed feed, against dedup alone (awk '!seen[$0]++' and
# sort -u, no validation) on the same file in the same run.
# Usage: bench/parse.sh IOCSYNC [LINES]
set -eu
bin=$1 lines=${2:-10000000}
dir=$(cd "$(dirname "$0")" && pwd)
out="$dir/out"
mkdir -p "$out"
feed="$out/mixed-$lines.txt"
[ -s "$feed" ] || python3 "$dir/gen.py" "$lines" >"$feed"
awk=$(command -v mawk || command -v awk)
export LC_ALL=C
timeit() { # prints "seconds peak_kB"
	/usr/bin/time -f '%e %M' -o "$out/t" "$@" >/dev/null 2>"$out/err" || { cat "$out/err"; exit 1; }
	cat "$out/t"
}
echo "input: $feed ($(wc -l <"$feed") lines, $(du -h "$feed" | cut -f1))"
set -- $(timeit "$bin" -c /dev/null check "$feed"); ic=$1 im=$2
set -- $(timeit "$awk" '!seen[$0]++' "$feed"); aw=$1 am=$2
set -- $(timeit sort -u "$feed"); so=$1 sm=$2
python3 - "$lines" "$ic" "$im" "$aw" "$am" "$so" "$sm" "$awk" <<'PY'
import sys
n, ic, im, aw, am, so, sm, awk = sys.argv[1:]
n = int(n); ic, aw, so = float(ic), float(aw), float(so)
print("%-34s %8s %14s %10s" % ("", "seconds", "lines/s", "peak MB"))
print("%-34s %8.2f %14.0f %10.0f" % ("iocsync check (full validation)", ic, n / ic, int(im) / 1024))
print("%-34s %8.2f %14.0f %10.0f" % ("%s '!seen[$0]++' (dedup only)" % awk.split('/')[-1], aw, n / aw, int(am) / 1024))
print("%-34s %8.2f %14.0f %10.0f" % ("sort -u (dedup only)", so, n / so, int(sm) / 1024))
print("iocsync is %.1fx faster than awk (target 5x) and %.1fx faster than sort -u (target 3x)" % (aw / ic, so / ic))
PY
