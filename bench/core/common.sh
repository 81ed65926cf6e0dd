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
    echo "cores:       $(getconf _NPROCESSORS_ONLN)"
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

# Builds examples in release and sets BIN to the folder holding them. With REV set (--rev), the
# revision is exported (git archive) to target/bench-core/src-REV and built there with its own
# target directory, so the figures are of committed code, not of whatever the work tree holds.
build_examples() {
    local pkg="$1"; shift
    local ex=()
    for e in "$@"; do ex+=(--example "$e"); done
    if [ -z "${REV:-}" ]; then
        SRC_DESC="work tree at $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) paths dirty)"
        echo "== building ${*} (release) from the work tree"
        (cd "$ROOT" && cargo build --release -p "$pkg" "${ex[@]}" 2>&1 | tail -1)
        BIN="$ROOT/target/release/examples"
    else
        local sha
        sha="$(git -C "$ROOT" rev-parse --short "$REV")"
        local src="$OUT/src-$sha"
        SRC_DESC="clean export of commit $sha"
        if [ ! -f "$src/Cargo.toml" ]; then
            mkdir -p "$src"
            git -C "$ROOT" archive "$sha" | tar -x -C "$src"
            # A workspace member listed in the commit's Cargo.toml but not committed (someone's
            # work in progress) would stop cargo: drop such members from the export's manifest.
            "$PY" - "$src" <<'PYEOF'
import os, re, sys
src = sys.argv[1]
path = os.path.join(src, "Cargo.toml")
text = open(path).read()
def keep(m):
    name = m.group(1)
    if "*" in name or os.path.isfile(os.path.join(src, name, "Cargo.toml")):
        return m.group(0)
    print(f"   (export: dropping uncommitted workspace member {name})")
    return ""
line = re.search(r"^members = \[.*\]$", text, re.M)
if line:
    fixed = re.sub(r'\s*"([^"]+)",?', keep, line.group(0))
    fixed = fixed.replace(", ]", "]").replace(",]", "]")
    text = text.replace(line.group(0), fixed)
    open(path, "w").write(text)
PYEOF
        fi
        echo "== building ${*} (release) from $src (commit $sha)"
        (cd "$src" && CARGO_TARGET_DIR="$OUT/target-rev" cargo build --release -p "$pkg" "${ex[@]}" 2>&1 | tail -1)
        BIN="$OUT/target-rev/release/examples"
    fi
}

load() {
    echo "load ($1): $(uptime | sed 's/.*load average/load average/')"
}
