#!/usr/bin/env bash
# The learning demo (the main job of jobs/quickstart.sh): GRPO teaches a tiny byte-level model tool calling on
# a synthetic task, on CPU, under mpirun. synth-data -> init-model -> sft (a short warm start) -> eval on the
# two held-out splits -> train (GRPO) -> eval again -> a before/after table, the exact-call accuracies with
# bootstrap intervals (toolgrpo eval-table) and the run's report (SVG plots).
# Needs a built toolgrpo (BUILD_DIR, default build). Environment:
#   DEMO_SIZE  full (default: the README's figures, about 10 minutes on 2 cores) | ci (a reduced run for the tests)
#   DEMO_OUT   output directory (default runs/demo); NP ranks (default 2); DEMO_SEED (default 1)
#   TOOLGRPO_BLAS_CORETYPE  auto: OpenBLAS kernels for this CPU when it would run its generic ones (INSTALL.md)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BIN="$BUILD_DIR/app/toolgrpo"
OUT=${DEMO_OUT:-runs/demo}
NP=${NP:-2}
SEED=${DEMO_SEED:-1}
case "${DEMO_SIZE:-full}" in
  full) TRAIN_ROWS=3000 HELDOUT_ROWS=200 PRESET=demo SFT_STEPS=2400 GRPO_STEPS=120 ;;
  ci) TRAIN_ROWS=200 HELDOUT_ROWS=16 PRESET=tiny SFT_STEPS=20 GRPO_STEPS=2 ;;
  *) echo "demo: DEMO_SIZE must be full or ci, got '${DEMO_SIZE}'" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "demo: $BIN not found: build first (bash jobs/setup.sh)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. jobs/blas_env.sh  # TOOLGRPO_BLAS_CORETYPE=auto|NAME picks OpenBLAS's kernels (unset: OpenBLAS decides)
blas_coretype_apply "$BIN"
MPI=(mpirun -np "$NP" --oversubscribe)
start=$(date +%s)
say() { printf '\n[demo %4ds] %s\n' "$(($(date +%s) - start))" "$*"; }

rm -rf "$OUT"
mkdir -p "$OUT/grpo"
say "synthetic task: $TRAIN_ROWS training rows, $HELDOUT_ROWS held-out rows with tools and phrasings unseen in" \
  "training, $HELDOUT_ROWS with the training tools and new phrasings and values"
"$BIN" synth-data --out "$OUT/data" --n "$TRAIN_ROWS" --heldout "$HELDOUT_ROWS" --heldout-seen "$HELDOUT_ROWS" \
  --seed "$SEED"
# The model's vocabulary is learned from the training split: each word one token, so copying a tool name or a
# value from the request into the call is copying a token (a byte-level model does not learn that in minutes).
"$BIN" init-model --preset "$PRESET" --seed "$SEED" --tokenizer bpe --tokenizer-data "$OUT/data/train.jsonl" \
  --out "$OUT/model"

say "SFT warm start ($SFT_STEPS steps)"
"${MPI[@]}" "$BIN" sft --config jobs/configs/demo_sft.yaml model.path="$OUT/model" run.out_dir="$OUT" \
  data.train="$OUT/data/train.jsonl" data.eval="$OUT/data/heldout.jsonl" sft.steps="$SFT_STEPS" run.seed="$SEED"

EVAL=(eval --data "$OUT/data/heldout.jsonl" --max-new-tokens 96 --run "$OUT/grpo")
# The split with the training tools is not added to the run's evaluation plot (--run), which holds the other.
EVAL_SEEN=(eval --data "$OUT/data/heldout_seen_tools.jsonl" --max-new-tokens 96)
say "held-out evaluation of the SFT model (greedy)"
"${MPI[@]}" "$BIN" "${EVAL[@]}" --model "$OUT/sft" --label "SFT (before GRPO)" --step 0 \
  --summary "$OUT/before.json" --out "$OUT/before.jsonl"
"${MPI[@]}" "$BIN" "${EVAL_SEEN[@]}" --model "$OUT/sft" --summary "$OUT/before_seen.json" \
  --out "$OUT/before_seen.jsonl"

say "GRPO ($GRPO_STEPS steps)"
"${MPI[@]}" "$BIN" train --config jobs/configs/demo.yaml model.path="$OUT/sft" run.out_dir="$OUT" \
  data.train="$OUT/data/train.jsonl" data.eval="$OUT/data/heldout.jsonl" grpo.steps="$GRPO_STEPS" run.seed="$SEED"

say "held-out evaluation of the GRPO model (greedy)"
"${MPI[@]}" "$BIN" "${EVAL[@]}" --model "$OUT/grpo" --label "GRPO" --step "$GRPO_STEPS" \
  --summary "$OUT/after.json" --out "$OUT/after.jsonl"
"${MPI[@]}" "$BIN" "${EVAL_SEEN[@]}" --model "$OUT/grpo" --summary "$OUT/after_seen.json" \
  --out "$OUT/after_seen.jsonl"

for f in "$OUT/before.json" "$OUT/after.json" "$OUT/before_seen.json" "$OUT/after_seen.json"; do
  grep -q '"exact_call_accuracy": ' "$f" || { echo "demo: $f holds no exact_call_accuracy" >&2; exit 1; }
done
# The before/after table from the two summaries and the GRPO run's metrics (one JSON object per line).
num() { sed -n "s/.*\"$1\": \([-0-9.eE+a-z]*\).*/\1/p" "$2" | head -n 1; }
reward_mean() { sed -n 's/.*"reward_total_mean": \([-0-9.eE+]*\).*/\1/p' "$OUT/grpo/metrics.jsonl"; }
first=$(reward_mean | head -n 5 | awk '{s+=$1} END {printf "%.3f", s/NR}')
last=$(reward_mean | tail -n 5 | awk '{s+=$1} END {printf "%.3f", s/NR}')
say "done in $(($(date +%s) - start)) s: held-out split with unseen tools ($HELDOUT_ROWS rows, greedy)"
printf '%-34s %14s %14s\n' "" "SFT (before)" "SFT + GRPO"
for key in exact_call_accuracy call_rows_exact name_accuracy argument_value_accuracy format_accuracy answered_without_call \
  reward_total_mean; do
  printf '%-34s %14.3f %14.3f\n' "$key" "$(num "$key" "$OUT/before.json")" "$(num "$key" "$OUT/after.json")"
done
printf '%-34s %14s %14s\n' "GRPO training reward (5-step mean)" "first $first" "last $last"
printf '%-34s %14.3f %14.3f\n' "exact calls, training-tools split" "$(num exact_call_accuracy "$OUT/before_seen.json")" \
  "$(num exact_call_accuracy "$OUT/after_seen.json")"
# Exact-call accuracy with 95% bootstrap intervals over the rows (one training seed here: with several, give
# each column one file per seed, e.g. --column GRPO=seed1/after.jsonl,seed2/after.jsonl).
for split in "unseen tools:" "training tools:_seen"; do
  say "exact calls with 95% intervals, held-out split with ${split%%:*}"
  "$BIN" eval-table --column before="$OUT/before${split##*:}.jsonl" --column GRPO="$OUT/after${split##*:}.jsonl" \
    --diff GRPO-before --json "$OUT/table${split##*:}.json"
done
echo "report: $OUT/grpo/report/index.html; summaries: $OUT/before.json, $OUT/after.json"
