#!/usr/bin/env bash
# Sets up a Debian 12 or 13 machine for toolgrpo and builds it (Release). Idempotent and non-interactive: packages
# already present are not reinstalled; a busy apt lock is waited for. Environment:
#   BUILD_DIR=build          where to build
#   TOOLGRPO_SKIP_APT=1      do not touch packages (e.g. on a cluster with modules; see INSTALL.md)
#   TOOLGRPO_SETUP_PACKAGES_ONLY=1  install the packages and stop (jobs/test_debian13.sh prepares its root so)
#   TOOLGRPO_EXTRA_PACKAGES  more Debian packages to install
#   CMAKE_ARGS               extra arguments for the configure step (e.g. -DTOOLGRPO_ENABLE_CUDA=OFF)
#   TOOLGRPO_KOKKOS=openmp   the Kokkos the reward's parallel loops run on:
#                              openmp  Kokkos with the OpenMP and Serial backends, built from Debian's own trilinos
#                                      source package by jobs/kokkos_openmp.sh into $BUILD_DIR/kokkos-openmp (cached;
#                                      about 40 s the first time). The default.
#                              serial  the Kokkos CMake finds: Debian's libtrilinos-kokkos-dev (Serial only), or a
#                                      cluster's module (give -DKokkos_ROOT=... in CMAKE_ARGS). The default when
#                                      TOOLGRPO_SKIP_APT=1.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential g++ cmake pkg-config git ccache python3
  patch
  libtorch-dev libopenblas0-pthread
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev
  libyaml-cpp-dev
  libtrilinos-kokkos-dev
  libgtest-dev
  nlohmann-json3-dev
  libsimdjson-dev
)
# The fuzzer's clang (jobs/test.sh): Debian 12 pins clang 14; Debian 13 and later take the release's default.
debian_version=$( (. /etc/os-release && echo "${VERSION_ID:-}") 2>/dev/null || true)
if [ "$debian_version" = 12 ]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev libomp-14-dev)
else
  PACKAGES+=(clang libclang-rt-dev libomp-dev)
fi
# shellcheck disable=SC2206
PACKAGES+=(${TOOLGRPO_EXTRA_PACKAGES:-})

log() { printf '[setup] %s\n' "$*"; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} Debian packages already installed"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  for attempt in 1 2 3; do
    if $sudo apt-get "${apt_opts[@]}" update -qq; then break; fi
    log "apt-get update failed (attempt $attempt); retrying in 15 s"
    sleep 15
  done
  $sudo apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"
}

if [ "${TOOLGRPO_SKIP_APT:-0}" != "1" ]; then
  install_packages
fi
[ "${TOOLGRPO_SETUP_PACKAGES_ONLY:-0}" != "1" ] || exit 0

BUILD_DIR=${BUILD_DIR:-build}
kokkos_default=openmp
[ "${TOOLGRPO_SKIP_APT:-0}" != "1" ] || kokkos_default=serial
TOOLGRPO_KOKKOS=${TOOLGRPO_KOKKOS:-$kokkos_default}
kokkos_args=()
case "$TOOLGRPO_KOKKOS" in
  openmp)
    mkdir -p "$BUILD_DIR"
    kokkos_prefix=$(bash jobs/kokkos_openmp.sh "$BUILD_DIR/kokkos-openmp" | tail -1)
    kokkos_args=(-DKokkos_ROOT="$kokkos_prefix" -DTOOLGRPO_KOKKOS=openmp)
    ;;
  serial) kokkos_args=(-UKokkos_ROOT -DTOOLGRPO_KOKKOS=serial) ;;
  *) log "TOOLGRPO_KOKKOS must be openmp or serial, not '$TOOLGRPO_KOKKOS'"; exit 2 ;;
esac
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
log "configuring $BUILD_DIR (Release)"
mkdir -p "$BUILD_DIR"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "${kokkos_args[@]}" ${CMAKE_ARGS:-} >"$BUILD_DIR/configure.log" 2>&1 ||
  { cat "$BUILD_DIR/configure.log"; exit 1; }
grep -E '^-- toolgrpo:' "$BUILD_DIR/configure.log" || true
log "building with $(nproc) jobs"
cmake --build "$BUILD_DIR" -j"$(nproc)"
log "done: $BUILD_DIR/app/toolgrpo"
