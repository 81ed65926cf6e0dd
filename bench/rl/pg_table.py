#!/usr/bin/env python3
"""Markdown rows of docs/rl.md's policy-gradient table from bench/rl/results/pg/*.jsonl
(written by bench/rl/run_pg_results.sh): per setting and seed, the final evaluation, the first
evaluation meeting the target, the training seconds, and how many seeds meet the target."""
import json
import os
import sys

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "pg")
SETTINGS = [
    ("ppo-cartpole", "PPO CartPole-v1, final eval return", ">= 475", "eval_return_mean", lambda v: v >= 475),
    ("a2c-cartpole", "A2C CartPole-v1, final eval return", ">= 475", "eval_return_mean", lambda v: v >= 475),
    ("ppo-pendulum", "PPO Pendulum-v1, final eval return", ">= -250", "eval_return_mean", lambda v: v >= -250),
    ("ppo-frozen-lake", "PPO FrozenLake 4x4, final value gap", "<= 0.05", "value_gap", lambda v: v <= 0.05),
    ("ppo-four-rooms", "PPO four-rooms, final value gap", "<= 0.05", "value_gap", lambda v: v <= 0.05),
]


def main():
    for setting, label, target, key, ok in SETTINGS:
        path = os.path.join(DIR, setting + ".jsonl")
        if not os.path.exists(path):
            continue
        finals = [json.loads(l) for l in open(path) if '"final": true' in l]
        finals.sort(key=lambda d: d["seed"])
        vals = [d[key] for d in finals]
        met = sum(ok(v) for v in vals)
        fmt = (lambda v: f"{v:.4f}") if key == "value_gap" else (lambda v: f"{v:.1f}")
        print(f"| {label} | {target} | " + " | ".join(fmt(v) for v in vals)
              + f" | **{met}/{len(vals)}** |")
        print("| — first evaluation meeting it, at step | | " + " | ".join(
            f"{d['first_pass_at']:,}" if d["first_pass_at"] is not None else "never" for d in finals) + " | |")
        print("| — training seconds | | " + " | ".join(f"{d['train_seconds']:.1f}" for d in finals) + " | |")


if __name__ == "__main__":
    sys.exit(main())
