#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Sets up, builds and runs every test twice: a normal build (all suites) and
# an ASan+UBSan build (unit, integration and end-to-end suites). Prints one
# final line "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

status=0
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

rm -rf build/test build/test-asan
mkdir -p build
echo "=== build and test: release build"
run build/test -Dbuildtype=debugoptimized || status=1
echo "=== build and test: ASan + UBSan build"
run build/test-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Db_lundef=false -Dc_args=-fno-sanitize-recover=all || status=1

# One summary over both builds, from meson's machine-readable logs.
python3 - "$root/build/test" "$root/build/test-asan" <<'PY'
import json, os, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1  # the build itself failed
        print(f"{d}: no test log (build failed)")
        continue
    for line in open(log):
        t = json.loads(line)
        r = t.get("result")
        if r == "OK" or r == "EXPECTEDFAIL":
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED: {os.path.basename(d)}: {t.get('name')} ({r})")
summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
sys.exit(1 if failed else 0)
PY
py=$?
[ $py -ne 0 ] && status=1
exit $status
