#!/usr/bin/env bash
# MAML-RL meta-iterations per second, ours against PyTorch, on the same computation: 2D
# navigation, 20 tasks × 20 episodes × 30 steps per meta-iteration, a 64-64 ReLU Gaussian
# policy, the linear feature baseline, one second-order DiCE inner step at 0.1, Adam 1e-3
# (bench/meta-rl/navigation.toml; bench/meta-rl/pytorch_maml_rl.py). One thread each, rounds
# interleaved (ours, PyTorch, ours, …) so that load changes hit both; each round is a fresh
# process timing N iterations after one untimed warm-up. Prints both rates and their ratio
# (median over rounds).
#
#   bash bench/meta-rl/speed.sh [--rounds R] [--iterations N]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../core/common.sh"
cd "$ROOT"
ROUNDS=3
ITERS=5
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --iterations) ITERS="$2"; shift 2 ;;
        *) echo "usage: $0 [--rounds R] [--iterations N]" >&2; exit 2 ;;
    esac
done
ensure_venv
build_examples autodidact-rl maml_rl_speed
LOG="$OUT/maml-rl-speed-$(date -u +%Y%m%dT%H%M%SZ).log"
{ machine_info; echo "ours built from: $SRC_DESC"; } | tee "$LOG"
for r in $(seq 1 "$ROUNDS"); do
    load "round $r" | tee -a "$LOG"
    "$BIN/maml_rl_speed" --iterations "$ITERS" --seed "$r" | tee -a "$LOG"
    "$PY" bench/meta-rl/pytorch_maml_rl.py --iterations "$ITERS" --seed "$r" | tee -a "$LOG"
done
"$PY" - "$LOG" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l[5:]) for l in open(sys.argv[1]) if l.startswith("JSON ")]
ours = [r["iterations_per_s"] for r in rows if r["impl"] == "autodidact"]
torch = [r["iterations_per_s"] for r in rows if r["impl"] == "pytorch"]
ratios = [a / b for a, b in zip(ours, torch)]
print(f"meta-iterations/s   ours {statistics.median(ours):.3f}   pytorch {statistics.median(torch):.3f}")
print(f"ratio per round: {', '.join(f'{x:.2f}x' for x in ratios)}; median {statistics.median(ratios):.2f}x (target >= 5x)")
PYEOF
echo "log: $LOG"
