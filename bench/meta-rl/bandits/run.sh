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
  lane() {
    for kn in "$@"; do
      set -- $kn
      for seed in 0 1 2 3 4; do
        /usr/bin/time -f "cpu_seconds %U %S" nice -n 10 "$BIN" rl2 "$1" "$2" --seed "$seed" \
          --config "$HERE/rl2-n$2.toml" --eval-trials 2000 >> "$OUT/rl2-k$1-n$2.jsonl" \
          2>> "$OUT/rl2-time.log"
      done
    done
  }
  rm -f "$OUT"/rl2-*.jsonl "$OUT/rl2-time.log"
  lane "5 10" "5 100" &
  lane "10 10" "10 100" &
  wait
fi
if [ "$what" = all ] || [ "$what" = table ]; then
  python3 "$HERE/table.py" > "$OUT/table.md"
  cat "$OUT/table.md"
fi
