#!/usr/bin/env python3
"""PyTorch (CPU, eager, float32, one thread) side of core/examples/bench_steps.rs.

- mlp_1_40_40_1_step: one SGD step (lr 0.01) of a 1-40-40-1 ReLU MLP, batch 10, MSE;
- mlp_784_256_128_10_step: one SGD step of a 784-256-128-10 ReLU MLP, batch 64,
  cross-entropy, with the GEMM GFLOP/s;
- maml_meta_iteration: one second-order MAML meta-iteration, 25 sinusoid tasks of 10 support and
  10 query points, 1-40-40-1 ReLU (functional), one inner SGD step at 0.01 with
  torch.autograd.grad(create_graph=True), Adam 1e-3 on the meta-gradient.
- maml_meta_iteration_batched: the same meta-iteration with the 25 tasks in one batched pass
  (parameters expanded per task, torch.baddbmm), the formulation of the Rust side's batched
  benchmark, so that its speed-up over the loop is compared with PyTorch's own.

Same warm-up and repetition counts as the Rust example; every repetition is timed on its own;
prints the median and mean (µs) and one JSON line per benchmark (prefixed "JSON ").

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python bench/core/pytorch_core.py [--scale F] [--only NAME]
"""
import argparse
import json
import math
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# (name, warm-up repetitions, timed repetitions): the same as core/examples/bench_steps.rs.
PLAN = [
    ("mlp_1_40_40_1_step", 500, 20_000),
    ("mlp_784_256_128_10_step", 50, 2_000),
    ("maml_meta_iteration", 10, 300),
    ("maml_meta_iteration_batched", 10, 300),
]


def timeit(warmup, reps, f):
    for _ in range(warmup):
        f()
    t = []
    clock = time.perf_counter
    for _ in range(reps):
        s = clock()
        f()
        t.append((clock() - s) * 1e6)
    t.sort()
    return {
        "reps": reps,
        "median_us": statistics.median(t),
        "mean_us": sum(t) / reps,
        "min_us": t[0],
        "p90_us": t[min(reps * 9 // 10, reps - 1)],
    }


def report(name, s, flops=None, extra=""):
    g = None if flops is None else flops / (s["median_us"] * 1e-6) / 1e9
    print(
        f"{name:<26} reps {s['reps']:>6}  median {s['median_us']:>10.2f} µs  "
        f"mean {s['mean_us']:>10.2f} µs  min {s['min_us']:>10.2f} µs  "
        f"p90 {s['p90_us']:>10.2f} µs" + (f"  {g:.2f} GFLOP/s" if g is not None else "") + extra
    )
    j = {"impl": "pytorch", "bench": name, "threads": torch.get_num_threads(), **s}
    if flops is not None:
        j["flops"] = flops
        j["gflops_median"] = g
    print("JSON " + json.dumps(j, sort_keys=True), flush=True)


def mlp_step_flops(widths, batch):
    """GEMM FLOPs (2·m·n·k each): forward, weight gradients, and input gradients of every layer
    but the first (its input is a constant)."""
    layers = [2.0 * batch * a * b for a, b in zip(widths, widths[1:])]
    return 3.0 * sum(layers) - layers[0]


def kaiming_uniform_(lin):
    """Our Init::KaimingUniform (U(±√(6/fan_in))) with PyTorch's default bias."""
    fan_in = lin.weight.shape[1]
    with torch.no_grad():
        lin.weight.uniform_(-math.sqrt(6.0 / fan_in), math.sqrt(6.0 / fan_in))
        lin.bias.uniform_(-1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))


def mlp(widths):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        lin = torch.nn.Linear(a, b)
        kaiming_uniform_(lin)
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def bench_small(warmup, reps):
    net = mlp([1, 40, 40, 1])
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.empty(10, 1).uniform_(-5.0, 5.0)
    y = torch.sin(x)
    last = [0.0]

    def step():
        opt.zero_grad()
        loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        last[0] = loss.item()

    s = timeit(warmup, reps, step)
    report(PLAN[0][0], s, extra=f"  (final loss {last[0]:.4f})")


def bench_mnist(warmup, reps):
    widths = [784, 256, 128, 10]
    batch = 64
    net = mlp(widths)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.empty(batch, 784).uniform_(0.0, 1.0)
    labels = torch.arange(batch) % 10
    last = [0.0]

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        opt.step()
        last[0] = loss.item()

    s = timeit(warmup, reps, step)
    report(PLAN[1][0], s, flops=mlp_step_flops(widths, batch), extra=f"  (final loss {last[0]:.4f})")


def functional_mlp(params, x):
    """1-40-40-1 ReLU MLP on a flat parameter list [w0, b0, w1, b1, w2, b2] (w: [out, in])."""
    n = len(params) // 2
    h = x
    for i in range(n):
        h = F.linear(h, params[2 * i], params[2 * i + 1])
        if i < n - 1:
            h = F.relu(h)
    return h


def sine_tasks(n):
    tasks = []
    for _ in range(n):
        a = float(torch.empty(()).uniform_(0.1, 5.0))
        ph = float(torch.empty(()).uniform_(0.0, math.pi))
        xs = torch.empty(10, 1).uniform_(-5.0, 5.0)
        xq = torch.empty(10, 1).uniform_(-5.0, 5.0)
        tasks.append((xs, a * torch.sin(xs - ph), xq, a * torch.sin(xq - ph)))
    return tasks


def maml_meta_step(theta, opt, tasks, inner_lr=0.01):
    meta = 0.0
    for xs, ys, xq, yq in tasks:
        loss = F.mse_loss(functional_mlp(theta, xs), ys)
        g = torch.autograd.grad(loss, theta, create_graph=True)
        fast = [p - inner_lr * gi for p, gi in zip(theta, g)]
        meta = meta + F.mse_loss(functional_mlp(fast, xq), yq)
    meta = meta / len(tasks)
    opt.zero_grad()
    meta.backward()
    opt.step()
    return meta.item()


def maml_params():
    net = mlp([1, 40, 40, 1])
    return [p.detach().clone().requires_grad_(True) for p in net.parameters()]


def bench_maml(warmup, reps):
    theta = maml_params()
    opt = torch.optim.Adam(theta, lr=1e-3)
    tasks = sine_tasks(25)
    last = [0.0]

    def step():
        last[0] = maml_meta_step(theta, opt, tasks)

    s = timeit(warmup, reps, step)
    report(PLAN[2][0], s, extra=f"  (final meta-loss {last[0]:.4f})")


def batched_mlp(params, x):
    """functional_mlp on per-task parameters: w [T, out, in], b [T, out], x [T, rows, in]."""
    n = len(params) // 2
    h = x
    for i in range(n):
        h = torch.baddbmm(params[2 * i + 1].unsqueeze(1), h, params[2 * i].transpose(1, 2))
        if i < n - 1:
            h = F.relu(h)
    return h


def maml_meta_step_batched(theta, opt, batch, inner_lr=0.01):
    xs, ys, xq, yq = batch
    t, rows = xs.shape[0], xs.shape[1]
    per_task = [p.unsqueeze(0).expand(t, *p.shape) for p in theta]
    # Sum over tasks of each task's mean squared error, so each task gets its own gradient.
    support = ((batched_mlp(per_task, xs) - ys) ** 2).sum() / rows
    g = torch.autograd.grad(support, per_task, create_graph=True)
    fast = [p - inner_lr * gi for p, gi in zip(per_task, g)]
    meta = ((batched_mlp(fast, xq) - yq) ** 2).sum() / (rows * t)
    opt.zero_grad()
    meta.backward()
    opt.step()
    return meta.item()


def bench_maml_batched(warmup, reps):
    theta = maml_params()
    opt = torch.optim.Adam(theta, lr=1e-3)
    tasks = sine_tasks(25)
    batch = [torch.stack([t[i] for t in tasks]) for i in range(4)]
    last = [0.0]

    def step():
        last[0] = maml_meta_step_batched(theta, opt, batch)

    s = timeit(warmup, reps, step)
    report(PLAN[3][0], s, extra=f"  (final meta-loss {last[0]:.4f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every repetition count")
    ap.add_argument("--only", default=None, help="run one benchmark")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = lambda k: max(1, round(k * args.scale))  # noqa: E731
    print(
        f"pytorch bench: torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"float32, eager, CPU, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    fns = [bench_small, bench_mnist, bench_maml, bench_maml_batched]
    for (name, w, r), f in zip(PLAN, fns):
        if args.only is None or args.only == name:
            f(n(w), n(r))


if __name__ == "__main__":
    main()
