#!/usr/bin/env bash
# The RL tables of docs/rl.md through the runner: `autodidact sweep` of Q-learning and DQN on
# each gridworld setting (bench/rl/gridworld-*.toml, budget and map per row) and of DQN on
# CartPole with rl-baselines3-zoo's hyperparameters (bench/rl/cartpole-zoo.toml), then
# `autodidact compare`: runs.jsonl and results.md under bench/rl/results/TABLE/. These give the
# final columns (exact value gap of the greedy policy at the end of the budget; evaluation
# return at 50,000 steps); the columns measured *during* training (first step under the gap
# threshold, first evaluation ≥ 475) still come from the rl_results example (see docs/rl.md).
#
#   bash bench/rl/run_results.sh gridworlds|cartpole ...
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

report() { # TABLE COLUMNS
  local dir=$RESULTS/$1
  mkdir -p "$dir"
  "$BIN" compare "$RUNS/$1" --export "$dir/runs.jsonl" > /dev/null
  { echo "<!-- Written by bench/rl/run_results.sh $1: mean ± 95% CI (Student's t) over seeds. -->"; echo
    "$BIN" compare "$RUNS/$1" --markdown --metrics "$2"; } > "$dir/results.md"
  echo "$1: $dir/results.md"
}

for table in "$@"; do
  case $table in
    gridworlds)
      # map, slip, Q-learning budget, DQN budget
      while read -r map slip qb db; do
        out=$RUNS/gridworlds/$map-slip$slip
        for algo in q-learning dqn; do
          budget=$qb; [ $algo = dqn ] && budget=$db
          "$BIN" sweep $algo --env gridworld --config bench/rl/gridworld-$algo.toml \
            --set env.map=$map --set env.slip=$slip --set total_steps=$budget \
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
      report gridworlds value_gap,eval_return_mean,timing.train_seconds ;;
    cartpole)
      "$BIN" sweep dqn --env cartpole --config bench/rl/cartpole-zoo.toml --set threads=1 --set eval_episodes=10 \
        --seeds "${SEEDS:-0..5}" --jobs "$JOBS" --out "$RUNS/cartpole" ${EXTRA:-} > /dev/null
      report cartpole eval_return_mean,timing.train_seconds ;;
    *) echo "unknown table $table: gridworlds or cartpole" >&2; exit 2 ;;
  esac
done
