#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Sets up, builds and runs every test twice: a normal build and an
# ASan+UBSan build (all suites: unit, integration, e2e, bench smoke), then
# replays the fuzz corpora under clang's ASan+UBSan. Prints one line per
# part and a final total (scripts/summarize.py):
#   release: N passed, N failed, N skipped
#   asan+ubsan: N passed, N failed, N skipped
#   fuzz-replay: N passed, N failed, N skipped
#   total: N passed, N failed, N skipped
# and exits non-zero on any failure. With CI=true a skipped test is a
# failure unless tests/optional-skips.txt allows it.
# No "set -e": a failing build must not stop the other parts or the summary.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

bash scripts/setup.sh || { echo "total: 0 passed, 1 failed, 0 skipped"; exit 1; }

run() {
	local dir=$1; shift
	local opts=("$@")
	if [ ! -d "$dir" ]; then
		meson setup "$dir" "${opts[@]}" >"$dir.setup.log" 2>&1 ||
			{ cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" || return 1
	meson test -C "$dir" --print-errorlogs --num-processes 2 || return 1
}

rm -rf build/test build/test-asan build/fuzz-replay build/fuzz-replay.out
mkdir -p build
echo "=== build and test: release build"
# Warnings are errors in development and CI builds (meson.build leaves
# werror off for distribution builds with other compilers).
run build/test -Dbuildtype=debugoptimized -Dwerror=true
release_rc=$?
echo "=== build and test: ASan + UBSan build"
run build/test-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Db_lundef=false -Dc_args=-fno-sanitize-recover=all
asan_rc=$?

echo "=== fuzz regression: every target once over its corpus and saved reproducers"
bash fuzz/replay.sh 2>&1 | tee build/fuzz-replay.out
fuzz_rc=${PIPESTATUS[0]}

echo "=== summary"
# Per part from meson's machine-readable logs and the replay's count line;
# each part's exit status too, so that a step that failed without a failed
# test case still counts as a failure.
python3 scripts/summarize.py --allowlist tests/optional-skips.txt \
	--meson release "$root/build/test" "$release_rc" \
	--meson asan+ubsan "$root/build/test-asan" "$asan_rc" \
	--script fuzz-replay "$root/build/fuzz-replay.out" "$fuzz_rc"
rc=$?
if [ $rc -gt 1 ]; then
	# summarize.py itself broke: there are no counts to trust.
	echo "scripts/summarize.py failed (exit $rc)"
	echo "total: 0 passed, 1 failed, 0 skipped"
fi
[ "$rc" -eq 0 ] && [ "$release_rc" -eq 0 ] && [ "$asan_rc" -eq 0 ] && [ "$fuzz_rc" -eq 0 ]
