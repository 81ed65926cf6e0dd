#!/usr/bin/env bash
# The metric-based family's tables of docs/metric.md, through the runner alone: for each config
# (bench/metric/ENV-ALGO-Kshot*.toml), `autodidact run` (seed 0, 1,000 test episodes at 5 ways),
# `autodidact eval` at the wider way count (20-way on Omniglot, 10-way on BANKING77:
# eval-20way.json / eval-10way.json), then `autodidact compare`: the runs as
# bench/metric/results/runs.jsonl and the table as results.md. A single-seed row shows the run's
# own 95 % interval over its test episodes.
#
#   bash bench/metric/run_results.sh [CONFIG.toml ...]    # default: every config here
#
# A finished run is skipped and a stopped one resumed. Environment: SEED (0), RUNS (run folders,
# default runs/metric), RESULTS (default bench/metric/results), BIN (a prebuilt autodidact),
# EXTRA (arguments added to every run, e.g. "--set meta_iterations=2 --set eval_episodes=5").
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
RUNS=${RUNS:-runs/metric}
RESULTS=${RESULTS:-bench/metric/results}
SEED=${SEED:-0}
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then configs=(bench/metric/omniglot-*.toml bench/metric/intents-*.toml); fi
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .toml)
  env=${name%%-*}                       # omniglot-proto-net-1shot: omniglot
  rest=${name#*-}
  algo=${rest%%-net*}-net               # proto-net
  out=$RUNS/$name
  echo "== $name: $algo on $env ($(date -u +%H:%M:%S), load: $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ ! -f "$out/summary.json" ]; then
    if [ -d "$out" ]; then
      "$BIN" resume "$out" -q
    else
      "$BIN" run "$algo" --env "$env" --config "bench/metric/$name.toml" --seed "$SEED" --out "$out" -q ${EXTRA:-} > /dev/null
    fi
  fi
  case $env in omniglot) ways=20 ;; *) ways=10 ;; esac
  if [ ! -f "$out/eval-${ways}way.json" ]; then
    "$BIN" eval --run "$out" --set env.ways=$ways --output "$out/eval-${ways}way.json" > /dev/null
  fi
done
mkdir -p "$RESULTS"
"$BIN" compare "$RUNS" --export "$RESULTS/runs.jsonl" > /dev/null
{
  echo "<!-- Written by bench/metric/run_results.sh: test accuracy in %, 5-way unless named; ± the run's 95% CI over test episodes (one seed), or over seeds. -->"
  echo
  "$BIN" compare "$RUNS" --markdown --percent --metrics \
    query_accuracy,20way.query_accuracy,10way.query_accuracy,baseline_accuracy,10way.baseline_accuracy,gain_over_baseline,10way.gain_over_baseline,val_best_accuracy,timing.train_seconds
} > "$RESULTS/results.md"
echo "table: $RESULTS/results.md"
