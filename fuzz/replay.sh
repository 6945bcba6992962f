#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Deterministic fuzz regression for CI: builds the libFuzzer targets (clang,
# ASan+UBSan, every finding fatal) and runs each once over its seed corpus
# and its saved reproducers (fuzz/crashes/<target>/). No random search, so
# the result does not depend on luck; fuzz/run.sh is for searching.
# Prints "fuzz: N passed, N failed" (one per target) and exits non-zero on
# any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${FUZZ_BUILD:-build/fuzz-replay}
case $build in /*) ;; *) build=$root/$build ;; esac
targets=(fuzz_config_yaml fuzz_config_args fuzz_uds_connect fuzz_vring fuzz_vu_msg
	fuzz_vsock_tx fuzz_log_env fuzz_conn fuzz_msgbuf)

if [ ! -f "$build/build.ninja" ]; then
	mkdir -p "$(dirname "$build")"
	CC=clang meson setup "$build" -Dwerror=true -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; echo "fuzz: 0 passed, ${#targets[@]} failed"; exit 1; }
fi
ninja -C "$build" >"$build.ninja.log" 2>&1 ||
	{ cat "$build.ninja.log"; echo "fuzz: 0 passed, ${#targets[@]} failed"; exit 1; }

passed=0
failed=0
for t in "${targets[@]}"; do
	inputs=("$root/fuzz/corpus/$t")
	[ -d "$root/fuzz/crashes/$t" ] && inputs+=("$root/fuzz/crashes/$t")
	log=$build/$t.replay.log
	# -runs=0: execute every input once; paths are absolute because
	# fuzz_config_args changes directory at start-up.
	if timeout 120 "$build/fuzz/$t" -runs=0 -timeout=10 "${inputs[@]}" >"$log" 2>&1; then
		n=$(sed -n 's/.*INITED.* corp: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
		echo "ok   $t (${n:-?} inputs)"
		passed=$((passed + 1))
	else
		echo "FAIL $t (log: $log)"
		tail -n 30 "$log"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
