#!/usr/bin/env bash
# Sinusoid MAML trained identically on both sides: ours (`autodidact run maml --env sinusoid
# --config bench/gradient/sinusoid-maml.toml`, the library's MetaLearner through the runner)
# and plain PyTorch (bench/core/pytorch_maml_sinusoid.py), one after the other in one
# invocation, then a table. Our figures come from the run's summary.json (time per
# meta-iteration: training seconds / meta-iterations, checkpoints included).
#
#   bash bench/core/run_maml.sh [--iterations N] [--seed S] [--eval-tasks T] [--init I] [--rev REV]
#
# --init kaiming (default: the library's U(±√(6/fan_in)) weights, on both sides) or
# torch-default (nn.Linear's U(±1/√fan_in), on both sides).
# --rev REV measures a clean export of commit REV instead of the work tree.
# Defaults: 10,000 meta-iterations (PyTorch takes several minutes), seed 0, 1,000 test tasks.
# Logs go to target/bench-core/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

ITERS=10000
SEED=0
EVAL=1000
INIT=kaiming
while [ $# -gt 0 ]; do
    case "$1" in
        --iterations) ITERS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --eval-tasks) EVAL="$2"; shift 2 ;;
        --init) INIT="$2"; shift 2 ;;
        --rev) REV="$2"; shift 2 ;;
        *) echo "usage: $0 [--iterations N] [--seed S] [--eval-tasks T] [--init I] [--rev REV]" >&2; exit 2 ;;
    esac
done

ensure_venv
build_examples autodidact-runner   # no example: the autodidact binary, beside BIN
AUTODIDACT="$(dirname "$BIN")/autodidact"
case "$INIT" in
    kaiming) LIB_INIT=kaiming-uniform ;;
    torch-default) LIB_INIT=torch-default ;;
    *) echo "--init takes kaiming or torch-default" >&2; exit 2 ;;
esac

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OURS="$OUT/maml-ours-$STAMP.log"
TORCH="$OUT/maml-pytorch-$STAMP.log"
ARGS="--iterations $ITERS --seed $SEED --eval-tasks $EVAL --init $INIT"
RUN="$OUT/maml-run-$STAMP"
OURS_CMD="$AUTODIDACT run maml --env sinusoid --config bench/gradient/sinusoid-maml.toml --seed $SEED --set meta_iterations=$ITERS --set eval_tasks=$EVAL --set init=$LIB_INIT --out $RUN -q"

echo "== machine"
{ machine_info; echo "ours built from: $SRC_DESC"; } | tee "$OUT/maml-machine-$STAMP.log"
echo "commands:"
echo "  $OURS_CMD"
echo "  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY bench/core/pytorch_maml_sinusoid.py $ARGS"

echo "== ours"
load "before ours" | tee -a "$OURS"
/usr/bin/time -f "wall %e s, max RSS %M KiB" $OURS_CMD 2>&1 | tee -a "$OURS"
# The run's summary as the JSON line compare.py reads.
"$PY" - "$RUN/summary.json" "$INIT" <<'PYEOF' | tee -a "$OURS"
import json, sys
s = json.load(open(sys.argv[1]))
m, t = s["final_metrics"], s["timing"]
it = s["iterations"]
print("JSON " + json.dumps({
    "impl": "autodidact", "bench": "sinusoid_maml", "iterations": it, "seed": s["seed"],
    "init": sys.argv[2], "eval_tasks": s["hyperparameters"]["eval_tasks"],
    "train_s": t["train_seconds"], "ms_per_meta_iteration": t["train_seconds"] * 1e3 / it,
    "eval_s": t["eval_seconds"],
    "mse_before": m["query_mse_before"], "mse_before_ci95": m["query_mse_before_ci95"],
    "mse_after_1": m["query_mse_after_1"], "mse_after_1_ci95": m["query_mse_after_1_ci95"],
    "mse_after_10": m["query_mse_after"], "mse_after_10_ci95": m["query_mse_after_ci95"],
}))
PYEOF
load "after ours" | tee -a "$OURS"
echo "== pytorch"
load "before pytorch" | tee -a "$TORCH"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$PY" bench/core/pytorch_maml_sinusoid.py $ARGS 2>&1 | tee -a "$TORCH"
load "after pytorch" | tee -a "$TORCH"

echo "== comparison"
"$PY" bench/core/compare.py maml "$OURS" "$TORCH"
echo "logs: $OURS $TORCH"
