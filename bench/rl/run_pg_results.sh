#!/usr/bin/env bash
# The policy-gradient tables of docs/rl.md: each setting of the `pg_results` example for each
# seed, one after the other, JSON lines into bench/rl/results/pg/SETTING.jsonl (one line per
# evaluation, then a `"final": true` summary), with the load average before each run.
#
#   bash bench/rl/run_pg_results.sh [SETTING ...]     # default: all five settings
#
# Environment: SEEDS (default "0 1 2 3 4"), BIN (a prebuilt pg_results; default: build it in
# release mode).
set -euo pipefail
cd "$(dirname "$0")/../.."
SEEDS=${SEEDS:-"0 1 2 3 4"}
SETTINGS=("$@")
if [ ${#SETTINGS[@]} -eq 0 ]; then
    SETTINGS=(ppo-cartpole a2c-cartpole ppo-pendulum ppo-frozen-lake ppo-four-rooms)
fi
if [ -z "${BIN:-}" ]; then
    cargo build --release -p autodidact-rl --example pg_results
    BIN=target/release/examples/pg_results
fi
mkdir -p bench/rl/results/pg
for setting in "${SETTINGS[@]}"; do
    out=bench/rl/results/pg/$setting.jsonl
    : > "$out"
    for seed in $SEEDS; do
        echo "{\"setting\": \"$setting\", \"seed\": $seed, \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"utc\": \"$(date -u +%H:%M:%S)\"}" >> "$out"
        "$BIN" "$setting" --seed "$seed" >> "$out"
    done
done
