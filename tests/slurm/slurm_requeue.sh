#!/usr/bin/env bash
# jobs/slurm.sbatch against a real Slurm: starts a one-node Slurm cluster on this machine in a scratch directory
# (munged, slurmctld and slurmd with their own key, socket, ports, spool, state, logs and pid files; nothing is
# written to /etc or /var), submits the batch script twice with LAUNCHER=mpirun and a tiny CPU run, and checks
# what a user relies on:
#   1. time limit: --signal=B:USR1@N reaches the batch script while the run trains; the run checkpoints, exits 75,
#      the script requeues the job, the job starts again (same job ID, Restarts=1), resumes from the checkpoint
#      and finishes: RUN_DIR/DONE, JobState COMPLETED, metrics.jsonl holding each step exactly once;
#   2. on demand: `scancel --signal=USR1 --batch JOBID` after the first step does the same.
# Each time the test holds the ranks (SIGSTOP) after their first step until mpirun has forwarded the signal, so
# that it lands mid-run however fast the machine runs the steps. Once the first job has requeued itself, its time
# limit is raised (scontrol update) so that its second start is not signalled again before it finishes. Slurm
# keeps a requeued job pending for AuthInfo's cred_expire seconds (10 here).
#
# Usage: slurm_requeue.sh TOOLGRPO_BIN SOURCE_DIR [SHARED_DATA_DIR]
# Needs root (slurmd runs jobs as their user and is started here as root). Missing Slurm/MUNGE programs are
# installed from Debian's packages (slurmctld slurmd slurm-client munge) without starting their services; when
# that is impossible (not root, no apt-get, the install fails) the test exits 77, which CTest reports as skipped.
# Environment: SLURM_TEST_KEEP=1 keeps the scratch directory after a success too.
set -u -o pipefail
PATH=$PATH:/usr/sbin:/sbin  # slurmctld, slurmd, munged

SKIP_CODE=77
say() { printf '[slurm_requeue %s] %s\n' "$(date +%T)" "$*"; }
skip() { say "SKIPPED: $*"; exit "$SKIP_CODE"; }
fail() { say "FAILED: $*"; exit 1; }

[ $# -ge 2 ] || { echo "usage: $0 TOOLGRPO_BIN SOURCE_DIR [SHARED_DATA_DIR]" >&2; exit 2; }
bin=$(readlink -f "$1")
src=$(cd "$2" && pwd) || exit 2
shared=${3:-${TOOLGRPO_SHARED_DATA:-$src/../shared/data}}
[ -x "$bin" ] || fail "toolgrpo executable '$1' not found"
[ -f "$shared/toolrl/sft.jsonl" ] || fail "no $shared/toolrl/sft.jsonl (the shared data directory is the third argument)"
command -v mpirun >/dev/null || fail "mpirun not found"

t_begin=$(date +%s)
dir=""            # the scratch directory
daemons=()        # pids of munged, slurmctld, slurmd started here
jobs_submitted=() # Slurm job ids
made_policy=""    # a policy-rc.d created here for the package install
finished=0
marker=""        # TOOLGRPO_SLURM_TEST_DIR=<scratch directory>: in the environment of every process the test starts
held=()           # toolgrpo ranks stopped (SIGSTOP) by the test

# ---- clean-up: always, also on failure, SIGINT and SIGTERM -------------------------------------------------
show_diagnostics() {
  local f
  for f in "$dir"/job-*.out "$dir"/log/*; do
    [ -f "$f" ] || continue
    echo "======== ${f#"$dir"/} (last 150 lines) ========"
    tail -n 150 "$f"
  done
  if [ -n "${SLURM_CONF:-}" ] && [ ${#jobs_submitted[@]} -gt 0 ]; then
    echo "======== scontrol show job ========"
    for f in "${jobs_submitted[@]}"; do timeout 10 scontrol show job "$f" 2>&1; done
  fi
}
# Processes that carry this run's marker in their environment: the daemons and everything they started
# (slurmstepd, the batch script, mpirun, the ranks; sbatch passes it on to the jobs). The test's own shell does
# not carry it. Only those processes are ever signalled.
marked_pids() {
  grep -lzxF -- "$marker" /proc/[0-9]*/environ 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
}
stop_pids() {  # SIGTERM, up to 10 s, then SIGKILL
  local p i left
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null
  for i in $(seq 1 20); do
    left=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && left=1; done
    [ "$left" -eq 1 ] || return 0
    sleep 0.5
  done
  kill -KILL "$@" 2>/dev/null
  return 0
}
cleanup() {
  local rc=$? j p
  trap - EXIT INT TERM
  [ ${#held[@]} -eq 0 ] || kill -CONT "${held[@]}" 2>/dev/null
  if [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP_CODE" ] && [ -n "$dir" ]; then show_diagnostics; fi
  if [ -n "${SLURM_CONF:-}" ] && [ ${#jobs_submitted[@]} -gt 0 ] && [ "$finished" -eq 0 ]; then
    for j in "${jobs_submitted[@]}"; do timeout 10 scancel "$j" >/dev/null 2>&1; done
    sleep 2
  fi
  # The daemons in reverse order of their start (slurmd, slurmctld, munged), then anything left of the jobs.
  for ((p = ${#daemons[@]} - 1; p >= 0; p--)); do stop_pids "${daemons[p]}"; done
  if [ -n "$marker" ]; then
    # shellcheck disable=SC2046
    stop_pids $(marked_pids)
    p=$(marked_pids | tr '\n' ' ')
    if [ -n "$p" ]; then say "processes of this test still alive: $p"; [ "$rc" -ne 0 ] || rc=1; fi
  fi
  [ -z "$made_policy" ] || rm -f "$made_policy"
  if [ -n "$dir" ]; then
    if [ "$rc" -eq 0 ] && [ "${SLURM_TEST_KEEP:-0}" != 1 ]; then rm -rf "$dir"; else say "scratch directory kept: $dir"; fi
  fi
  say "exit code $rc after $(( $(date +%s) - t_begin )) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# ---- Slurm and MUNGE from Debian's packages -----------------------------------------------------------------
have_slurm() {
  local c
  for c in munged mungekey munge unmunge slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
    command -v "$c" >/dev/null || return 1
  done
}
service_pids() { { pgrep -x munged; pgrep -x slurmctld; pgrep -x slurmd; } | sort; }
install_slurm() {
  local pkgs=(slurmctld slurmd slurm-client munge) log before after p
  say "Slurm or MUNGE programs missing: installing ${pkgs[*]} (Debian packages)"
  [ "$(id -u)" -eq 0 ] || skip "not root: cannot install ${pkgs[*]} (apt-get install ${pkgs[*]} as root, then run again)"
  command -v apt-get >/dev/null || skip "no apt-get: install Slurm (slurmctld, slurmd, client commands) and MUNGE"
  log=$(mktemp -t toolgrpo-slurm-apt.XXXXXX)
  before=$(service_pids)
  # invoke-rc.d asks policy-rc.d whether to start a service: 101 = no. Used only while installing.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    made_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# temporary: no service starts while the slurm test installs its packages\nexit 101\n' >"$made_policy"
    chmod 755 "$made_policy"
  fi
  local apt=(apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${pkgs[@]}")
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >"$log" 2>&1; then
    say "apt-get install failed; running apt-get update first"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" >>"$log" 2>&1 ||
      { tail -n 30 "$log"; rm -f "$log"; skip "could not install ${pkgs[*]}"; }
  fi
  rm -f "$log"
  if [ -n "$made_policy" ]; then rm -f "$made_policy"; made_policy=""; fi
  have_slurm || fail "${pkgs[*]} installed, yet some of their programs are missing"
  # Nothing may have started: a daemon that appeared during the install is stopped again.
  after=$(service_pids)
  for p in $(comm -13 <(echo "$before") <(echo "$after")); do
    # (not one of another run of this test, which carries its marker)
    grep -qzF TOOLGRPO_SLURM_TEST_DIR= "/proc/$p/environ" 2>/dev/null && continue
    say "the install started a daemon (pid $p, $(cat /proc/"$p"/comm 2>/dev/null)): stopping it"
    stop_pids "$p"
  done
  say "installed: $(dpkg-query -W -f '${Package} ${Version}  ' "${pkgs[@]}")"
}
have_slurm || install_slurm
[ "$(id -u)" -eq 0 ] || skip "not root: this test starts slurmd, which must run as root"

# ---- the cluster ------------------------------------------------------------------------------------------
dir=$(mktemp -d -t toolgrpo-slurm.XXXXXX) || fail "mktemp"
chmod 755 "$dir"  # munged wants every directory above its socket searchable by all
mkdir -p "$dir"/{etc,munge,state,spool,log,run}
marker=TOOLGRPO_SLURM_TEST_DIR=$dir
export SLURM_CONF=$dir/etc/slurm.conf
say "scratch directory $dir; $(slurmctld -V), $(munged -V 2>&1 | head -n 1)"

port_in_use() {  # PORT: bound by anything (IPv4 or IPv6), from /proc/net/tcp*
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'NR > 1 { split($2, a, ":"); if (toupper(a[2]) == h) found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
pick_port() {  # a free port in 20000-59999 other than $1
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [ "$p" != "${1:-}" ] || continue
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  return 1
}
# Every wait below is bounded by its own limit and by this deadline, well inside CTest's 600 s TIMEOUT, so the
# clean-up always runs.
deadline=$(( $(date +%s) + 480 ))
past_deadline() {  # fails past the deadline or when a daemon has died
  local i names=(munged slurmctld slurmd)
  for i in "${!daemons[@]}"; do
    kill -0 "${daemons[i]}" 2>/dev/null || fail "${names[i]} (pid ${daemons[i]}) exited; see its log"
  done
  [ "$(date +%s)" -ge "$deadline" ] || return 1
  fail "the test's overall limit (480 s after the cluster start-up began) passed"
}
wait_for() {  # SECONDS DESCRIPTION COMMAND...: poll once a second until COMMAND succeeds
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit; i++)); do
    past_deadline
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "timed out after ${limit} s waiting for $what"
}
alive() { kill -0 "$1" 2>/dev/null || fail "$2 (pid $1) exited; see its log"; }

ctld_port=$(pick_port) || fail "no free port"
slurmd_port=$(pick_port "$ctld_port") || fail "no free port"
node=$(hostname -s)
# The node's CPUs, sockets, cores, threads and memory as slurmd detects them.
hw=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]*//') || fail "slurmd -C"
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
cat >"$SLURM_CONF" <<EOF
# A one-node test cluster (tests/slurm/slurm_requeue.sh)
ClusterName=toolgrpotest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=60
SlurmdTimeout=120
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# Slurm looks for its other configuration files (cgroup.conf, plugstack.conf, ...) beside slurm.conf: none.

mungekey --create --keyfile="$dir/munge/munge.key" || fail "mungekey"
env "$marker" munged -F --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --log-file="$dir/log/munged.log" \
  --pid-file="$dir/run/munged.pid" --seed-file="$dir/munge/seed" >>"$dir/log/munged.log" 2>&1 </dev/null &
daemons+=($!)
munge_ok() { timeout 10 munge -n -S "$dir/munge/munge.socket" | timeout 10 unmunge -S "$dir/munge/munge.socket"; }
wait_for 20 "munged" munge_ok
env "$marker" slurmctld -D -f "$SLURM_CONF" >>"$dir/log/slurmctld.stderr" 2>&1 </dev/null &
daemons+=($!)
wait_for 40 "slurmctld to answer" timeout 10 scontrol ping
alive "${daemons[1]}" slurmctld
env "$marker" slurmd -D -f "$SLURM_CONF" -N "$node" >>"$dir/log/slurmd.stderr" 2>&1 </dev/null &
daemons+=($!)
node_idle() { [ "$(timeout 10 sinfo -h -n "$node" -o %T)" = idle ]; }
wait_for 60 "node $node to become idle" node_idle
alive "${daemons[2]}" slurmd
say "cluster up: node $node ($cpus CPUs), slurmctld port $ctld_port, slurmd port $slurmd_port"

# ---- the jobs ---------------------------------------------------------------------------------------------
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
runs=$dir/runs
job_field() {  # JOBID FIELD: a field of `scontrol show job -o`, e.g. JobState, Restarts, ExitCode
  timeout 20 scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
# submit NAME STEPS SBATCH_OPTIONS...: jobs/slurm.sbatch from the source directory (the submission directory a
# user has) with the quick start's CPU config and a small run; sets job_id.
job_id=""
submit() {
  local name=$1 steps=$2 id
  shift 2
  id=$(cd "$src" && env "$marker" CONFIG=jobs/configs/quickstart.yaml TOOLGRPO_BIN="$bin" LAUNCHER=mpirun \
    TIME_MARGIN=0 OVERRIDES="run.out_dir=$runs run.name=$name data.train=$shared/toolrl/sft.jsonl log.eval_every=0 checkpoint.every=0 grpo.steps=$steps" \
    sbatch --parsable --job-name="toolgrpo-$name" --nodes=1 --ntasks=2 --ntasks-per-node=2 --gpus-per-node=0 \
    --cpus-per-task=1 --output="$dir/job-$name.out" "$@" jobs/slurm.sbatch) || fail "sbatch failed for job $name"
  id=${id%%;*}
  jobs_submitted+=("$id")
  job_id=$id
}
# wait_output NAME JOBID SECONDS PATTERN: until the job's output has a line matching PATTERN (grep -E); fails
# when the job ends otherwise.
wait_output() {
  local name=$1 id=$2 limit=$3 pattern=$4 i state
  for ((i = 0; i < limit; i++)); do
    past_deadline
    grep -qE -- "$pattern" "$dir/job-$name.out" 2>/dev/null && return 0
    state=$(job_field "$id" JobState)
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
        grep -qE -- "$pattern" "$dir/job-$name.out" 2>/dev/null && return 0
        fail "job $name ($id) ended ($state) before its output showed /$pattern/" ;;
    esac
    sleep 1
  done
  fail "job $name ($id): no /$pattern/ in its output after $limit s (state $(job_field "$id" JobState))"
}
wait_state() {  # JOBID SECONDS STATE: until the job is in STATE; fails when it ends in another one
  local id=$1 limit=$2 want=$3 i state
  for ((i = 0; i < limit; i++)); do
    past_deadline
    state=$(job_field "$id" JobState)
    [ "$state" != "$want" ] || return 0
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
        fail "job $id ended in state $state (ExitCode $(job_field "$id" ExitCode)), expected $want" ;;
    esac
    sleep 1
  done
  fail "job $id not $want after $limit s (state $state)"
}
has() {  # NAME TEXT: the job's output has a line containing TEXT
  grep -qF -- "$2" "$dir/job-$1.out" || fail "job $1: its output lacks '$2'"
}
# time_left_is NAME START SECONDS: the script's "time left N s: run.time_limit=N" line of that start has
# SECONDS - 30 < N <= SECONDS.
time_left_is() {
  local n
  n=$(grep -E 'time left [0-9]+ s: run.time_limit=[0-9]+ \(TIME_MARGIN 0 s\)' "$dir/job-$1.out" | sed -n "$2p" |
    sed -E 's/.*time left ([0-9]+) s: run.time_limit=([0-9]+) .*/\1 \2/')
  set -- "$1" "$2" "$3" $n
  [ $# -eq 5 ] && [ "$4" = "$5" ] && [ "$4" -le "$3" ] && [ "$4" -gt $(($3 - 30)) ] ||
    fail "job $1, start $2: expected 'time left N s: run.time_limit=N' with N in ($(($3 - 30)), $3], got '${4:-} ${5:-}'"
}
# check_requeued_run NAME JOBID STEPS LIMIT1 LIMIT2: the job was stopped by SIGUSR1 once, requeued itself, resumed
# and finished; LIMIT1 and LIMIT2 are its time limits in seconds at the first and the second start.
check_requeued_run() {
  local name=$1 id=$2 steps=$3 run=$runs/$1 out=$dir/job-$1.out k line rows
  has "$name" "job $id (start 1, requeues left 20)"
  # run.time_limit from the job's remaining time (squeue %L), TIME_MARGIN 0: at most the time limit.
  time_left_is "$name" 1 "$4"
  has "$name" "launching: mpirun -np 2 --bind-to none $bin train --config jobs/configs/quickstart.yaml"
  has "$name" "the run ended with exit code 75 (after SIGUSR1)"
  line=$(grep -m 1 -E 'grpo: stopped after step [0-9]+ by a stop signal' "$out") ||
    fail "job $name: no 'stopped after step K by a stop signal' line"
  k=$(sed -E 's/.*stopped after step ([0-9]+) .*/\1/' <<<"$line")
  [ "$k" -ge 1 ] && [ "$k" -lt "$steps" ] ||
    fail "job $name: the signal did not land mid-run (stopped after step $k of $steps)"
  local ck
  ck=$(printf 'ckpt-%08d.h5' "$k")
  has "$name" "checkpoint $run/checkpoints/$ck; exit code 75"
  has "$name" "requeued job $id (1/20); it resumes from the newest checkpoint"
  has "$name" "job $id (start 2, requeues left 19)"
  time_left_is "$name" 2 "$5"
  has "$name" "grpo: resumed from $run/checkpoints/$ck at step $k"
  has "$name" "grpo: $steps steps ($((steps - k)) in this job)"
  [ "$(grep -c 'the run ended with exit code' "$out")" -eq 2 ] || fail "job $name: expected two launches"
  has "$name" "the run ended with exit code 0"
  [ "$(job_field "$id" Restarts)" = 1 ] || fail "job $name: Restarts=$(job_field "$id" Restarts), expected 1"
  [ "$(job_field "$id" ExitCode)" = 0:0 ] || fail "job $name: ExitCode=$(job_field "$id" ExitCode)"
  [ -f "$run/DONE" ] || fail "job $name: no $run/DONE"
  # metrics.jsonl: one row per step, steps 1..STEPS in order, each exactly once (no row of the interrupted
  # start repeated by the resumed one).
  rows=$(sed -E 's/^\{"step": ([0-9]+),.*/\1/' "$run/metrics.jsonl" | tr '\n' ' ')
  [ "$rows" = "$(seq -s ' ' 1 "$steps") " ] || fail "job $name: metrics.jsonl steps are [$rows], expected 1..$steps once each"
  say "job $name ($id): stopped by SIGUSR1 after step $k of $steps, checkpoint $ck, exit 75, requeued, resumed at step $k, finished: DONE, $steps metrics rows"
}

# The run on this machine takes 0.2 s to over 1 s a step, depending on what else runs; Slurm's time-limit signal
# comes at its next 30 s check. So that the signal lands mid-run whatever the speed, the test holds the two ranks
# (SIGSTOP) once they have finished their first step, as if that step were slow, and lets them go on (SIGCONT)
# once mpirun reports that it forwarded the signal the batch script passed on; they then checkpoint and exit 75.
rank_pids() {  # the ranks of this test's jobs: the children of their mpirun
  local p mpiruns=() stat
  for p in $(marked_pids); do  # Open MPI 4's mpirun; Open MPI 5's mpirun runs on as prterun (prte)
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in mpirun | prterun | prte) mpiruns+=("$p") ;; esac
  done
  [ ${#mpiruns[@]} -gt 0 ] || return 0
  for p in $(marked_pids); do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    stat=${stat##*) }  # after "pid (comm) ": state ppid ...
    set -- $stat
    case " ${mpiruns[*]} " in *" $2 "*) echo "$p" ;; esac
  done
}
release_ranks() { [ ${#held[@]} -eq 0 ] || kill -CONT "${held[@]}" 2>/dev/null; held=(); }
# hold_after_first_step NAME JOBID: waits for the first row of the run's metrics.jsonl, then stops the ranks.
hold_after_first_step() {
  local name=$1 id=$2 i
  for ((i = 0; i < 240; i++)); do
    past_deadline
    [ -s "$runs/$name/metrics.jsonl" ] && break
    case "$(job_field "$id" JobState)" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT) fail "job $name ($id) ended before its first step" ;;
    esac
    sleep 0.5
  done
  [ -s "$runs/$name/metrics.jsonl" ] || fail "job $name ($id): no step done after 120 s"
  mapfile -t held < <(rank_pids)
  [ ${#held[@]} -eq 2 ] || fail "job $name ($id): expected 2 toolgrpo ranks, found ${#held[@]} (${held[*]})"
  kill -STOP "${held[@]}" || fail "SIGSTOP ${held[*]}"
  say "job $name ($id): step 1 done; ranks ${held[*]} held"
}
# release_after_forward NAME JOBID SECONDS: once mpirun has forwarded SIGUSR1, lets the ranks go on.
release_after_forward() {
  wait_output "$1" "$2" "$3" 'mpirun: Forwarding signal 10'
  release_ranks
  say "job $1 ($2): mpirun forwarded SIGUSR1; ranks released"
}

# 1. The time limit's warning signal: Slurm sends it when the job is within N seconds of its end (checked every
#    30 s): with --time=2 and @75, some 15-45 s after the start.
steps_a=20
submit time "$steps_a" --time=2 --signal=B:USR1@75
ja=$job_id
say "job time ($ja): --time=2 --signal=B:USR1@75, $steps_a steps"
hold_after_first_step time "$ja"
release_after_forward time "$ja" 90
wait_output time "$ja" 60 'the run ended with exit code'
first_end=$(grep -m 1 'the run ended with exit code' "$dir/job-time.out")
case "$first_end" in
  *"exit code 75 (after SIGUSR1)") ;;
  *) fail "job time: the first start ended otherwise: $first_end" ;;
esac
# The next start must not get the warning again before it finishes: a longer time limit (as an admin would).
scontrol update JobId="$ja" TimeLimit=10 || fail "scontrol update TimeLimit"
say "job time ($ja): the first start ended (signalled); time limit raised to 10 min for the second start"
wait_state "$ja" 150 COMPLETED
check_requeued_run time "$ja" "$steps_a" 120 600

# 2. On demand: scancel --signal=USR1 --batch after the first step. The time limit's signal is far away.
steps_b=20
submit demand "$steps_b" --time=5 --signal=B:USR1@10
jb=$job_id
say "job demand ($jb): --time=5, $steps_b steps; scancel --signal=USR1 --batch after its first step"
hold_after_first_step demand "$jb"
scancel --signal=USR1 --batch "$jb" || fail "scancel --signal=USR1 --batch"
release_after_forward demand "$jb" 30
wait_output demand "$jb" 60 'the run ended with exit code'
wait_state "$jb" 150 COMPLETED
check_requeued_run demand "$jb" "$steps_b" 300 300

finished=1
say "PASSED"
