#!/usr/bin/env python3
"""MAML-RL with DiCE on 2D navigation in plain PyTorch (CPU, eager, float32, one thread): the
PyTorch side of bench/meta-rl/speed.sh, the same computation as
`autodidact run maml-rl --env navigation-2d --config bench/meta-rl/navigation.toml`.

Per meta-iteration: 20 tasks (goals uniform in [-0.5, 0.5]^2); per task 20 episodes of at most
30 steps sampled in lockstep with the Gaussian policy (64-64 ReLU MLP, state-independent log
std, sample clipped to +-0.1; environment stepped with numpy in float64), the linear feature
baseline fitted by ridge regression on [o, o^2, t/100, (t/100)^2, (t/100)^3, 1], advantages
gamma^t (G_t - b_t) normalised, the DiCE objective sum(magicbox(cumsum log pi) * (A_t - A_{t+1}))
/ n, one inner step theta' = theta + 0.1 grad (torch.autograd.grad(create_graph=True): second
order), 20 fresh episodes with theta', the outer DiCE objective differentiated with respect to
theta through the inner step; torch.optim.Adam(1e-3) on the mean over tasks.

    OMP_NUM_THREADS=1 python bench/meta-rl/pytorch_maml_rl.py [--iterations 5] [--seed 0]

The last line (prefixed "JSON ") holds the timing.
"""
import argparse
import json
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

META_BATCH = 20
EPISODES = 20
HORIZON = 30
HIDDEN = [64, 64]
INNER_LR = 0.1
OUTER_LR = 0.001
GAMMA = 0.99
MAX_ACTION = 0.1
GOAL_RADIUS = 0.01
HALF_LN_2PI = 0.5 * math.log(2 * math.pi)


def init_params(gen):
    """nn.Linear's default U(+-1/sqrt(fan_in)) for weights and biases, [in, out] weights; log std 0."""
    params = []
    widths = [2] + HIDDEN + [2]
    for a, b in zip(widths, widths[1:]):
        bound = 1.0 / math.sqrt(a)
        params.append(((torch.rand(a, b, generator=gen) * 2 - 1) * bound).requires_grad_(True))
        params.append(((torch.rand(b, generator=gen) * 2 - 1) * bound).requires_grad_(True))
    params.append(torch.zeros(2, requires_grad=True))
    return params


def mean_of(params, x):
    h = x
    n = (len(params) - 1) // 2
    for i in range(n):
        h = torch.addmm(params[2 * i + 1], h, params[2 * i])
        if i < n - 1:
            h = torch.relu(h)
    return h


def sample(params, goal, rng):
    """EPISODES episodes in lockstep: padded obs [n, H, 2], actions [n, H, 2], rewards, mask."""
    n = EPISODES
    pos = np.zeros((n, 2))
    obs = np.zeros((n, HORIZON, 2), dtype=np.float32)
    acts = np.zeros((n, HORIZON, 2), dtype=np.float32)
    rew = np.zeros((n, HORIZON))
    mask = np.zeros((n, HORIZON))
    live = np.ones(n, dtype=bool)
    std = params[-1].detach().exp().numpy()
    with torch.no_grad():
        for t in range(HORIZON):
            idx = np.nonzero(live)[0]
            if len(idx) == 0:
                break
            x = pos[idx].astype(np.float32)
            mu = mean_of(params, torch.from_numpy(x)).numpy()
            u = (mu + std * rng.standard_normal(mu.shape)).astype(np.float32)
            a = np.clip(u, -MAX_ACTION, MAX_ACTION).astype(np.float64)
            obs[idx, t] = x
            acts[idx, t] = u
            pos[idx] += a
            d = pos[idx] - goal
            rew[idx, t] = -np.sqrt((d ** 2).sum(1))
            mask[idx, t] = 1.0
            done = (np.abs(d) < GOAL_RADIUS).all(1)
            live[idx[done]] = False
    return obs, acts, rew, mask


def advantages(obs, rew, mask):
    n, h = rew.shape
    ret = np.zeros_like(rew)
    g = np.zeros(n)
    for t in reversed(range(h)):
        g = rew[:, t] * mask[:, t] + GAMMA * g
        ret[:, t] = g * mask[:, t]
    o = np.clip(obs.astype(np.float64), -10, 10)
    al = np.broadcast_to((np.arange(h) / 100.0)[None, :, None], (n, h, 1))
    f = np.concatenate([o, o ** 2, al, al ** 2, al ** 3, np.ones((n, h, 1))], axis=2)
    m = mask.astype(bool)
    fm, rm = f[m], ret[m]
    coef = np.linalg.solve(fm.T @ fm + 1e-5 * np.eye(f.shape[2]), fm.T @ rm)
    b = (f @ coef) * mask
    adv = (ret - b) * mask
    real = adv[m]
    adv[m] = (real - real.mean()) / (real.std(ddof=1) + 1e-8)
    adv *= GAMMA ** np.arange(h)[None, :]
    nxt = np.concatenate([adv[:, 1:], np.zeros((n, 1))], axis=1)
    return torch.from_numpy((adv - nxt).astype(np.float32))


def dice(params, obs, acts, mask, coef):
    n, h, _ = obs.shape
    x = torch.from_numpy(obs.reshape(n * h, 2))
    u = torch.from_numpy(acts.reshape(n * h, 2))
    mu = mean_of(params, x)
    ls = params[-1]
    z = (u - mu) * torch.exp(-ls)
    lp = (z * z * -0.5 - ls - HALF_LN_2PI).sum(1)
    lp = (lp * torch.from_numpy(mask.reshape(-1).astype(np.float32))).reshape(n, h)
    tau = torch.cumsum(lp, 1)
    box = torch.exp(tau - tau.detach())
    return (box * coef).sum() / n


def meta_iteration(params, opt, rng):
    opt.zero_grad()
    for _ in range(META_BATCH):
        goal = rng.uniform(-0.5, 0.5, 2)
        obs, acts, rew, mask = sample(params, goal, rng)
        obj = dice(params, obs, acts, mask, advantages(obs, rew, mask))
        g = torch.autograd.grad(obj, params, create_graph=True)
        fast = [p + INNER_LR * gi for p, gi in zip(params, g)]
        obs, acts, rew, mask = sample(fast, goal, rng)
        loss = -dice(fast, obs, acts, mask, advantages(obs, rew, mask)) / META_BATCH
        loss.backward()
    opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    params = init_params(gen)
    opt = torch.optim.Adam(params, lr=OUTER_LR)
    meta_iteration(params, opt, rng)  # warm-up, not timed
    t = time.perf_counter()
    for _ in range(args.iterations):
        meta_iteration(params, opt, rng)
    dt = time.perf_counter() - t
    print("JSON " + json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "iterations": args.iterations,
        "seconds": dt, "iterations_per_s": args.iterations / dt,
    }))


if __name__ == "__main__":
    main()
