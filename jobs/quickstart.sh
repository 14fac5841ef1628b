#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds toolgrpo and runs the main job on its built-in default: the learning
# demo (jobs/demo.sh) — a synthetic tool-calling task, a tiny model, a cached SFT warm start, GRPO and an
# equal-compute SFT control under `mpirun -np 2`, and the held-out exact-call accuracy of all three with 95%
# intervals. Everything lands in runs/demo/ (the report with plots: runs/demo/seed1/grpo/report/index.html). jobs/configs/quickstart.yaml is a GRPO run on the
# shared ToolRL data instead (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
exec bash jobs/demo.sh
