# Shared by bench/core/run.sh and bench/core/run_maml.sh (sourced, not run).
# Makes the PyTorch virtual environment if missing and records the machine.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/bench/.venv"
PY="$VENV/bin/python"
OUT="$ROOT/target/bench-core"
mkdir -p "$OUT"

# One thread on the PyTorch side (torch.set_num_threads(1) is also called in the scripts);
# ours is single-threaded already.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

ensure_venv() {
    if [ ! -x "$PY" ]; then
        echo "== creating $VENV"
        python3 -m venv "$VENV"
    fi
    if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
        # PyPI's default torch wheel (large: it pulls the CUDA libraries; the CPU path is what
        # we measure). This takes several minutes the first time.
        echo "== installing torch and numpy into $VENV (slow the first time)"
        "$PY" -m pip install --upgrade pip >/dev/null
        "$PY" -m pip install torch numpy
    fi
}

machine_info() {
    echo "date:        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "uname -a:    $(uname -a)"
    echo "cpu:         $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//')"
    echo "cores:       $(nproc)"
    echo "rustc:       $(rustc --version)"
    echo "git:         $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) paths dirty in the work tree)"
    "$PY" - <<'PYEOF'
import os, torch
print(f"torch:       {torch.__version__}, threads {torch.get_num_threads()} -> set to 1 in the scripts, "
      f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
      f"BLAS {'MKL' if torch.backends.mkl.is_available() else 'other'}")
print(f"env:         OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} MKL_NUM_THREADS={os.environ.get('MKL_NUM_THREADS')} "
      f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
PYEOF
}

load() {
    echo "load ($1): $(uptime | sed 's/.*load average/load average/')"
}
