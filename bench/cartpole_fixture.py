#!/usr/bin/env python3
"""Records CartPole-v1 trajectories from Gymnasium for the Rust test `envs/tests/cartpole.rs`.

Makes its own virtual environment (python3 -m venv, pip install gymnasium numpy), then
re-runs itself inside it, and writes `envs/tests/fixtures/cartpole_gymnasium.json`:
for each episode the seed, the float64 initial state, the fixed action sequence, the float64
states and float32 observations after every step, the rewards and terminated / truncated flags.

Episode 1 pushes with a fixed pseudo-random action sequence until the pole falls.
Episode 2 follows a fixed sequence recorded from a simple balancing rule and runs into the
500-step time limit (truncation).

Usage: python3 bench/cartpole_fixture.py   (VENV=/some/dir to choose where the venv goes)
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "envs", "tests", "fixtures", "cartpole_gymnasium.json")
VENV = os.environ.get("VENV", "/tmp/autodidact-cartpole-venv")


def ensure_venv():
    if os.environ.get("CARTPOLE_FIXTURE_IN_VENV") == "1":
        return
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([py, "-m", "pip", "install", "-q", "gymnasium", "numpy"])
    env = dict(os.environ, CARTPOLE_FIXTURE_IN_VENV="1")
    sys.exit(subprocess.call([py, os.path.abspath(__file__)], env=env))


def lcg_actions(n, state=12345):
    out = []
    for _ in range(n):
        state = (1103515245 * state + 12345) % (2**31)
        out.append((state >> 16) & 1)
    return out


def record(env, seed, policy):
    obs, _ = env.reset(seed=seed)
    initial_state = [float(v) for v in env.unwrapped.state]
    ep = {
        "seed": seed,
        "initial_state": initial_state,
        "initial_obs": [float(v) for v in obs],
        "actions": [],
        "states": [],
        "observations": [],
        "rewards": [],
        "terminated": [],
        "truncated": [],
    }
    step = 0
    while True:
        a = int(policy(step, env.unwrapped.state))
        obs, reward, terminated, truncated, _ = env.step(a)
        ep["actions"].append(a)
        ep["states"].append([float(v) for v in env.unwrapped.state])
        ep["observations"].append([float(v) for v in obs])
        ep["rewards"].append(float(reward))
        ep["terminated"].append(bool(terminated))
        ep["truncated"].append(bool(truncated))
        step += 1
        if terminated or truncated:
            return ep


def main():
    ensure_venv()
    import gymnasium as gym
    import numpy as np

    env = gym.make("CartPole-v1")
    pushes = lcg_actions(1000)
    episodes = [
        record(env, 42, lambda t, s: pushes[t]),
        # A balancing rule (push towards the side the pole leans to), which survives to the
        # time limit; the actions it took are recorded, so the Rust side replays them.
        record(env, 7, lambda t, s: 1 if s[2] + 0.5 * s[3] + 0.05 * s[0] + 0.1 * s[1] > 0 else 0),
    ]
    out = {
        "gymnasium_version": gym.__version__,
        "numpy_version": np.__version__,
        "env": "CartPole-v1",
        "episodes": episodes,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: " + ", ".join(f"{len(e['actions'])} steps" for e in episodes))


if __name__ == "__main__":
    main()
