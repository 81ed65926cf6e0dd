#!/usr/bin/env bash
# MANN training speed, ours against a PyTorch implementation of the same architecture
# (bench/model-based/mann_torch.py), CPU, one thread each, in one invocation (both sides see
# the same machine load): training episodes per second on 5-class episodes of 10 instances
# (50 steps) of 400-value (20 x 20, Omniglot-sized) inputs, 16 episodes per update.
#
#   bash bench/model-based/speed.sh [UPDATES]     # timed updates per side (default 20)
#
# Makes bench/.venv-model-based (torch from PyPI, CPU) if missing. Logs go to
# target/bench-model-based/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UPDATES="${1:-20}"
VENV="${VENV:-$ROOT/bench/.venv-model-based}"
PY="$VENV/bin/python"
OUT="$ROOT/target/bench-model-based"
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import torch' 2>/dev/null; then
    "$PY" -m pip install --upgrade pip >/dev/null
    # The CPU build of torch if its index is reachable, else PyPI's (which also pulls CUDA
    # libraries, unused here: the run is on the CPU).
    "$PY" -m pip install torch --index-url https://download.pytorch.org/whl/cpu ||
        "$PY" -m pip install torch
fi
cd "$ROOT"
cargo build --release -p autodidact-model-based --example mann_speed 2>&1 | tail -1
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$OUT/speed-$STAMP.log"
{
    echo "date:  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "cpu:   $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(getconf _NPROCESSORS_ONLN) cores"
    echo "rustc: $(rustc --version); torch $("$PY" -c 'import torch; print(torch.__version__)')"
    echo "git:   $(git rev-parse --short HEAD)"
    echo "uptime: $(uptime)"
    echo "== ours: target/release/examples/mann_speed $UPDATES 2"
    target/release/examples/mann_speed "$UPDATES" 2
    echo "== torch: $PY bench/model-based/mann_torch.py $UPDATES 2"
    "$PY" bench/model-based/mann_torch.py "$UPDATES" 2
    echo "uptime: $(uptime)"
} 2>&1 | tee "$LOG"
"$PY" - "$LOG" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
rate = lambda side: float(re.search(side + r": .*= ([0-9.]+) episodes/s", text).group(1))
ours, torch = rate("ours"), rate("torch")
print(f"MANN training: ours {ours:.2f} episodes/s, PyTorch {torch:.2f} episodes/s: {ours / torch:.2f}x")
PYEOF
