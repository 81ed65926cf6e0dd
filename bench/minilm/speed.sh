#!/usr/bin/env bash
# Speed of the MiniLM sentence encoder, ours against sentence-transformers on PyTorch, CPU, one
# thread each, in one invocation (both sides see the same machine load): sentences encoded per
# second at batch 1 and batch 32 on BANKING77 messages, and peak memory.
#
#   bash bench/minilm/speed.sh [N]        # N messages of test.csv (default 1000)
#
# Makes bench/.venv-minilm-st (torch CPU build + sentence-transformers) if missing. Reads
# ../shared/data/minilm and ../shared/data/banking77 (MODEL_DIR, CSV override). Logs go to
# target/bench-minilm/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${1:-1000}"
MODEL_DIR="${MODEL_DIR:-$ROOT/../shared/data/minilm}"
CSV="${CSV:-$ROOT/../shared/data/banking77/test.csv}"
VENV="$ROOT/bench/.venv-minilm-st"
PY="$VENV/bin/python"
OUT="$ROOT/target/bench-minilm"
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
for f in "$MODEL_DIR/model.safetensors" "$CSV"; do
    if [ ! -f "$f" ]; then
        echo "error: $f is missing (the model: bench/minilm/fetch.sh; BANKING77: ../shared/data/banking77)" >&2
        exit 1
    fi
done
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import torch, sentence_transformers' 2>/dev/null; then
    "$PY" -m pip install --upgrade pip >/dev/null
    # The CPU build of torch if its index is reachable, else PyPI's (which also pulls CUDA
    # libraries, unused here: the run is on the CPU).
    "$PY" -m pip install torch --index-url https://download.pytorch.org/whl/cpu ||
        "$PY" -m pip install torch
    "$PY" -m pip install sentence-transformers
fi
cd "$ROOT"
cargo build --release -p autodidact-envs --example minilm_speed 2>&1 | tail -1
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$OUT/speed-$STAMP.log"
{
    echo "date:  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "cpu:   $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(getconf _NPROCESSORS_ONLN) cores"
    echo "rustc: $(rustc --version); torch $("$PY" -c 'import torch; print(torch.__version__)'); sentence-transformers $("$PY" -c 'import sentence_transformers as s; print(s.__version__)')"
    echo "git:   $(git rev-parse --short HEAD)"
    echo "uptime: $(uptime)"
    echo "== ours: target/release/examples/minilm_speed $MODEL_DIR $CSV $N 1 32"
    target/release/examples/minilm_speed "$MODEL_DIR" "$CSV" "$N" 1 32
    echo "== sentence-transformers: $PY bench/minilm/speed_st.py $MODEL_DIR $CSV $N 1 32"
    "$PY" bench/minilm/speed_st.py "$MODEL_DIR" "$CSV" "$N" 1 32
    echo "uptime: $(uptime)"
} 2>&1 | tee "$LOG"
"$PY" - "$LOG" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
sides = text.split("== sentence-transformers")
rate = lambda part: dict(re.findall(r"batch +(\d+): .*?= ([0-9.]+) sentences/s", part))
ours, st = rate(sides[0]), rate(sides[1])
for b in ours:
    if b in st:
        print(f"batch {b}: ours / sentence-transformers = {float(ours[b]) / float(st[b]):.2f}x")
PYEOF
echo "log: $LOG"
