#!/usr/bin/env bash
# Sets up and builds toolgrpo (jobs/setup.sh) with the OpenMP Kokkos (TOOLGRPO_KOKKOS=openmp unless set), runs
# the whole CTest suite (MPI tests at np 1, 2 and 4; the reward suite at 1, 2 and 4 Kokkos threads), reruns the
# numerical tests (label numeric) under OpenBLAS's Prescott kernels and, where the CPU has AVX2, Haswell, then builds
# the reward fuzzer with clang (libFuzzer + AddressSanitizer + UBSan; an OpenMP Kokkos built with clang from the
# same source, so its batches run on several threads), seeds it from the reference fixtures and runs it for
# FUZZ_SECONDS (default 60), then the loader fuzzers (tests/fuzz) for the rest of FUZZ_BUDGET (300 s in all).
# Exits non-zero on any failure or fuzzer finding.
# Environment: BUILD_DIR (build), FUZZ_DIR (build-fuzz), FUZZ_SECONDS (60), FUZZ_BUDGET (300),
# FUZZ_LOADER_SECONDS (each loader target's share; default: the rest of the budget shared equally),
# TOOLGRPO_SHARED_DATA, and those of jobs/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

stage="setup"
on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] || echo "[test] FAILED at stage: $stage (exit code $rc)"
}
trap on_exit EXIT

export TOOLGRPO_KOKKOS=${TOOLGRPO_KOKKOS:-openmp}
bash jobs/setup.sh

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
BUILD_DIR=${BUILD_DIR:-build}
stage="ctest"
echo "[test] ctest"
# TOOLGRPO_CTEST_EXCLUDE_LABELS: a label regex to leave out (jobs/test_debian13.sh: slurm, see there).
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout 600 \
  ${TOOLGRPO_CTEST_EXCLUDE_LABELS:+-LE "$TOOLGRPO_CTEST_EXCLUDE_LABELS"}

# ---- BLAS kernels: the numerical tests (label numeric) once more under other OpenBLAS kernels ----
# Their tolerances come from fp32 error bounds, so they must hold whatever kernels a CPU gets: Prescott (the
# generic kernels every x86-64 CPU runs, and what Debian's OpenBLAS 0.3.21 falls back to on CPUs it does not
# know) always, Haswell (AVX2) where the CPU has AVX2, and the kernels OpenBLAS picks for this CPU by itself
# when the environment had set OPENBLAS_CORETYPE for the first run. A kernel that ran already is not rerun.
stage="blas kernels"
blas_core() {  # $1: an OPENBLAS_CORETYPE value, or "native" for none
  if [ "$1" = native ]; then env -u OPENBLAS_CORETYPE "$BUILD_DIR/app/toolgrpo" version; else
    OPENBLAS_CORETYPE=$1 "$BUILD_DIR/app/toolgrpo" version; fi 2>/dev/null |
    sed -n 's/.*, core \([A-Za-z0-9_]*\).*/\1/p' | head -1
}
first=$(blas_core "${OPENBLAS_CORETYPE:-native}")
kernels_ran=("$first (${OPENBLAS_CORETYPE:+OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, }the first run)")
cores_ran=" $first "
extra_kernels=(Prescott)
grep -qw avx2 /proc/cpuinfo && extra_kernels+=(Haswell)
[ -z "${OPENBLAS_CORETYPE:-}" ] || extra_kernels+=(native)
for k in "${extra_kernels[@]}"; do
  core=$(blas_core "$k")
  if [ -n "$core" ] && [[ "$cores_ran" == *" $core "* ]]; then
    echo "[test] OPENBLAS_CORETYPE=$k runs the $core kernels, which ran already"
    continue
  fi
  echo "[test] numerical tests under OPENBLAS_CORETYPE=$k (OpenBLAS reports core $core)"
  if [ "$k" = native ]; then
    env -u OPENBLAS_CORETYPE ctest --test-dir "$BUILD_DIR" -L numeric --output-on-failure -j"$(nproc)" --timeout 600
  else
    OPENBLAS_CORETYPE=$k ctest --test-dir "$BUILD_DIR" -L numeric --output-on-failure -j"$(nproc)" --timeout 600
  fi
  kernels_ran+=("$core")
  cores_ran+="$core "
done
kernel_summary="numerical tests under BLAS kernels: $(printf '%s; ' "${kernels_ran[@]}" | sed 's/; $//')"
echo "[test] $kernel_summary"

fuzz_summary="fuzzer skipped (no tests/fuzz)"
if [ -f tests/fuzz/CMakeLists.txt ]; then
  stage="fuzz build"
  FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
  FUZZ_SECONDS=${FUZZ_SECONDS:-60}
  SHARED=${TOOLGRPO_SHARED_DATA:-$(cd .. && pwd)/shared/data}
  # The clang jobs/setup.sh installs: clang-14 on Debian 12, the release's default clang later.
  fuzz_cc=clang fuzz_cxx=clang++
  if [ "$( (. /etc/os-release && echo "${VERSION_ID:-}") 2>/dev/null || true)" = 12 ]; then
    fuzz_cc=clang-14 fuzz_cxx=clang++-14
  fi
  echo "[test] building the fuzzers ($($fuzz_cxx --version | head -1)) in $FUZZ_DIR"
  mkdir -p "$FUZZ_DIR"
  fuzz_kokkos=(-DTOOLGRPO_KOKKOS=serial)
  if [ "$TOOLGRPO_KOKKOS" = openmp ]; then
    # libFuzzer needs clang, and clang's OpenMP runtime is not GCC's: Kokkos once more, with clang, from the
    # source the main build unpacked.
    prefix=$(CC=$fuzz_cc CXX=$fuzz_cxx TOOLGRPO_KOKKOS_SOURCE_DIR="$BUILD_DIR/kokkos-openmp/src/packages/kokkos" \
      bash jobs/kokkos_openmp.sh "$FUZZ_DIR/kokkos-openmp" | tail -1)
    fuzz_kokkos=(-DTOOLGRPO_KOKKOS=openmp -DKokkos_ROOT="$prefix")
  fi
  CC=$fuzz_cc CXX=$fuzz_cxx cmake -S . -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${fuzz_kokkos[@]}" \
    -DTOOLGRPO_REWARD_ONLY=ON -DTOOLGRPO_FUZZ=ON -DTOOLGRPO_BUILD_TESTS=OFF >"$FUZZ_DIR/configure.log" 2>&1 ||
    { cat "$FUZZ_DIR/configure.log"; exit 1; }
  # The loaders of files from outside, one libFuzzer target each (tests/fuzz/fuzz_TARGET.cpp); the HDF5 checkpoint
  # reader's where its build file is present.
  loader_targets=(tokenizer chat_template dataset safetensors model_config eval_rows line_reader yaml_config)
  if [ -f tests/fuzz/checkpoint.cmake ]; then
    if grep -q 'fuzz_checkpoint: not built' "$FUZZ_DIR/configure.log"; then
      echo "[test] fuzz_checkpoint not built: $(grep 'fuzz_checkpoint: not built' "$FUZZ_DIR/configure.log")"
    else
      loader_targets+=(checkpoint)
    fi
  fi
  cmake --build "$FUZZ_DIR" -j"$(nproc)" --target fuzz_reward make_seeds "${loader_targets[@]/#/fuzz_}"

  # The fuzzing budget, FUZZ_BUDGET seconds in all (300): FUZZ_SECONDS (60) for the reward parser, the rest shared
  # equally among the loader targets unless FUZZ_LOADER_SECONDS gives each one's time.
  FUZZ_BUDGET=${FUZZ_BUDGET:-300}
  FUZZ_LOADER_SECONDS=${FUZZ_LOADER_SECONDS:-$(((FUZZ_BUDGET - FUZZ_SECONDS) / ${#loader_targets[@]}))}
  fuzz_total=$((FUZZ_SECONDS + FUZZ_LOADER_SECONDS * ${#loader_targets[@]}))

  stage="fuzzing"
  echo "[test] fuzzing the reward for $FUZZ_SECONDS s"
  rm -rf "$FUZZ_DIR/seeds" "$FUZZ_DIR/corpus" "$FUZZ_DIR"/corpus_* "$FUZZ_DIR/findings"
  mkdir -p "$FUZZ_DIR/seeds" "$FUZZ_DIR/corpus" "$FUZZ_DIR/findings"
  "$FUZZ_DIR/tests/fuzz/make_seeds" "$SHARED/reward_fixtures" "$FUZZ_DIR/seeds"
  "$FUZZ_DIR/tests/fuzz/fuzz_reward" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/findings/" "$FUZZ_DIR/corpus" "$FUZZ_DIR/seeds" \
    >"$FUZZ_DIR/fuzz.log" 2>&1 || { tail -60 "$FUZZ_DIR/fuzz.log"; echo "[test] the fuzzer found a problem"; exit 1; }
  grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$FUZZ_DIR/fuzz.log" || true
  if [ -n "$(ls -A "$FUZZ_DIR/findings")" ]; then
    echo "[test] fuzzer findings in $FUZZ_DIR/findings"; exit 1
  fi
  # Each loader target: FUZZ_LOADER_SECONDS from seeds made of the shared data and of files toolgrpo writes
  # (tests/fuzz/loader_seeds.sh; the checkpoint's from tests/fuzz/checkpoint_seeds.sh), after replaying
  # tests/fuzz/regressions/TARGET/, inputs that once crashed it.
  loader_seeds="$FUZZ_DIR/loader_seeds"
  bash tests/fuzz/loader_seeds.sh "$loader_seeds" "$BUILD_DIR" "$SHARED"
  if [[ " ${loader_targets[*]} " == *" checkpoint "* ]]; then
    mkdir -p "$loader_seeds/checkpoint"
    bash tests/fuzz/checkpoint_seeds.sh "$loader_seeds/checkpoint" "$BUILD_DIR"
  fi
  for target in "${loader_targets[@]}"; do
    fuzzer="$FUZZ_DIR/tests/fuzz/fuzz_$target"
    options=()
    # The line reader's blocks are 4 KiB and up: longer inputs reach its refills and growth. The JSON loaders get
    # values at the edges of the types they convert to (2^63, 1e300, ...), which mutating digits rarely reaches.
    case $target in
      line_reader) options+=(-max_len=20000) ;;
      safetensors | model_config | eval_rows | dataset) options+=(-dict=tests/fuzz/json_values.dict) ;;
    esac
    regressions=(tests/fuzz/regressions/$target/*)
    if [ -e "${regressions[0]}" ]; then
      "$fuzzer" "${regressions[@]}" >"$FUZZ_DIR/fuzz_$target.regressions.log" 2>&1 ||
        { tail -40 "$FUZZ_DIR/fuzz_$target.regressions.log"; echo "[test] a fuzz_$target regression input fails"; exit 1; }
    fi
    echo "[test] fuzzing the $target loader for $FUZZ_LOADER_SECONDS s"
    mkdir -p "$FUZZ_DIR/corpus_$target"
    TOOLGRPO_FUZZ_TOKENIZER="$SHARED/tokenizers/qwen2.5/tokenizer.json" "$fuzzer" "${options[@]}" \
      -max_total_time="$FUZZ_LOADER_SECONDS" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$FUZZ_DIR/findings/" "$FUZZ_DIR/corpus_$target" "$loader_seeds/$target" \
      >"$FUZZ_DIR/fuzz_$target.log" 2>&1 ||
      { tail -60 "$FUZZ_DIR/fuzz_$target.log"; echo "[test] fuzz_$target found a problem"; exit 1; }
    grep -E 'Done [0-9]+ runs' "$FUZZ_DIR/fuzz_$target.log" || true
  done
  if [ -n "$(ls -A "$FUZZ_DIR/findings")" ]; then
    echo "[test] fuzzer findings in $FUZZ_DIR/findings"; exit 1
  fi
  fuzz_summary="fuzzers ${fuzz_total} s in all (reward ${FUZZ_SECONDS} s; ${loader_targets[*]} ${FUZZ_LOADER_SECONDS} s each): no crashes, no sanitizer reports"
fi
# ---- Debian 13 stage (jobs/test_debian13.sh): the same suite in a Debian 13 root, against libtorch 2.6 ----
# Only on a Debian 12 machine (inside that root this script runs on Debian 13 and skips it), as root, and
# unless TOOLGRPO_DEBIAN13=0.
os_version=$( (. /etc/os-release && echo "${VERSION_ID:-}") 2>/dev/null || true)
debian13_summary="Debian 13 stage skipped"
if [ "${TOOLGRPO_DEBIAN13:-1}" = 0 ]; then
  debian13_summary+=" (TOOLGRPO_DEBIAN13=0)"
elif [ "$os_version" != 12 ]; then
  debian13_summary+=" (it runs from Debian 12; this is $( (. /etc/os-release && echo "${PRETTY_NAME:-another system}") 2>/dev/null || echo "another system"))"
elif [ "$(id -u)" -ne 0 ]; then
  debian13_summary+=" (it needs root for debootstrap and chroot)"
else
  stage="debian13"
  echo "[test] Debian 13 stage (TOOLGRPO_DEBIAN13=0 skips it)"
  d13_start=$(date +%s)
  bash jobs/test_debian13.sh
  debian13_summary="Debian 13 stage passed in $(($(date +%s) - d13_start)) s"
fi
fuzz_summary="$kernel_summary; $fuzz_summary; $debian13_summary"
stage="done"
echo "[test] all tests passed; $fuzz_summary"
