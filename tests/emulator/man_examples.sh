#!/bin/sh
# Runs the EXAMPLES of docs/mde-emulator.1 as written (only the port is
# the one the emulator picked) against a fresh emulator, and checks what
# they print. Usage: man_examples.sh MDE-EMULATOR MANPAGE
set -eu
emu=$1 page=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
command -v curl >/dev/null || { echo "SKIPPED: curl is not installed"; exit 77; }
"$emu" --listen 127.0.0.1:0 >"$dir/ready" 2>"$dir/err" &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$dir/ready" && break; sleep 0.2; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/ready")
[ -n "$port" ] || { echo "FAIL: no ready line"; cat "$dir/err"; exit 1; }
# The literal blocks after EXAMPLES, mdoc escapes undone, minus the start line.
awk '/^\.Sh EXAMPLES/{on=1} /^\.Sh EXIT/{on=0} on && /^\.Ed/{lit=0} on && lit{print} on && /^\.Bd -literal/{lit=1}' "$page" |
	sed -e 's/\\e/\\/g' -e "s/8765/$port/g" | grep -v '^mde-emulator --listen' |
	sed -e "s#^mde-emulator #$emu #" >"$dir/examples.sh"
[ "$(wc -l <"$dir/examples.sh")" -gt 10 ] || { echo "FAIL: examples not found"; exit 1; }
sh -eu "$dir/examples.sh" >"$dir/out" 2>&1 || { echo "FAIL: the examples failed"; cat "$dir/out"; exit 1; }
fail=0
check() { grep -q "$1" "$dir/out" || { echo "FAIL: examples did not print $1"; fail=1; }; }
check '"id":"1"'
check '"value":\[{"id":"1"'
check '"sequence":2'
check '"list":{"2xx":1}'
check '"submit":{"2xx":1}'
check '"delete":{"2xx":1}'
check '"current":"type-value"'
check '^upsert-key  *type-value-action'

[ $fail = 0 ] || { cat "$dir/out"; exit 1; }
echo "ok: the man page examples run as written"
