#!/usr/bin/env python3
"""Points of the online runs' curves: pooled test accuracy on everything seen after N classes
(`seen_test_acc` at `classes_seen = N` in each run's metrics.jsonl), mean ± 95 % interval over
seeds (Student's t), per method, and the paired difference of two methods at each N.

    python3 bench/continual/online/curve.py RUNS/TABLE --at 10 25 50 100 [--pair A B]

RUNS/TABLE holds one folder per method (as bench/continual/online/run.sh writes them), each
with one run folder per seed.
"""
import argparse
import json
import math
import pathlib
import statistics

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def curve(run):
    points = {}
    for line in open(run / "metrics.jsonl"):
        m = json.loads(line)
        if "classes_seen" in m and "seen_test_acc" in m:
            points[int(m["classes_seen"])] = m["seen_test_acc"]
    return points


def summary(xs):
    mean = statistics.mean(xs)
    if len(xs) < 2:
        return f"{100 * mean:.1f}"
    half = T95.get(len(xs) - 1, 1.96) * statistics.stdev(xs) / math.sqrt(len(xs))
    return f"{100 * mean:.1f} ± {100 * half:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("--at", type=int, nargs="+", required=True)
    ap.add_argument("--pair", nargs=2, metavar=("A", "B"))
    a = ap.parse_args()
    table = pathlib.Path(a.table)
    by_method = {}
    for method in sorted(p for p in table.iterdir() if p.is_dir()):
        runs = sorted(r for r in method.iterdir() if (r / "metrics.jsonl").exists())
        by_method[method.name] = {r.name.rsplit("seed", 1)[-1]: curve(r) for r in runs}
    print("| method | seeds | " + " | ".join(f"N = {n}" for n in a.at) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in a.at) + " |")
    for name, runs in by_method.items():
        cells = [summary([c[n] for c in runs.values() if n in c]) for n in a.at]
        print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    if a.pair:
        x, y = (by_method[m] for m in a.pair)
        seeds = sorted(set(x) & set(y))
        cells = [summary([x[s][n] - y[s][n] for s in seeds]) for n in a.at]
        print(f"| {a.pair[0]} − {a.pair[1]}, paired | {len(seeds)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
