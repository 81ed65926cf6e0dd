#!/usr/bin/env bash
# Side-by-side core speed benchmark: ours (core/examples/bench_steps.rs, maml_memory.rs) against
# PyTorch CPU eager (bench/core/pytorch_core.py), single thread, f32, in one invocation so both
# sides see the same load.
#
#   bash bench/core/run.sh [--scale F] [--no-memory] [--rev REV]
#
# --scale F multiplies every repetition count on both sides (default 1); --no-memory skips the
# 10,000-iteration MAML memory run; --rev REV measures a clean export of commit REV instead of
# the work tree (other engineers' uncommitted changes included). Logs go to target/bench-core/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

SCALE=1
MEMORY=1
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --no-memory) MEMORY=0; shift ;;
        --rev) REV="$2"; shift 2 ;;
        *) echo "usage: $0 [--scale F] [--no-memory] [--rev REV]" >&2; exit 2 ;;
    esac
done

ensure_venv
build_examples autodidact-core bench_steps maml_memory

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OURS="$OUT/steps-ours-$STAMP.log"
TORCH="$OUT/steps-pytorch-$STAMP.log"
MEM="$OUT/memory-ours-$STAMP.log"

echo "== machine"
{ machine_info; echo "ours built from: $SRC_DESC"; } | tee "$OUT/steps-machine-$STAMP.log"
echo "commands:"
echo "  $BIN/bench_steps --scale $SCALE"
echo "  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY bench/core/pytorch_core.py --scale $SCALE"
if [ "$MEMORY" = 1 ]; then echo "  $BIN/maml_memory --iterations 10000"; fi

echo "== ours"
load "before ours" | tee -a "$OURS"
"$BIN"/bench_steps --scale "$SCALE" | tee -a "$OURS"
load "after ours" | tee -a "$OURS"
echo "== pytorch"
load "before pytorch" | tee -a "$TORCH"
"$PY" bench/core/pytorch_core.py --scale "$SCALE" | tee -a "$TORCH"
load "after pytorch" | tee -a "$TORCH"

if [ "$MEMORY" = 1 ]; then
    echo "== ours: memory over 10,000 MAML meta-iterations"
    load "before memory" | tee -a "$MEM"
    "$BIN"/maml_memory --iterations 10000 | tee -a "$MEM"
    load "after memory" | tee -a "$MEM"
fi

echo "== comparison"
MEMARGS=()
if [ "$MEMORY" = 1 ]; then MEMARGS=(--memory "$MEM"); fi
"$PY" bench/core/compare.py steps "$OURS" "$TORCH" "${MEMARGS[@]}"
echo "logs: $OURS $TORCH ${MEMARGS[*]}"
