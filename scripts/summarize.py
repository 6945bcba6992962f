#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Summarizes the runs of scripts/test.sh, one line per part and a total.

Usage:
  summarize.py [--allowlist FILE] [--ci | --no-ci]
               (--meson NAME BUILD_DIR RC | --script NAME LOG RC)...

--meson reads BUILD_DIR/meson-logs/testlog.json (RC: exit status of the
build + meson test step); --script reads the output of a script that ends
with "N passed, N failed[, N skipped]" (RC: its exit status). Parts are
reported in the order given:

  release: 212 passed, 0 failed, 0 skipped
  asan+ubsan: 212 passed, 0 failed, 0 skipped
  fuzz-replay: 6 passed, 0 failed, 0 skipped
  total: 430 passed, 0 failed, 0 skipped

Counts are per test case, not per test program: a cmocka program reports its
cases ("[  PASSED  ] N test(s).", "[  FAILED  ] ...", "[  SKIPPED ] N
test(s), listed below:"), a script its own "N passed, N failed[, N
skipped]" line; a program that says neither counts as one case.

Skips: a cmocka skip(), a script's "SKIP <case>: <reason>" and a meson SKIP
(exit 77) are listed with their reason when the output gives one. Under CI
(CI=true in the environment, or --ci) a skip is a failure unless the
allowlist (tests/optional-skips.txt) names it, because in CI a skipped test
is a test that silently stopped guarding anything. Outside CI skips are
reported but do not fail the run.

Exit status: 0 when nothing failed, 1 when something did, 2 on bad usage
or an error of its own.
"""
import argparse
import json
import os
import re
import sys

CM_RUN = re.compile(r"^\[ RUN      \] (.+)$")
CM_PASSED_N = re.compile(r"^\[  PASSED  \] (\d+) test")
CM_FAILED_N = re.compile(r"^\[  FAILED  \] (\d+) test")
CM_SKIPPED_N = re.compile(r"^\[  SKIPPED \] (\d+) test")
CM_SKIPPED = re.compile(r"^\[  SKIPPED \] (.+)$")
CM_FAILED = re.compile(r"^\[  FAILED  \] (.+)$")
PLAIN = re.compile(r"(\d+) passed, (\d+) failed(?:, (\d+) skipped)?")
SCRIPT_SKIP = re.compile(r"^SKIP (\S+?):? (.*)$")
# meson's results that are a pass; SKIP is handled on its own, anything
# else (FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT) is a failure.
OK_RESULTS = ("OK", "EXPECTEDFAIL")


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        # (key for the allowlist, reason or None), in order of appearance
        self.skips = []
        self.failures = []  # human-readable names of what failed

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.skips += other.skips
        self.failures += other.failures

    def line(self, label):
        return (f"{label}: {self.passed} passed, {self.failed} failed, "
                f"{self.skipped} skipped")


def last_text_line(text):
    """The last non-empty line, as the likely reason a test gave."""
    for line in reversed((text or "").splitlines()):
        if line.strip():
            return line.strip()
    return None


def parse_cmocka(stdout, stderr):
    """Counts from cmocka's summaries, or None when there is none.

    Returns (passed, failed, skipped, [(case, reason)], [failed case]).
    cmocka prints per-case lines on stdout and its summary on stderr; the
    reason of a skip is the last line the case printed before "[  SKIPPED ]".
    """
    lines = (stdout or "").splitlines() + (stderr or "").splitlines()
    p = f = s = None
    skipped, failed = [], []
    current, said = None, []
    for line in lines:
        m = CM_RUN.match(line)
        if m:
            current, said = m.group(1), []
            continue
        for rx, kind in ((CM_PASSED_N, "p"), (CM_FAILED_N, "f"), (CM_SKIPPED_N, "s")):
            m = rx.match(line)
            if m:
                n = int(m.group(1))
                if kind == "p":
                    p = (p or 0) + n
                elif kind == "f":
                    f = (f or 0) + n
                else:
                    s = (s or 0) + n
                break
        else:
            m = CM_SKIPPED.match(line)
            if m:
                case = m.group(1).strip()
                if case not in [c for c, _ in skipped]:
                    reason = None
                    if case == current:
                        reason = next((x.strip() for x in reversed(said) if x.strip()), None)
                    skipped.append((case, reason))
                current = None
                continue
            m = CM_FAILED.match(line)
            if m:
                case = m.group(1).strip()
                if case not in failed:
                    failed.append(case)
                current = None
                continue
            if current is not None and not line.startswith("["):
                said.append(line)
    if p is None and f is None and s is None:
        return None
    return p or 0, f or 0, s or 0, skipped, failed


def parse_plain(text):
    """A script's last "N passed, N failed[, N skipped]" line and its SKIP
    lines, or None."""
    counts = None
    for line in reversed((text or "").splitlines()):
        m = PLAIN.search(line)
        if m:
            counts = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
            break
    if counts is None:
        return None
    # Names for the skips the count line reports: a script may echo its
    # case lines twice (a log dump after a failure), and a script whose
    # count line has no skips counts none, whatever else it prints.
    skips, seen = [], set()
    for line in (text or "").splitlines():
        m = SCRIPT_SKIP.match(line.strip())
        if m and m.group(1) not in seen:
            seen.add(m.group(1))
            skips.append((m.group(1), m.group(2).strip() or None))
    return counts + (skips[:counts[2]],)


def count_meson_test(rec):
    """Counts of one testlog.json record."""
    c = Counts()
    # meson logs "project:suite / name"; the allowlist and the reader want
    # the name as written in meson.build.
    name = rec.get("name", "?").rsplit(" / ", 1)[-1]
    result = rec.get("result")
    out, err = rec.get("stdout") or "", rec.get("stderr") or ""

    if result == "SKIP":
        # The whole program asked to be skipped (exit 77): one case.
        c.skipped = 1
        c.skips.append((name, last_text_line(err) or last_text_line(out)))
        return c

    cm = parse_cmocka(out, err)
    if cm is not None:
        p, f, s, skips, failed = cm
        c.failures = [f"{name}/{case}" for case in failed]
    else:
        pl = parse_plain(out + "\n" + err)
        if pl is not None:
            p, f, s, skips = pl
        else:
            p = f = s = 0
            skips = []
        failed = []
    c.skips = [(f"{name}/{case}", reason) for case, reason in skips]
    # A count of skips without names (a script that does not list them):
    # still skips, named after the test.
    for _ in range(s - len(c.skips)):
        c.skips.append((name, None))
    ok = result in OK_RESULTS
    if not ok and f == 0:
        f = 1  # crashed, timed out or failed without saying how
    if ok and p == 0 and f == 0 and s == 0:
        p = 1  # a program that passed and does not count its cases
    if not ok and not c.failures:
        c.failures = [f"{name} ({result})"]
    elif not ok:
        c.failures = [f"{x} ({result})" for x in c.failures]
    c.passed, c.failed, c.skipped = p, f, len(c.skips)
    return c


def count_meson(build_dir, rc):
    log = os.path.join(build_dir, "meson-logs", "testlog.json")
    c = Counts()
    if not os.path.exists(log):
        c.failed = 1
        c.failures.append(f"no test log in {build_dir} (setup or build failed)")
        return c
    with open(log, encoding="utf-8", errors="replace") as fp:
        for line in fp:
            if line.strip():
                c.add(count_meson_test(json.loads(line)))
    if rc != 0 and c.failed == 0:
        c.failed = 1
        c.failures.append(f"build or meson test exited {rc} with no failed test in its log")
    return c


def count_script(log, rc, name):
    c = Counts()
    try:
        with open(log, encoding="utf-8", errors="replace") as fp:
            text = fp.read()
    except OSError as e:
        text = ""
        c.failures.append(f"cannot read {log}: {e.strerror}")
    pl = parse_plain(text)
    if pl is None:
        c.failed = 1  # it failed before it could count
        c.failures.append("no 'N passed, N failed' line in its output")
        return c
    c.passed, c.failed, s, skips = pl
    c.skips = [(f"{name}/{case}", reason) for case, reason in skips]
    for _ in range(s - len(c.skips)):
        c.skips.append((name, None))
    c.skipped = len(c.skips)
    if rc != 0 and c.failed == 0:
        c.failed = 1
        c.failures.append(f"{name} exited {rc} with no failed case")
    return c


def load_allowlist(path):
    """{key: reason} from lines "<meson test name>[/<case>]: <reason>"."""
    allow = {}
    if not path:
        return allow
    with open(path, encoding="utf-8") as fp:
        for n, line in enumerate(fp, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, reason = line.partition(":")
            if not sep or not key.strip() or not reason.strip():
                raise ValueError(f"{path}:{n}: want '<test name>: <reason>', got '{line}'")
            allow[key.strip()] = reason.strip()
    return allow


def allowed(key, allow):
    """A skip of "test/case" is allowed by "test/case" or by "test"."""
    return key in allow or key.split("/", 1)[0] in allow


def apply_skip_rule(label, c, allow, ci):
    """Prints every skip; under CI turns the ones not allowed into failures."""
    lines = []
    for key, reason in c.skips:
        why = f": {reason}" if reason else " (no reason given)"
        if allowed(key, allow):
            note = allow.get(key) or allow.get(key.split("/", 1)[0])
            lines.append(f"SKIPPED {label}: {key}{why} [allowed: {note}]")
        elif ci:
            c.skipped -= 1
            c.failed += 1
            lines.append(f"FAILED {label}: {key} skipped{why} [CI: required, not in the allowlist]")
        else:
            lines.append(f"SKIPPED {label}: {key}{why}")
    return lines


class PartAction(argparse.Action):
    def __call__(self, parser, ns, values, option_string=None):
        name, path, rc = values
        try:
            rc = int(rc)
        except ValueError:
            parser.error(f"{option_string} {name}: RC must be a number, not '{rc}'")
        parts = getattr(ns, "parts", None) or []
        parts.append((option_string.lstrip("-"), name, path, rc))
        setattr(ns, "parts", parts)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--allowlist", help="file of allowed skips")
    ap.add_argument("--ci", dest="ci", action="store_const", const=True, default=None,
                    help="apply the CI skip rule (default: when CI=true)")
    ap.add_argument("--no-ci", dest="ci", action="store_const", const=False)
    ap.add_argument("--meson", nargs=3, metavar=("NAME", "BUILD_DIR", "RC"), action=PartAction)
    ap.add_argument("--script", nargs=3, metavar=("NAME", "LOG", "RC"), action=PartAction)
    args = ap.parse_args(argv)
    if not getattr(args, "parts", None):
        ap.error("nothing to summarize: give --meson or --script")
    ci = args.ci
    if ci is None:
        ci = os.environ.get("CI", "").lower() in ("true", "1", "yes")
    try:
        allow = load_allowlist(args.allowlist)
    except (OSError, ValueError) as e:
        print(f"summarize: {e}", file=sys.stderr)
        return 2

    total = Counts()
    part_lines = []
    for kind, name, path, rc in args.parts:
        c = count_meson(path, rc) if kind == "meson" else count_script(path, rc, name)
        for f in c.failures:
            print(f"FAILED {name}: {f}")
        for line in apply_skip_rule(name, c, allow, ci):
            print(line)
        part_lines.append(c.line(name))
        total.add(c)
    if ci and total.skips:
        print("(CI=true: a skip not listed in the allowlist counts as a failure)")
    for line in part_lines:
        print(line)
    print(total.line("total"))
    return 1 if total.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception:  # pylint: disable=broad-except
        # Exit 1 means "tests failed"; a broken summary must not look like
        # a counted result, so scripts/test.sh can print its own total.
        import traceback
        traceback.print_exc()
        sys.exit(2)
