#!/bin/sh
# Runs every fuzz target for SECONDS each, seeded from the repository's
# sample feeds and, when present, ../shared/feeds; prints execs and
# findings per target.
set -u
build=$1 secs=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for t in feed config; do
	corpus="$build/corpus-$t"
	mkdir -p "$corpus" "$build/crashes-$t"
	if [ "$t" = feed ]; then
		for f in "$here"/examples/feeds/* "$here"/../shared/feeds/*/*; do
			[ -f "$f" ] || continue
			[ "$(stat -c %s "$f")" -lt 200000 ] || continue
			{ printf '\000'; cat "$f"; } >"$corpus/$(basename "$f")"
		done
	else
		cp "$here"/examples/demo.conf "$corpus/" 2>/dev/null
	fi
	"$build/fuzz_$t" -max_total_time="$secs" -artifact_prefix="$build/crashes-$t/" \
		-print_final_stats=1 "$corpus" >"$build/fuzz-$t.log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz-$t.log" | grep -o '[0-9]*$')
	found=$(ls "$build/crashes-$t" | wc -l)
	echo "fuzz_$t: ${execs:-?} execs in ${secs}s, $found finding(s), exit $rc"
	[ "$rc" -eq 0 ] && [ "$found" -eq 0 ] || status=1
done
exit $status
