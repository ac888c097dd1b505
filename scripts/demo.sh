#!/bin/sh
# make demo: the main job, end to end, on the bundled emulator and sample
# feeds, over TLS as in production. Makes a throwaway CA, starts
# mde-emulator and an HTTPS server for examples/feeds on free loopback
# ports, runs plan, sync, sync again, status, doctor and report, then changes a
# feed and syncs the change. Stops everything it started, whatever happens.
# Usage: scripts/demo.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$build/demo
rm -rf "$dir"
mkdir -p "$dir/feeds"
cd "$dir"
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m%s\033[0m\n' "$*" | { [ -n "${NO_COLOR:-}" ] || [ ! -t 1 ] && sed 's/\x1b\[[0-9;]*m//g' || cat; }; }
run() {
	echo "\$ iocsync $*"
	"$build/iocsync" -c "$dir/demo.conf" "$@"
}
wait_line() { # wait_line FILE PATTERN WHAT
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "demo: $3 did not start:" >&2
			cat "$1" "$1.err" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.05
	done
}

say "1. A throwaway certificate authority, and a certificate for 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj "/CN=iocsync demo CA" -days 1 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile san.ext \
	2>/dev/null
echo "   $dir/ca.pem (iocsync trusts it through ca_file; nothing else does)"

say "2. mde-emulator, a local Defender for Endpoint API, over HTTPS"
"$build/mde-emulator" --listen 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key >emulator.out 2>emulator.out.err &
pids="$pids $!"
wait_line emulator.out 'listening on' mde-emulator
url=$(sed -n 's/.*listening on //p' emulator.out)
echo "   $url, demo tenant 00000000-0000-0000-0000-000000000001, app 11111111-1111-1111-1111-111111111111"

say "3. The sample feeds on a web server, over HTTPS"
cp "$top"/examples/feeds/* feeds/
"$top/scripts/serve-https.py" feeds srv.pem srv.key >feeds.out 2>feeds.out.err &
pids="$pids $!"
wait_line feeds.out 'serving on' "the feed server"
feeds=$(sed -n 's/.*serving on //p' feeds.out)
echo "   $feeds/: c2-ips.txt (text), phishing.hosts, urls.csv, bundle.stix.json, hashes.misp.json"

# The app's secret sits in a file only we may read.
umask 077
printf 'emulator-secret\n' >client-secret
umask 022
sed -e "s|@EXAMPLES@|$top/examples|g" -e "s|@BUILD@|$dir|g" -e "s|@SECRET@|$dir/client-secret|g" \
	-e "s|@URL@|$url|g" -e "s|@FEEDS@|$feeds|g" -e "s|@CA@|$dir/ca.pem|g" "$top/examples/demo.conf" >demo.conf

say "4. plan: what sync would do. Each feed is fetched and read; rejected lines are counted by reason"
echo "   (private addresses, public resolvers, public suffixes...). Exit 2 means changes are pending."
run plan || [ $? -eq 2 ]

say "5. sync: the 14 indicators go to MDE in one import call (batches of 500)"
run sync

say "6. sync again: nothing changed, so MDE is listed and nothing is written"
run sync

say "7. status: what the state store knows, without calling MDE"
run status

say "8. The feed changes: two addresses leave c2-ips.txt, three arrive"
sleep 1 # HTTP dates have whole seconds: a change within the second of the last fetch would look unchanged
grep -v -e '^45\.9\.148\.3' -e '^194\.26\.29' feeds/c2-ips.txt >feeds/c2-ips.new
printf '91.92.109.17\n147.45.47.98\n2a0e:fd45:b4d::666\n' >>feeds/c2-ips.new
mv feeds/c2-ips.new feeds/c2-ips.txt
echo "   - 45.9.148.3, 194.26.29.102"
echo "   + 91.92.109.17, 147.45.47.98, 2a0e:fd45:b4d::666"
run sync
echo "   The three new ones are created. 45.9.148.3 left every feed: deleted (BatchDelete)."
echo "   194.26.29.102 left c2-ips but the STIX feed lists it too, so it stays, updated to that"
echo "   feed's title and description. Three write calls for all of it; nothing else touched."

say "9. doctor: can these blocks be enforced? Roles, device groups, network protection on the devices"
run doctor | grep -E '^(OK|WARN|FAIL) ' || true
echo "   (what it saw is kept in the state for the report's enforcement section)"

say "10. report: the state as one HTML page, with what a lead reads (enforcement, the last 7 and 30 days)"
run report --html "$dir/report.html"
echo "   open $dir/report.html in a browser (no script, no external resource)"

say "Done. What MDE holds now (iocsync list):"
run list
echo
echo "Everything is under $dir; the emulator and the feed server are stopped now."
