#!/usr/bin/env python3
"""The tables (and, with --plot DIR, the figures) of docs/meta-rl.md from the raw results
bench/meta-rl/results/*.jsonl (one line per environment, seed and variant, written by
`cargo run --release -p autodidact-rl --example maml_rl_results`): mean over seeds of the mean
return on the held-out goals after 0-3 inner steps, with a 95 % interval over seeds (Student's t),
and the optimum of the same goals.

    python3 bench/meta-rl/table.py bench/meta-rl/results/navigation.jsonl [--plot docs/img]
"""
import json
import math
import sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
ORDER = ["maml-dice", "maml-fo", "pretrained", "random"]
NAMES = {
    "maml-dice": "MAML-RL (DiCE)",
    "maml-fo": "first-order MAML-RL",
    "pretrained": "pretrained + fine-tune",
    "random": "random init + fine-tune",
}


def ci(xs):
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, T975.get(n - 1, 1.96) * sd / math.sqrt(n)


def main():
    path = sys.argv[1]
    rows = [json.loads(l) for l in open(path) if l.strip()]
    env = rows[0]["env"]
    seeds = sorted({r["seed"] for r in rows})
    steps = sorted(int(k.split("_")[-1]) for k in rows[0] if k.startswith("return_after_") and not k.endswith("ci95"))
    print(f"{env}: {len(seeds)} seeds {seeds}, returns on {int(rows[0]['eval_tasks'])} held-out goals per seed")
    print("| method | " + " | ".join(f"after {k} step{'s' if k != 1 else ''}" for k in steps) + " |")
    print("| --- |" + " --- |" * len(steps))
    curves = {}
    for v in ORDER:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        cells, curve = [], []
        for k in steps:
            m, h = ci([r[f"return_after_{k}"] for r in rs])
            cells.append(f"{m:.2f} ± {h:.2f}")
            curve.append((m, h))
        curves[v] = curve
        print(f"| {NAMES[v]} | " + " | ".join(cells) + " |")
    m, h = ci([r["optimal_return"] for r in rows if r["variant"] == "random"])
    print(f"| optimum | {m:.2f} ± {h:.2f} |" + " |" * (len(steps) - 1))
    secs = {v: ci([r["train_s"] for r in rows if r["variant"] == v])[0] for v in ORDER if v != "random"}
    print("training seconds per run (mean): " + ", ".join(f"{v} {s:.0f}" for v, s in secs.items() if not math.isnan(s)))
    if "--plot" in sys.argv:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        out = sys.argv[sys.argv.index("--plot") + 1]
        fig, ax = plt.subplots(figsize=(6, 4))
        for v, c in curves.items():
            ax.errorbar(steps, [a for a, _ in c], yerr=[b for _, b in c], marker="o", capsize=3, label=NAMES[v])
        ax.axhline(m, color="black", linestyle="--", label="optimum")
        ax.set_xlabel("inner policy-gradient steps on the held-out goal")
        ax.set_ylabel("mean return")
        ax.set_xticks(steps)
        ax.set_title(f"{env}: adaptation to held-out goals ({len(seeds)} seeds, 95 % CI)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{out}/meta-rl-{env}.png", dpi=110)
        print(f"figure: {out}/meta-rl-{env}.png")


if __name__ == "__main__":
    main()
