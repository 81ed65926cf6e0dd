#!/usr/bin/env python3
"""Reads the JSON lines of both sides' logs and prints the comparison tables (Markdown).

    compare.py steps OURS.log PYTORCH.log [--memory MEMORY.log]
    compare.py maml  OURS.log PYTORCH.log
"""
import argparse
import json
import re

# Targets from the issues: PyTorch time / ours at least this much.
STEP_TARGETS = {
    "mlp_1_40_40_1_step": 30.0,
    "mlp_784_256_128_10_step": 1.0,
    "maml_meta_iteration": 20.0,
}
MAML_SPEED_TARGET = 20.0


def records(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("JSON "):
                out.append(json.loads(line[5:]))
    return out


def loads(path):
    with open(path, encoding="utf-8") as f:
        return [m.group(0) for m in (re.search(r"load \(.*", l) for l in f) if m]


def verdict(ratio, target):
    return ("met" if ratio >= target else "MISSED") + f" (≥ {target:g}x)"


def steps(args):
    ours = {r["bench"]: r for r in records(args.ours)}
    torch = {r["bench"]: r for r in records(args.pytorch)}
    print("| benchmark | PyTorch median (µs) | ours median (µs) | ratio (median) | PyTorch mean (µs) | ours mean (µs) | ratio (mean) | ratio (min) | target (on the median) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, target in STEP_TARGETS.items():
        if name not in ours or name not in torch:
            continue
        o, t = ours[name], torch[name]
        rm = t["median_us"] / o["median_us"]
        ra = t["mean_us"] / o["mean_us"]
        rn = t["min_us"] / o["min_us"]
        print(f"| {name} | {t['median_us']:.1f} | {o['median_us']:.1f} | {rm:.2f}x | {t['mean_us']:.1f} | {o['mean_us']:.1f} | {ra:.2f}x | {rn:.2f}x | {verdict(rm, target)} |")
    b = "maml_meta_iteration_batched"
    if b in ours:
        print()
        print("Vectorised MAML (the 25 tasks in one batched pass; same meta-gradient as the loop):")
        print("| ours batched against | PyTorch median (µs) | ours batched median (µs) | ratio (median) | target |")
        print("|---|---:|---:|---:|---|")
        if "maml_meta_iteration" in torch:
            t = torch["maml_meta_iteration"]
            r = t["median_us"] / ours[b]["median_us"]
            print(f"| PyTorch's task loop (the issue's reference formulation) | {t['median_us']:.1f} | {ours[b]['median_us']:.1f} | {r:.2f}x | {verdict(r, STEP_TARGETS['maml_meta_iteration'])} |")
        if b in torch:
            t = torch[b]
            r = t["median_us"] / ours[b]["median_us"]
            print(f"| PyTorch batched the same way (like for like) | {t['median_us']:.1f} | {ours[b]['median_us']:.1f} | {r:.2f}x | (no target; for honesty) |")
    name = "mlp_784_256_128_10_step"
    if name in ours and name in torch:
        print()
        print(f"GEMM GFLOP/s at the median ({ours[name]['flops'] / 1e6:.2f} MFLOP per step: forward + backward, "
              "no input gradient for the first layer):")
        print(f"PyTorch {torch[name]['gflops_median']:.2f} GFLOP/s, ours {ours[name]['gflops_median']:.2f} GFLOP/s")
    print()
    for side, path in (("ours", args.ours), ("pytorch", args.pytorch)):
        for l in loads(path):
            print(f"{side}: {l}")
    if args.memory:
        mem = records(args.memory)
        print()
        print("| meta-iterations | peak RSS VmHWM (MiB) | RSS VmRSS (MiB) | elapsed (s) |")
        print("|---:|---:|---:|---:|")
        for r in mem:
            print(f"| {r['iteration']:,} | {r['vm_hwm_kib'] / 1024:.1f} | {r['vm_rss_kib'] / 1024:.1f} | {r['elapsed_s']:.1f} |")
        if len(mem) >= 2:
            d = (mem[-1]["vm_rss_kib"] - mem[0]["vm_rss_kib"]) / 1024
            print(f"\nRSS change from iteration {mem[0]['iteration']:,} to {mem[-1]['iteration']:,}: {d:+.2f} MiB")
        for l in loads(args.memory):
            print(f"memory: {l}")


def maml(args):
    o = records(args.ours)[-1]
    t = records(args.pytorch)[-1]
    f = lambda r, k: f"{r[k]:.4f} ± {r[k + '_ci95']:.4f}"  # noqa: E731
    print(f"Sinusoid MAML, {o['iterations']:,} meta-iterations (ours) / {t['iterations']:,} (PyTorch), seed {o['seed']} / {t['seed']}, init {o.get('init', 'kaiming')} / {t.get('init', 'kaiming')}, "
          f"{o['eval_tasks']} / {t['eval_tasks']} test tasks, query MSE mean ± 95 % CI")
    print()
    print("| | PyTorch | ours | ours, library evaluate_on |")
    print("|---|---:|---:|---:|")
    lib = lambda k: f"{o['lib_' + k]:.4f} ± {o['lib_' + k + '_ci95']:.4f}" if "lib_" + k in o else "-"  # noqa: E731
    print(f"| MSE before adaptation | {f(t, 'mse_before')} | {f(o, 'mse_before')} | {lib('mse_before')} |")
    print(f"| MSE after 1 step | {f(t, 'mse_after_1')} | {f(o, 'mse_after_1')} | {lib('mse_after_1')} |")
    print(f"| MSE after 10 steps | {f(t, 'mse_after_10')} | {f(o, 'mse_after_10')} | {lib('mse_after_10')} |")
    r = t["ms_per_meta_iteration"] / o["ms_per_meta_iteration"]
    print(f"| time per meta-iteration (ms) | {t['ms_per_meta_iteration']:.3f} | {o['ms_per_meta_iteration']:.3f} | |")
    print(f"| training wall time (s) | {t['train_s']:.1f} | {o['train_s']:.1f} | |")
    print()
    print(f"speed ratio (PyTorch / ours): {r:.2f}x — {verdict(r, MAML_SPEED_TARGET)}")
    for k, label in (("mse_after_1", "after 1 step"), ("mse_after_10", "after 10 steps")):
        diff = o[k] - t[k]
        ci = (o[k + "_ci95"] ** 2 + t[k + "_ci95"] ** 2) ** 0.5
        word = "no worse" if diff <= 0 else ("within the CIs" if diff <= ci else "WORSE")
        print(f"MSE {label}: ours − PyTorch = {diff:+.4f} (combined 95 % half-width {ci:.4f}): {word}")
    print()
    for side, path in (("ours", args.ours), ("pytorch", args.pytorch)):
        for l in loads(path):
            print(f"{side}: {l}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["steps", "maml"])
    ap.add_argument("ours")
    ap.add_argument("pytorch")
    ap.add_argument("--memory")
    args = ap.parse_args()
    steps(args) if args.kind == "steps" else maml(args)


if __name__ == "__main__":
    main()
