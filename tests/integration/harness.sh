# Sourced by the shell tests: a temporary directory $t (removed on exit),
# and counted checks. End a test with `finish`.
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # expect WHAT FILE PATTERN
	if grep -q -- "$3" "$2"; then ok; else ko "$1: no \"$3\" in:"; sed 's/^/  | /' "$2"; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
