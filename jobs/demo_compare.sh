#!/usr/bin/env bash
# The paper's reward comparison on the learning demo (docs/demo-research.md, "Reward comparison on the demo"): after jobs/demo.sh (any
# number of seeds and any design), GRPO again from each seed's warm start with each of the three rewards the
# demo did not use — the fine-grained reward (default), the coarse one (exact calls or nothing) and the
# fine-grained one with per-component advantages (grpo.advantage: gdpo) — with everything else taken from the
# demo's own GRPO run (its resolved configuration: steps, seed, rows, learning rate, roles); each evaluated
# greedily on both held-out splits as the demo evaluates, then the exact-call accuracies over the seeds with
# paired bootstrap intervals against the fine-grained reward (toolgrpo eval-table).
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
# The demo's own run is the column of its reward; the others are run here.
demo_variant=$(sed -n 's/^  variant: //p' "${seed_dirs[0]}/grpo/config.yaml" | head -n 1)
demo_advantage=$(sed -n 's/^  advantage: //p' "${seed_dirs[0]}/grpo/config.yaml" | head -n 1)
RUNS=(default:default:grpo coarse:coarse:grpo gdpo:default:gdpo)  # column:reward.variant:grpo.advantage
demo_name=""
for run in "${RUNS[@]}"; do
  IFS=: read -r name variant advantage <<<"$run"
  [ "$variant:$advantage" = "$demo_variant:$demo_advantage" ] && demo_name=$name
done
[ -n "$demo_name" ] || { echo "demo_compare: the demo's GRPO used reward.variant=$demo_variant" \
  "grpo.advantage=$demo_advantage, none of default, coarse or gdpo" >&2; exit 2; }
echo "[compare] the demo's GRPO is the '$demo_name' column (reward.variant=$demo_variant grpo.advantage=$demo_advantage)"
for d in "${seed_dirs[@]}"; do
  max_new=$(sed -n 's/^  max_new_tokens: \([0-9]*\).*/\1/p' "$d/grpo/config.yaml" | head -n 1)
  for split in "${DEMO_SPLITS[@]}"; do
    ln -sfn "grpo.$split.greedy.jsonl" "$d/eval/$demo_name.$split.greedy.jsonl"
  done
  for run in "${RUNS[@]}"; do
    IFS=: read -r name variant advantage <<<"$run"
    [ "$name" != "$demo_name" ] || continue
    echo "[compare] ${d##*/}: GRPO with reward.variant=$variant grpo.advantage=$advantage"
    "${MPI[@]}" "$BIN" train --config "$d/grpo/config.yaml" run.name="grpo-$name" reward.variant="$variant" \
      grpo.advantage="$advantage" checkpoint.resume=never
    for split in "${DEMO_SPLITS[@]}"; do
      "${MPI[@]}" "$BIN" eval --data "$(split_file "$split")" --max-new-tokens "$max_new" --model "$d/grpo-$name" \
        --summary "$d/eval/$name.$split.greedy.json" --out "$d/eval/$name.$split.greedy.jsonl" >/dev/null
    done
  done
done
files() { seed_files "$1" "$2" greedy "${seed_dirs[@]}"; }
for split in "${DEMO_SPLITS[@]}"; do
  printf '\n== held-out split: %s; greedy; %d seed(s) ==\n' "$(split_title "$split")" "${#seed_dirs[@]}"
  "$BIN" eval-table --column start="$(files start $split)" --column default="$(files default $split)" \
    --column coarse="$(files coarse $split)" --column gdpo="$(files gdpo $split)" \
    --diff default-start --diff coarse-default --diff gdpo-default --json "$OUT/compare_table.$split.json"
done
