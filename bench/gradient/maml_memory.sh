#!/usr/bin/env bash
# Peak RSS of second-order MAML on Omniglot-small 5-way 1-shot (15 queries per class),
# meta-batch 32, Conv4: samples the process's resident set (VmRSS) and high-water mark (VmHWM)
# every 2 s while it trains ITERS meta-iterations, beside the iteration count it has logged.
# Usage: bench/gradient/maml_memory.sh [ITERS]   (from the repository root; BIN=… to pick a binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERS=${1:-12}
if [ -z "${BIN:-}" ]; then cargo build --release -q; BIN=target/release/autodidact; fi
OUT=$(mktemp -d)
"$BIN" run maml --env omniglot --set meta_iterations="$ITERS" --set meta_batch=32 \
  --set inner_lr=0.4 --set test_inner_steps=3 --set log_every=1 --set val_every=0 \
  --set eval_tasks=10 --set threads=1 --out "$OUT/run" -q > "$OUT/log" 2>&1 &
PID=$!
echo "seconds iteration VmRSS_MiB VmHWM_MiB"
T0=$(date +%s)
while kill -0 "$PID" 2>/dev/null; do
  if [ -r "/proc/$PID/status" ]; then
    RSS=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$PID/status" 2>/dev/null || true)
    HWM=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$PID/status" 2>/dev/null || true)
    IT=$(cat "$OUT/run/metrics.jsonl" 2>/dev/null | wc -l)
    [ -n "$RSS" ] && echo "$(( $(date +%s) - T0 )) $IT $RSS $HWM"
  fi
  sleep 2
done
wait "$PID"
rm -rf "$OUT"
