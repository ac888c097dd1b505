#!/bin/sh
# Usage: tests/fuzz/run.sh BUILD SECONDS [TARGET...]
#
# Runs every fuzz target (or those named) for SECONDS each, FUZZ_JOBS at a
# time (default 2), each from its corpus in BUILD/corpus-T, which grows
# from run to run and is seeded from tests/fuzz/seeds/T, the sample feeds
# and, when present, ../shared/feeds. Prints one row per target: execs,
# execs per second, corpus, coverage and findings. A finding (crash,
# leak, timeout, out of memory) is kept in BUILD/crashes-T and replayed
# once so its report shows here; it stays a finding until it is removed,
# so fix it, keep it as a unit test, then delete it. Exit 1 on any finding.
set -u
build=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")/../.." && pwd)
seeds=$here/tests/fuzz/seeds
jobs=${FUZZ_JOBS:-2}
targets=${*:-feed canon config mde taxii odata emu_request}

seed() { # target corpus
	t=$1 corpus=$2
	[ -d "$seeds/$t" ] && cp "$seeds/$t"/* "$corpus/" 2>/dev/null
	case $t in
	feed)
		# the first byte picks the format; 0 sniffs
		for f in "$here"/examples/feeds/* "$here"/../shared/feeds/*/*; do
			[ -f "$f" ] || continue
			[ "$(stat -c %s "$f")" -lt 200000 ] || continue
			{ printf '\000'; cat "$f"; } >"$corpus/$(basename "$f")"
		done
		;;
	config)
		cp "$here"/examples/*.conf "$here"/packaging/*.conf.example "$corpus/" 2>/dev/null
		;;
	canon)
		# one value per line of the sample feeds, every option byte 0
		for f in "$here"/examples/feeds/*; do
			[ -f "$f" ] || continue
			head -c 20000 "$f" | grep -v '^#' | head -200 | while IFS= read -r line; do
				printf '\000%s' "$line" >"$corpus/$(printf '%s' "$line" | md5sum | cut -c1-16)"
			done
		done
		;;
	odata)
		printf "%s" "indicatorValue eq '45.1.2.3'" >"$corpus/eq"
		printf "%s" "not (generateAlert eq true) and (startswith(title,'t') or expirationTime gt 2026-01-01T00:00:00Z)" >"$corpus/mix"
		printf "%s" "title eq 'it''s' or expirationTime eq null" >"$corpus/quote"
		;;
	emu_request)
		# the first byte picks the endpoint
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
		;;
	esac
}

options() { # target: the length each input may reach
	case $1 in
	canon) echo "-max_len=2300" ;;   # past MDE's 2048-byte value limit
	mde | taxii) echo "-max_len=32768" ;;
	config) echo "-max_len=16384" ;;
	*) echo "" ;;
	esac
}

run_one() {
	t=$1
	corpus="$build/corpus-$t" crashes="$build/crashes-$t"
	mkdir -p "$corpus" "$crashes"
	seed "$t" "$corpus"
	# the targets' own files (in memory when /dev/shm is there: fuzz_mde
	# writes a state for every input); a finding ends a target before its
	# own cleanup
	tmp=$(mktemp -d /dev/shm/iocsync-fuzz-$t.XXXXXX 2>/dev/null || mktemp -d "$build/tmp-$t.XXXXXX")
	# shellcheck disable=SC2046
	TMPDIR=$tmp "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -artifact_prefix="$crashes/" -print_final_stats=1 \
		-timeout=25 -rss_limit_mb=2048 $(options "$t") "$corpus" >"$build/fuzz-$t.log" 2>&1
	echo $? >"$build/fuzz-$t.rc"
	rm -rf "$tmp"
}

if [ ! -x "$build/tests/fuzz/fuzz_feed" ]; then
	echo "fuzz: no targets in $build/tests/fuzz (build with -DIOCSYNC_FUZZ=ON and clang)" >&2
	exit 1
fi
echo "fuzz: $(echo "$targets" | wc -w) targets, ${secs} s each, $jobs at a time"
# jobs lanes, each running its share of the targets one after the other
# (POSIX sh has no wait -n)
lane=0
while [ "$lane" -lt "$jobs" ]; do
	(
		k=0
		for t in $targets; do
			[ $((k % jobs)) -eq "$lane" ] && run_one "$t"
			k=$((k + 1))
		done
	) &
	lane=$((lane + 1))
done
wait

status=0
printf '%-17s %12s %9s %8s %7s %9s\n' target execs exec/s corpus cov findings
for t in $targets; do
	log="$build/fuzz-$t.log"
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
	corp=$(find "$build/corpus-$t" -type f | wc -l)
	found=$(find "$build/crashes-$t" -type f | wc -l)
	rc=$(cat "$build/fuzz-$t.rc" 2>/dev/null || echo '?')
	printf '%-17s %12s %9s %8s %7s %9s\n' "fuzz_$t" "${execs:-?}" "${rate:-?}" "$corp" "${cov:-?}" "$found"
	if [ "$found" -ne 0 ] || [ "$rc" != 0 ]; then
		status=1
		for f in "$build/crashes-$t"/*; do
			[ -f "$f" ] || continue
			echo "--- fuzz_$t: $f"
			"$build/tests/fuzz/fuzz_$t" -runs=1 "$f" 2>&1 | grep -v '^INFO:' | head -40
		done
		[ "$found" -ne 0 ] || tail -20 "$log"
	fi
done
exit $status
