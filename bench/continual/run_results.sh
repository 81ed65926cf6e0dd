#!/usr/bin/env bash
# The continual-learning results of docs/continual.md: every strategy, 5 seeds, on the
# gaussian-classes permuted and split streams and the class-incremental BANKING77 stream, the
# plasticity ablation of Replay-1000 on BANKING77 (3 seeds), BANKING77 with the labels trick,
# and Omniglot-small (an MLP on the pixels), class- and task-incremental and permuted. Runs already in a
# results folder's runs.jsonl are skipped, so the script resumes where it stopped.
#
#   bash bench/continual/run_results.sh     # from the workspace root; about an hour on 2 busy cores
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p autodidact-continual --example continual_results
BIN=./target/release/examples/continual_results
OUT=bench/continual/results
echo "machine: $(nproc) cores, $(uname -srm); start $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average: //')"
$BIN --streams gaussian-permuted,gaussian-split-task,gaussian-split-class --seeds 5 --out $OUT/gaussian
$BIN --streams banking77-class --seeds 5 --out $OUT/banking77
# Plasticity ablation: Replay-1000 on BANKING77, one change at a time (3 seeds; the unchanged
# configuration is the banking77 table's replay-1000).
A=$OUT/ablation
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/no-mask --set mask_unseen=false
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/reservoir --set buffer_policy=reservoir
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/keep-optimizer --set reset_optimizer=false
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/replay-8-per-batch --set replay_batch=8
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/sgd-0.1 --set optimizer=sgd --set lr=0.1 --set momentum=0.9
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/sgd-0.1-no-mask --set optimizer=sgd --set lr=0.1 --set momentum=0.9 --set mask_unseen=false --set reset_optimizer=false
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/sgd-0.5 --set optimizer=sgd --set lr=0.5 --set momentum=0.9
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/sgd-0.5-no-mask --set optimizer=sgd --set lr=0.5 --set momentum=0.9 --set mask_unseen=false --set reset_optimizer=false
$BIN --streams banking77-class --methods replay-1000 --seeds 3 --out $A/leaky-relu --set activation=leaky-relu
$BIN --streams banking77-class --seeds 5 --out $OUT/banking77-labels-trick --set labels_trick=true
$BIN --streams omniglot-class --seeds 5 --out $OUT/omniglot
# Task-incremental Omniglot-small: a head per experience (the task id is given at test time).
$BIN --streams omniglot-task --seeds 5 --out $OUT/omniglot-task
# Permuted Omniglot-small: every character in every experience, a pixel permutation each.
$BIN --streams omniglot-permuted --seeds 5 --out $OUT/omniglot-permuted
# Session 6: the class-incremental tables again, now with each final model's task-aware accuracy,
# and BANKING77 on its own train.csv / test.csv split.
$BIN --streams gaussian-split-class,banking77-class,omniglot-class --seeds 5 --out $OUT/task-aware
$BIN --streams banking77-class-official --seeds 5 --out $OUT/banking77-official
echo "done $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average: //')"
