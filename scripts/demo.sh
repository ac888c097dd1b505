#!/bin/sh
# make demo: the main job, end to end, on the bundled emulator and sample
# feeds. Starts mde-emulator on a free loopback port, points a copy of
# examples/demo.conf at it, runs plan, sync, sync again, status and list,
# and stops the emulator whatever happens.
# Usage: scripts/demo.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$build/demo
rm -rf "$dir"
mkdir -p "$dir"

"$build/mde-emulator" --listen 127.0.0.1:0 >"$dir/emulator.out" 2>"$dir/emulator.log" &
emu=$!
trap 'kill $emu 2>/dev/null; wait $emu 2>/dev/null || true' EXIT INT TERM
i=0
until grep -q 'listening on' "$dir/emulator.out" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "demo: mde-emulator did not start:" >&2
		cat "$dir/emulator.log" >&2
		exit 1
	fi
	sleep 0.05
done
url=$(sed -n 's/.*listening on //p' "$dir/emulator.out")

# The emulator's demo identity; the secret sits in a file only we may read.
umask 077
printf 'emulator-secret\n' >"$dir/client-secret"
sed -e "s|@EXAMPLES@|$top/examples|g" -e "s|@BUILD@|$dir|g" -e "s|@SECRET@|$dir/client-secret|g" \
	-e "s|@URL@|$url|g" "$top/examples/demo.conf" >"$dir/demo.conf"
conf=$dir/demo.conf
run() {
	echo
	echo "== iocsync -c $conf $*"
	"$build/iocsync" -c "$conf" "$@"
}
echo "== mde-emulator at $url (tenant 00000000-0000-0000-0000-000000000001)"
run check "$top/examples/feeds/c2-ips.txt" || true
run plan || [ $? -eq 2 ]        # 2: changes pending, as expected on an empty tenant
run sync
echo; echo "(again: nothing changed, so no write call)"
run sync
run status
run list
