#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Sets up, builds and runs every test twice: a normal build and an
# ASan+UBSan build (all suites: unit, integration, e2e, bench smoke), then
# replays the fuzz corpora under clang's ASan+UBSan. Prints one final line
# "N passed, N failed" and exits non-zero on any failure.
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

rm -rf build/test build/test-asan build/fuzz-replay
mkdir -p build
echo "=== build and test: release build"
run build/test -Dbuildtype=debugoptimized || status=1
echo "=== build and test: ASan + UBSan build"
run build/test-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Db_lundef=false -Dc_args=-fno-sanitize-recover=all || status=1

echo "=== fuzz regression: every target once over its corpus and saved reproducers"
fuzz_out=$(bash fuzz/replay.sh 2>&1)
fuzz_rc=$?
echo "$fuzz_out"
[ $fuzz_rc -ne 0 ] && status=1
fuzz_counts=$(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' <<<"$fuzz_out" | tail -n 1)
if [ -z "$fuzz_counts" ]; then
	fuzz_counts="0 1" # it failed before it could count
fi
export VDV_EXTRA_COUNTS="$fuzz_counts"

# One summary over both builds, from meson's machine-readable logs, plus the
# fuzz regression's counts.
python3 - "$root/build/test" "$root/build/test-asan" <<'PY'
# Counts test cases, not just test programs: a cmocka program reports its
# cases ("[  PASSED  ] N test(s)."), a script may end with "N passed, N failed".
import json, os, re, sys
passed = failed = skipped = 0
cm_pass = re.compile(r"^\[  PASSED  \] (\d+) test")
cm_fail = re.compile(r"^\[  FAILED  \] (\d+) test")
plain = re.compile(r"(\d+) passed, (\d+) failed")
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1  # the build itself failed
        print(f"{d}: no test log (build failed)")
        continue
    for line in open(log):
        t = json.loads(line)
        r = t.get("result")
        out = ((t.get("stdout") or "") + "\n" + (t.get("stderr") or "")).splitlines()
        p = f = None
        for l in out:
            m = cm_pass.match(l)
            if m:
                p = (p or 0) + int(m.group(1))
            m = cm_fail.match(l)
            if m:
                f = (f or 0) + int(m.group(1))
        if p is None and f is None:
            for l in reversed(out):
                m = plain.search(l)
                if m:
                    p, f = int(m.group(1)), int(m.group(2))
                    break
        if r == "SKIP":
            skipped += 1
            continue
        ok = r in ("OK", "EXPECTEDFAIL")
        p, f = p or 0, f or 0
        if not ok and f == 0:
            f = 1  # crashed, timed out or failed without saying how
        if ok and p == 0 and f == 0:
            p = 1
        passed += p
        failed += f
        if not ok:
            print(f"FAILED: {os.path.basename(d)}: {t.get('name')} ({r})")
extra = os.environ.get("VDV_EXTRA_COUNTS", "").split()
if len(extra) == 2:
    passed += int(extra[0])
    failed += int(extra[1])
summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
sys.exit(1 if failed else 0)
PY
py=$?
[ $py -ne 0 ] && status=1
exit $status
