#!/usr/bin/env python3
"""Stable-Baselines3's PPO or A2C on CartPole-v1 with rl-baselines3-zoo's tuned hyperparameters
(hyperparams/ppo.yml and a2c.yml at commit 22e3ff2450fd92033f7f032915e1f64894a09584), timed
the same way as autodidact's `pg_speed` example: wall-clock and CPU seconds of `learn()` only,
then 10 deterministic evaluation episodes. Prints one JSON line.

    python bench/rl/sb3_pg_cartpole.py ppo|a2c [--steps N] [--seed S] [--torch-threads 1]
"""
import argparse
import json
import time

import gymnasium as gym
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor


def linear(start):
    # rl-zoo's `lin_<x>`: x times the remaining progress.
    return lambda progress_remaining: progress_remaining * start


def build(algo, seed):
    if algo == "ppo":
        env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
        model = PPO(
            "MlpPolicy",
            env,
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=linear(1e-3),
            clip_range=linear(0.2),
            seed=seed,
            device="cpu",
            verbose=0,
        )
        return model, 100_000
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = A2C("MlpPolicy", env, ent_coef=0.0, seed=seed, device="cpu", verbose=0)
    return model, 500_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("algo", choices=["ppo", "a2c"])
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch-threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.torch_threads)
    model, default_steps = build(a.algo, a.seed)
    steps = a.steps or default_steps
    t, cpu0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    secs = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    mean, _ = evaluate_policy(
        model, Monitor(gym.make("CartPole-v1")), n_eval_episodes=10, deterministic=True
    )
    print(
        json.dumps(
            {
                "impl": "stable-baselines3",
                "algo": a.algo,
                "sb3": __import__("stable_baselines3").__version__,
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "steps": int(model.num_timesteps),
                "seed": a.seed,
                "seconds": round(secs, 3),
                "cpu_seconds": round(cpu, 2),
                "steps_per_second": round(model.num_timesteps / secs, 1),
                "eval_return_mean": float(mean),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
