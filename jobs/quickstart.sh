#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds toolgrpo and runs the main job on its built-in default: score the
# reference ToolRL reward fixtures and print the summary (the results land in runs/quickstart/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
SHARED=${TOOLGRPO_SHARED_DATA:-$(cd .. && pwd)/shared/data}
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p runs/quickstart
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BUILD_DIR/app/toolgrpo" score --data "$SHARED/reward_fixtures/default.jsonl" --out runs/quickstart/scores.jsonl
