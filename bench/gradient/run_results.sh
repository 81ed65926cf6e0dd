#!/usr/bin/env bash
# Gradient-based meta-learners' results: trains each ALGO:CONFIG given (the environment is the
# config file's name up to the first '-': omniglot-*.toml, intents-*.toml), evaluates on
# 1,000 held-out test tasks, and evaluates Omniglot runs again with 15 queries per class.
# Usage: bench/gradient/run_results.sh [ALGO:CONFIG ...]   (from the repository root)
# EVAL15=0 skips the 15-query re-evaluation (it takes longer than a short training run).
set -euo pipefail
cd "$(dirname "$0")/../.."
# BIN=path uses a prebuilt binary (so rebuilding the tree mid-run does not change it).
if [ -z "${BIN:-}" ]; then cargo build --release -q; BIN=target/release/autodidact; fi
OUT=${OUT:-runs/gradient}
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
    "$BIN" run "$algo" --env "$env" --config "$cfg" --out "$OUT/$name" -q
  if [ "$env" = omniglot ] && [ "${EVAL15:-1}" != 0 ]; then
    "$BIN" eval --run "$OUT/$name" --set env.queries=15 --output "$OUT/$name/eval-15q.json"
  fi
done
