#!/usr/bin/env bash
# The online tables' MER against the baselines with the same memory, every method's step size
# chosen on tuning seeds (other class orders than the reported seeds 0..5), then each method
# re-run at its best on the reported seeds.
#
#   BIN=target/release/autodidact DATA=../shared/data bash bench/continual/online/tune.sh banking77|permuted
#
# Grid: lr ∈ {0.03, 0.1, 0.3, 1} for every method (SGD), and for MER also β ∈ {0.1, 0.3, 1}
# (γ = 1, s = 2 batches of k = 5, as run.sh); memory 200, Replay 9 memory examples per step,
# A-GEM a 9-example reference gradient. LRS overrides the step-size grid and MER_S MER's
# batches per example (default "2"; each value is a grid axis of its own), TAG names the
# results folder (default <table>-tuned). The criterion is the final pooled test accuracy
# (`seen_test_acc`), mean over the tuning seeds. Results go to
# bench/continual/online/results/<table>-tuned/ (tuning.txt, results.md, runs.jsonl).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
TABLE=${1:?banking77 or permuted}
CFG=bench/continual/online
DATA=${DATA:-../shared/data}
TUNE=${TUNE_SEEDS:-100..102}
SEEDS=${SEEDS:-0..5}
JOBS=${JOBS:-2}
RUNS=${RUNS:-runs/online-tune}/$TABLE
LRS=${LRS:-0.03 0.1 0.3 1}
MER_S=${MER_S:-2}
OUT=$CFG/results/${TAG:-$TABLE-tuned}
mkdir -p "$OUT"
case $TABLE in
  banking77)
    ENV=split CONFIG=banking77-online METHODS="replay mer"
    C="--set env.data_dir=$DATA/banking77 --set hidden=[256] --set optimizer=sgd --set buffer_size=200" ;;
  permuted)
    ENV=permuted CONFIG=omniglot-permuted-online METHODS="replay agem mer"
    C="--set env.data_dir=$DATA/omniglot/images_background_small1.zip --set optimizer=sgd --set buffer_size=200" ;;
  *) echo "unknown table $TABLE (banking77 or permuted)" >&2; exit 2 ;;
esac
declare -A EXTRA=(
  [replay]="--set replay_batch=9"
  [agem]="--set agem_sample=9"
  [mer]="--set mer_batch_size=5 --set mer_gamma=1"
)

sweep() { # name alg seeds args...
  local name=$1 alg=$2 seeds=$3
  shift 3
  # shellcheck disable=SC2086
  "$BIN" sweep "$alg" --env "$ENV" --config "$CFG/$CONFIG.toml" --seeds "$seeds" \
    --jobs "$JOBS" --out "$RUNS/$name" $C ${EXTRA[$alg]} "$@" > /dev/null
}

# The mean final accuracy of a sweep's runs, from each run's summary.json.
score() {
  python3 - "$RUNS/$1" <<'EOF'
import json, pathlib, sys
v = [json.loads(p.read_text())["final_metrics"]["seen_test_acc"]
     for p in pathlib.Path(sys.argv[1]).glob("*/summary.json")]
print(f"{sum(v) / len(v):.4f} {len(v)}")
EOF
}

echo "$TABLE: start $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/tuning.txt"
declare -A BEST BEST_ARGS
for alg in $METHODS; do
  BEST[$alg]=-1
  betas="-" batches="-"
  [ "$alg" = mer ] && betas="0.1 0.3 1" && batches=$MER_S
  for lr in $LRS; do
    for beta in $betas; do
      for nb in $batches; do
        args="--set lr=$lr"
        name="$alg-lr$lr"
        if [ "$beta" != - ]; then args="$args --set mer_beta=$beta"; name="$name-beta$beta"; fi
        if [ "$nb" != - ]; then
          args="$args --set mer_batches=$nb"
          [ "$nb" != 2 ] && name="$name-s$nb"
        fi
        # shellcheck disable=SC2086
        sweep "tune/$name" "$alg" "$TUNE" $args
        read -r s n < <(score "tune/$name")
        echo "$name: $s ($n runs)" | tee -a "$OUT/tuning.txt"
        if python3 -c "import sys; sys.exit(0 if $s > ${BEST[$alg]} else 1)"; then
          BEST[$alg]=$s
          BEST_ARGS[$alg]=$args
        fi
      done
    done
  done
  echo "chosen: $alg ${BEST_ARGS[$alg]} (${BEST[$alg]})" | tee -a "$OUT/tuning.txt"
done
for alg in $METHODS; do
  # shellcheck disable=SC2086
  sweep "final/$alg" "$alg" "$SEEDS" ${BEST_ARGS[$alg]}
done
"$BIN" compare "$RUNS/final" --export "$OUT/runs.jsonl" > /dev/null
{
  echo "<!-- Written by bench/continual/online/tune.sh $TABLE: mean ± 95% CI (Student's t) over seeds $SEEDS. -->"
  "$BIN" compare "$RUNS/final" --markdown --percent --metrics "seen_test_acc,acc,bwt,forgetting,timing.train_seconds"
} > "$OUT/results.md"
echo "end $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/tuning.txt"
cat "$OUT/results.md"
