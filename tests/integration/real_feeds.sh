#!/bin/sh
# iocsync check over every file of ../shared/feeds: finishes, sensible
# output, and under valgrind (when present) no error and no leak.
set -u
bin=$1 feeds=$2
if [ ! -r "$feeds/SOURCES.md" ]; then
	case "${CI:-}" in
	true | TRUE | True | 1)
		echo "FAILED: $feeds is absent or unreadable, and CI=true: the real-feed CLI test must run" >&2
		exit 1
		;;
	esac
	echo "SKIPPED: $feeds is absent: the real-feed CLI test did not run" >&2
	exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files=$(find "$feeds" -type f ! -name SOURCES.md ! -name SHA256SUMS ! -name .gitattributes | sort)
# shellcheck disable=SC2086
"$bin" check --json $files >"$out/all.jsonl" 2>"$out/err"
rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc, want 1 (one file is malformed JSON)"; exit 1; }
grep -q 'pypi_backdoor.misp-event.MALFORMED.json: not valid JSON: line 37374' "$out/err" ||
	{ echo "FAIL: the malformed MISP file was not reported with its place"; cat "$out/err"; exit 1; }
distinct=$(tail -n 1 "$out/all.jsonl" | sed 's/.*"distinct": *\([0-9]*\).*/\1/')
[ "$distinct" -gt 1000000 ] || { echo "FAIL: only $distinct distinct indicators"; exit 1; }
echo "check over all feeds: $distinct distinct indicators"
if command -v valgrind >/dev/null 2>&1 && [ -z "${IOCSYNC_NO_VALGRIND:-}" ]; then
	# shellcheck disable=SC2086
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
		"$bin" check -s $files >/dev/null 2>"$out/vg"
	vrc=$?
	if [ "$vrc" -eq 99 ] || grep -q '==[0-9]*==' "$out/vg"; then
		echo "FAIL: valgrind"; cat "$out/vg"; exit 1
	fi
	echo "valgrind: no error, no leak"
fi
echo "1 passed, 0 failed"
