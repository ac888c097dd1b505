#!/bin/sh
# plan's memory on a big feed: iocsync plan against a local mde-emulator,
# one feed of about 228 MB (9,000,000 mixed lines of bench/gen.py), peak
# resident memory and wall time; and, in the same run, sort -u of the
# same file as the reference. Target: within 2 GB (issue 19: such a feed
# once made plan take 7 GB).
# Usage: bench/plan_memory.sh IOCSYNC MDE-EMULATOR [LINES]
set -eu
bin=$(realpath "$1") emu=$(realpath "$2") lines=${3:-9000000}
dir=$(cd "$(dirname "$0")" && pwd)
out="$dir/out"
mkdir -p "$out"
feed="$out/mixed-$lines.txt"
[ -s "$feed" ] || python3 "$dir/gen.py" "$lines" >"$feed"
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$emu" --listen 127.0.0.1:0 --no-rate-limits >"$work/ready" 2>/dev/null &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$work/ready" && break; sleep 0.2; done
base=$(sed -n 's/.*listening on //p' "$work/ready")
printf 'emulator-secret\n' >"$work/secret"
chmod 600 "$work/secret"
cat >"$work/iocsync.conf" <<EOF
[mde]
tenant_id = 00000000-0000-0000-0000-000000000001
client_id = 11111111-1111-1111-1111-111111111111
client_secret_file = $work/secret
cloud = custom
api_url = $base
login_url = $base
allow_http = yes
[sync]
state = $work/state.db
[feed "big"]
url = file://$feed
max_bytes = 1000000000
EOF
echo "input: $feed ($(wc -l <"$feed") lines, $(du -h "$feed" | cut -f1))"
# plan exits 2 (changes pending): that is its success here.
/usr/bin/time -f '%e %M' -o "$work/t" "$bin" -c "$work/iocsync.conf" plan >/dev/null 2>"$work/err" ||
	[ $? -eq 2 ] || { cat "$work/err"; exit 1; }
read -r secs kb <<EOF
$(tail -1 "$work/t")
EOF
LC_ALL=C /usr/bin/time -f '%e %M' -o "$work/s" sort -u "$feed" >/dev/null
read -r ssecs skb <"$work/s"
mb=$((kb / 1024))
echo "iocsync plan:  peak $mb MB, $secs s"
echo "sort -u (reference, no validation, no plan): peak $((skb / 1024)) MB, $ssecs s"
if [ "$mb" -le 2048 ]; then verdict=met; else verdict=MISSED; fi
echo "target: plan's peak within 2048 MB: $verdict ($mb MB)"
