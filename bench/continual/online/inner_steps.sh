#!/usr/bin/env bash
# OML's meta-training time and peak memory against the number of inner steps it
# differentiates through (issue 25): the Omniglot-small OML config of run.sh, one seed, with
# 5 trajectory classes and SHOTS examples each (inner steps = 5 × SHOTS), META meta-steps, and
# once with one meta-step (everything else the run does: loading, the online stream, the
# evaluation), so the difference is the meta-training's. Peak RSS from /usr/bin/time -v.
#
#   bash bench/continual/online/inner_steps.sh            # SHOTS="1 2 5 10" META=200
#
# Environment: SHOTS, META, DATA (default ../shared/data), BIN (default: the release build).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
DATA=${DATA:-../shared/data}
SHOTS=${SHOTS:-1 2 5 10}
META=${META:-200}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
OMNI="env.data_dir=[\"$DATA/omniglot/images_background_small1.zip\",\"$DATA/omniglot/images_background_small2.zip\"]"
echo "machine: $(nproc) cores, $(uname -srm); git $(git rev-parse --short HEAD); start $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| inner steps (5 classes × shots) | meta-steps | wall s | user s | peak RSS MB |"
echo "| --- | --- | --- | --- | --- |"
for shots in $SHOTS; do
  for meta in 1 "$META"; do
    /usr/bin/time -v "$BIN" run oml --env split --config bench/continual/online/omniglot-oml.toml \
      --seed 0 --out "$OUT/s$shots-m$meta" --set "$OMNI" --set meta_iterations="$meta" \
      --set traj_classes=5 --set traj_shots="$shots" --set remember=25 \
      > "$OUT/log" 2> "$OUT/time" || { cat "$OUT/log" "$OUT/time" >&2; exit 1; }
    wall=$(grep "Elapsed (wall clock)" "$OUT/time" | awk '{print $NF}')
    user=$(grep "User time" "$OUT/time" | awk '{print $NF}')
    rss=$(grep "Maximum resident set size" "$OUT/time" | awk '{printf "%.0f", $NF/1024}')
    echo "| $((5 * shots)) | $meta | $wall | $user | $rss |"
  done
done
echo "end $(date -u +%FT%TZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
