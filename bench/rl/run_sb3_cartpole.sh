#!/usr/bin/env bash
# Side by side on this machine: autodidact's DQN and Stable-Baselines3's DQN on CartPole-v1
# with rl-baselines3-zoo's hyperparameters, the same number of steps, one after the other
# for each seed; prints both JSON lines and the steps/s ratio. Not part of tests or CI.
#
#   bench/rl/run_sb3_cartpole.sh                  # 50,000 steps, seed 0
#   STEPS=50000 SEEDS="0 1 2" THREADS=2 TORCH_THREADS=0 bench/rl/run_sb3_cartpole.sh
#
# THREADS: autodidact's DQN `threads` (default 2: both cores); TORCH_THREADS: torch's
# intra-op threads (default 0: torch's own default, one per core). THREADS=1 TORCH_THREADS=1
# compares single-threaded code; on a machine with other load, torch's multi-threaded
# kernels slow down far more than a single thread does.
#
# Makes its own venv at bench/.venv-rl (pip install stable-baselines3 gymnasium, from PyPI;
# torch is large). Run it on an otherwise idle machine: both sides are timed by wall clock.
set -euo pipefail
cd "$(dirname "$0")/../.."

STEPS=${STEPS:-50000}
SEEDS=${SEEDS:-0}
THREADS=${THREADS:-2}
TORCH_THREADS=${TORCH_THREADS:-0}
VENV=bench/.venv-rl

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import stable_baselines3, gymnasium" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --upgrade pip
    "$VENV/bin/pip" install stable-baselines3 gymnasium
fi

cargo build --release -p autodidact-rl --example rl_speed
OURS_BIN=target/release/examples/rl_speed

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
for seed in $SEEDS; do
    ours=$("$OURS_BIN" --steps "$STEPS" --seed "$seed" --threads "$THREADS")
    echo "$ours"
    echo "  load after ours: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
    sb3=$("$VENV/bin/python" bench/rl/sb3_cartpole.py --steps "$STEPS" --seed "$seed" --torch-threads "$TORCH_THREADS")
    echo "$sb3"
    echo "  load after SB3: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"
    python3 - "$ours" "$sb3" <<'PY'
import json, sys
ours, sb3 = (json.loads(x) for x in sys.argv[1:3])
r = ours["steps_per_second"] / sb3["steps_per_second"]
# Steps per CPU-second (all threads): less sensitive to other load on the machine.
rc = (ours["steps"] / ours["cpu_seconds"]) / (sb3["steps"] / sb3["cpu_seconds"])
print(f"seed {sb3['seed']}: autodidact {ours['steps_per_second']:.0f} steps/s "
      f"(eval {ours['eval_return_mean']:.1f}), SB3 {sb3['steps_per_second']:.0f} steps/s "
      f"(eval {sb3['eval_return_mean']:.1f}), wall-clock ratio {r:.2f}x, "
      f"CPU-time ratio {rc:.2f}x")
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
