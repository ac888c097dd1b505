#!/bin/sh
# Runs every fuzz target for SECONDS each, seeded from the repository's
# sample feeds and, when present, ../shared/feeds; prints execs and
# findings per target.
set -u
build=$1 secs=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for t in feed config odata emu_request; do
	corpus="$build/corpus-$t"
	mkdir -p "$corpus" "$build/crashes-$t"
	if [ "$t" = feed ]; then
		for f in "$here"/examples/feeds/* "$here"/../shared/feeds/*/*; do
			[ -f "$f" ] || continue
			[ "$(stat -c %s "$f")" -lt 200000 ] || continue
			{ printf '\000'; cat "$f"; } >"$corpus/$(basename "$f")"
		done
	elif [ "$t" = config ]; then
		cp "$here"/examples/demo.conf "$corpus/" 2>/dev/null
	elif [ "$t" = odata ]; then
		printf "%s" "indicatorValue eq '45.1.2.3'" >"$corpus/eq"
		printf "%s" "not (generateAlert eq true) and (startswith(title,'t') or expirationTime gt 2026-01-01T00:00:00Z)" >"$corpus/mix"
		printf "%s" "title eq 'it''s' or expirationTime eq null" >"$corpus/quote"
	else
		i=0
		for body in '{"indicatorValue":"45.1.2.3","indicatorType":"IpAddress","action":"Block","title":"t","description":"d"}' \
			'{"Indicators":[{"indicatorValue":"evil.com","indicatorType":"DomainName","action":"Audit","generateAlert":true,"title":"t","description":"d","expirationTime":"2099-01-01T00:00:00Z"}]}' \
			'{"IndicatorIds":["1","2"]}' '{"Query":"DeviceTvmSecureConfigurationAssessment scid-96"}' \
			'grant_type=client_credentials&client_id=11111111-1111-1111-1111-111111111111&client_secret=x&resource=r' \
			'{"indicators":[{"tenant":"t","indicator":{"id":"5","indicatorValue":"v","indicatorType":"IpAddress","action":"Block","createdBy":"c"}}]}' \
			'{"sequence":[429,0]}'; do
			{ printf "\\$(printf %03o $i)"; printf "%s" "$body"; } >"$corpus/seed$i"
			i=$((i + 1))
		done
	fi
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -artifact_prefix="$build/crashes-$t/" \
		-print_final_stats=1 "$corpus" >"$build/fuzz-$t.log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz-$t.log" | grep -o '[0-9]*$')
	found=$(ls "$build/crashes-$t" | wc -l)
	echo "fuzz_$t: ${execs:-?} execs in ${secs}s, $found finding(s), exit $rc"
	[ "$rc" -eq 0 ] && [ "$found" -eq 0 ] || status=1
done
exit $status
