#!/usr/bin/env bash
# The online-protocol tables of docs/continual.md ("Online: OML and MER"), through the runner:
# `autodidact sweep` per method on each stream's config here, then `autodidact compare`, which
# writes results/<table>/runs.jsonl and results.md.
#
#   bash bench/continual/online/run.sh TABLE...   # omniglot-oml | banking77 | permuted
#
# OML's trajectory length (20 classes x 5) and head reset (all) were chosen on the tuning seeds
# 100 and 101, never on the seeds reported (docs/continual.md).
#
# Environment: SEEDS (default 0..5), RUNS (default runs/online), DATA (default ../shared/data),
# JOBS (default 2), BIN (default: the release build).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
CFG=bench/continual/online
RUNS=${RUNS:-runs/online}
RESULTS=$CFG/results
DATA=${DATA:-../shared/data}
SEEDS=${SEEDS:-0..5}
JOBS=${JOBS:-2}
OMNI="env.data_dir=[\"$DATA/omniglot/images_background_small1.zip\",\"$DATA/omniglot/images_background_small2.zip\"]"
COLS="seen_test_acc,seen_train_acc,acc,bwt,forgetting,timing.train_seconds"

# run TABLE NAME ALGORITHM ENV CONFIG [--set …]: one sweep over the seeds into RUNS/TABLE/NAME.
run() {
  local table=$1 name=$2 alg=$3 env=$4 cfg=$5
  shift 5
  "$BIN" sweep "$alg" --env "$env" --config "$CFG/$cfg.toml" --seeds "$SEEDS" --jobs "$JOBS" \
    --out "$RUNS/$table/$name" "$@" > /dev/null
}

report() {
  local table=$1 dir=$RESULTS/$1
  mkdir -p "$dir"
  "$BIN" compare "$RUNS/$table" --export "$dir/runs.jsonl" > /dev/null
  {
    echo "<!-- Written by bench/continual/online/run.sh $table: mean ± 95% CI (Student's t) over seeds. -->"
    "$BIN" compare "$RUNS/$table" --markdown --percent --metrics "$COLS"
  } > "$dir/results.md"
  echo "$table: $dir/results.md"
}

echo "machine: $(nproc) cores, $(uname -srm); start $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for table in "$@"; do
  case $table in
    omniglot-oml)
      O="--set $OMNI --set meta_iterations=${META:-3000} --set traj_classes=20 --set traj_shots=5 --set remember=25 --set head_reset=all"
      C="--set $OMNI --set backbone=mlp --set hidden=[256,256] --set optimizer=sgd --set lr=0.03"
      run $table oml oml split omniglot-oml $O
      run $table pretrained oml split omniglot-oml $O --set representation=pretrained
      run $table random-rln oml split omniglot-oml $O --set representation=random
      run $table naive naive split omniglot-oml $C
      run $table replay-200 replay split omniglot-oml $C --set buffer_size=200 --set replay_batch=9
      run $table joint joint split omniglot-oml $C --set replay_batch=9 ;;
    banking77)
      B="--set env.data_dir=$DATA/banking77"
      C="$B --set hidden=[256] --set optimizer=sgd --set lr=0.1"
      O="$B --set rln_hidden=[256] --set meta_iterations=${META:-1500} --set traj_classes=20 --set traj_shots=5 --set remember=25 --set inner_lr=0.1 --set head_reset=all"
      run $table oml oml split banking77-online $O
      run $table pretrained oml split banking77-online $O --set representation=pretrained
      run $table mer mer split banking77-online $C --set buffer_size=200 --set mer_batches=2 --set mer_batch_size=5
      run $table replay-200 replay split banking77-online $C --set buffer_size=200 --set replay_batch=9
      run $table naive naive split banking77-online $C
      run $table joint joint split banking77-online $C --set replay_batch=9 ;;
    permuted)
      P="--set env.data_dir=$DATA/omniglot/images_background_small1.zip --set optimizer=sgd --set lr=0.03"
      run $table mer mer permuted omniglot-permuted-online $P --set buffer_size=200 --set mer_batches=2 --set mer_batch_size=5
      run $table replay-200 replay permuted omniglot-permuted-online $P --set buffer_size=200 --set replay_batch=9
      run $table agem-200 agem permuted omniglot-permuted-online $P --set buffer_size=200 --set agem_sample=9
      run $table naive naive permuted omniglot-permuted-online $P ;;
    *) echo "unknown table $table" >&2; exit 2 ;;
  esac
  report "$table"
done
echo "end $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
