#!/usr/bin/env python3
"""Records Pendulum-v1 trajectories from Gymnasium for the Rust test `envs/tests/pendulum.rs`.

Makes its own virtual environment (python3 -m venv, pip install gymnasium numpy), then
re-runs itself inside it, and writes `envs/tests/fixtures/pendulum_gymnasium.json`: for each
episode the seed, the float64 initial state, the float32 torques applied, the float64 states
and float32 observations after every step, the rewards and terminated / truncated flags.

Episode 1 applies a fixed pseudo-random torque sequence in [-3, 3] (so the clip to +-2
is exercised) until the 200-step time limit. Episode 2 follows an energy-pumping rule whose
torques are recorded, so the pendulum spins fast (the speed clip at 8 rad/s and the angle
wrap are exercised); the Rust side replays the recorded torques.

Usage: python3 bench/pendulum_fixture.py   (VENV=/some/dir to choose where the venv goes)
"""

import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "envs", "tests", "fixtures", "pendulum_gymnasium.json")
VENV = os.environ.get("VENV", "/tmp/autodidact-pendulum-venv")


def ensure_venv():
    if os.environ.get("PENDULUM_FIXTURE_IN_VENV") == "1":
        return
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([py, "-m", "pip", "install", "-q", "gymnasium", "numpy"])
    env = dict(os.environ, PENDULUM_FIXTURE_IN_VENV="1")
    sys.exit(subprocess.call([py, os.path.abspath(__file__)], env=env))


def lcg_torques(n, state=2024):
    out = []
    for _ in range(n):
        state = (1103515245 * state + 12345) % (2**31)
        out.append(((state >> 8) % 6001) / 1000.0 - 3.0)
    return out


def record(env, seed, policy):
    import numpy as np

    obs, _ = env.reset(seed=seed)
    ep = {
        "seed": seed,
        "initial_state": [float(v) for v in env.unwrapped.state],
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
        a = np.array([policy(step, env.unwrapped.state)], dtype=np.float32)
        obs, reward, terminated, truncated, _ = env.step(a)
        ep["actions"].append(float(a[0]))
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

    env = gym.make("Pendulum-v1")
    torques = lcg_torques(200)

    def pump(t, s):
        # Push along the velocity: adds energy until the speed clip holds it.
        return 2.5 if s[1] >= 0 else -2.5

    episodes = [
        record(env, 42, lambda t, s: torques[t]),
        record(env, 7, pump),
    ]
    spins = max(abs(s[1]) for s in episodes[1]["states"])
    wraps = max(abs(s[0]) for s in episodes[1]["states"])
    out = {
        "gymnasium_version": gym.__version__,
        "numpy_version": np.__version__,
        "env": "Pendulum-v1",
        "episodes": episodes,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(
        f"wrote {OUT}: "
        + ", ".join(f"{len(e['actions'])} steps" for e in episodes)
        + f"; episode 2 reaches |theta_dot| = {spins:.3f} and |theta| = {wraps:.2f} "
        + f"(pi = {math.pi:.2f})"
    )


if __name__ == "__main__":
    main()
