#!/usr/bin/env bash
# Omniglot-small, class-incremental, with the Conv4 backbone (docs/continual.md): as many
# strategies and seeds as the time allowed (each run is minutes on the busy 2-core machine).
# Runs already in the folder's runs.jsonl are skipped.
#
#   bash algorithms/continual/results/run_conv4.sh     # from the workspace root
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build -p autodidact-continual --example continual_results
BIN=./target/debug/examples/continual_results
OUT=algorithms/continual/results/omniglot-conv4
echo "machine: $(nproc) cores, $(uname -srm); start $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average: //')"
# Naive and Replay-1000 on five seeds first, then the other strategies on seeds 0-2.
for seed in 0 1 2 3 4; do
  $BIN --streams omniglot-class --methods naive,replay-1000 --seeds 1 --first-seed $seed --out $OUT --set backbone=conv4
done
for seed in 0 1 2; do
  $BIN --streams omniglot-class --methods ewc,si,lwf,replay-100,replay-500 --seeds 1 --first-seed $seed --out $OUT --set backbone=conv4
done
echo "done $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average: //')"
