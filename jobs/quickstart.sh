#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds toolgrpo and runs the main job on its built-in default: a tiny model
# from `toolgrpo init-model`, then `mpirun -np 2 toolgrpo train` (jobs/configs/quickstart.yaml) on the shared
# ToolRL data. Progress lines are printed; metrics, checkpoints, the resolved config and the trained model land in
# runs/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
SHARED=${TOOLGRPO_SHARED_DATA:-$(cd .. && pwd)/shared/data}
BUILD_DIR=${BUILD_DIR:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BUILD_DIR/app/toolgrpo" init-model --arch qwen2 --preset tiny --seed 1 --out runs/quickstart-model --force
# checkpoint.resume=never: each quick start trains from the start (a real run resumes by itself; see README).
mpirun -np 2 --oversubscribe "$BUILD_DIR/app/toolgrpo" train --config jobs/configs/quickstart.yaml \
  model.path=runs/quickstart-model data.train="$SHARED/toolrl/sft.jsonl" data.eval="$SHARED/toolrl/test.jsonl" \
  checkpoint.resume=never
echo "quickstart: the last checkpoint, as 'toolgrpo ckpt info' shows it:"
info=$("$BUILD_DIR/app/toolgrpo" ckpt info --brief runs/quickstart/checkpoints/ckpt-00000008.h5)
printf '%s\n' "$info" | head -n 52
echo "  ... (the whole table: $BUILD_DIR/app/toolgrpo ckpt info runs/quickstart/checkpoints/ckpt-00000008.h5)"
printf '%s\n' "$info" | tail -n 1
echo "quickstart: metrics in runs/quickstart/metrics.jsonl and metrics.csv, evaluation in runs/quickstart/eval.jsonl," \
     "checkpoints in runs/quickstart/checkpoints, trained model in runs/quickstart/"
