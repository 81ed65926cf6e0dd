#!/usr/bin/env bash
# The continual-learning tables of docs/continual.md, through the runner alone: per strategy,
# `autodidact sweep` on a stream's config (bench/continual/<stream>.toml); on class-incremental
# streams, `autodidact eval` of each final model on the stream's task-incremental twin
# (`eval-task-aware.json`: the task-aware accuracy); then `autodidact compare`, which writes the
# runs as bench/continual/results/<table>/runs.jsonl and the table as results.md.
#
#   bash bench/continual/run_results.sh TABLE...     # from anywhere; TABLE as in the case below
#
# Finished runs are skipped and stopped ones resumed when it runs again. Environment:
#   SEEDS    seeds instead of each table's (e.g. 0..2)
#   STREAMS  only these streams (space-separated) of a table
#   EXTRA    arguments added to every sweep, e.g. "--set epochs=1" for a quick check
#   RUNS     run folders (default runs/continual); RESULTS: tables (default bench/continual/results)
#   JOBS     runs at once (default 2); BIN: a prebuilt autodidact (default: release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
CFG=bench/continual
RUNS=${RUNS:-runs/continual}
RESULTS=${RESULTS:-bench/continual/results}
JOBS=${JOBS:-2}
ALL="naive ewc si lwf agem replay-100 replay-500 replay-1000 joint"
# Columns of every table (accuracies in per cent); class-incremental tables add the task-aware
# accuracy and its paired gap to ACC.
COLS="acc,bwt,fwt,forgetting,just_trained_*,timing.train_seconds"
AWARE_COLS="acc,task-aware.acc,gap,bwt,fwt,forgetting,just_trained_*,timing.train_seconds"

# sweep TABLE STREAM SEEDS "METHODS" [sweep arguments...]: replay-N is `replay` with buffer_size N.
# SUB=NAME puts the runs in a subfolder (variants whose run names would be alike).
sweep() {
  local table=$1 stream=$2 seeds=${SEEDS:-$3} methods=$4
  shift 4
  if [ -n "${STREAMS:-}" ] && [[ " $STREAMS " != *" $stream "* ]]; then return; fi
  local env=split out=$RUNS/$table/$stream${SUB:+/$SUB} buffers=""
  case $stream in *permuted) env=permuted ;; esac
  for m in $methods; do
    case $m in
      replay-*) buffers="$buffers${buffers:+,}${m#replay-}" ;;
      *) "$BIN" sweep "$m" --env $env --config "$CFG/$stream.toml" --seeds "$seeds" --jobs "$JOBS" --out "$out" "$@" ${EXTRA:-} > /dev/null ;;
    esac
  done
  if [ -n "$buffers" ]; then
    "$BIN" sweep replay --env $env --config "$CFG/$stream.toml" --grid buffer_size=$buffers \
      --seeds "$seeds" --jobs "$JOBS" --out "$out" "$@" ${EXTRA:-} > /dev/null
  fi
  if grep -q '^scenario = "class-incremental"' "$CFG/$stream.toml"; then
    for run in "$out"/*/; do
      if [ -f "$run/summary.json" ] && [ ! -f "$run/eval-task-aware.json" ]; then
        "$BIN" eval --run "$run" --set env.scenario=task-incremental \
          --output "$run/eval-task-aware.json" > /dev/null
      fi
    done
  fi
}

# report TABLE: runs.jsonl and results.md (a section per stream) from the table's runs.
report() {
  local table=$1 dir=$RESULTS/$1
  mkdir -p "$dir"
  "$BIN" compare "$RUNS/$table" --export "$dir/runs.jsonl" > /dev/null
  {
    echo "<!-- Written by bench/continual/run_results.sh $table: mean ± 95% CI (Student's t) over seeds. -->"
    for s in "$RUNS/$table"/*/; do
      local cols=$COLS
      if grep -q '^scenario = "class-incremental"' "$CFG/$(basename "$s").toml" 2>/dev/null; then cols=$AWARE_COLS; fi
      printf '\n### %s\n\n' "$(basename "$s")"
      "$BIN" compare "$s" --markdown --percent --metrics "$cols" --derive "gap=task-aware.acc - acc"
    done
  } > "$dir/results.md"
  echo "$table: $dir/results.md"
}

echo "machine: $(nproc) cores, $(uname -srm); start $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for table in "$@"; do
  case $table in
    gaussian)
      for s in gaussian-permuted gaussian-split-task gaussian-split-class; do sweep $table $s 0..5 "$ALL"; done ;;
    banking77 | banking77-official | omniglot | omniglot-task | omniglot-permuted)
      declare -A stream=([banking77]=banking77-class [banking77-official]=banking77-class-official
        [omniglot]=omniglot-class [omniglot-task]=omniglot-task [omniglot-permuted]=omniglot-permuted)
      sweep $table "${stream[$table]}" 0..5 "$ALL" ;;
    banking77-labels-trick)
      sweep $table banking77-class 0..5 "$ALL" --set labels_trick=true ;;
    task-aware)
      # The class-incremental streams again, each final model also on its task-incremental twin.
      for s in gaussian-split-class banking77-class omniglot-class; do sweep $table $s 0..5 "$ALL"; done ;;
    ablation)
      # Replay-1000 on BANKING77, one change at a time (3 seeds); the first is unchanged.
      a="sweep $table banking77-class 0..3 replay-1000"
      SUB=unchanged $a
      SUB=no-mask $a --set mask_unseen=false
      SUB=reservoir $a --set buffer_policy=reservoir
      SUB=keep-optimizer $a --set reset_optimizer=false
      SUB=replay-8-per-batch $a --set replay_batch=8
      SUB=leaky-relu $a --set activation=leaky-relu
      for lr in 0.1 0.5; do
        SUB=sgd-$lr $a --set optimizer=sgd --set lr=$lr --set momentum=0.9
        SUB=sgd-$lr-no-mask $a --set optimizer=sgd --set lr=$lr --set momentum=0.9 --set mask_unseen=false --set reset_optimizer=false
      done ;;
    ewc-sweep)
      # Online EWC's λ chosen on held-out seeds 10 and 11 (never reported), with and without the
      # labels trick, on BANKING77.
      SUB=standard sweep $table banking77-class 10,11 "naive ewc"
      SUB=standard-online sweep $table banking77-class 10 "ewc" --set ewc_mode=online --grid ewc_lambda=1000,100000
      SUB=labels-trick sweep $table banking77-class 10,11 "naive" --set labels_trick=true
      SUB=labels-trick-online sweep $table banking77-class 10,11 "ewc" --set labels_trick=true --set ewc_mode=online --grid ewc_lambda=3,10,30,100,1000,10000
      SUB=labels-trick-separate sweep $table banking77-class 10 "ewc" --set labels_trick=true --grid ewc_lambda=30,3000 ;;
    ewc)
      # The reported runs with the chosen λ: online EWC with the labels trick (λ = 10) and with
      # the standard loss (λ = 1,000), against Naive under the same loss.
      for s in banking77-class gaussian-split-class; do
        SUB=labels-trick sweep $table $s 0..5 "naive ewc" --set labels_trick=true --set ewc_mode=online --set ewc_lambda=10
      done
      SUB=standard sweep $table banking77-class 0..5 "naive ewc" --set ewc_mode=online --set ewc_lambda=1000 ;;
    ewc-merged)
      # Separate EWC (merged penalty) against Naive on six streams.
      for s in gaussian-permuted gaussian-split-class banking77-class omniglot-class omniglot-task omniglot-permuted; do
        sweep $table $s 0..5 "naive ewc"
      done ;;
    omniglot-conv4)
      sweep $table omniglot-class 0..5 "naive replay-1000 agem" --set backbone=conv4
      sweep $table omniglot-class 0..3 "ewc si lwf replay-100 replay-500 joint" --set backbone=conv4
      sweep $table omniglot-class 0 "ewc" --set backbone=conv4 --grid ewc_lambda=1,10,30 ;;
    omniglot-task-conv4)
      sweep $table omniglot-task 0..5 "naive ewc si lwf replay-100 replay-500 replay-1000 joint" --set backbone=conv4
      sweep $table omniglot-task 0..5 "ewc" --set backbone=conv4 --grid ewc_lambda=10,30 ;;
    *)
      echo "unknown table $table: gaussian banking77 banking77-official banking77-labels-trick omniglot omniglot-task omniglot-permuted task-aware ablation ewc-sweep ewc ewc-merged omniglot-conv4 omniglot-task-conv4" >&2
      exit 2 ;;
  esac
  report $table
done
echo "done $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
