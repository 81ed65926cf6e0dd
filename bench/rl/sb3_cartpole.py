#!/usr/bin/env python3
"""Stable-Baselines3's DQN on CartPole-v1 with rl-baselines3-zoo's tuned hyperparameters
(hyperparams/dqn.yml), timed the same way as autodidact's `rl_speed` example: wall-clock
seconds of `learn()` only, then 10 greedy evaluation episodes. Prints one JSON line.

Also `--frozen-lake`: SB3's DQN with its *default* hyperparameters on the deterministic 4x4
FrozenLake for 20,000 steps, reporting the greedy policy's success (the issue's claim).
"""
import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor


def cartpole(steps: int, seed: int) -> dict:
    env = gym.make("CartPole-v1")
    model = DQN(
        "MlpPolicy",
        env,
        learning_rate=2.3e-3,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1000,
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs=dict(net_arch=[256, 256]),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    t, cpu0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    secs = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    mean, std = evaluate_policy(
        model, Monitor(gym.make("CartPole-v1")), n_eval_episodes=10, deterministic=True
    )
    return {
        "impl": "stable-baselines3",
        "sb3": __import__("stable_baselines3").__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "steps": steps,
        "seed": seed,
        "seconds": round(secs, 3),
        "cpu_seconds": round(cpu, 2),
        "steps_per_second": round(steps / secs, 1),
        "eval_return_mean": float(mean),
    }


def frozen_lake(steps: int, seed: int) -> dict:
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=False)
    model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=steps)
    mean, _ = evaluate_policy(
        model,
        Monitor(gym.make("FrozenLake-v1", map_name="4x4", is_slippery=False)),
        n_eval_episodes=10,
        deterministic=True,
    )
    return {
        "impl": "stable-baselines3",
        "env": "FrozenLake-v1 4x4 deterministic, SB3 DQN defaults",
        "steps": steps,
        "seed": seed,
        "success_rate": float(mean),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frozen-lake", action="store_true")
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help="torch intra-op threads (0: torch's default, one per core)",
    )
    a = ap.parse_args()
    if a.torch_threads > 0:
        torch.set_num_threads(a.torch_threads)
    np.random.seed(a.seed)
    out = frozen_lake(a.steps, a.seed) if a.frozen_lake else cartpole(a.steps, a.seed)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
