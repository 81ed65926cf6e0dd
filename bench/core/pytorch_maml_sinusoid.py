#!/usr/bin/env python3
"""Finn et al.'s sinusoid MAML in plain PyTorch (CPU, eager, float32, one thread): the PyTorch side
of `autodidact run maml --env sinusoid --config bench/gradient/sinusoid-maml.toml` (compare with
bench/core/run_maml.sh).

1-40-40-1 ReLU (functional, weights U(±√(6/fan_in)) and PyTorch's default bias, as ours),
K = 10 support and 10 query points, amplitude U[0.1, 5], phase U[0, π], x U[-5, 5], one inner SGD
step at 0.01 with torch.autograd.grad(create_graph=True) (second order), meta-batch 25,
torch.optim.Adam 1e-3, N meta-iterations (fresh tasks each, sampled inside the timed loop as ours
are); then the query MSE on 1,000 test tasks before adaptation and after 1 and 10 plain SGD steps
at 0.01 on the support set (mean ± 95 % CI, 1.96 standard errors), and the wall time per
meta-iteration.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python bench/core/pytorch_maml_sinusoid.py [--iterations 10000] [--seed 0] [--eval-tasks 1000]

The last line (prefixed "JSON ") holds every figure.
"""
import argparse
import json
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

WIDTHS = [1, 40, 40, 1]
META_BATCH = 25
SHOTS = 10
QUERIES = 10
INNER_LR = 0.01
OUTER_LR = 1e-3


def init_params(gen, init="kaiming"):
    """Weights U(±√(6/fan_in)) as ours (Init::KaimingUniform), or U(±1/√fan_in) (nn.Linear's
    default, `--init torch-default`); biases U(±1/√fan_in) either way."""
    params = []
    for a, b in zip(WIDTHS, WIDTHS[1:]):
        bound = math.sqrt(6.0 / a) if init == "kaiming" else 1.0 / math.sqrt(a)
        w = (torch.rand(b, a, generator=gen) * 2 - 1) * bound
        bias = (torch.rand(b, generator=gen) * 2 - 1) / math.sqrt(a)
        params += [w.requires_grad_(True), bias.requires_grad_(True)]
    return params


def forward(params, x):
    n = len(params) // 2
    h = x
    for i in range(n):
        h = F.linear(h, params[2 * i], params[2 * i + 1])
        if i < n - 1:
            h = F.relu(h)
    return h


def sample_tasks(n, gen):
    """n tasks: (xs, ys, xq, yq), each [n, K, 1]."""
    amp = torch.rand(n, 1, 1, generator=gen) * (5.0 - 0.1) + 0.1
    phase = torch.rand(n, 1, 1, generator=gen) * math.pi
    xs = torch.rand(n, SHOTS, 1, generator=gen) * 10.0 - 5.0
    xq = torch.rand(n, QUERIES, 1, generator=gen) * 10.0 - 5.0
    return xs, amp * torch.sin(xs - phase), xq, amp * torch.sin(xq - phase)


def meta_step(theta, opt, gen):
    xs, ys, xq, yq = sample_tasks(META_BATCH, gen)
    meta = 0.0
    for i in range(META_BATCH):
        loss = F.mse_loss(forward(theta, xs[i]), ys[i])
        g = torch.autograd.grad(loss, theta, create_graph=True)
        fast = [p - INNER_LR * gi for p, gi in zip(theta, g)]
        meta = meta + F.mse_loss(forward(fast, xq[i]), yq[i])
    meta = meta / META_BATCH
    opt.zero_grad()
    meta.backward()
    opt.step()
    return meta.item()


def mean_ci95(xs):
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, 1.96 * math.sqrt(var / n)


def evaluate(theta, n_tasks, steps, gen):
    """Query MSE per step (0 = before adaptation) averaged over n_tasks test tasks."""
    xs, ys, xq, yq = sample_tasks(n_tasks, gen)
    curves = []
    for i in range(n_tasks):
        fast = [p.detach().clone().requires_grad_(True) for p in theta]
        with torch.no_grad():
            c = [F.mse_loss(forward(fast, xq[i]), yq[i]).item()]
        for _ in range(steps):
            loss = F.mse_loss(forward(fast, xs[i]), ys[i])
            g = torch.autograd.grad(loss, fast)
            fast = [(p - INNER_LR * gi).detach().requires_grad_(True) for p, gi in zip(fast, g)]
            with torch.no_grad():
                c.append(F.mse_loss(forward(fast, xq[i]), yq[i]).item())
        curves.append(c)
    return [mean_ci95([c[k] for c in curves]) for k in range(steps + 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-tasks", type=int, default=1000)
    ap.add_argument("--init", choices=["kaiming", "torch-default"], default="kaiming",
                    help="weight init: ours (default) or nn.Linear's default")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))  # bench/speed/run.sh sets it
    n = args.iterations
    print(
        f"pytorch sinusoid MAML: {n} meta-iterations, seed {args.seed}, meta-batch {META_BATCH}, "
        f"K {SHOTS} + {QUERIES} query, inner lr {INNER_LR}, Adam {OUTER_LR}; torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, init {args.init}",
        flush=True,
    )
    init_gen = torch.Generator().manual_seed(args.seed * 3 + 1)
    train_gen = torch.Generator().manual_seed(args.seed * 3 + 2)
    test_gen = torch.Generator().manual_seed(args.seed * 3 + 3)
    theta = init_params(init_gen, args.init)
    opt = torch.optim.Adam(theta, lr=OUTER_LR)
    log_every = max(1, n // 10)
    start = time.perf_counter()
    window, window_n = 0.0, 0
    for it in range(1, n + 1):
        window += meta_step(theta, opt, train_gen)
        window_n += 1
        if it % log_every == 0 or it == n:
            print(
                f"  iteration {it:>6}  meta-loss (mean of last {window_n}) {window / window_n:.4f}  "
                f"elapsed {time.perf_counter() - start:.1f} s",
                flush=True,
            )
            window, window_n = 0.0, 0
    train_s = time.perf_counter() - start
    per_iter_ms = train_s * 1e3 / n
    e0 = time.perf_counter()
    curve = evaluate(theta, args.eval_tasks, 10, test_gen)
    eval_s = time.perf_counter() - e0
    (b, b_ci), (a1, a1_ci), (a10, a10_ci) = curve[0], curve[1], curve[10]
    print(f"training: {train_s:.1f} s, {per_iter_ms:.3f} ms per meta-iteration")
    print(
        f"test ({args.eval_tasks} tasks, {eval_s:.1f} s): query MSE before {b:.4f} ± {b_ci:.4f}, "
        f"after 1 step {a1:.4f} ± {a1_ci:.4f}, after 10 steps {a10:.4f} ± {a10_ci:.4f}"
    )
    out = {
        "impl": "pytorch",
        "bench": "sinusoid_maml",
        "torch": torch.__version__,
        "iterations": n,
        "seed": args.seed,
        "init": args.init,
        "eval_tasks": args.eval_tasks,
        "train_s": train_s,
        "ms_per_meta_iteration": per_iter_ms,
        "eval_s": eval_s,
        "mse_before": b,
        "mse_before_ci95": b_ci,
        "mse_after_1": a1,
        "mse_after_1_ci95": a1_ci,
        "mse_after_10": a10,
        "mse_after_10_ci95": a10_ci,
    }
    print("JSON " + json.dumps(out, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
