#!/usr/bin/env bash
# MAML-RL (DiCE) with the two outer steps side by side — Adam and the trust-region step
# (outer_step = "trpo", max_kl 0.01, 10 conjugate-gradient iterations) — on 2D navigation
# (bench/meta-rl/navigation.toml), 5 seeds each, one thread per run; the final evaluation on
# 40 held-out goals after 0..3 inner steps. Writes bench/meta-rl/results/trpo/{runs.jsonl,results.md}.
#
#   bash bench/meta-rl/trpo.sh            # BIN (default: the release runner), SEEDS (0..5), RUNS (runs/trpo)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
SEEDS=${SEEDS:-0..5}
RUNS=${RUNS:-runs/trpo}
OUT=bench/meta-rl/results/trpo
mkdir -p "$OUT"
echo "start $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/time.log"
for step in adam trpo; do
  "$BIN" sweep maml-rl --env navigation-2d --config bench/meta-rl/navigation.toml --seeds "$SEEDS" \
    --jobs 1 --out "$RUNS/$step" --set threads=1 --set outer_step=$step > /dev/null
  echo "$step done $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/time.log"
done
"$BIN" compare "$RUNS" --export "$OUT/runs.jsonl" > /dev/null
{
  echo "<!-- Written by bench/meta-rl/trpo.sh: mean ± 95% CI (Student's t) over seeds $SEEDS. -->"
  "$BIN" compare "$RUNS" --markdown \
    --metrics "return_after_0,return_after_1,return_after_2,return_after_3,optimal_return,timing.train_seconds"
} > "$OUT/results.md"
cat "$OUT/results.md"
