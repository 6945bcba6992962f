#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Self-test of scripts/summarize.py, the counting behind scripts/test.sh's
summary lines: fabricated meson testlog.json records (cmocka passes, fails
and skips, crashes, exit-77 skips, scripts with their own count lines) go
through the real command line, and the per-part lines, the total, the exit
status and the CI skip rule are checked. The cmocka fixture is run too, so
that the patterns match the cmocka installed here, not just copied text.

Usage: test_summary.py SUMMARIZE_PY [CMOCKA_FIXTURE_EXE]
Prints "ok NAME" / "FAIL NAME" per case and "summary: N passed, N failed".
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SUMMARIZE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "scripts", "summarize.py")
FIXTURE = sys.argv[2] if len(sys.argv) > 2 else None

# cmocka 1.1's output, split the way meson stores it: the case lines on
# stdout, the summary on stderr. meson names a test "project:suite / name"
# when it has a suite; the summary and the allowlist use the bare name.
CM_OK = {
    "name": "test_ok", "result": "OK", "returncode": 0,
    "stdout": "[==========] Running 3 test(s).\n[ RUN      ] a\n[       OK ] a\n"
              "[ RUN      ] b\n[       OK ] b\n[ RUN      ] c\n[       OK ] c\n"
              "[==========] 3 test(s) run.\n",
    "stderr": "[  PASSED  ] 3 test(s).\n",
}
CM_SKIP = {
    "name": "vhost-device-vsock:integration / test_scale", "result": "OK", "returncode": 0,
    "stdout": "[==========] Running 2 test(s).\n[ RUN      ] test_many\n[       OK ] test_many\n"
              "[ RUN      ] test_connection_limit\n"
              "RLIMIT_NOFILE hard limit 1024 too low for 1024 connections\n"
              "[  SKIPPED ] test_connection_limit\n[==========] 2 test(s) run.\n",
    "stderr": "[  PASSED  ] 1 test(s).\n[  SKIPPED ] 1 test(s), listed below:\n"
              "[  SKIPPED ] test_connection_limit\n\n 1 SKIPPED TEST(S)\n",
}
CM_FAIL = {
    "name": "test_bad", "result": "FAIL", "returncode": 1,
    "stdout": "[==========] Running 2 test(s).\n[ RUN      ] x\n[       OK ] x\n"
              "[ RUN      ] y\nERROR: boom\n[  FAILED  ] y\n[==========] 2 test(s) run.\n",
    "stderr": "[  ERROR   ] --- [   LINE   ] --- t.c:9: error: Failure!\n"
              "[  PASSED  ] 1 test(s).\n[  FAILED  ] 1 test(s), listed below:\n"
              "[  FAILED  ] y\n\n 1 FAILED TEST(S)\n",
}
CRASH = {  # killed half way: no cmocka summary, no count line
    "name": "test_crash", "result": "FAIL", "returncode": -11,
    "stdout": "[==========] Running 4 test(s).\n[ RUN      ] a\n", "stderr": "",
}
TIMEOUT = {"name": "test_slow", "result": "TIMEOUT", "returncode": -15,
           "stdout": "[ RUN      ] a\n"}
EXIT77 = {"name": "vhost-device-vsock:e2e / e2e-boot-cid", "result": "SKIP",
          "returncode": 77, "stdout": "",
          "stderr": "[e2e 10:00:00] cannot run: no kernel\n"
                    "[e2e 10:00:00] SKIP (VDV_E2E_ALLOW_SKIP=1): no kernel\n"}
SCRIPT = {"name": "e2e-forward", "result": "OK", "returncode": 0,
          "stdout": "ok readme\nSKIP startup_no_vsock: needs --module-checks\nok hairpin\n"
                    "PASS e2e-forward\nforward: 2 passed, 0 failed, 1 skipped\n"}
PLAIN_OK = {"name": "check_manpage", "result": "OK", "returncode": 0, "stdout": ""}
SCRIPT_FAIL = {"name": "e2e-stream", "result": "FAIL", "returncode": 1,
               "stdout": "stream: 7 passed, 2 failed\n"}
FAIL_NO_COUNT = {"name": "e2e-garbage", "result": "FAIL", "returncode": 1,
                 "stdout": "garbage: 3 passed, 0 failed\n"}  # says 0 failed, exits 1

LINE = re.compile(r"^([^\s:]+): (\d+) passed, (\d+) failed, (\d+) skipped$")

tmp = tempfile.mkdtemp(prefix="vdv-summary-")
atexit.register(shutil.rmtree, tmp, True)


def build_dir(name, records):
    """A fake meson build dir holding records as its testlog.json."""
    d = os.path.join(tmp, name)
    os.makedirs(os.path.join(d, "meson-logs"), exist_ok=True)
    with open(os.path.join(d, "meson-logs", "testlog.json"), "w") as fp:
        for r in records:
            fp.write(json.dumps(r) + "\n")
    return d


def text_file(name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as fp:
        fp.write(text)
    return p


def run(args, ci=None, allow=None):
    """Runs summarize.py; returns (exit, {label: (p, f, s)}, output)."""
    env = dict(os.environ)
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    cmd = [sys.executable, SUMMARIZE]
    if allow is not None:
        cmd += ["--allowlist", text_file("allow.txt", allow)]
    p = subprocess.run(cmd + args, env=env, capture_output=True, text=True, check=False)
    out = p.stdout + p.stderr
    counts = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if m:
            counts[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return p.returncode, counts, out


def expect(cond, what, out=""):
    if not cond:
        raise AssertionError(what + ("\n--- output:\n" + out if out else ""))


def last_line_is_total(out):
    lines = [l for l in out.splitlines() if l.strip()]
    return bool(lines) and lines[-1].startswith("total: ")


# ---- cases ----

def t_counts_per_case_and_part():
    rel = build_dir("rel", [CM_OK, CM_SKIP, CM_FAIL, CRASH, TIMEOUT, PLAIN_OK, SCRIPT,
                            SCRIPT_FAIL, FAIL_NO_COUNT])
    asan = build_dir("asan", [CM_OK])
    fz = text_file("fuzz.out", "ok   fuzz_vring (12 inputs)\nfuzz: 6 passed, 0 failed\n")
    rc, c, out = run(["--meson", "release", rel, "1", "--meson", "asan+ubsan", asan, "0",
                      "--script", "fuzz-replay", fz, "0"])
    # release: 3 + 1 + 1 + 0 + 0 + 1 + 2 + 7 + 3 passed; 0 + 0 + 1 + 1 + 1 +
    # 0 + 0 + 2 + 1 failed; the cmocka skip and the script's skip.
    expect(c.get("release") == (18, 6, 2), f"release {c.get('release')}", out)
    expect(c.get("asan+ubsan") == (3, 0, 0), f"asan {c.get('asan+ubsan')}", out)
    expect(c.get("fuzz-replay") == (6, 0, 0), f"fuzz {c.get('fuzz-replay')}", out)
    expect(c.get("total") == (27, 6, 2), f"total {c.get('total')}", out)
    expect(rc == 1, f"exit {rc}, want 1", out)
    expect(last_line_is_total(out), "last line is not the total", out)
    # Order: the parts, then the total.
    labels = [LINE.match(l).group(1) for l in out.splitlines() if LINE.match(l)]
    expect(labels == ["release", "asan+ubsan", "fuzz-replay", "total"], f"order {labels}", out)
    for want in ("test_bad/y", "test_crash (FAIL)", "test_slow (TIMEOUT)", "e2e-garbage (FAIL)"):
        expect(want in out, f"failure '{want}' not named", out)


def t_skip_reasons_printed():
    d = build_dir("reasons", [CM_SKIP, SCRIPT, EXIT77])
    rc, c, out = run(["--meson", "release", d, "0"])
    expect(rc == 0, f"skips alone fail outside CI (exit {rc})", out)
    expect(c.get("release") == (3, 0, 3), f"release {c.get('release')}", out)
    for want in ("test_scale/test_connection_limit: RLIMIT_NOFILE hard limit 1024 too low",
                 "e2e-forward/startup_no_vsock: needs --module-checks",
                 "e2e-boot-cid: [e2e 10:00:00] SKIP (VDV_E2E_ALLOW_SKIP=1): no kernel"):
        expect(want in out, f"skip reason '{want}' not printed", out)


def t_ci_skip_is_failure():
    d = build_dir("ci", [CM_OK, CM_SKIP, EXIT77])
    for ci in ("true", "1"):
        rc, c, out = run(["--meson", "release", d, "0"], ci=ci)
        expect(rc == 1, f"CI={ci}: skips must fail (exit {rc})", out)
        expect(c.get("release") == (4, 2, 0), f"CI={ci}: release {c.get('release')}", out)
        expect(c.get("total") == (4, 2, 0), f"CI={ci}: total {c.get('total')}", out)
        expect("not in the allowlist" in out, "CI failure not explained", out)
    rc, c, out = run(["--meson", "release", d, "0"], ci="false")
    expect(rc == 0 and c.get("release") == (4, 0, 2), f"CI=false: exit {rc} {c}", out)
    rc, c, out = run(["--no-ci", "--meson", "release", d, "0"], ci="true")
    expect(rc == 0, f"--no-ci overrides CI=true (exit {rc})", out)
    rc, c, out = run(["--ci", "--meson", "release", d, "0"])
    expect(rc == 1, f"--ci without CI=true (exit {rc})", out)


def t_ci_allowlist():
    d = build_dir("allow", [CM_OK, CM_SKIP, EXIT77])
    # A whole test and one case of another: both allowed, nothing fails.
    allow = ("# comment\n\ne2e-boot-cid: needs a guest kernel\n"
             "test_scale/test_connection_limit: hard fd limit\n")
    rc, c, out = run(["--meson", "release", d, "0"], ci="true", allow=allow)
    expect(rc == 0, f"allowed skips failed (exit {rc})", out)
    expect(c.get("release") == (4, 0, 2), f"release {c.get('release')}", out)
    expect("[allowed: hard fd limit]" in out, "allowed skip not shown with its reason", out)
    # Allowing another case of the same test does not allow this one.
    rc, c, out = run(["--meson", "release", d, "0"], ci="true",
                     allow="test_scale/test_other: x\ne2e-boot-cid: y\n")
    expect(rc == 1 and c.get("release") == (4, 1, 1), f"wrong case allowed: {rc} {c}", out)
    # The shipped allowlist parses (and CI still fails on these skips unless
    # someone listed them there on purpose).
    shipped = os.path.join(os.path.dirname(os.path.abspath(SUMMARIZE)), "..", "tests",
                           "optional-skips.txt")
    if os.path.exists(shipped):
        p = subprocess.run([sys.executable, SUMMARIZE, "--allowlist", shipped, "--no-ci",
                            "--meson", "release", d, "0"], capture_output=True, text=True,
                           check=False)
        expect(p.returncode == 0, f"tests/optional-skips.txt: exit {p.returncode}",
               p.stdout + p.stderr)


def t_allowlist_needs_reason():
    d = build_dir("noreason", [CM_OK])
    for bad in ("test_scale\n", "test_scale:\n", ": reason\n"):
        rc, _, out = run(["--meson", "release", d, "0"], allow=bad)
        expect(rc == 2, f"allowlist '{bad.strip()}' accepted (exit {rc})", out)


def t_missing_log_and_exit_status():
    fz = text_file("fuzz-ok.out", "fuzz: 6 passed, 0 failed\n")
    clean = build_dir("clean", [CM_OK])
    rc, c, out = run(["--meson", "release", os.path.join(tmp, "nonexistent"), "1",
                      "--meson", "asan+ubsan", clean, "1",
                      "--script", "fuzz-replay", fz, "0"])
    expect(c.get("release") == (0, 1, 0), f"no log: {c.get('release')}", out)
    # A clean log but a failed step (e.g. meson test interrupted): 1 failure.
    expect(c.get("asan+ubsan") == (3, 1, 0), f"rc!=0: {c.get('asan+ubsan')}", out)
    expect(c.get("total") == (9, 2, 0) and rc == 1, f"total {c.get('total')} exit {rc}", out)
    expect(last_line_is_total(out), "last line is not the total", out)


def t_script_part():
    cases = [
        ("fuzz: 5 passed, 1 failed\n", 1, (5, 1, 0)),
        ("setup failed\n", 1, (0, 1, 0)),           # no count line
        ("fuzz: 6 passed, 0 failed\n", 1, (6, 1, 0)),  # exit 1 without a failure
        ("x: 2 passed, 0 failed, 1 skipped\nSKIP t1: why\n", 0, (2, 0, 1)),
    ]
    for i, (text, code, want) in enumerate(cases):
        rc, c, out = run(["--script", "fuzz-replay", text_file(f"s{i}.out", text), str(code)])
        expect(c.get("fuzz-replay") == want, f"case {i}: {c.get('fuzz-replay')} != {want}", out)
        expect(rc == (1 if want[1] else 0), f"case {i}: exit {rc}", out)


def t_real_cmocka_output():
    if not FIXTURE:
        return
    recs = []
    for arg, name in (([], "fixture_ok"), (["fail"], "fixture_fail")):
        p = subprocess.run([FIXTURE] + arg, capture_output=True, text=True, check=False)
        recs.append({"name": name, "result": "OK" if p.returncode == 0 else "FAIL",
                     "returncode": p.returncode, "stdout": p.stdout, "stderr": p.stderr})
    expect(recs[0]["result"] == "OK", "a skip made the cmocka fixture fail", str(recs[0]))
    expect(recs[1]["result"] == "FAIL", "cmocka fixture 'fail' passed", str(recs[1]))
    d = build_dir("fixture", recs)
    rc, c, out = run(["--meson", "release", d, "0"])
    expect(c.get("release") == (3, 1, 2), f"installed cmocka: {c.get('release')}", out)
    expect("fixture_ok/case_skip: fixture: skipped on purpose" in out,
           "installed cmocka: skip reason not found", out)
    expect("fixture_fail/case_fail" in out, "installed cmocka: failed case not named", out)


def main():
    cases = [(n, f) for n, f in globals().items() if n.startswith("t_") and callable(f)]
    passed = failed = 0
    for name, fn in cases:
        try:
            fn()
            print(f"ok   {name}")
            passed += 1
        except AssertionError as e:
            print(f"FAIL {name}: {e}")
            failed += 1
    print(f"summary: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
