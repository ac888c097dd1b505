#!/bin/sh
# The iocsync binary end to end on the repository's own sample feeds:
# check (text and JSON), config errors with file:line, feeds with a state
# store and a feed that turns into an HTML page (its snapshot is kept).
set -u
bin=$1 src=$2
. "$(dirname "$0")/harness.sh"

"$bin" --version >"$t/v" && expect version "$t/v" "^iocsync "
for v in check feeds config plan sync status list purge export report daemon doctor probe; do
	"$bin" $v --help >"$t/h" 2>&1 && expect "$v --help" "$t/h" "usage: iocsync"
done
"$bin" nosuchverb >/dev/null 2>&1; [ $? -eq 2 ] && ok || ko "unknown verb exit code"
# status and report share the --runs rule
"$bin" -c /dev/null status --runs 0 >"$t/r" 2>&1; [ $? -eq 2 ] && ok || ko "status --runs 0 exit"
expect "status runs" "$t/r" "iocsync status: --runs 0: too small"
"$bin" -c /dev/null report --html - --runs x >"$t/r" 2>&1; [ $? -eq 2 ] && ok || ko "report --runs x exit"
expect "report runs" "$t/r" "iocsync report: --runs x: not a number"

# check, text
"$bin" -c /dev/null check "$src/examples/feeds/c2-ips.txt" >"$t/c" 2>&1; rc=$?
[ $rc -eq 0 ] && ok || ko "check exit $rc"
expect "accepted" "$t/c" "^IpAddress	185.220.101.4	.*c2-ips.txt:4$"
expect "defanged" "$t/c" "^IpAddress	194.26.29.102	"
expect "ipv6 full" "$t/c" "^IpAddress	2a01:4f8:c17:b8f:0:0:0:2	"
expect "private" "$t/c" "c2-ips.txt:9: rejected (special-purpose)"
expect "resolver" "$t/c" "c2-ips.txt:11: rejected (allowlisted-builtin)"
expect "cidr" "$t/c" "c2-ips.txt:13: rejected (cidr)"
expect "summary" "$t/c" "accepted 5 (IpAddress 5), duplicates 1, rejected 7"
# A line longer than the printer's 4 KiB buffer comes out whole: a long
# path and the longest URL, accepted and rejected.
long=$t
for k in 0 1 2 3 4 5 6 7 8 9 10 11 12 13; do long="$long/$(printf '%0250d' $k)"; done
mkdir -p "$long"
path="$long/$(printf '%0200d' 3).txt"
url="http://evil-example.net/$(printf '%02000d' 7)"
printf '%s\n%s\n' "$url" "$url/../$(printf '%02100d' 8)" >"$path"
"$bin" -c /dev/null check "$path" >"$t/c" 2>&1
grep -qxF "Url	$url	$path:1" "$t/c" && ok || ko "long accepted line not whole"
grep -q "^$path:2: rejected (too-long): .*\.\.\.$" "$t/c" && ok || ko "long rejected line not whole"
# One file more than LIMIT_FEEDS (the merge's 16-bit feed index) is a usage error.
"$bin" -c /dev/null check $(yes /dev/null | head -n 65536) >"$t/c" 2>&1; rc=$?
[ $rc -eq 2 ] && ok || ko "too many files: exit $rc"
expect "too many files" "$t/c" "iocsync check: 65536 files: at most 65535 in one run (LIMIT_FEEDS)"

# check, JSON Lines
"$bin" -c /dev/null check --json "$src"/examples/feeds/* >"$t/j" 2>&1
expect "json accepted" "$t/j" '^{"type":"IpAddress","value":"185.220.101.4","source":".*c2-ips.txt:4"}$'
expect "json rejected" "$t/j" '"rejected":"special-purpose"'
expect "json summary" "$t/j" '^{"summary":{"files":\[{"name":'
"$bin" -c /dev/null check --json /nonexistent >"$t/n" 2>/dev/null; [ $? -eq 1 ] && ok || ko "missing file exit"

# config errors name file:line
printf '[sync]\nreserve = lots\n[feed "x"]\nurl = https://a.invalid/\ntype = ip\naction = block-and-remediate\n' >"$t/bad.conf"
"$bin" -c "$t/bad.conf" config --check >"$t/e" 2>&1; [ $? -eq 2 ] && ok || ko "bad config exit"
expect "config line" "$t/e" "bad.conf:2: reserve"
expect "config matrix" "$t/e" "bad.conf:6: feed \"x\": action BlockAndRemediate"

# feeds, with a store; then the feed turns into an HTML page
cp "$src/examples/feeds/c2-ips.txt" "$t/feed.txt"
cat >"$t/f.conf" <<CONF
[sync]
state = $t/state.db
[feed "one"]
url = file://$t/feed.txt
type = ip
CONF
"$bin" -c "$t/f.conf" feeds >"$t/f1" 2>&1; rc=$?
[ $rc -eq 0 ] && ok || ko "feeds exit $rc"
expect "feeds fresh" "$t/f1" "fetch file, snapshot fresh"
printf '<!DOCTYPE html><html><body>Login</body></html>\n' >"$t/feed.txt"
"$bin" -c "$t/f.conf" feeds >"$t/f2" 2>&1; rc=$?
[ $rc -eq 1 ] && ok || ko "html feed exit $rc"
expect "html error" "$t/f2" "an HTML page, not a feed"
expect "snapshot kept" "$t/f2" "keeping the last good snapshot"
expect "still counted" "$t/f2" "accepted 5"
: >"$t/feed.txt"
"$bin" -c "$t/f.conf" feeds >"$t/f3" 2>&1
expect "empty body" "$t/f3" "empty body where a list was expected"
printf '185.220.101.4\n' >"$t/feed.txt"
"$bin" -c "$t/f.conf" feeds >"$t/f4" 2>&1
expect "shrink" "$t/f4" "shrank from 5 to 1 indicators"

# the shipped example configuration is valid, and what config prints loads back
"$bin" -c "$src/packaging/iocsync.conf.example" config --check >"$t/x" 2>&1
expect "example config" "$t/x" "valid (1 feed)"
"$bin" -c "$src/packaging/iocsync.conf.example" config >"$t/x.conf" 2>/dev/null
"$bin" -c "$t/x.conf" config --check >"$t/x2" 2>&1
expect "dump loads back" "$t/x2" "valid (1 feed)"
# plan never exits 2 (changes pending) on an error
"$bin" -c "$t/bad.conf" plan >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] && ok || ko "plan with a bad config exits $rc, want 1"

# ...nor when the configuration loads but sync cannot start (no secret):
# plan says 1, sync a usage error
printf '185.220.101.4\n' >"$t/pf.txt"
cat >"$t/nosecret.conf" <<CONF
[mde]
tenant_id = 00000000-0000-0000-0000-000000000001
client_id = 11111111-1111-1111-1111-111111111111
cloud = custom
api_url = https://127.0.0.1:9
login_url = https://127.0.0.1:9
[sync]
state = $t/pf.db
[feed "f"]
url = file://$t/pf.txt
CONF
"$bin" -c "$t/nosecret.conf" plan >"$t/p" 2>&1; rc=$?
[ $rc -eq 1 ] && ok || ko "plan without a secret exits $rc, want 1"
expect "plan names the missing secret" "$t/p" "needs exactly one of client_secret_file"
"$bin" -c "$t/nosecret.conf" sync >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok || ko "sync without a secret exits $rc, want 2"

finish
