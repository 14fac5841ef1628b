#!/bin/bash
# toolgrpo GRPO/SFT training as a PBS Pro (or Torque) job that checkpoints before its walltime runs out and
# submits its own continuation until the run is done. Submit from the repository root (the job runs there):
#
#   qsub -V -v CONFIG=jobs/configs/paper_qwen2.5-3b.yaml jobs/pbs.sh    # with OVERRIDES exported beforehand:
#   export OVERRIDES="model.path=/models/Qwen2.5-3B-Instruct data.train=/data/rlla_rl.json"
#
# Variables (pass them with qsub -v NAME=VALUE or export them and use qsub -V; values with commas need -V):
#   CONFIG          the run's YAML file (required)
#   OVERRIDES       section.key=value overrides, separated by spaces
#   TOOLGRPO_CMD    train (default) or sft
#   TOOLGRPO_BIN    the executable (default build/app/toolgrpo under the submission directory)
#   MPIRUN          the launcher (default mpirun); run as: $MPIRUN -np NP $MPIRUN_ARGS $TOOLGRPO_BIN ...
#   NP              ranks (default: the lines of $PBS_NODEFILE, i.e. the mpiprocs of all chunks)
#   MPIRUN_ARGS     launcher arguments (default "--hostfile $PBS_NODEFILE --bind-to none", Open MPI syntax;
#                   an Open MPI built with PBS (tm) support finds the nodes without the hostfile)
#   MAX_REQUEUES    how many continuation jobs the chain may submit (default 20)
#   QSUB_ARGS       extra qsub arguments for the continuation jobs (e.g. "-q gpu -A myproject"): options given on
#                   the first qsub command line are not carried over, the #PBS lines below are
#   TIME_MARGIN     seconds kept free at the end of the walltime (default 300): run.time_limit is the remaining
#                   walltime minus this, unless run.time_limit is among the overrides
#   RUN_DIR         the run directory, for the log line on DONE (default run.out_dir/run.name of OVERRIDES and CONFIG)
#   JOB_SCRIPT      the script the continuations run (default: this one as PBS runs it, else jobs/pbs.sh)
#   TOOLGRPO_BLAS_CORETYPE  auto: the OpenBLAS kernels for this CPU when OpenBLAS would run its generic ones;
#                 a core name (SkylakeX, Haswell, Zen): those; unset: OpenBLAS decides (see INSTALL.md)
#   TOOLGRPO_REQUEUE_COUNT  set by the script on its continuations (0 for the first job)
# Size: one chunk of 8 GPUs with one rank (mpiprocs) per GPU; each rank takes the GPU local_rank % GPUs of its
# node. Use a GPU config (model.device: cuda). For N nodes: select=N:...; rollout.prompts_per_step must divide by
# the ranks. Checkpoints load at any rank count, so a continuation may use another size. Torque: replace the
# select line by  #PBS -l nodes=1:ppn=8:gpus=8
# Stopping: PBS has no warning signal before the walltime, so the run stops itself through run.time_limit
# (computed here from qstat) before a step that would not fit, writes a checkpoint and exits 75; the script then
# submits this script again (qsub, starting after this job: depend=afterany) and that job resumes from the newest
# checkpoint. At the walltime, or on qdel, PBS sends SIGTERM to the job's processes and SIGKILL kill_delay
# seconds later (a queue setting, often 10 s; ask for more, e.g. qmgr -c "set queue gpu kill_delay = 300"): the
# ranks start a checkpoint on SIGTERM, and the script passes SIGUSR1 to mpirun for the ranks on other nodes.
#   qsig -s USR1 JOBID    checkpoint now and continue in a new job
#   qdel JOBID            stop: the ranks checkpoint if kill_delay allows; no continuation is submitted
# Once the run is complete (RUN_DIR/DONE) toolgrpo exits 0 at once and the chain ends; with more steps asked for
# (e.g. grpo.steps raised) it extends the run instead. -r y: PBS may rerun the job after a node failure; it resumes
# from the newest checkpoint.
#PBS -N toolgrpo
#PBS -l select=1:ncpus=64:mpiprocs=8:ngpus=8
#PBS -l walltime=24:00:00
#PBS -r y
#PBS -j oe

REQUEUE_CODE=75
say() { printf '[pbs.sh %s] %s\n' "$(date '+%F %T')" "$*"; }

# Seconds in a PBS duration: SS, MM:SS, HH:MM:SS or DD:HH:MM:SS (fractional seconds dropped). Fails (status 1)
# on anything else.
pbs_seconds() {
  local s=${1%.*} a total=0
  case "$1" in *.*.*|.*) return 1 ;; *.*) case "${1##*.}" in ''|*[!0-9]*) return 1 ;; esac ;; esac
  local IFS=:
  # shellcheck disable=SC2086
  set -- $s
  [ $# -ge 1 ] && [ $# -le 4 ] || return 1
  for a in "$@"; do
    case "$a" in ''|*[!0-9]*) return 1 ;; esac
    total=$(( total * 60 + 10#$a ))
  done
  # DD:HH:MM:SS: the first field counts days, not 60 hours.
  if [ $# -eq 4 ]; then total=$(( total - 10#$1 * 216000 + 10#$1 * 86400 )); fi
  echo "$total"
}

# Seconds of walltime left from `qstat -f` output on stdin: Walltime.Remaining (Torque), else
# Resource_List.walltime - resources_used.walltime (PBS Pro; the used time is 0 until PBS first samples it).
walltime_left_from_qstat() {
  awk -F' = ' '
    { sub(/^[[:space:]]+/, "", $1) }
    $1 == "Walltime.Remaining" { rem = $2 }
    $1 == "Resource_List.walltime" { lim = $2 }
    $1 == "resources_used.walltime" { used = $2 }
    END { print (rem != "" ? rem : "-") " " (lim != "" ? lim : "-") " " (used != "" ? used : "0") }' |
  {
    local rem lim used l u
    read -r rem lim used
    if [ "$rem" != "-" ] && l=$(pbs_seconds "$rem"); then echo "$l"; return 0; fi
    [ "$lim" != "-" ] && l=$(pbs_seconds "$lim") || return 1
    u=$(pbs_seconds "$used") || u=0
    echo $(( l - u ))
  }
}

# The run directory of CONFIG and overrides: run.out_dir/run.name (defaults runs/toolgrpo). The overrides win
# over the file; the file is read with a small parser for its top-level `run:` block.
run_dir_of() {
  local config=$1 name="" out_dir="" o v
  shift
  if [ -f "$config" ]; then
    name=$(yaml_run_key "$config" name)
    out_dir=$(yaml_run_key "$config" out_dir)
  fi
  for o in "$@"; do
    v=${o#*=}; v=${v#[\"\']}; v=${v%[\"\']}
    case "$o" in
      run.name=*) name=$v ;;
      run.out_dir=*) out_dir=$v ;;
    esac
  done
  echo "${out_dir:-runs}/${name:-toolgrpo}"
}
yaml_run_key() {  # FILE KEY: the value of run.KEY in FILE, without comment or quotes
  awk -v key="$2" '
    /^[^[:space:]#]/ { in_run = ($0 ~ /^run:[[:space:]]*(#.*)?$/); next }
    in_run && $0 ~ "^[[:space:]]+" key ":" {
      v = $0; sub("^[[:space:]]+" key ":[[:space:]]*", "", v); sub("[[:space:]]+#.*$", "", v); sub("[[:space:]]+$", "", v)
      if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2)
      print v; exit
    }' "$1"
}

main() {
  cd "${PBS_O_WORKDIR:-.}" || exit 1
  local config=${CONFIG:-} cmd=${TOOLGRPO_CMD:-train} bin=${TOOLGRPO_BIN:-build/app/toolgrpo}
  local max_requeues=${MAX_REQUEUES:-20} margin=${TIME_MARGIN:-300} count=${TOOLGRPO_REQUEUE_COUNT:-0}
  # The continuation runs this same script: PBS's copy of it ($0; edited #PBS lines included), else jobs/pbs.sh.
  local script=${JOB_SCRIPT:-$0}
  [ -f "$script" ] || script=${PBS_O_WORKDIR:-.}/jobs/pbs.sh
  [ -n "$config" ] || { say "CONFIG is not set (e.g. qsub -v CONFIG=jobs/configs/paper_qwen2.5-3b.yaml jobs/pbs.sh)"; exit 2; }
  [ -f "$config" ] || { say "CONFIG: no file '$config' (relative paths start at $PWD)"; exit 2; }
  [ -x "$bin" ] || { say "TOOLGRPO_BIN: '$bin' is not an executable file (relative paths start at $PWD)"; exit 2; }
  # TOOLGRPO_BLAS_CORETYPE=auto|NAME: OpenBLAS kernels for the ranks (jobs/blas_env.sh; unset: OpenBLAS decides).
  if [ -f jobs/blas_env.sh ]; then . jobs/blas_env.sh && blas_coretype_apply "$bin"; fi
  case "$cmd" in train|sft) ;; *) say "TOOLGRPO_CMD: expected train or sft, got '$cmd'"; exit 2 ;; esac
  case "$count" in ''|*[!0-9]*) say "TOOLGRPO_REQUEUE_COUNT: expected an integer, got '$count'"; exit 2 ;; esac

  local overrides=() o
  read -r -a overrides <<<"${OVERRIDES:-}"
  local user_time_limit=0 never_resume=0
  for o in ${overrides[@]+"${overrides[@]}"}; do
    case "$o" in
      run.time_limit=*) user_time_limit=1 ;;
      checkpoint.resume=never) never_resume=1 ;;
    esac
  done

  local np=${NP:-}
  if [ -z "$np" ]; then
    if [ -n "${PBS_NODEFILE:-}" ] && [ -f "$PBS_NODEFILE" ]; then np=$(wc -l <"$PBS_NODEFILE"); else np=1; fi
    np=${np//[[:space:]]/}
  fi
  local run_dir=${RUN_DIR:-$(run_dir_of "$config" ${overrides[@]+"${overrides[@]}"})}
  say "job ${PBS_JOBID:-?} (continuation $count of at most $max_requeues), $np ranks; run directory $run_dir"
  # A finished run is launched anyway: toolgrpo compares the steps asked for with those DONE records, extends the
  # run when more are asked, and otherwise exits 0 at once, which ends the job (only exit code 75 requeues it).
  if [ "$never_resume" -eq 0 ] && [ -e "$run_dir/DONE" ]; then
    say "$run_dir/DONE exists: the run finished; toolgrpo extends it if more steps are asked for, else exits 0 at once"
  fi

  local left="" limit=""
  if [ -n "${PBS_JOBID:-}" ]; then left=$(qstat -f "$PBS_JOBID" 2>/dev/null | walltime_left_from_qstat) || left=""; fi
  if [ -n "$left" ] && [ "$user_time_limit" -eq 0 ]; then
    limit=$(( left - margin ))
    [ "$limit" -ge 60 ] || limit=60
    overrides+=("run.time_limit=$limit")
    say "walltime left ${left} s: run.time_limit=$limit (TIME_MARGIN $margin s)"
  fi
  # shellcheck disable=SC2034  # read by the TERM trap below
  local started=$SECONDS

  local mpirun_args=()
  if [ -n "${MPIRUN_ARGS+set}" ]; then
    read -r -a mpirun_args <<<"$MPIRUN_ARGS"
  else
    [ -z "${PBS_NODEFILE:-}" ] || mpirun_args=(--hostfile "$PBS_NODEFILE")
    mpirun_args+=(--bind-to none)
  fi
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
    export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
  fi
  local launch=("${MPIRUN:-mpirun}" -np "$np" ${mpirun_args[@]+"${mpirun_args[@]}"} "$bin" "$cmd" --config "$config"
                ${overrides[@]+"${overrides[@]}"})

  # SIGTERM (qdel, walltime) or SIGUSR1 (qsig -s USR1): pass SIGUSR1 to mpirun, which hands it to every rank
  # (a SIGTERM would make mpirun kill the ranks), and keep waiting for it.
  local child="" signalled="" signal_left="" code
  trap 'signalled=USR1; [ -z "$child" ] || kill -s USR1 "$child" 2>/dev/null' USR1
  trap 'signalled=TERM; [ -n "$left" ] && signal_left=$(( left - (SECONDS - started) )); [ -z "$child" ] || kill -s USR1 "$child" 2>/dev/null' TERM
  if [ -n "$signalled" ]; then
    code=$REQUEUE_CODE  # the signal came before the launch: nothing to stop
  else
    say "launching: ${launch[*]}"
    "${launch[@]}" </dev/null &  # the launcher would read stdin: with PBS it may be this very script
    child=$!
    while :; do
      wait "$child"
      code=$?
      kill -0 "$child" 2>/dev/null || break  # otherwise a trapped signal interrupted the wait
    done
    # Bash keeps a finished background job's status: this wait returns the launcher's own exit code even when a
    # signal interrupted the last one (older bash versions answer 127 and the code above stands).
    local again
    wait "$child" 2>/dev/null
    again=$?
    [ "$again" -eq 127 ] || code=$again
  fi
  say "the run ended with exit code $code${signalled:+ (after SIG$signalled)}"

  [ "$code" -eq "$REQUEUE_CODE" ] || exit "$code"
  # A SIGTERM with more than 10 minutes of walltime left is a qdel (or a preemption): the chain stops here.
  if [ "$signalled" = TERM ] && { [ -z "$signal_left" ] || [ "$signal_left" -gt 600 ]; }; then
    say "stopped by SIGTERM before the walltime (qdel): no continuation; submit again to resume from the checkpoint"
    exit "$code"
  fi
  if [ "$count" -ge "$max_requeues" ]; then
    say "MAX_REQUEUES ($max_requeues) used up: no continuation; submit again to resume from the checkpoint"
    exit "$code"
  fi
  # -V: the same environment (CONFIG, OVERRIDES, modules' paths); afterany: it starts once this job has ended.
  local qsub_args=(-V -v "TOOLGRPO_REQUEUE_COUNT=$((count + 1))") extra=() next
  [ -z "${PBS_JOBID:-}" ] || qsub_args+=(-W "depend=afterany:$PBS_JOBID")
  read -r -a extra <<<"${QSUB_ARGS:-}"
  if next=$(qsub "${qsub_args[@]}" ${extra[@]+"${extra[@]}"} "$script" </dev/null); then
    say "submitted continuation $next ($((count + 1))/$max_requeues) of $script; it resumes from the newest checkpoint"
    exit 0
  fi
  say "qsub of the continuation failed: submit again to resume from the checkpoint"
  exit "$code"
}

# Sourcing the file (tests) defines the functions only; run as a file or fed to the shell on stdin, it runs.
if [ "${BASH_SOURCE[0]:-$0}" = "$0" ]; then main "$@"; fi
