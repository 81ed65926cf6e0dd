#!/usr/bin/env bash
# Issue 27's side-by-side: every family's headline benchmark against PyTorch or
# Stable-Baselines3, at 1 and at 2 threads, in ONE invocation, rounds interleaved (round 1 runs
# ours first, round 2 theirs first, …), then medians, ranges, ratios, targets and the roofline
# (this machine's measured f32 peak and each benchmark's achieved GFLOP/s).
#
#   bash bench/speed/run.sh [--rounds R] [--threads "1 2"] [--only "mlp maml proto minilm dqn ppo"]
#                           [--quick] [--no-build]
#
# The pairs (ours | theirs), each at the same thread count:
#   mlp     one SGD step, 784-256-128-10 ReLU MLP, batch 64 (core/examples/bench_steps.rs |
#           bench/core/pytorch_core.py)
#   maml    second-order MAML meta-iteration, sinusoid, meta-batch 25 (`autodidact bench maml` |
#           bench/core/pytorch_maml_sinusoid.py, the plain per-task loop)
#   proto   ProtoNet Conv4 training 20-way 5-shot 15-query and evaluation 5-way 1-shot 15-query
#           (algorithms/metric/examples/metric_speed.rs | bench/metric/pytorch_protonet.py)
#   minilm  all-MiniLM-L6-v2 sentence encoding at batch 1 and 32 on BANKING77 messages
#           (envs/examples/minilm_speed.rs | bench/minilm/speed_st.py, sentence-transformers)
#   dqn     DQN on CartPole, the zoo's hyperparameters (algorithms/rl/examples/rl_speed.rs |
#           bench/rl/sb3_cartpole.py)
#   ppo     PPO on CartPole, the zoo's hyperparameters (algorithms/rl/examples/pg_speed.rs |
#           bench/rl/sb3_pg_cartpole.py)
# PyTorch gets the thread count through torch.set_num_threads (and OMP/MKL_NUM_THREADS); ours
# through each program's --threads / the `threads` key.
#
# Makes its own virtual environment (bench/.venv-speed; VENV= to choose) with torch,
# stable-baselines3, gymnasium and sentence-transformers from PyPI (large: torch brings CUDA
# libraries; the CPU path is what is measured). Needs ../shared/data (MiniLM, BANKING77) for
# minilm. Logs and the summary go to target/bench-speed/<stamp>/. Not part of tests or CI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/bench/.venv-speed}"
PY="$VENV/bin/python"
DATA="${DATA:-$ROOT/../shared/data}"
ROUNDS=3
THREADS="1 2"
ONLY="mlp maml proto minilm dqn ppo"
QUICK=0
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --no-build) BUILD=0; shift ;;
        *) echo "usage: $0 [--rounds R] [--threads \"1 2\"] [--only \"mlp maml proto minilm dqn ppo\"] [--quick] [--no-build]" >&2; exit 2 ;;
    esac
done

# Work per invocation: enough for a stable rate, small enough for three rounds at two thread
# counts in about half an hour. --quick (for trying the script) divides it by ten or so.
if [ "$QUICK" = 1 ]; then
    MLP_SCALE=0.1; MAML_STEPS=100; PROTO_TRAIN=2; PROTO_EVAL=10; MINILM_N=100; DQN_STEPS=3000; PPO_STEPS=4096
else
    MLP_SCALE=1; MAML_STEPS=1000; PROTO_TRAIN=10; PROTO_EVAL=100; MINILM_N=500; DQN_STEPS=20000; PPO_STEPS=32768
fi

if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import torch, stable_baselines3, gymnasium, sentence_transformers' 2>/dev/null; then
    "$PY" -m pip install --upgrade pip >/dev/null
    "$PY" -m pip install torch numpy stable-baselines3 gymnasium sentence-transformers
fi
if [ "$BUILD" = 1 ]; then
    cargo build --release -p autodidact-runner
    cargo build --release -p autodidact-core --example bench_steps --example peak_flops
    cargo build --release -p autodidact-metric --example metric_speed
    cargo build --release -p autodidact-envs --example minilm_speed
    cargo build --release -p autodidact-rl --example rl_speed --example pg_speed
fi
BIN="$ROOT/target/release"
EX="$BIN/examples"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/target/bench-speed/$STAMP"
mkdir -p "$OUT"
load() { cut -d' ' -f1-3 /proc/loadavg; }
{
    echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "cpu:     $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(getconf _NPROCESSORS_ONLN) cores"
    echo "rustc:   $(rustc --version)"
    echo "python:  $("$PY" -c 'import sys, torch, stable_baselines3 as s, sentence_transformers as t; print(sys.version.split()[0], "torch", torch.__version__, "sb3", s.__version__, "sentence-transformers", t.__version__)')"
    echo "git:     $(git rev-parse --short HEAD) ($(git status --porcelain | wc -l) paths dirty)"
    echo "command: bash bench/speed/run.sh --rounds $ROUNDS --threads \"$THREADS\" --only \"$ONLY\"$([ "$QUICK" = 1 ] && echo ' --quick')"
    echo "load:    $(load)"
} | tee "$OUT/machine.txt"

# This machine's peak first (registers only; a few seconds).
echo "== peak f32"
"$EX/peak_flops" --seconds 1 | tee "$OUT/peak.log"

# One side of one pair at $t threads: prints its own output; the summary parses it.
ours() {
    local b="$1" t="$2"
    case "$b" in
        mlp) "$EX/bench_steps" --only mlp_784_256_128_10_step --scale "$MLP_SCALE" --threads "$t" ;;
        maml) "$BIN/autodidact" bench maml --env sinusoid --config bench/gradient/sinusoid-maml.toml \
                --set "threads=$t" --steps "$MAML_STEPS" --warmup 20 --json ;;
        proto) "$EX/metric_speed" --train "$PROTO_TRAIN" --eval "$PROTO_EVAL" --threads "$t" ;;
        minilm) "$EX/minilm_speed" --threads "$t" "$DATA/minilm" "$DATA/banking77/test.csv" "$MINILM_N" 1 32 ;;
        dqn) "$EX/rl_speed" --steps "$DQN_STEPS" --seed 0 --threads "$t" ;;
        ppo) "$EX/pg_speed" ppo --steps "$PPO_STEPS" --seed 0 --threads "$t" ;;
    esac
}
# A subshell, so the thread variables stay with PyTorch's side.
theirs() (
    local b="$1" t="$2"
    export OMP_NUM_THREADS="$t" MKL_NUM_THREADS="$t" BENCH_THREADS="$t"
    case "$b" in
        mlp) "$PY" bench/core/pytorch_core.py --only mlp_784_256_128_10_step --scale "$MLP_SCALE" --threads "$t" ;;
        maml) "$PY" bench/core/pytorch_maml_sinusoid.py --iterations "$MAML_STEPS" --eval-tasks 10 ;;
        proto) "$PY" bench/metric/pytorch_protonet.py --train "$PROTO_TRAIN" --eval "$PROTO_EVAL" ;;
        minilm) "$PY" bench/minilm/speed_st.py "$DATA/minilm" "$DATA/banking77/test.csv" "$MINILM_N" 1 32 ;;
        dqn) "$PY" bench/rl/sb3_cartpole.py --steps "$DQN_STEPS" --seed 0 --torch-threads "$t" ;;
        ppo) "$PY" bench/rl/sb3_pg_cartpole.py ppo --steps "$PPO_STEPS" --seed 0 --torch-threads "$t" ;;
    esac
)
side() {
    local who="$1" b="$2" t="$3" r="$4"
    local log="$OUT/r$r-t$t-$b-$who.log"
    echo "-- round $r, $t thread(s), $b, $who (load $(load))"
    { echo "LOAD_BEFORE $(load)"; "$who" "$b" "$t"; echo "LOAD_AFTER $(load)"; } > "$log" 2>&1 ||
        echo "   FAILED: see $log"
}

for r in $(seq 1 "$ROUNDS"); do
    for t in $THREADS; do
        for b in $ONLY; do
            if [ $((r % 2)) = 1 ]; then
                side ours "$b" "$t" "$r"; side theirs "$b" "$t" "$r"
            else
                side theirs "$b" "$t" "$r"; side ours "$b" "$t" "$r"
            fi
        done
    done
done
echo "load after: $(load)" | tee -a "$OUT/machine.txt"
"$PY" bench/speed/summary.py "$OUT" | tee "$OUT/summary.md"
echo "logs and summary: $OUT"
