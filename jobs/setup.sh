#!/usr/bin/env bash
# Sets up a Debian 12 machine for toolgrpo and builds it (Release). Idempotent and non-interactive: packages
# already present are not reinstalled; a busy apt lock is waited for. Environment:
#   BUILD_DIR=build          where to build
#   TOOLGRPO_SKIP_APT=1      do not touch packages (e.g. on a cluster with modules; see INSTALL.md)
#   TOOLGRPO_EXTRA_PACKAGES  more Debian packages to install
#   CMAKE_ARGS               extra arguments for the configure step (e.g. -DTOOLGRPO_ENABLE_CUDA=OFF)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential g++ cmake pkg-config git ccache python3
  clang-14 libclang-rt-14-dev
  libtorch-dev libopenblas0-pthread
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev
  libyaml-cpp-dev
  libtrilinos-kokkos-dev
  libgtest-dev
  nlohmann-json3-dev
)
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

BUILD_DIR=${BUILD_DIR:-build}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
log "configuring $BUILD_DIR (Release)"
mkdir -p "$BUILD_DIR"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" ${CMAKE_ARGS:-} >"$BUILD_DIR/configure.log" 2>&1 ||
  { cat "$BUILD_DIR/configure.log"; exit 1; }
grep -E '^-- toolgrpo:' "$BUILD_DIR/configure.log" || true
log "building with $(nproc) jobs"
cmake --build "$BUILD_DIR" -j"$(nproc)"
log "done: $BUILD_DIR/app/toolgrpo"
