#!/usr/bin/env python3
"""The plasticity ablation table of docs/continual.md: Replay-1000 on class-incremental
BANKING77, one change at a time (seeds 0-2), against the unchanged configuration (the same seeds
of the banking77 table). Usage: python3 bench/continual/ablation_table.py"""
import json
import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent / "results"
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776}
CHANGES = [
    ("unchanged (Adam 1e-3, masked unseen classes, CBRS memory, 32 + 32 per batch, reset optimiser)", ROOT / "banking77", None),
    ("`mask_unseen = false` (softmax over all 77 classes from the start)", ROOT / "ablation/no-mask", None),
    ("`buffer_policy = \"reservoir\"`", ROOT / "ablation/reservoir", None),
    ("`reset_optimizer = false`", ROOT / "ablation/keep-optimizer", None),
    ("`replay_batch = 8` (8 memory examples per 32 current)", ROOT / "ablation/replay-8-per-batch", None),
    ("SGD, lr 0.1, momentum 0.9", ROOT / "ablation/sgd-0.1", None),
    ("SGD 0.1 + momentum, no masking, optimiser state kept", ROOT / "ablation/sgd-0.1-no-mask", None),
    ("SGD, lr 0.5, momentum 0.9", ROOT / "ablation/sgd-0.5", None),
    ("SGD 0.5 + momentum, no masking, optimiser state kept", ROOT / "ablation/sgd-0.5-no-mask", None),
    ("`activation = \"leaky-relu\"`", ROOT / "ablation/leaky-relu", None),
]


def ci(xs):
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, 0.0
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, T95.get(n - 1, 1.96) * sd / math.sqrt(n)


def main():
    print("| change | seeds | ACC % | BWT % | mean R[i][i] % | min R[i][i] % | dead units after the last experience % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, folder, _ in CHANGES:
        path = folder / "runs.jsonl"
        if not path.exists():
            continue
        runs = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
        runs = [r for r in runs if r["method"] == "replay-1000" and r["seed"] < 3]
        if not runs:
            continue
        acc = ci([100 * r["acc"] for r in runs])
        bwt = ci([100 * r["bwt"] for r in runs])
        diag = [100 * d for r in runs for d in r["diagonal"]]
        dead = [100 * r["dead_units"][-1] for r in runs if r["dead_units"][-1] is not None]
        print(
            f"| {name} | {len(runs)} | {acc[0]:.1f} ± {acc[1]:.1f} | {bwt[0]:.1f} ± {bwt[1]:.1f} "
            f"| {sum(diag) / len(diag):.0f} | {min(diag):.0f} | {sum(dead) / len(dead):.0f} |"
        )


if __name__ == "__main__":
    main()
