# Sourced by the job scripts: TOOLGRPO_BLAS_CORETYPE chooses OpenBLAS's kernels for the ranks.
#   unset, "" or "off"  leave OpenBLAS alone (it picks kernels for the CPU it recognises)
#   auto                 set OPENBLAS_CORETYPE to what `toolgrpo version --blas-coretype` recommends: only when
#                        OpenBLAS would run its generic kernels on a CPU with AVX2 or AVX-512
#   a core name          set OPENBLAS_CORETYPE to it (SkylakeX, Haswell, Zen, ...)
# An OPENBLAS_CORETYPE already in the environment is kept.
blas_coretype_apply() {  # $1: the toolgrpo executable
  [ -z "${OPENBLAS_CORETYPE:-}" ] || return 0
  local want=${TOOLGRPO_BLAS_CORETYPE:-}
  case "$want" in
    ""|off) return 0 ;;
    auto) want=$("$1" version --blas-coretype 2>/dev/null | head -n 1) || want="" ;;
  esac
  if [ -n "$want" ]; then
    export OPENBLAS_CORETYPE=$want
    echo "[blas] OPENBLAS_CORETYPE=$want (TOOLGRPO_BLAS_CORETYPE=${TOOLGRPO_BLAS_CORETYPE})" >&2
  fi
}
