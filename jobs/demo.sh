#!/usr/bin/env bash
# The learning demo (the main job of jobs/quickstart.sh): does GRPO teach a tiny model tool calling on a
# synthetic task, on CPU, under mpirun? For each training seed: a warm start (init-model + SFT; cached), GRPO
# from it, and an equal-compute SFT control (the same warm start trained on with SFT for GRPO's wall time);
# all three evaluated on two held-out splits (tools never seen in training; the training tools with new
# requests), greedy and with K samples at the training temperature (mean and pass@K). The tables give each
# cell's mean over the seeds with a 95% interval (toolgrpo eval-table: bootstrap over seeds, then rows) and
# say in words whether GRPO beat its warm start and the SFT control.
#
#   bash jobs/demo.sh [--seeds N] [--rebuild]
#     --seeds N   training seeds DEMO_SEED .. DEMO_SEED+N-1 (default 1): the model's initialisation and all
#                 sampling; the synthetic data is the same for every seed (DEMO_DATA_SEED)
#     --rebuild   build the warm starts again even when the cache holds them
#     --warm-start-only   stop once the warm starts are built (or found in the cache)
#
# Environment:
#   DEMO_DESIGN     select (default): a task of 8 training tools without arguments (synth-data --train-tools 8
#                   --no-arguments: a call is exact when its tool names are), the `tiny` model, 1000 SFT steps,
#                   GRPO 150 steps at lr 3e-3 with the coarse reward in split roles (one generating rank) on rows
#                   of their own (synth-data --rl) | rl-split: the full task (string, integer and enum arguments
#                   copied from the request), the `demo` model, 2400 SFT steps, GRPO 120 steps at lr 5e-4 with
#                   the fine-grained reward on rows of their own | base: as rl-split, GRPO on the SFT rows
#   DEMO_SIZE       full (default: 200 rows per held-out split) | learning (the learning test's: 100 rows, no
#                   evaluation during GRPO) | ci (the smallest run, for the warm-start cache test)
#   DEMO_OUT        output directory (default runs/demo; replaced); NP ranks (default 2); BUILD_DIR (build)
#   DEMO_SEED       the first training seed (default 1); DEMO_DATA_SEED the synthetic data's seed (default 1)
#   DEMO_SAMPLES    samples per row for the sampled evaluation and pass@K (default 8)
#   DEMO_CACHE      where warm starts are kept (default ${XDG_CACHE_HOME:-$HOME/.cache}/toolgrpo/demo). A
#                   warm start is reused when everything that determines it is unchanged (its key: the
#                   toolgrpo and libtorch versions, the BLAS kernel, the data and model options, the SFT
#                   steps and configuration file, the rank count); a damaged one is built again.
#   TOOLGRPO_BLAS_CORETYPE  auto: OpenBLAS kernels for this CPU when it would run its generic ones (INSTALL.md)
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '10,14p' "$0" | sed 's/^# \{0,1\}//'; }
SEEDS=1 REBUILD=0 WARM_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "demo: --seeds needs a positive integer" >&2; exit 2; }
      SEEDS=$2; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    --warm-start-only) WARM_ONLY=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
BUILD_DIR=${BUILD_DIR:-build}
BIN="$BUILD_DIR/app/toolgrpo"
OUT=${DEMO_OUT:-runs/demo}
NP=${NP:-2}
SEED0=${DEMO_SEED:-1}
DATA_SEED=${DEMO_DATA_SEED:-1}
SAMPLES=${DEMO_SAMPLES:-8}
CACHE=${DEMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolgrpo/demo}
for v in SEED0 DATA_SEED SAMPLES NP; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "demo: $v must be a non-negative integer, got '${!v}'" >&2; exit 2; }
done
# The design: the task, the model and the training recipe (docs/demo-research.md compares the three).
# TASK_ARGS: further synth-data options; GRPO_ARGS: GRPO settings after jobs/configs/demo.yaml's.
case "${DEMO_DESIGN:=select}" in
  select)  # tool selection: 8 training tools without arguments; the coarse reward; split roles
    TRAIN_ROWS=2000 PRESET=tiny SFT_STEPS=1000 GRPO_STEPS=150 MAX_NEW=64 RL_DATA=rl.jsonl
    TASK_ARGS=(--train-tools 8 --no-arguments)
    GRPO_ARGS=(reward.variant=coarse grpo.lr=3e-3 parallel.mode=split parallel.generation_ranks=1) ;;
  rl-split | base)  # the full task (arguments to copy), the `demo` model, the fine-grained reward
    TRAIN_ROWS=3000 PRESET=demo SFT_STEPS=2400 GRPO_STEPS=120 MAX_NEW=96 RL_DATA=rl.jsonl TASK_ARGS=() GRPO_ARGS=()
    [ "$DEMO_DESIGN" = rl-split ] || RL_DATA=train.jsonl ;;
  *) echo "demo: DEMO_DESIGN must be select, rl-split or base, got '${DEMO_DESIGN}'" >&2; exit 2 ;;
esac
case "${DEMO_SIZE:-full}" in
  full) HELDOUT_ROWS=200 ;;
  learning) HELDOUT_ROWS=100 GRPO_ARGS+=(log.eval_every=0 data.eval_prompts=20) ;;
  ci) TRAIN_ROWS=200 HELDOUT_ROWS=16 PRESET=tiny SFT_STEPS=20 GRPO_STEPS=2 MAX_NEW=48 ;;
  *) echo "demo: DEMO_SIZE must be full, learning or ci, got '${DEMO_SIZE}'" >&2; exit 2 ;;
esac
SFT_STEPS=${DEMO_SFT_STEPS:-$SFT_STEPS}
RL_ARGS=()
[ "$RL_DATA" = train.jsonl ] || RL_ARGS=(--rl "$TRAIN_ROWS")
[ -x "$BIN" ] || { echo "demo: $BIN not found: build first (bash jobs/setup.sh)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. jobs/demo_splits.sh  # split_file, split_title, seed_files
. jobs/blas_env.sh  # TOOLGRPO_BLAS_CORETYPE=auto|NAME picks OpenBLAS's kernels (unset: OpenBLAS decides)
blas_coretype_apply "$BIN"
MPI=(mpirun -np "$NP" --oversubscribe)
start=$(date +%s)
STAGES=$((1 + SEEDS * 6 + 2)) stage=0
# A stage line: the stage's number of all, the time so far, and an estimate of the rest from the stages done.
say() {
  stage=$((stage + 1))
  local el=$(($(date +%s) - start)) eta=""
  [ "$stage" -gt 2 ] && eta=", about $((el * (STAGES - stage + 1) / (stage - 1))) s left"
  printf '\n[demo %d/%d, %d s%s] %s\n' "$stage" "$STAGES" "$el" "$eta" "$*"
}
sha() { sha256sum | cut -c1-16; }

rm -rf "$OUT"
mkdir -p "$OUT"
say "synthetic task (data seed $DATA_SEED): $TRAIN_ROWS training rows; held-out: $HELDOUT_ROWS rows with tools and" \
  "phrasings unseen in training, $HELDOUT_ROWS with the training tools and new requests"
"$BIN" synth-data --out "$OUT/data" --n "$TRAIN_ROWS" --heldout "$HELDOUT_ROWS" --heldout-seen "$HELDOUT_ROWS" \
  --seed "$DATA_SEED" ${RL_ARGS[@]+"${RL_ARGS[@]}"} ${TASK_ARGS[@]+"${TASK_ARGS[@]}"}
echo "demo: design $DEMO_DESIGN: SFT on train.jsonl; GRPO and the SFT control on $RL_DATA"
VERSION=$("$BIN" version)  # toolgrpo and libtorch versions, BLAS kernel: part of the warm starts' cache key

# ---- the warm start of one seed, from the cache or built into it; prints its directory last ----
warm_start() {
  local seed=$1 key_text key entry tmp
  key_text="toolgrpo demo warm start, cache format 1
$(printf '%s\n' "$VERSION" | sed -n '1,2p')
blas: $(printf '%s\n' "$VERSION" | sed -n 's/.*core \([A-Za-z0-9]*\).*/\1/p')
data: synth-data --n $TRAIN_ROWS --heldout $HELDOUT_ROWS --heldout-seen $HELDOUT_ROWS --seed $DATA_SEED${TASK_ARGS[*]+ ${TASK_ARGS[*]}}
data files: $(sha <"$OUT/data/train.jsonl")
model: init-model --preset $PRESET --seed $seed --tokenizer bpe
sft: sft.steps=$SFT_STEPS run.seed=$seed, jobs/configs/demo_sft.yaml $(sha <jobs/configs/demo_sft.yaml)
ranks: $NP"
  key=$(printf '%s\n' "$key_text" | sha)
  entry="$CACHE/warm-$key"
  if [ -f "$entry/key.txt" ] && [ "$REBUILD" = 0 ]; then
    if (cd "$entry" && sha256sum --quiet -c files.sha256 >/dev/null 2>&1); then
      echo "demo: reusing the cached warm start $entry (seed $seed; --rebuild builds it again)" >&2
      printf '%s\n' "$entry"
      return
    fi
    echo "demo: the cached warm start $entry is damaged (its files do not match files.sha256): building it again" >&2
  fi
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.building-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT  # this function runs in a subshell: an interrupted build leaves nothing behind
  echo "demo: building the warm start $entry (seed $seed)" >&2
  # The warm start: a model with a vocabulary learned from the training split (each frequent word one token,
  # so copying a value from the request into the call is copying a token), then SFT on the training split.
  "$BIN" init-model --preset "$PRESET" --seed "$seed" --tokenizer bpe --tokenizer-data "$OUT/data/train.jsonl" \
    --out "$tmp/init" >&2
  "${MPI[@]}" "$BIN" sft --config jobs/configs/demo_sft.yaml model.path="$tmp/init" run.out_dir="$tmp" \
    run.name=model data.train="$OUT/data/train.jsonl" data.eval="$OUT/data/heldout.jsonl" sft.steps="$SFT_STEPS" \
    run.seed="$seed" >&2
  rm -rf "$tmp/init" "$tmp/model/checkpoints"
  (cd "$tmp" && find model -type f -print0 | sort -z | xargs -0 sha256sum >files.sha256)
  printf '%s\n' "$key_text" >"$tmp/key.txt"  # written last: a cache entry without it is not complete
  rm -rf "$entry"
  mv "$tmp" "$entry"
  trap - EXIT
  printf '%s\n' "$entry"
}

# ---- evaluation of one model on both splits, greedy and sampled: TAG.SPLIT.{greedy,sampled}.{jsonl,json};
# further arguments go to the greedy evaluation of the unseen-tools split only (--run: the run's report) ----
evaluate() {
  local model=$1 dir=$2 tag=$3 seed=$4 split
  shift 4
  local -a unseen_args=("$@") args
  for split in "${DEMO_SPLITS[@]}"; do
    args=()
    [ "$split" = unseen ] && args=(${unseen_args[@]+"${unseen_args[@]}"})
    "${MPI[@]}" "$BIN" eval --data "$(split_file "$split")" --max-new-tokens "$MAX_NEW" --model "$model" \
      --summary "$dir/$tag.$split.greedy.json" --out "$dir/$tag.$split.greedy.jsonl" ${args[@]+"${args[@]}"} >/dev/null
    "${MPI[@]}" "$BIN" eval --data "$(split_file "$split")" --max-new-tokens "$MAX_NEW" --model "$model" \
      --samples "$SAMPLES" --temperature 1 --seed "$seed" --summary "$dir/$tag.$split.sampled.json" \
      --out "$dir/$tag.$split.sampled.jsonl" >/dev/null
  done
}

declare -a SEED_DIRS=()
for ((seed = SEED0; seed < SEED0 + SEEDS; seed++)); do
  dir="$OUT/seed$seed"
  SEED_DIRS+=("$dir")
  mkdir -p "$dir/eval"
  say "seed $seed: warm start (init-model --preset $PRESET, $SFT_STEPS SFT steps; cached in $CACHE)"
  warm=$(warm_start "$seed" | tail -n 1)
  ln -sfn "$(cd "$warm" && pwd)/model" "$dir/sft"
  [ "$WARM_ONLY" = 0 ] || continue

  say "seed $seed: evaluating the warm start (greedy, and $SAMPLES samples per row)"
  evaluate "$dir/sft" "$dir/eval" start "$seed"

  say "seed $seed: GRPO ($GRPO_STEPS steps)"
  mkdir -p "$dir/grpo"
  t0=$(date +%s.%N)
  "${MPI[@]}" "$BIN" train --config jobs/configs/demo.yaml model.path="$dir/sft" run.out_dir="$dir" \
    data.train="$OUT/data/$RL_DATA" data.eval="$OUT/data/heldout.jsonl" grpo.steps="$GRPO_STEPS" run.seed="$seed" \
    rollout.max_new_tokens="$MAX_NEW" ${GRPO_ARGS[@]+"${GRPO_ARGS[@]}"}
  grpo_seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a + 0.5}')

  # The SFT control: the same warm start, the same training rows, SFT at GRPO's learning rate for GRPO's wall
  # time (run.time_limit stops it before a step that would not fit and checkpoints; exit code 75).
  say "seed $seed: SFT control (SFT from the warm start for GRPO's ${grpo_seconds} s)"
  grpo_lr=$(sed -n 's/^  lr: \([0-9.eE+-]*\).*/\1/p' "$dir/grpo/config.yaml" | head -n 1)
  rc=0  # its output goes to a log (mpirun reports the exit code 75 at length)
  "${MPI[@]}" "$BIN" sft --config jobs/configs/demo_sft.yaml model.path="$dir/sft" run.out_dir="$dir" \
    run.name=sft_control data.train="$OUT/data/$RL_DATA" data.eval="$OUT/data/heldout.jsonl" \
    sft.steps=100000000 sft.lr="$grpo_lr" sft.schedule=constant sft.warmup_steps=0 run.seed="$seed" \
    run.time_limit="$grpo_seconds" >"$dir/sft_control.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 75 ]; then
    tail -n 30 "$dir/sft_control.log" >&2
    echo "demo: the SFT control failed (exit code $rc; its log: $dir/sft_control.log)" >&2
    exit "$rc"
  fi
  grep -E '^sft: stopped after|^sft: [0-9]+ steps' "$dir/sft_control.log" || true

  say "seed $seed: evaluating GRPO"
  evaluate "$dir/grpo" "$dir/eval" grpo "$seed" --run "$dir/grpo" --label "GRPO" --step "$GRPO_STEPS"
  say "seed $seed: evaluating the SFT control"
  evaluate "$dir/sft_control" "$dir/eval" sft_control "$seed"
done

if [ "$WARM_ONLY" = 1 ]; then
  echo "demo: warm starts ready: $(for d in "${SEED_DIRS[@]}"; do readlink "$d/sft"; done | tr '\n' ' ')"
  exit 0
fi
# ---- the tables ----
say "tables: $SEEDS seed(s), each cell the mean over the seeds with a 95% interval (bootstrap over seeds, then rows)"
files() { seed_files "$1" "$2" "$3" "${SEED_DIRS[@]}"; }
verdicts=""
for split in "${DEMO_SPLITS[@]}"; do
  what=$(split_title "$split") short=$(split_short "$split")
  for mode in greedy sampled; do
    case $mode in greedy) how="greedy" ;; *) how="mean over $SAMPLES samples at temperature 1, and pass@$SAMPLES" ;; esac
    printf '\n== held-out split: %s (%s rows); %s ==\n' "$what" "$HELDOUT_ROWS" "$how"
    table=$("$BIN" eval-table --column start="$(files start $split $mode)" \
      --column sft_control="$(files sft_control $split $mode)" --column grpo="$(files grpo $split $mode)" \
      --diff grpo-start --diff grpo-sft_control --diff sft_control-start --json "$OUT/table.$split.$mode.json")
    printf '%s\n' "$table"
    # The verdicts on GRPO, each with the line above it naming its measure (exact call, or pass@K).
    verdicts+=$(printf '%s\n' "$table" | awk -v where="$short, $mode" '
      /^[a-z_]+-[a-z_]+ +exact call/ {measure = "exact call"} /^[a-z_]+-[a-z_]+ +pass@/ {measure = $2}
      /^ +grpo (is|equals) / {sub(/^ +/, ""); printf "  %s, %s: %s\n", where, measure, $0}')$'\n'
  done
done
echo
echo "GRPO training reward (reward_total_mean, 10-step means; 4 is the maximum):"
for d in "${SEED_DIRS[@]}"; do
  sed -n 's/.*"reward_total_mean": \([-0-9.eE+]*\).*/\1/p' "$d/grpo/metrics.jsonl" |
    awk -v s="${d##*/}" '{r[NR] = $1} END {n = NR < 10 ? NR : 10; for (i = 1; i <= n; i++) {a += r[i]; b += r[NR - n + i]}
      printf "  %s: first %.3f, last %.3f (%+.3f)\n", s, a / n, b / n, (b - a) / n}'
done
say "done. In words, on this machine ($SEEDS seed(s), exact-call accuracy, 95% intervals):"
printf '%s' "$verdicts" | sed '/^$/d'
echo "reports: $OUT/seed*/grpo/report/index.html; tables: $OUT/table.*.json; per-row outputs: $OUT/seed*/eval/"
