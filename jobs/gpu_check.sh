#!/usr/bin/env bash
# The GPU check: everything a first run on a GPU machine should show, in one script of at most BUDGET seconds
# (default 540), writing a log and a JSON summary. Stages, each timed and recorded as passed, failed or skipped:
#   versions   the GPU, the driver, python's torch and transformers, CMake, nvcc
#   prefix     the Debian 12 packages this machine lacks (Open MPI, parallel HDF5, yaml-cpp, Kokkos, GoogleTest,
#              nlohmann-json, simdjson), carried in jobs/.gpu_debs (jobs/gpu_debs.sh fills it) and unpacked into
#              BUILD_DIR-prefix (dpkg -x, or python3 where there is no dpkg); of the fallback packages only the
#              libraries the machine's loader cannot find are linked in
#   build      toolgrpo against python's torch (CUDA on; NCCL from NCCL_ROOT, else python's nvidia-nccl wheel, else
#              /usr/local/cuda) and the prefix, in BUILD_DIR
#   ctest_gpu  ctest -L gpu: the NCCL tests (NCCL against MPI on libtorch tensors, np 1 and 2)
#   fixtures   the model tests against the reference logits, gradients and generations
#   grpo       GRPO in bf16 with a KL term on the GPU: a model in Qwen2.5-0.5B's layer shapes, 2 steps with a
#              checkpoint after each, then a resume for a third; finite losses and the sampler/trainer log-prob gap
#   generate   generation throughput of a random model in Qwen2.5-1.5B's exact shape, bf16, 128 prompts x 4
#              samples x 256 new tokens (bench_rollout), peak GPU memory from nvidia-smi
#   peer       the same workload through Hugging Face transformers' generate (jobs/gpu_peer_generate.py)
# --cpu-dry-run runs the same stages here, on the CPU, with tiny shapes and the existing build (CI runs it so the
# script cannot rot); stages that need a GPU or python's torch are recorded as skipped. With --debs as well, the
# dry run unpacks the carried packages and configures a new build against them, as on the GPU machine (libtorch:
# TORCH_PREFIX, else python's torch, else the one CMake finds).
#
#   bash jobs/gpu_check.sh [--cpu-dry-run [--debs]] [--out DIR] [--build-dir DIR] [--budget SECONDS]
# Writes DIR/gpu_check.log and DIR/gpu_check.json (DIR: $OUT, else runs/gpu_check). Exit code 0 when no stage
# failed, 1 otherwise, 124 when the budget ran out. Environment: TORCH_PREFIX (libtorch's CMake prefix, default
# python's torch.utils.cmake_prefix_path), NCCL_ROOT, TOOLGRPO_SHARED_DATA (default ../shared/data, or shared/data
# inside the repository when that exists).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
DEBS=0
OUT_DIR=${OUT:-runs/gpu_check}
BUILD=""
BUDGET=540
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) DRY=1 ;;
    --debs) DEBS=1 ;;
    --out) OUT_DIR=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --budget) BUDGET=$2; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$BUILD" ] || BUILD=$([ "$DRY" = 1 ] && { [ "$DEBS" = 1 ] && echo build-debs || echo build; } || echo build-gpu)
if [ -z "${TOOLGRPO_SHARED_DATA:-}" ] && [ ! -d ../shared/data ] && [ -d shared/data ]; then
  export TOOLGRPO_SHARED_DATA=$PWD/shared/data  # a copy of the repository that carries the reference data inside
fi
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOG="$OUT_DIR/gpu_check.log"
JSON="$OUT_DIR/gpu_check.json"
# Models, checkpoints and run directories go beside the build, not under OUT_DIR (whatever is written there may be
# fetched back from the machine); the stages' small text outputs are copied to OUT_DIR/stages at the end.
WORK="$BUILD/gpu_check_work"
rm -rf "$WORK" && mkdir -p "$WORK"
: >"$LOG"
T0=$(date +%s)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

STAGES=()  # JSON objects, one per stage
FIGURES=() # "key": value pairs
FAILED=0
OUT_OF_TIME=0
say() { echo "gpu_check: $*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - T0))); }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1" 2>/dev/null || printf '"%s"' "$1"; }
record() {  # NAME STATUS SECONDS NOTE
  STAGES+=("{\"stage\": \"$1\", \"status\": \"$2\", \"seconds\": $3, \"note\": $(json_str "$4")}")
  [ "$2" = failed ] && FAILED=1
  say "stage $1: $2 ($3 s)${4:+: $4}"
}
figure() { FIGURES+=("\"$1\": $2"); say "figure $1 = $2"; }
write_summary() {
  local mode=$([ "$DRY" = 1 ] && echo cpu-dry-run || echo gpu)
  {
    echo "{\"mode\": \"$mode\", \"seconds\": $(($(date +%s) - T0)), \"budget\": $BUDGET, \"failed\": $FAILED, \"out_of_time\": $OUT_OF_TIME,"
    echo " \"stages\": ["
    local i
    for i in "${!STAGES[@]}"; do echo "  ${STAGES[$i]}$([ "$i" -lt $((${#STAGES[@]} - 1)) ] && echo ,)"; done
    echo " ], \"figures\": {"
    for i in "${!FIGURES[@]}"; do echo "  ${FIGURES[$i]}$([ "$i" -lt $((${#FIGURES[@]} - 1)) ] && echo ,)"; done
    echo " }}"
  } >"$JSON"
}
# stage NAME FUNCTION: runs it under what is left of the budget; its output goes to the log.
stage() {
  local name=$1 fn=$2 t=$(date +%s) budget rc note
  budget=$(left)
  if [ "$budget" -le 5 ]; then OUT_OF_TIME=1; record "$name" skipped 0 "no time left in the budget"; return; fi
  NOTE=""
  ( set -e; "$fn" ) >>"$LOG" 2>&1 &
  local pid=$!
  ( sleep "$budget"; pkill -TERM -P "$pid"; kill -TERM "$pid" ) >/dev/null 2>&1 &  # the budget's guard
  local guard=$!
  wait "$pid"; rc=$?
  pkill -P "$guard" 2>/dev/null; kill "$guard" 2>/dev/null; wait "$guard" 2>/dev/null
  note=$(cat "$WORK/$name.note" 2>/dev/null || true)
  case $rc in
    0) record "$name" passed $(($(date +%s) - t)) "$note" ;;
    77) record "$name" skipped $(($(date +%s) - t)) "$note" ;;
    *) [ "$(left)" -gt 0 ] || { OUT_OF_TIME=1; note="stopped by the budget${note:+; $note}"; }
       record "$name" failed $(($(date +%s) - t)) "exit code $rc${note:+; $note}" ;;
  esac
  if [ -f "$WORK/$name.figures" ]; then
    while IFS='=' read -r k v; do [ -n "$k" ] && figure "$k" "$v"; done <"$WORK/$name.figures"
  fi
}
note() { echo "$2" >"$WORK/$1.note"; }
put() { echo "$2=$3" >>"$WORK/$1.figures"; }
skip() { note "$1" "$2"; exit 77; }

BIN="$BUILD/app/toolgrpo"
DEVICE=$([ "$DRY" = 1 ] && echo cpu || echo cuda)

st_versions() {
  if [ "$DRY" = 0 ]; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; fi
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' \
    || echo "python torch/transformers: not importable"
  cmake --version | head -1
  if command -v nvcc >/dev/null; then nvcc --version | tail -1; else echo "nvcc: not found"; fi
  g++ --version | head -1
}

# The carried packages are unpacked beside the build (not under the output folder, which goes back to the user).
PREFIX="${BUILD%/}-prefix"
case $PREFIX in /*) ;; *) PREFIX="$PWD/$PREFIX" ;; esac
multiarch() { local d; for d in "$PREFIX"/usr/lib/*-linux-gnu; do [ -d "$d/openmpi" ] && basename "$d"; done | head -1; }
unpack_deb() {  # DEB DEST: dpkg -x, or, without dpkg, the data archive read by python3's own ar and tar code
  if command -v dpkg-deb >/dev/null && [ "${GPU_CHECK_UNPACK:-dpkg}" = dpkg ]; then dpkg-deb -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
with open(deb, "rb") as f:
    if f.read(8) != b"!<arch>\n":
        sys.exit(deb + ": not a Debian package (ar archive)")
    while True:
        head = f.read(60)
        if len(head) < 60:
            sys.exit(deb + ": no data.tar member")
        name, size = head[:16].decode().strip().rstrip("/"), int(head[48:58].decode())
        body = f.read(size)
        f.read(size % 2)
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                sys.exit(deb + ": zstd-compressed data, which python's tarfile cannot read")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
                trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
                t.extractall(dest, **trusted)
            break
PY
}
# The libraries and programs of the prefix that toolgrpo, mpirun and the tests load (not the optional MCA
# components, which Open MPI skips when their libraries are missing: libfabric, UCX, verbs, PSM).
prefix_elves() {
  local lib
  lib="$PREFIX/usr/lib/$(multiarch)"
  find "$lib" "$lib/pmix2/lib" -maxdepth 1 -type f -name '*.so.*' ! -name 'libmca_common_ofi*' \
    ! -name 'libmca_common_ucx*' ! -name 'libmca_common_verbs*'
  echo "$PREFIX/usr/bin/orterun" "$PREFIX/usr/bin/orted" "$PREFIX/usr/bin/opal_wrapper"
}
prefix_ldd() { local f; for f in $(prefix_elves); do ldd "$f" 2>&1 | sed "s|^|$f: |"; done; }
st_prefix() {
  [ "$DRY" = 0 ] || [ "$DEBS" = 1 ] || skip prefix "dry run: this machine's own packages (--debs: the carried ones)"
  if ! ls jobs/.gpu_debs/*.deb >/dev/null 2>&1; then
    [ "$DEBS" = 0 ] || { echo "--debs: no packages in jobs/.gpu_debs (run jobs/gpu_debs.sh)"; exit 1; }
    skip prefix "no carried packages in jobs/.gpu_debs (jobs/gpu_debs.sh); the build uses the machine's own"
  fi
  rm -rf "$PREFIX" && mkdir -p "$PREFIX/fallback" "$PREFIX/lib"
  local how=dpkg d n=0 nf=0
  command -v dpkg-deb >/dev/null && [ "${GPU_CHECK_UNPACK:-dpkg}" = dpkg ] || how=python3
  for d in jobs/.gpu_debs/*.deb; do unpack_deb "$d" "$PREFIX"; n=$((n + 1)); done
  for d in jobs/.gpu_debs/fallback/*.deb; do [ -e "$d" ] && { unpack_deb "$d" "$PREFIX/fallback"; nf=$((nf + 1)); }; done
  [ -n "$(multiarch)" ] || { echo "no Open MPI in the unpacked packages"; exit 1; }
  # The names Debian's alternatives system would have made.
  for d in mpicc mpicxx mpic++ mpiCC mpirun mpiexec; do ln -sfn "$d.openmpi" "$PREFIX/usr/bin/$d"; done
  use_prefix
  # Fallback libraries: link in those the loader does not find, then what they need in turn.
  local so found linked=() missing
  for _ in 1 2 3 4 5 6 7 8; do
    missing=$(prefix_ldd | awk '$3 == "=>" && $4 == "not" {print $2}' | sort -u)
    found=0
    for so in $missing; do
      d=$(find "$PREFIX/fallback" -name "$so" | head -1)
      [ -n "$d" ] && [ ! -e "$PREFIX/lib/$so" ] || continue
      ln -s "$(readlink -f "$d")" "$PREFIX/lib/$so" && linked+=("$so") && found=1
    done
    [ "$found" = 1 ] || break
  done
  prefix_ldd | grep "not found" || true  # a missing library, or a glibc too old for one
  note prefix "$n packages unpacked ($how), $nf fallback packages; linked from the fallback: ${linked[*]:-none}"
  if prefix_ldd | grep -q "not found"; then
    note prefix "$(cat "$WORK/prefix.note"); libraries still missing (see the log)"
    exit 1
  fi
  mpirun -np 2 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE started"'  # the prefix's mpirun works
}
use_prefix() {
  [ -d "$PREFIX/usr" ] || return 0
  local lib
  lib="$PREFIX/usr/lib/$(multiarch)"
  export PATH="$PREFIX/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$lib:$lib/openmpi/lib:$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # Open MPI and PMIx were built for /usr: point them at the prefix, keep Debian's default MCA parameters, skip the
  # components whose libraries (fabric, UCX, verbs) are missing without a word, and start local ranks without ssh.
  export OPAL_PREFIX="$PREFIX/usr"
  export PMIX_MCA_mca_base_component_path="$lib/pmix2/lib/pmix"
  export OMPI_MCA_mca_base_param_files="$PREFIX/etc/openmpi/openmpi-mca-params.conf"
  export OMPI_MCA_mca_base_component_show_load_errors=0
  command -v ssh >/dev/null || command -v rsh >/dev/null || export OMPI_MCA_plm_rsh_agent=false
  export HDF5_ROOT="$lib/hdf5/openmpi"
}

st_build() {
  use_prefix
  if [ "$DRY" = 0 ] || [ "$DEBS" = 1 ]; then
    local args=(-DCMAKE_BUILD_TYPE=Release) prefix_path torch nccl lib
    torch=${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)}
    [ -n "$torch" ] || [ "$DRY" = 1 ] || { echo "python's torch is not importable: set TORCH_PREFIX"; exit 1; }
    prefix_path=$torch
    if [ -d "$PREFIX/usr" ]; then
      # Named one by one, so that a compiler without Debian's multiarch paths (or a system copy) is no matter.
      lib="$PREFIX/usr/lib/$(multiarch)"
      prefix_path="$prefix_path${prefix_path:+;}$PREFIX/usr"
      args+=(-DMPI_C_COMPILER="$PREFIX/usr/bin/mpicc" -DMPI_CXX_COMPILER="$PREFIX/usr/bin/mpicxx"
             -DMPIEXEC_EXECUTABLE="$PREFIX/usr/bin/mpiexec" -DHDF5_ROOT="$lib/hdf5/openmpi"
             -DKokkos_DIR="$lib/cmake/Kokkos" -Dyaml-cpp_DIR="$lib/cmake/yaml-cpp" -DGTest_DIR="$lib/cmake/GTest"
             -Dsimdjson_DIR="$lib/cmake/simdjson" -Dnlohmann_json_DIR="$PREFIX/usr/share/cmake/nlohmann_json")
    fi
    if [ "$DRY" = 0 ]; then
      args+=(-DTOOLGRPO_ENABLE_CUDA=ON)
      # NCCL: NCCL_ROOT, else the nvidia-nccl wheel that came with python's torch (include/nccl.h, lib/libnccl.so.2),
      # else CMake looks under /usr/local/cuda.
      nccl=${NCCL_ROOT:-}
      [ -n "$nccl" ] || nccl=$(python3 -c '
import os, nvidia
for top in nvidia.__path__:
    for root, dirs, files in os.walk(top):
        if "nccl.h" in files and os.path.basename(root) == "include":
            print(os.path.dirname(root)); raise SystemExit' 2>/dev/null || true)
      [ -z "$nccl" ] || args+=(-DNCCL_ROOT="$nccl")
    fi
    [ -z "$prefix_path" ] || args+=(-DCMAKE_PREFIX_PATH="$prefix_path")
    cmake -S . -B "$BUILD" "${args[@]}"
  fi
  cmake --build "$BUILD" -j "$(nproc)" --target toolgrpo toolgrpo_torch model_tests bench_rollout
  cmake --build "$BUILD" -j "$(nproc)" --target nccl_tests 2>/dev/null || echo "nccl_tests: not in this build"
}

st_ctest_gpu() {
  use_prefix
  local none=()
  [ "$DRY" = 1 ] || none=(--no-tests=error)  # a GPU build without the NCCL tests is a failure, not a pass
  (cd "$BUILD" && ctest -L gpu --output-on-failure --timeout 120 "${none[@]}")
  [ "$DRY" = 0 ] || note ctest_gpu "dry run: the NCCL tests skip without a GPU"
}

st_fixtures() {
  use_prefix
  "$BUILD/tests/model/model_tests" --gtest_filter='SevenModels/*' --gtest_brief=1
}

st_grpo() {
  use_prefix
  local bin=$BIN d=$WORK/grpo preset=qwen2.5-0.5b dtype=bf16 new=64
  [ "$DRY" = 0 ] || { preset=tiny; dtype=fp32; new=16; }
  "$bin" synth-data --out "$d/data" --n 200 --heldout 16 --heldout-seen 8 --seed 1
  "$bin" init-model --preset "$preset" --tokenizer bpe --tokenizer-data "$d/data/train.jsonl" --seed 1 --out "$d/model"
  local args=(model.path="$d/model" model.device="$DEVICE" model.dtype="$dtype" data.train="$d/data/train.jsonl"
              run.out_dir="$d/runs" run.name=check rollout.prompts_per_step=8 rollout.group_size=4
              rollout.max_new_tokens=$new grpo.kl_coef=0.001 grpo.mini_batches=2 grpo.lr=1e-5 checkpoint.every=1)
  "$bin" train "${args[@]}" grpo.steps=2
  "$bin" train "${args[@]}" grpo.steps=3 | tee "$WORK/grpo_resume.txt"  # resumes from step 2's checkpoint
  grep -q "resumed from .*ckpt-00000002" "$WORK/grpo_resume.txt" || { echo "the third step did not resume"; exit 1; }
  python3 - "$d/runs/check/metrics.jsonl" "$WORK/grpo.figures" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows] == [1, 2, 3], [r["step"] for r in rows]
for r in rows:
    for k in ("pg_loss", "grad_norm", "kl", "logprob_gap_mean", "logprob_gap_max"):
        assert r[k] is not None and math.isfinite(r[k]), (r["step"], k, r[k])
with open(sys.argv[2], "a") as f:
    f.write("grpo_logprob_gap_max=%g\n" % max(r["logprob_gap_max"] for r in rows))
    f.write("grpo_seconds_step=%g\n" % rows[-1]["seconds_step"])
PY
}

st_generate() {
  use_prefix
  local args=(--device "$DEVICE" --large-prompts 0 --eos-share 0)
  if [ "$DRY" = 0 ]; then
    args+=(--shape qwen2.5-1.5b --dtype bf16 --prompts 128 --new 256 --threads 1)
    (while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done) >"$WORK/gpu_mem.txt" &
    local sampler=$!
  else
    args+=(--prompts 2 --new 8)
  fi
  "$BUILD/tests/bench/bench_rollout" "${args[@]}" | tee "$WORK/generate.txt"
  [ "$DRY" = 1 ] || { kill "$sampler"; put generate generate_peak_gpu_mib "$(sort -n "$WORK/gpu_mem.txt" | tail -1)"; }
  put generate generate_new_tokens_per_s "$(sed -n 's/^rollout.job new tokens\/s \([0-9.]*\).*/\1/p' "$WORK/generate.txt")"
}

st_peer() {
  [ "$DRY" = 0 ] || skip peer "dry run: needs a GPU"
  python3 -c 'import torch, transformers' 2>/dev/null || skip peer "python's torch or transformers is missing"
  python3 jobs/gpu_peer_generate.py --prompts 128 --group 4 --prompt-len 256 --new 256 --dtype bf16 \
    | tee "$WORK/peer.json"
  put peer peer_new_tokens_per_s "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["new_tokens_per_s"])' "$WORK/peer.json")"
  put peer peer_peak_gpu_gb "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_gpu_gb"])' "$WORK/peer.json")"
}

say "mode $([ "$DRY" = 1 ] && echo cpu-dry-run || echo gpu)$([ "$DEBS" = 1 ] && echo ' with the carried packages'), budget $BUDGET s, build $BUILD, log $LOG"
for s in versions prefix build ctest_gpu fixtures grpo generate peer; do
  stage "$s" "st_$s"
done
mkdir -p "$OUT_DIR/stages"
find "$WORK" -maxdepth 1 -type f \( -name '*.txt' -o -name '*.json' -o -name '*.note' -o -name '*.figures' \) \
  -size -1024k -exec cp {} "$OUT_DIR/stages/" \;
write_summary
say "summary: $JSON"
if [ "$OUT_OF_TIME" = 1 ]; then exit 124; fi
exit "$FAILED"
