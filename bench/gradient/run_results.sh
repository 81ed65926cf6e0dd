#!/usr/bin/env bash
# Gradient-based meta-learners' results: trains each ALGO:CONFIG given (the environment is the
# config file's name up to the first '-': omniglot-*.toml, intents-*.toml), evaluates on
# 1,000 held-out test tasks, and evaluates Omniglot runs again with 15 queries per class.
# Usage: bench/gradient/run_results.sh [ALGO:CONFIG ...]   (from the repository root)
# EXTRA adds arguments to every run (e.g. "--set meta_iterations=2" for a quick check).
# EVAL15=0 skips the 15-query re-evaluation (it takes longer than a short training run).
# Then `autodidact compare` writes every run in OUT as RESULTS/runs.jsonl (default
# bench/gradient/results) and the table as RESULTS/results.md (the 15-query figures as 15q.*).
set -euo pipefail
cd "$(dirname "$0")/../.."
# BIN=path uses a prebuilt binary (so rebuilding the tree mid-run does not change it).
if [ -z "${BIN:-}" ]; then cargo build --release -q; BIN=target/release/autodidact; fi
OUT=${OUT:-runs/gradient}
RESULTS=${RESULTS:-bench/gradient/results}
mkdir -p "$OUT"
jobs=("$@")
if [ ${#jobs[@]} -eq 0 ]; then
  jobs=(maml:bench/gradient/omniglot-maml-5w1s.toml)
fi
for job in "${jobs[@]}"; do
  algo=${job%%:*}; cfg=${job#*:}
  name=$(basename "$cfg" .toml)
  env=${name%%-*}
  echo "== $algo $cfg ($(date -u +%H:%M:%S), load: $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/time -f "$name: %e s wall, %U s user, peak RSS %M KB" \
    "$BIN" run "$algo" --env "$env" --config "$cfg" --out "$OUT/$name" -q ${EXTRA:-}
  if [ "$env" = omniglot ] && [ "${EVAL15:-1}" != 0 ]; then
    "$BIN" eval --run "$OUT/$name" --set env.queries=15 --output "$OUT/$name/eval-15q.json"
  fi
done
mkdir -p "$RESULTS"
"$BIN" compare "$OUT" --export "$RESULTS/runs.jsonl" > /dev/null
{
  echo "<!-- Written by bench/gradient/run_results.sh: query accuracy (or MSE) in the test tasks; ± the run's 95% CI over test tasks (one seed), or over seeds. -->"
  echo
  "$BIN" compare "$OUT" --markdown --metrics \
    'query_accuracy_before,query_accuracy_after_1,query_accuracy_after,15q.query_accuracy_after,query_mse_after_1,query_mse_after,timing.train_seconds'
} > "$RESULTS/results.md"
echo "table: $RESULTS/results.md"
