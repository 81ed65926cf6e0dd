#!/usr/bin/env bash
# Side by side on this machine: autodidact's PPO and A2C and Stable-Baselines3's on CartPole-v1
# with rl-baselines3-zoo's tuned hyperparameters (PPO 100,000 steps, A2C 500,000 by default),
# one thread each (torch.set_num_threads(1); autodidact's policy-gradient agents use one
# thread), one after the other for each seed; prints both JSON lines and the steps/s ratio.
# Not part of tests or CI.
#
#   bench/rl/run_sb3_pg.sh                       # ppo and a2c, seed 0
#   ALGOS="ppo" SEEDS="0 1 2 3 4" STEPS=100000 bench/rl/run_sb3_pg.sh
#
# Makes its own venv at bench/.venv-pg (VENV= to choose): pip install stable-baselines3
# gymnasium from PyPI (torch comes with it and is large). Run it on an otherwise idle machine:
# both sides are timed by wall clock (the CPU-time ratio is printed too).
set -euo pipefail
cd "$(dirname "$0")/../.."

ALGOS=${ALGOS:-"ppo a2c"}
SEEDS=${SEEDS:-0}
STEPS=${STEPS:-0}
VENV=${VENV:-bench/.venv-pg}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import stable_baselines3, gymnasium" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --upgrade pip
    "$VENV/bin/pip" install stable-baselines3 gymnasium
fi

# OURS_BIN: a prebuilt pg_speed (else built here in release mode).
if [ -z "${OURS_BIN:-}" ]; then
    cargo build --release -p autodidact-rl --example pg_speed
    OURS_BIN=target/release/examples/pg_speed
fi
steps_arg=()
if [ "$STEPS" != 0 ]; then steps_arg=(--steps "$STEPS"); fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
for algo in $ALGOS; do
    for seed in $SEEDS; do
        ours=$("$OURS_BIN" "$algo" "${steps_arg[@]}" --seed "$seed")
        echo "$ours"
        echo "  load after ours: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
        sb3=$("$VENV/bin/python" bench/rl/sb3_pg_cartpole.py "$algo" "${steps_arg[@]}" --seed "$seed" --torch-threads 1)
        echo "$sb3"
        echo "  load after SB3: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
        python3 - "$ours" "$sb3" <<'PY'
import json, sys
ours, sb3 = (json.loads(x) for x in sys.argv[1:3])
r = ours["steps_per_second"] / sb3["steps_per_second"]
rc = (ours["steps"] / ours["cpu_seconds"]) / (sb3["steps"] / sb3["cpu_seconds"])
print(f"{ours['algo']} seed {sb3['seed']}: autodidact {ours['steps_per_second']:.0f} steps/s "
      f"(eval {ours['eval_return_mean']:.1f}), SB3 {sb3['steps_per_second']:.0f} steps/s "
      f"(eval {sb3['eval_return_mean']:.1f}), wall-clock ratio {r:.2f}x, "
      f"CPU-time ratio {rc:.2f}x")
PY
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
