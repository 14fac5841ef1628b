#!/usr/bin/env bash
# The paper's reward comparison on the learning demo (README, "Reward comparison"): after jobs/demo.sh (any
# number of seeds), GRPO again from each seed's warm start with the coarse reward instead of the fine-grained
# one, and with per-component advantages (grpo.advantage: gdpo) instead of GRPO's summed-reward ones, with the
# demo's steps, seed and GRPO rows; each evaluated greedily on both held-out splits as the demo evaluates, then the
# exact-call accuracies over the seeds with paired bootstrap intervals against the default (toolgrpo eval-table).
# Environment: DEMO_OUT (runs/demo, as for jobs/demo.sh), NP (2), BUILD_DIR (build).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BUILD_DIR:-build}/app/toolgrpo"
OUT=${DEMO_OUT:-runs/demo}
NP=${NP:-2}
shopt -s nullglob
seed_dirs=("$OUT"/seed*)
[ ${#seed_dirs[@]} -gt 0 ] && [ -f "${seed_dirs[0]}/eval/grpo.unseen.greedy.jsonl" ] ||
  { echo "demo_compare: run jobs/demo.sh first (no $OUT/seed*/eval/grpo.unseen.greedy.jsonl)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=(mpirun -np "$NP" --oversubscribe)
. jobs/demo_splits.sh  # split_file, split_title, seed_files
for d in "${seed_dirs[@]}"; do
  steps=$(sed -n 's/^  steps: \([0-9]*\).*/\1/p' "$d/grpo/config.yaml" | head -n 1)
  seed=$(sed -n 's/^  seed: \([0-9]*\).*/\1/p' "$d/grpo/config.yaml" | head -n 1)
  max_new=$(sed -n 's/^  max_new_tokens: \([0-9]*\).*/\1/p' "$d/grpo/config.yaml" | head -n 1)
  train=$(sed -n 's/^  train: //p' "$d/grpo/config.yaml" | head -n 1)  # the demo's GRPO rows (DEMO_DESIGN)
  for run in coarse:coarse:grpo gdpo:default:gdpo; do
    IFS=: read -r name variant advantage <<<"$run"
    echo "[compare] ${d##*/}: GRPO with reward.variant=$variant grpo.advantage=$advantage ($steps steps)"
    "${MPI[@]}" "$BIN" train --config jobs/configs/demo.yaml model.path="$d/sft" run.out_dir="$d" \
      run.name="grpo-$name" data.train="$train" data.eval="$OUT/data/heldout.jsonl" \
      reward.variant="$variant" grpo.advantage="$advantage" grpo.steps="$steps" run.seed="$seed"
    for split in "${DEMO_SPLITS[@]}"; do
      "${MPI[@]}" "$BIN" eval --data "$(split_file "$split")" --max-new-tokens "$max_new" --model "$d/grpo-$name" \
        --summary "$d/eval/$name.$split.greedy.json" --out "$d/eval/$name.$split.greedy.jsonl" >/dev/null
    done
  done
done
files() { seed_files "$1" "$2" greedy "${seed_dirs[@]}"; }
for split in "${DEMO_SPLITS[@]}"; do
  printf '\n== held-out split: %s; greedy; %d seed(s) ==\n' "$(split_title "$split")" "${#seed_dirs[@]}"
  "$BIN" eval-table --column start="$(files start $split)" --column default="$(files grpo $split)" \
    --column coarse="$(files coarse $split)" --column gdpo="$(files gdpo $split)" \
    --diff default-start --diff coarse-default --diff gdpo-default --json "$OUT/compare_table.$split.json"
done
