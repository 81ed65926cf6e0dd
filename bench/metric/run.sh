#!/usr/bin/env bash
# ProtoNet Conv4 speed, ours against PyTorch, single thread, in one invocation so both sides see
# the same machine load: training episodes 20-way 5-shot 15-query (forward, backward, Adam),
# evaluation episodes 5-way 1-shot 15-query (forward, eval-mode batch norm).
#
#   bash bench/metric/run.sh [--train N] [--eval M]
#
# Makes bench/.venv with torch if it is missing (reuses it otherwise). Logs go to
# target/bench-metric/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/bench/.venv"
PY="$VENV/bin/python"
OUT="$ROOT/target/bench-metric"
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

TRAIN=10
EVAL=100
while [ $# -gt 0 ]; do
    case "$1" in
        --train) TRAIN="$2"; shift 2 ;;
        --eval) EVAL="$2"; shift 2 ;;
        *) echo "usage: $0 [--train N] [--eval M]" >&2; exit 2 ;;
    esac
done

if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import torch' 2>/dev/null; then
    "$PY" -m pip install --upgrade pip >/dev/null
    "$PY" -m pip install torch numpy
fi

cd "$ROOT"
cargo build --release -p autodidact-metric --example metric_speed 2>&1 | tail -1
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$OUT/speed-$STAMP.log"
{
    echo "date:  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "cpu:   $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(getconf _NPROCESSORS_ONLN) cores"
    echo "rustc: $(rustc --version)"
    echo "git:   $(git rev-parse --short HEAD) ($(git status --porcelain | wc -l) paths dirty)"
    echo "uptime: $(uptime)"
    echo "== ours: target/release/examples/metric_speed --train $TRAIN --eval $EVAL"
    target/release/examples/metric_speed --train "$TRAIN" --eval "$EVAL"
    echo "== pytorch: $PY bench/metric/pytorch_protonet.py --train $TRAIN --eval $EVAL"
    "$PY" bench/metric/pytorch_protonet.py --train "$TRAIN" --eval "$EVAL"
    echo "uptime: $(uptime)"
} 2>&1 | tee "$LOG"
"$PY" - "$LOG" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
rate = {}
for side, phase, eps in re.findall(r"SPEED (ours|pytorch) (train|eval) [^:]*: ([0-9.]+) episodes/s", text):
    rate[(side, phase)] = float(eps)
for phase in ("train", "eval"):
    if ("ours", phase) in rate and ("pytorch", phase) in rate:
        print(f"{phase}: ours / pytorch = {rate[('ours', phase)] / rate[('pytorch', phase)]:.2f}x")
PYEOF
