#!/usr/bin/env bash
# The paper's reward comparison on the learning demo (README, "Reward comparison"): after jobs/demo.sh, GRPO
# from the same SFT warm start with the coarse reward instead of the fine-grained one, and with per-component
# advantages (grpo.advantage: gdpo) instead of GRPO's summed-reward ones; each evaluated on the held-out split,
# then the exact-call accuracies with paired bootstrap intervals against the default (toolgrpo eval-table).
# Environment: DEMO_OUT (runs/demo, as for jobs/demo.sh), NP (2), BUILD_DIR (build).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BUILD_DIR:-build}/app/toolgrpo"
OUT=${DEMO_OUT:-runs/demo}
NP=${NP:-2}
[ -f "$OUT/after.json" ] || { echo "demo_compare: run jobs/demo.sh first ($OUT/after.json is missing)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=(mpirun -np "$NP" --oversubscribe)
steps=$(sed -n 's/^  steps: \([0-9]*\).*/\1/p' "$OUT/grpo/config.yaml" | head -n 1)
for run in coarse:coarse:grpo gdpo:default:gdpo; do
  IFS=: read -r name variant advantage <<<"$run"
  echo "[compare] GRPO with reward.variant=$variant grpo.advantage=$advantage ($steps steps)"
  "${MPI[@]}" "$BIN" train --config jobs/configs/demo.yaml model.path="$OUT/sft" run.out_dir="$OUT" \
    run.name="grpo-$name" data.train="$OUT/data/train.jsonl" data.eval="$OUT/data/heldout.jsonl" \
    reward.variant="$variant" grpo.advantage="$advantage" grpo.steps="$steps"
  "${MPI[@]}" "$BIN" eval --data "$OUT/data/heldout.jsonl" --max-new-tokens 160 --model "$OUT/grpo-$name" \
    --summary "$OUT/after-$name.json" --out "$OUT/after-$name.jsonl"
done
num() { sed -n "s/.*\"$1\": \([-0-9.eE+a-z]*\).*/\1/p" "$2" | head -n 1; }
printf '\n%-40s %12s %12s %12s\n' "held-out (greedy)" "exact call" "tool name" "format"
for row in "SFT warm start:before" "GRPO, fine-grained reward (default):after" "GRPO, coarse reward:after-coarse" \
  "GRPO, per-component advantages (gdpo):after-gdpo"; do
  label=${row%%:*} file="$OUT/${row##*:}.json"
  printf '%-40s %12.3f %12.3f %12.3f\n' "$label" "$(num exact_call_accuracy "$file")" \
    "$(num name_accuracy "$file")" "$(num format_accuracy "$file")"
done
echo
"$BIN" eval-table --column SFT="$OUT/before.jsonl" --column default="$OUT/after.jsonl" \
  --column coarse="$OUT/after-coarse.jsonl" --column gdpo="$OUT/after-gdpo.jsonl" \
  --diff default-SFT --diff coarse-default --diff gdpo-default --json "$OUT/compare_table.json"
