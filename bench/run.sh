#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
#
# Runs the benchmark suite: builds the daemon and vdv-bench with
# buildtype=release, runs every scenario against the daemon and the AF_UNIX
# baseline, and leaves a table (stdout and results.txt), results.json and
# throughput.png (gnuplot) in the results directory.
#
#   bash bench/run.sh [vdv-bench options...]
#   bash bench/run.sh --compare /path/to/other/vhost-device-vsock
#   bash bench/run.sh --daemon /path/to/rust-vmm/vhost-device-vsock
#
# Environment: VDV_BENCH_BUILD (build dir, default build-bench),
# VDV_BENCH_OUT (results dir, default $VDV_BENCH_BUILD/results/<date>).
set -euo pipefail

cd "$(dirname "$0")/.."
build=${VDV_BENCH_BUILD:-build-bench}
out=${VDV_BENCH_OUT:-$build/results/$(date +%Y%m%d-%H%M%S)}

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "run.sh: installing gnuplot-nox for the chart" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if ! { $sudo apt-get update -qq && \
	       DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gnuplot-nox; } >&2; then
		echo "run.sh: could not install gnuplot-nox; no chart this time" >&2
	fi
fi

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release >/dev/null
else
	meson configure "$build" -Dbuildtype=release >/dev/null
fi
ninja -C "$build" bench/vdv-bench src/vhost-device-vsock >/dev/null

mkdir -p "$out"
# The built daemon is the default; a --daemon given on our command line
# comes later and wins.
status=0
"$build/bench/vdv-bench" --daemon "$build/src/vhost-device-vsock" \
	--json "$out/results.json" --dat "$out/throughput.dat" "$@" \
	| tee "$out/results.txt" || status=$?

if command -v gnuplot >/dev/null 2>&1 && [ -s "$out/throughput.dat" ]; then
	compare=0
	grep -q 'B_g2h' "$out/throughput.dat" && compare=1
	gnuplot -e "datafile='$out/throughput.dat'; outfile='$out/throughput.png'; compare=$compare" \
		bench/throughput.gp
	echo "chart: $out/throughput.png"
fi
echo "results: $out/results.txt, $out/results.json"
exit "$status"
