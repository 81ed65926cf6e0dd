#!/usr/bin/env bash
# The bandit table of docs/meta-rl-bandits.md: references (exact and Monte Carlo) for
# K ∈ {5, 10}, n ∈ {10, 100}, then RL² over 5 seeds per setting, in two lanes, niced.
#   bash bench/meta-rl/bandits/run.sh [references|rl2|table]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=bench/meta-rl/bandits
OUT=$HERE/results
PROFILE=${PROFILE:-release}
mkdir -p "$OUT"
if [ "$PROFILE" = release ]; then
  nice -n 10 cargo build --release -p autodidact-rl --example meta_rl_bandits
  BIN=target/release/examples/meta_rl_bandits
else
  nice -n 10 cargo build -p autodidact-rl --example meta_rl_bandits
  BIN=target/debug/examples/meta_rl_bandits
fi
what=${1:-all}
if [ "$what" = all ] || [ "$what" = references ]; then
  for kn in "5 10" "10 10" "5 100" "10 100"; do
    set -- $kn
    nice -n 10 "$BIN" references "$1" "$2" --trials 20000 --seed 1 > "$OUT/references-k$1-n$2.jsonl"
  done
fi
if [ "$what" = all ] || [ "$what" = rl2 ]; then
  # One lane per setting (four processes); a seed already in the results file is skipped, so
  # an interrupted run resumes.
  lane() {
    local k=$1 n=$2
    for seed in 0 1 2 3 4; do
      if grep -q "\"seed\":$seed," "$OUT/rl2-k$k-n$n.jsonl" 2>/dev/null; then continue; fi
      /usr/bin/time -f "k$k n$n seed $seed cpu_seconds %U %S" nice -n 10 "$BIN" rl2 "$k" "$n" \
        --seed "$seed" --config "$HERE/rl2-n$n.toml" --eval-trials 2000 \
        >> "$OUT/rl2-k$k-n$n.jsonl" 2>> "$OUT/rl2-time.log"
    done
  }
  lane 5 10 &
  lane 10 10 &
  lane 5 100 &
  lane 10 100 &
  wait
fi
if [ "$what" = all ] || [ "$what" = table ]; then
  python3 "$HERE/table.py" > "$OUT/table.md"
  cat "$OUT/table.md"
fi
