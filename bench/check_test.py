#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""vdv-bench's record and --check-against, end to end on smoke runs.

A saved run (--smoke --json A) must carry median, min, max and every round
per figure, CPU-s/GiB beside throughput, the daemon's --version, its commit
and the command line. Then --check-against: a copy of A with one throughput
figure raised 100x must fail (exit 3) naming that figure; an identical copy
must pass against figures that do not swing (idle VMs: thread and
descriptor counts, RSS), the figures of A not measured listed as missing;
a malformed or absent file is refused (exit 2) before anything is measured.
With --compare: B/A per round is the median of the rounds' ratios, and
from 5 rounds on its 90 % interval is their k-th smallest and largest (k
from the binomial rule, computed here independently) with a verdict per
figure and a summary that names exactly the figures beyond noise.

Usage: check_test.py VDV_BENCH DAEMON WORKDIR
Prints "ok NAME" / "FAIL NAME" per case and "summary: N passed, N failed".
"""
import copy
import json
import os
import re
import subprocess
import sys
import time

BENCH, DAEMON, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
failed = []
passed = []


def check(name, cond, detail=""):
    if cond:
        passed.append(name)
        print("ok", name)
    else:
        failed.append(name)
        print("FAIL", name, detail)


def run(*args, timeout=90):
    argv = [BENCH, "--daemon", DAEMON, *args]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0, argv


def save(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)


os.makedirs(WORK, exist_ok=True)
a_path = os.path.join(WORK, "check-a.json")

# 1. The record. Not the neighbour scenario: its smoke run sometimes gets
# no samples for VM B (bench-smoke shows that); this test is about the
# record, not about that scenario.
rc, out, err, _, argv = run("--smoke", "--only",
                            "stream,rr,connrate,multi,sibling,rss,scale,multivm",
                            "--json", a_path)
check("saved run exits 0", rc == 0, f"rc {rc}\n{out}\n{err}")
with open(a_path) as f:
    a = json.load(f)
figs = {fg["id"]: fg for fg in a["figures"]}
sides_ok = all(
    all(k in fg[s] for k in ("median", "min", "max", "unstable", "rounds"))
    for fg in a["figures"] for s in ("baseline", "a") if s in fg)
check("every side has median, min, max, unstable, rounds", sides_ok)
g = figs["g2h_4096"]["a"]
check("min <= median <= max, rounds listed",
      g["min"] <= g["median"] <= g["max"] and len(g["rounds"]) == 1)
check("one round: stability not judged", g["unstable"] is None)
# The round trip's floor: the ideal relay as baseline, the daemon's own
# round trip on the daemon side (the same samples as rr_p50).
fl, rr = figs.get("rr_floor_p50"), figs.get("rr_p50")
check("round-trip floor measured beside the daemon's round trip",
      fl is not None and fl["baseline"]["median"] > 0 and
      fl["a"]["rounds"] == rr["a"]["rounds"] and fl["baseline"]["rounds"] != rr["baseline"]["rounds"],
      str(fl))
hf, h = figs.get("h2g_floor_4096"), figs.get("h2g_4096")
check("host->guest floor measured beside the daemon's stream",
      hf is not None and hf["baseline"]["median"] > 0 and
      hf["a"]["rounds"] == h["a"]["rounds"] and hf["baseline"]["rounds"] != h["baseline"]["rounds"]
      and isinstance(hf["baseline"]["cpu_s_per_gib"], (int, float)), str(hf))
# Every throughput figure whose CPU was measured (all but the neighbour's
# stream, whose phase also serves the other VM's round trips).
tp = [fg for fg in a["figures"]
      if fg["unit"] == "MiB/s" and fg["a"]["median"] and fg["a"]["cpu_bench"] is not None]
check("CPU-s/GiB beside every throughput figure",
      tp and all(isinstance(fg["a"]["cpu_s_per_gib"], (int, float)) and
                 len(fg["a"]["cpu_s_per_gib_rounds"]) == len(fg["a"]["rounds"])
                 for fg in tp))
version = subprocess.run([DAEMON, "--version"], capture_output=True, text=True,
                         timeout=10).stdout.strip()
info = a["daemon_info"]["a"]
check("daemon version recorded", info["version"] == version,
      f"{info['version']!r} vs {version!r}")
git = subprocess.run(["git", "-C", os.path.dirname(os.path.realpath(DAEMON)),
                      "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
if git.returncode == 0:
    check("commit recorded from git", info["commit"] == git.stdout.strip() and
          info["commit_source"] == "git", str(info))
else:
    check("no git tree: commit null with a reason",
          info["commit"] is None and info["commit_error"], str(info))
check("command line recorded", a["command_line"] == argv, str(a["command_line"]))
check("machine recorded", a["machine"]["cpu"] is not None and a["machine"]["ncpu"] >= 1
      and a["date"])

# 1b. Three rounds: min, max, median, the stability flag and CPU-s/GiB are
# what the rounds say, and the table agrees with the JSON.
r3_path = os.path.join(WORK, "check-r3.json")
rc, out, err, _, _ = run("--smoke", "--rounds", "3", "--only", "stream,scale", "--sizes",
                         "4096", "--json", r3_path)
check("3 rounds: exit 0", rc == 0, f"rc {rc}\n{out}\n{err}")
with open(r3_path) as f:
    r3 = json.load(f)


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def close(x, y):
    return abs(x - y) <= 1e-5 * max(abs(x), abs(y), 1e-9)


bad = []
unstable = set()
for fg in r3["figures"]:
    for s in ("baseline", "a"):
        if s not in fg:
            continue
        d, v = fg[s], fg[s]["rounds"]
        if len(v) != 3 or not (close(d["min"], min(v)) and close(d["max"], max(v)) and
                               close(d["median"], median(v))):
            bad.append(f"{fg['id']}.{s}: {d}")
        if d["unstable"] != (min(v) < max(v) / 2):
            bad.append(f"{fg['id']}.{s}: unstable {d['unstable']} for {v}")
        if d["unstable"]:
            unstable.add(fg["id"])
        if fg["unit"] == "MiB/s" and not close(d["cpu_s_per_gib"],
                                               median(d["cpu_s_per_gib_rounds"])):
            bad.append(f"{fg['id']}.{s}: cpu_s_per_gib {d}")
check("3 rounds: min, max, median, unstable, CPU-s/GiB follow the rounds", not bad,
      "\n".join(bad))
m = re.search(r"^unstable \(slowest round under half the fastest\): (.*)$", out, re.M)
listed = {x.split(" ")[0] for x in m.group(1).split(", ")} if m else set()
check("3 rounds: the table lists exactly the unstable figures", listed == unstable,
      f"{listed} vs {unstable}\n{out}")
check("3 rounds: a min..max line per figure", out.count("    min..max") ==
      sum(1 for fg in r3["figures"] if fg["a"]["rounds"]), out)



def run_compare(rounds):
    """Two daemons (the same binary twice), 4 KiB streams: (stdout, JSON)."""
    path = os.path.join(WORK, f"check-cmp{rounds}.json")
    rc, out, err, _, _ = run("--compare", DAEMON, "--smoke", "--rounds", str(rounds),
                             "--only", "stream", "--sizes", "4096", "--json", path)
    check(f"compare, {rounds} rounds: exit 0", rc == 0, f"rc {rc}\n{out}\n{err}")
    with open(path) as f:
        return out, json.load(f)


# 1c. Three rounds: the per-round B/A ratio is the median of each round's
# b / a, in the JSON and the table.
out, rcmp = run_compare(3)
bad = []
for fg in rcmp["figures"]:
    a_r, b_r = fg["a"]["rounds"], fg["b"]["rounds"]
    want = median([y / x for x, y in zip(a_r, b_r)])
    if len(a_r) != 3 or not close(fg["ratio_b_a_per_round"], want):
        bad.append(f"{fg['id']}: {fg['ratio_b_a_per_round']} for a {a_r} b {b_r}")
    if f"B/A per round {fg['ratio_b_a_per_round']:.2f}" not in out:
        bad.append(f"{fg['id']}: not in the table")
check("compare: B/A per round is the median of the rounds' ratios", not bad and
      rcmp["figures"], "\n".join(bad) + "\n" + out)

check("compare, 3 rounds: no interval, B vs A not judged",
      all(fg["ratio_b_a_per_round_interval"] is None and fg["b_vs_a"] is None
          for fg in rcmp["figures"]) and "B vs A not judged" in out, out)


def interval_rank(n):
    """The largest k with P(k-th smallest <= median <= k-th largest) >= 0.9."""
    from math import comb
    k = 0
    for j in range(0, (n + 1) // 2):
        miss = sum(comb(n, i) for i in range(j + 1)) / 2 ** n
        if 1 - 2 * miss < 0.9:
            break
        k = j + 1
    return k


check("interval rank: 5 -> 1, 7 -> 1, 11 -> 3, 21 -> 7, 4 -> 0",
      [interval_rank(n) for n in (5, 7, 11, 21, 4)] == [1, 1, 3, 7, 0])

# 1d. Eleven rounds (k = 3, so not just min..max): the interval of B/A per
# round is the order statistics of the rounds' ratios, and the summary
# names exactly the figures whose whole interval is on the worse (better)
# side of 1.
out, r11 = run_compare(11)
bad, worse, better = [], set(), set()
for fg in r11["figures"]:
    ratios = sorted(y / x for x, y in zip(fg["a"]["rounds"], fg["b"]["rounds"]))
    k = interval_rank(len(ratios))
    lo, hi = ratios[k - 1], ratios[len(ratios) - k]
    got = fg["ratio_b_a_per_round_interval"]
    if len(ratios) != 11 or not got or not (close(got[0], lo) and close(got[1], hi)):
        bad.append(f"{fg['id']}: {got} for ratios {ratios}")
        continue
    if f"[{lo:.2f}..{hi:.2f}]" not in out:
        bad.append(f"{fg['id']}: interval not in the table")
    higher = fg["better"] == "higher"
    want = ("worse" if (hi < 1) == higher else "better") if (hi < 1 or lo > 1) \
        else "within noise"
    if fg["b_vs_a"] != want:
        bad.append(f"{fg['id']}: b_vs_a {fg['b_vs_a']}, want {want}")
    {"worse": worse, "better": better}.get(want, set()).add(fg["id"])
check("compare, 11 rounds: the interval and the verdict follow the rounds", not bad and
      r11["figures"], "\n".join(bad) + "\n" + out)


def listed(label):
    m = re.search(rf"^B {label} than A: (.*)$", out, re.M)
    return None if not m else set() if m.group(1) == "none" else set(m.group(1).split(", "))


check("compare, 11 rounds: the summary lists exactly the worse and better figures",
      listed("worse") == worse and listed("better") == better,
      f"{listed('worse')} {listed('better')} vs {worse} {better}\n{out}")

# 2. One throughput figure raised in the saved copy: this run is far below.
raised = copy.deepcopy(a)
for fg in raised["figures"]:
    if fg["id"] == "g2h_4096":
        fg["a"]["median"] *= 100
raised_path = os.path.join(WORK, "check-raised.json")
save(raised_path, raised)
rc, out, err, _, _ = run("--smoke", "--only", "stream", "--sizes", "4096",
                         "--check-against", raised_path)
check("raised figure: exit 3", rc == 3, f"rc {rc}\n{out}\n{err}")
check("raised figure: named on a WORSE line",
      re.search(r"^  WORSE g2h_4096 +A: .*saved .*\(-9\d\.\d %\)", out, re.M), out)

# 3. An identical copy, against figures that do not swing by 10 %.
same_path = os.path.join(WORK, "check-same.json")
save(same_path, a)
rc, out, err, _, _ = run("--smoke", "--only", "scale", "--check-against", same_path)
check("identical copy: exit 0", rc == 0, f"rc {rc}\n{out}\n{err}")
check("identical copy: nothing worse",
      "check: 0 figure(s) more than 10 % worse" in out, out)
check("figures not run are listed as missing, not failures",
      re.search(r"missing, not in this run: .*g2h_4096", out), out)
check("the smoke flag matches: no config note", "note: the saved run had smoke" not in out, out)

# 4. Bad files are refused before any measurement.
cases = {
    "truncated": ('{"figures": [', "not valid JSON: line 1 column 14"),
    "no figures": ('{"tool": "vdv-bench"}', 'no "figures" array'),
    "bad id": ('{"figures": [{"id": "\\u001b[2J"}]}', "figures[0]"),
    "bad median": ('{"figures": [{"id": "x", "a": {"median": "fast"}}]}', "figures[0].a"),
    "deep": ("[" * 100 + "]" * 100, "nested too deeply"),
}
for name, (text, msg) in cases.items():
    p = os.path.join(WORK, "check-bad.json")
    with open(p, "w") as f:
        f.write(text)
    rc, out, err, secs, _ = run("--smoke", "--check-against", p, timeout=20)
    check(f"{name}: exit 2 naming the problem, nothing measured",
          rc == 2 and msg in err and "figure" not in out and secs < 10,
          f"rc {rc} {secs:.1f}s\n{out}\n{err}")
rc, out, err, _, _ = run("--check-against", os.path.join(WORK, "no-such.json"), timeout=20)
check("absent file: exit 2", rc == 2 and "No such file" in err, err)

print(f"summary: {len(passed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
