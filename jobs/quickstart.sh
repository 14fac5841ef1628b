#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds toolgrpo and runs the main job on its built-in default: the learning
# demo (jobs/demo.sh) — a synthetic tool-calling task, a tiny byte-level model, an SFT warm start, GRPO under
# `mpirun -np 2`, and the held-out tool-calling accuracy before and after GRPO. Everything lands in runs/demo/
# (the report with plots: runs/demo/grpo/report/index.html). jobs/configs/quickstart.yaml is a GRPO run on the
# shared ToolRL data instead (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
exec bash jobs/demo.sh
