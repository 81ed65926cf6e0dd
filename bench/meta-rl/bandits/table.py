#!/usr/bin/env python3
"""The bandit table of docs/meta-rl-bandits.md from the JSON lines in results/.

Rows: RL² (mean over seeds of each seed's evaluation; interval: 1.96 × the standard error
across seeds, each seed's own evaluation error added in quadrature), then the references
(exact where computed, else Monte Carlo mean ± 1.96 SE).
Targets: RL² within 5 % of the Bayes-optimal return where it is computable, else at least
Thompson sampling's.
"""
import json
import math
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent / "results"
SETTINGS = [(5, 10), (10, 10), (5, 100), (10, 100)]
ORDER = ["Bayes-optimal", "Gittins (finite-horizon)", "Thompson sampling", "UCB1", "greedy", "random"]


def load(path):
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def cell_ref(r):
    if r is None or "error" in r:
        return "intractable"
    ci = 1.96 * r["mc_se"]
    if r.get("exact") is not None:
        return f"**{r['exact']:.3f}** (MC {r['mc_mean']:.3f} ± {ci:.3f})"
    return f"{r['mc_mean']:.3f} ± {ci:.3f}"


def rl2_summary(runs):
    if not runs:
        return None
    runs = sorted(runs, key=lambda r: r["seed"])
    means = [r["eval_mean"] for r in runs]
    m = sum(means) / len(means)
    if len(means) > 1:
        sd = math.sqrt(sum((x - m) ** 2 for x in means) / (len(means) - 1))
        se = sd / math.sqrt(len(means))
    else:
        se = 0.0
    within = math.sqrt(sum(r["eval_se"] ** 2 for r in runs)) / len(runs)
    return m, 1.96 * math.sqrt(se ** 2 + within ** 2), means, [r["seed"] for r in runs]


def main():
    header = "| policy | " + " | ".join(f"K = {k}, n = {n}" for k, n in SETTINGS) + " |"
    print(header)
    print("|" + " --- |" * (len(SETTINGS) + 1))
    refs = {s: {r["policy"]: r for r in load(HERE / f"references-k{s[0]}-n{s[1]}.jsonl")} for s in SETTINGS}
    rl2 = {s: rl2_summary(load(HERE / f"rl2-k{s[0]}-n{s[1]}.jsonl")) for s in SETTINGS}
    row = ["RL² (mean over seeds)"]
    for s in SETTINGS:
        r = rl2[s]
        row.append("not run" if r is None else f"{r[0]:.3f} ± {r[1]:.3f} ({len(r[2])} seeds)")
    print("| " + " | ".join(row) + " |")
    for name in ORDER:
        print("| " + " | ".join([name] + [cell_ref(refs[s].get(name)) for s in SETTINGS]) + " |")
    print()
    print("| setting | target | RL² | reference | ratio | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for s in SETTINGS:
        r = rl2[s]
        bayes = refs[s].get("Bayes-optimal")
        ts = refs[s].get("Thompson sampling")
        if r is None:
            continue
        if bayes and "error" not in bayes and bayes.get("exact") is not None:
            ref, target = bayes["exact"], "≥ 95 % of Bayes-optimal"
            met = r[0] >= 0.95 * ref
        elif ts:
            ref, target = ts["mc_mean"], "≥ Thompson sampling"
            met = r[0] >= ref
        else:
            continue
        print(f"| K = {s[0]}, n = {s[1]} | {target} | {r[0]:.3f} | {ref:.3f} | {r[0] / ref:.3f} | {'met' if met else 'not met'} |")
    print()
    for s in SETTINGS:
        r = rl2[s]
        if r is not None:
            print(f"- RL² K = {s[0]}, n = {s[1]}, per seed: " + ", ".join(f"seed {d}: {x:.3f}" for d, x in zip(r[3], r[2])))


if __name__ == "__main__":
    sys.exit(main())
