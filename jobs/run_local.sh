#!/usr/bin/env bash
# Runs toolgrpo under mpirun on a workstation or inside an interactive allocation, and runs it again while it
# exits with the requeue code 75 (stopped by a signal or run.time_limit after writing a checkpoint): each new
# run resumes from the run directory's newest checkpoint by itself.
#
# Usage: jobs/run_local.sh [--np N] [--max-restarts K] -- <toolgrpo arguments...>
#   e.g. jobs/run_local.sh --np 2 -- train --config jobs/configs/quickstart.yaml grpo.steps=20
#   --np N            ranks (default 1)
#   --max-restarts K  how many times to run again after exit code 75 (default 10); after that it exits 75
# Environment:
#   TOOLGRPO_BIN   the executable (default build/app/toolgrpo of this repository)
#   MPIRUN         the launcher (default mpirun); it is run as: $MPIRUN -np N $MPIRUN_ARGS $TOOLGRPO_BIN args...
#   MPIRUN_ARGS    extra launcher arguments, split on spaces (default --oversubscribe; set it empty for none)
# Signals: SIGUSR1 is passed to the launcher (Open MPI's mpirun hands it to every rank): the run checkpoints,
# exits 75 and is started again. SIGTERM is passed on as SIGUSR1 too (mpirun would kill the ranks on a SIGTERM
# before they finish their checkpoint), SIGINT as SIGINT; after either of these the runner does not start the
# run again and exits with its code (75 when it checkpointed). A second SIGTERM is passed on as SIGTERM.
# Exit code: the run's own (0 done, 2 bad input, 1 other errors, 75 stopped with a checkpoint).
set -o pipefail

REQUEUE_CODE=75
say() { printf '[run_local] %s\n' "$*"; }
usage() {
  sed -n '6,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

np=1
max_restarts=10
while [ $# -gt 0 ]; do
  case "$1" in
    --np) [ $# -ge 2 ] || usage; np=$2; shift 2 ;;
    --np=*) np=${1#--np=}; shift ;;
    --max-restarts) [ $# -ge 2 ] || usage; max_restarts=$2; shift 2 ;;
    --max-restarts=*) max_restarts=${1#--max-restarts=}; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) say "unknown option '$1' (toolgrpo's arguments go after --)"; usage ;;
  esac
done
case "$np" in ''|*[!0-9]*|0) say "--np: expected a positive integer, got '$np'"; exit 2 ;; esac
case "$max_restarts" in ''|*[!0-9]*) say "--max-restarts: expected an integer >= 0, got '$max_restarts'"; exit 2 ;; esac
[ $# -gt 0 ] || { say "no toolgrpo arguments after --"; usage; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${TOOLGRPO_BIN:-$repo/build/app/toolgrpo}
if [ ! -x "$bin" ]; then
  say "TOOLGRPO_BIN: '$bin' is not an executable file (build first: bash jobs/setup.sh)"
  exit 2
fi
# TOOLGRPO_BLAS_CORETYPE=auto|NAME: OpenBLAS kernels for the ranks (jobs/blas_env.sh; unset: OpenBLAS decides).
. "$repo/jobs/blas_env.sh"
blas_coretype_apply "$bin"
mpirun_cmd=${MPIRUN:-mpirun}
# Unset: --oversubscribe; set (even to nothing): as given.
read -r -a mpirun_args <<<"${MPIRUN_ARGS---oversubscribe}"
if [ "$(id -u)" -eq 0 ]; then
  # Open MPI refuses to start as root (containers) without both of these.
  export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
fi

child=""       # the launcher's pid while it runs
stopping=0     # a SIGTERM or SIGINT arrived: do not start the run again
terms=0
forward() {    # forward SIGNAL_TO_SEND: to the launcher if it runs
  if [ -n "$child" ]; then kill -s "$1" "$child" 2>/dev/null || true; fi
}
on_usr1() { forward USR1; }
on_term() {
  stopping=1
  terms=$((terms + 1))
  if [ "$terms" -eq 1 ]; then forward USR1; else forward TERM; fi
}
on_int() { stopping=1; forward INT; }
trap on_usr1 USR1
trap on_term TERM
trap on_int INT

restarts=0
while :; do
  # In a subshell with SIGINT back to its default: bash would start a background command with SIGINT ignored.
  (trap - INT QUIT; exec "$mpirun_cmd" -np "$np" ${mpirun_args[@]+"${mpirun_args[@]}"} "$bin" "$@") &
  child=$!
  # A trapped signal interrupts `wait` (status > 128) while the launcher still runs: wait for it again. Bash
  # keeps the status of a finished background job, so the last wait returns the launcher's own exit code.
  while :; do
    wait "$child"
    code=$?
    kill -0 "$child" 2>/dev/null || break
  done
  wait "$child" 2>/dev/null
  code2=$?
  [ "$code2" -eq 127 ] || code=$code2
  child=""
  if [ "$code" -ne "$REQUEUE_CODE" ]; then exit "$code"; fi
  if [ "$stopping" -ne 0 ]; then
    say "requeue code 75 after a stop request: not restarting (run the same command again to resume)"
    exit "$code"
  fi
  if [ "$restarts" -ge "$max_restarts" ]; then
    say "requeue code 75: $max_restarts restart(s) used up; run the same command again to resume"
    exit "$code"
  fi
  restarts=$((restarts + 1))
  say "requeue code 75: restarting ($restarts/$max_restarts)"
done
