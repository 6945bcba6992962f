#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for N
# seconds on its seed corpus, then prints one line per target.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     (default 60 s, every target)
#
# Environment: FUZZ_BUILD (build dir, default build-fuzz), FUZZ_WORK
# (growing corpora, default $FUZZ_BUILD/corpus-work; the seeds in
# fuzz/corpus/ are never modified), FUZZ_ARGS (extra libFuzzer flags).
# Crashes, leaks and timeouts are saved in fuzz/crashes/<target>/; the exit
# status is non-zero if any target found one. Misaligned accesses
# (-fsanitize=alignment) are reported without stopping the run (so that one
# known issue does not end every run at once) and also fail the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
all=(fuzz_config_yaml fuzz_config_args fuzz_uds_connect fuzz_vring fuzz_vu_msg
	fuzz_vsock_tx fuzz_log_env fuzz_conn fuzz_msgbuf)
targets=("${@:-${all[@]}}")
[ $# -eq 0 ] && targets=("${all[@]}")
build=${FUZZ_BUILD:-build-fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac
work=${FUZZ_WORK:-$build/corpus-work}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false \
		"-Dc_args=['-fno-sanitize-recover=all','-fsanitize-recover=alignment']" \
		>"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; exit 1; }
fi
# Serialised: two run.sh sharing a build dir must not relink a running target.
flock "$build/fuzz-run.lock" ninja -C "$build" >/dev/null ||
	{ flock "$build/fuzz-run.lock" ninja -C "$build"; exit 1; }

status=0
summary=()
for t in "${targets[@]}"; do
	bin=$build/fuzz/$t
	[ -x "$bin" ] || { echo "unknown target $t"; exit 2; }
	mkdir -p "$work/$t" "$root/fuzz/crashes/$t"
	log=$build/$t.log
	dict=()
	[ -f "$root/fuzz/dict/$t.dict" ] && dict=(-dict="$root/fuzz/dict/$t.dict")
	echo "=== $t: ${secs}s"
	# Paths are absolute: fuzz_config_args changes directory at start-up.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$root/fuzz/crashes/$t/" \
		"${dict[@]}" ${FUZZ_ARGS:-} "$work/$t" "$root/fuzz/corpus/$t" \
		>"$log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	ub=$(grep -c 'runtime error:' "$log")
	if [ $rc -eq 0 ] && [ "$ub" -eq 0 ]; then
		res=ok
	elif [ $rc -eq 0 ]; then
		res="UB ($ub recovered reports, see $log)"
		status=1
		grep -A2 'runtime error:' "$log" | head -n 12
	else
		res="FAILED (rc $rc, see $log)"
		status=1
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant violated|fd leak|artifact_prefix|Test unit written)' \
			"$log" | head -n 8
	fi
	summary+=("$(printf '%-18s %6ss  runs %-10s cov %-6s ft %-6s corpus %-12s %s' \
		"$t" "$secs" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$res")")
done
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
