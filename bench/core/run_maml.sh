#!/usr/bin/env bash
# Sinusoid MAML trained identically on both sides: ours (algorithms/gradient/examples/
# sinusoid_maml.rs, the library's MetaLearner) and plain PyTorch
# (bench/core/pytorch_maml_sinusoid.py), one after the other in one invocation, then a table.
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
build_examples autodidact-gradient sinusoid_maml

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OURS="$OUT/maml-ours-$STAMP.log"
TORCH="$OUT/maml-pytorch-$STAMP.log"
ARGS="--iterations $ITERS --seed $SEED --eval-tasks $EVAL --init $INIT"

echo "== machine"
{ machine_info; echo "ours built from: $SRC_DESC"; } | tee "$OUT/maml-machine-$STAMP.log"
echo "commands:"
echo "  $BIN/sinusoid_maml $ARGS"
echo "  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY bench/core/pytorch_maml_sinusoid.py $ARGS"

echo "== ours"
load "before ours" | tee -a "$OURS"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$BIN"/sinusoid_maml $ARGS 2>&1 | tee -a "$OURS"
load "after ours" | tee -a "$OURS"
echo "== pytorch"
load "before pytorch" | tee -a "$TORCH"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$PY" bench/core/pytorch_maml_sinusoid.py $ARGS 2>&1 | tee -a "$TORCH"
load "after pytorch" | tee -a "$TORCH"

echo "== comparison"
"$PY" bench/core/compare.py maml "$OURS" "$TORCH"
echo "logs: $OURS $TORCH"
