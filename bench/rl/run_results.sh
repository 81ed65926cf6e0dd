#!/usr/bin/env bash
# The RL tables of docs/rl.md through the runner: `autodidact sweep` of Q-learning and DQN on
# each gridworld setting (bench/rl/gridworld-*.toml, budget and map per row) and of DQN on
# CartPole with rl-baselines3-zoo's hyperparameters (bench/rl/cartpole-zoo.toml), then
# `autodidact compare`: runs.jsonl and results.md under bench/rl/results/TABLE/. Each run also
# evaluates during training (`--eval-every`: every 1/200 of a gridworld budget, every 2,500
# CartPole steps), and `compare --first` finds the first evaluation at the threshold: the exact
# value gap of the greedy policy ≤ 0.01 (deterministic maps) or ≤ 0.05 (slippery ones), the
# mean evaluation return ≥ 475 on CartPole.
#
#   bash bench/rl/run_results.sh gridworlds|cartpole|cartpole-best ...
#
# Environment: SEEDS (default 0..3 for gridworlds, 0..5 for CartPole), RUNS (default runs/rl),
# RESULTS (default bench/rl/results), JOBS (2), BIN (a prebuilt autodidact), EXTRA (arguments
# added to every sweep, e.g. "--set total_steps=200" for a quick check).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
RUNS=${RUNS:-runs/rl}
RESULTS=${RESULTS:-bench/rl/results}
JOBS=${JOBS:-2}
SLIP=0.6666666666666666   # 2/3

report() { # TABLE COLUMNS [compare arguments: --first ...]
  local table=$1 cols=$2 dir=$RESULTS/$1
  shift 2
  mkdir -p "$dir"
  "$BIN" compare "$RUNS/$table" --export "$dir/runs.jsonl" "$@" > /dev/null
  { echo "<!-- Written by bench/rl/run_results.sh $table: mean ± 95% CI (Student's t) over seeds; a first-step column averages the seeds that reached the threshold, marked (n of N) when not all did. -->"; echo
    "$BIN" compare "$dir/runs.jsonl" --markdown --metrics "$cols"; } > "$dir/results.md"
  echo "$table: $dir/results.md"
}

for table in "$@"; do
  case $table in
    gridworlds)
      # map, slip, Q-learning budget, DQN budget
      while read -r map slip qb db; do
        out=$RUNS/gridworlds/$map-slip$slip
        for algo in q-learning dqn; do
          budget=$qb; [ $algo = dqn ] && budget=$db
          every=$(( budget / 200 )); [ $every -ge 1 ] || every=1
          "$BIN" sweep $algo --env gridworld --config bench/rl/gridworld-$algo.toml \
            --set env.map=$map --set env.slip=$slip --set total_steps=$budget --eval-every $every \
            --seeds "${SEEDS:-0..3}" --jobs "$JOBS" --out "$out" ${EXTRA:-} > /dev/null
        done
      done <<ROWS
frozen-lake-4x4 0 20000 20000
frozen-lake-4x4 $SLIP 200000 200000
frozen-lake-8x8 0 100000 100000
frozen-lake-8x8 $SLIP 2000000 1000000
four-rooms 0 200000 200000
cliff-walk 0 50000 50000
ROWS
      report gridworlds reach_gap_0.01,reach_gap_0.05,value_gap,eval_return_mean,timing.train_seconds \
        --first "reach_gap_0.01=eval.value_gap<=0.01" --first "reach_gap_0.05=eval.value_gap<=0.05" ;;
    cartpole)
      "$BIN" sweep dqn --env cartpole --config bench/rl/cartpole-zoo.toml --set threads=1 --set eval_episodes=10 \
        --eval-every 2500 --seeds "${SEEDS:-0..5}" --jobs "$JOBS" --out "$RUNS/cartpole" ${EXTRA:-} > /dev/null
      report cartpole solved_at,eval_return_mean,timing.train_seconds --first "solved_at=eval.eval_return_mean>=475" ;;
    cartpole-best)
      # The same runs with --keep-best: the final greedy policy beside the best-evaluated one.
      "$BIN" sweep dqn --env cartpole --config bench/rl/cartpole-zoo.toml --set threads=1 --set eval_episodes=10 \
        --eval-every 2500 --keep-best --seeds "${SEEDS:-0..5}" --jobs "$JOBS" --out "$RUNS/cartpole-best" ${EXTRA:-} > /dev/null
      report cartpole-best eval_return_mean,best.eval_return_mean,best.iteration,timing.train_seconds ;;
    *) echo "unknown table $table: gridworlds, cartpole or cartpole-best" >&2; exit 2 ;;
  esac
done
