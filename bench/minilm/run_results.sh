#!/usr/bin/env bash
# Issue 19's accuracy figures (docs/benchmarks.md, "Sentence encoder"), through the runner alone,
# with all-MiniLM-L6-v2 features (`env.featurizer=minilm`) and, for comparison, the hashed n-grams:
#   - ProtoNet (diagonal) against the untrained nearest prototype on BANKING77's held-out intents,
#     the same configs and episodes as bench/metric (5-way run, 10-way eval), 1- and 5-shot;
#   - a linear head on all 77 intents (stream `split` with one experience, hidden = [],
#     train.csv to train, test.csv to test) with the full data and 5 / 10 examples per intent;
#   - the class-incremental stream (7 x 11 intents, holdout = source): Naive, Replay-1000, Joint.
#
#   bash bench/minilm/run_results.sh        # reads ../shared/data/{banking77,minilm}
#
# The first run embeds BANKING77's 13,083 texts (about a minute) and caches them in
# target/autodidact-cache/embeddings; the rest start at once. Finished runs are skipped.
# Environment: SEED (0), RUNS (runs/minilm), BIN (a prebuilt autodidact). The runs are exported
# to bench/minilm/results/runs.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BIN:-}" ]; then cargo build --release -q -p autodidact-runner; BIN=target/release/autodidact; fi
RUNS=${RUNS:-runs/minilm}
SEED=${SEED:-0}
run() { # OUT ARGS...: `autodidact run ARGS --out OUT` unless OUT is finished
  local out=$1
  shift
  if [ ! -f "$out/summary.json" ]; then
    "$BIN" run "$@" --seed "$SEED" --out "$out" -q > /dev/null
  fi
}
metric() { # OUT KEY: a headline metric of a run's summary
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['final_metrics'][sys.argv[2]])" "$1/summary.json" "$2"
}
echo "== $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
for f in minilm hashed-ngrams; do
  for k in 1 5; do
    out=$RUNS/$f/proto-net-${k}shot
    run "$out" proto-net --env intents --config bench/metric/intents-proto-net-${k}shot.toml --set env.featurizer=$f
    if [ ! -f "$out/eval-10way.json" ]; then
      "$BIN" eval --run "$out" --set env.ways=10 --output "$out/eval-10way.json" > /dev/null
    fi
    echo "$f ${k}-shot 5-way: baseline $(metric "$out" baseline_accuracy) proto-net $(metric "$out" query_accuracy)"
    python3 -c "import json,sys; m=json.load(open(sys.argv[1])); m=m.get('metrics', m); print(sys.argv[2], 'baseline', m['baseline_accuracy'], 'proto-net', m['query_accuracy'])" "$out/eval-10way.json" "$f ${k}-shot 10-way:" 2>/dev/null || true
  done
  C=bench/continual/banking77-class-official.toml
  for k in 0 5 10; do
    out=$RUNS/$f/linear-$k
    epochs=30
    [ "$k" -gt 0 ] && epochs=100
    run "$out" naive --env split --config $C --set env.featurizer=$f --set env.experiences=1 \
      --set env.max_per_class=$k --set 'hidden=[]' --set epochs=$epochs --set lr=0.003
    echo "$f linear head, ${k/#0/all} per intent: $(metric "$out" acc)"
  done
  for m in naive replay-1000 joint; do
    out=$RUNS/$f/class-incremental-$m
    case $m in
      replay-1000) run "$out" replay --env split --config $C --set env.featurizer=$f --set buffer_size=1000 ;;
      *) run "$out" $m --env split --config $C --set env.featurizer=$f ;;
    esac
    echo "$f class-incremental $m: ACC $(metric "$out" acc)"
  done
done
mkdir -p bench/minilm/results
"$BIN" compare "$RUNS" --export bench/minilm/results/runs.jsonl > /dev/null
echo "== $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
