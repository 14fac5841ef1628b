#!/usr/bin/env bash
# Builds Kokkos with the OpenMP (and Serial) backends from Debian's own `trilinos` source package and installs it
# into PREFIX_DIR/install; prints that install prefix on the last line of stdout. Cached: when PREFIX_DIR/stamp
# matches the source version, compiler and options, nothing is fetched or rebuilt.
#
#   bash jobs/kokkos_openmp.sh PREFIX_DIR
#
# The source comes through apt's source mechanism with a private apt configuration under PREFIX_DIR (its own
# sources list with a deb-src line, lists and cache): the machine's sources lists are left alone, and no root is
# needed. Only packages/kokkos of the source tree is unpacked, with the Debian patches that touch it applied.
# Environment:
#   CXX, CC                      compilers (default g++, gcc); the fuzzer's build passes clang
#   TOOLGRPO_DEBIAN_MIRROR       the archive to fetch from (default: the machine's own, the first URIs: of
#                                /etc/apt/sources.list.d/debian.sources or deb line of /etc/apt/sources.list)
#   TOOLGRPO_DEBIAN_SUITE        the suite (default: VERSION_CODENAME of /etc/os-release)
#   TOOLGRPO_KOKKOS_SOURCE_DIR   use this already unpacked Kokkos source tree instead of fetching
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PREFIX_DIR" >&2; exit 2; }
mkdir -p "$1"
top=$(cd "$1" && pwd)
install_dir="$top/install"
log() { printf '[kokkos] %s\n' "$*" >&2; }

CXX=${CXX:-g++}
CC=${CC:-gcc}
. "$(dirname "${BASH_SOURCE[0]}")/debian_mirror.sh"  # debian_mirror
mirror=${TOOLGRPO_DEBIAN_MIRROR:-$(debian_mirror)}
[ -n "$mirror" ] || { log "no Debian archive in the apt configuration; set TOOLGRPO_DEBIAN_MIRROR"; exit 1; }
suite=${TOOLGRPO_DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
options=(-DKokkos_ENABLE_OPENMP=ON -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_TESTS=OFF -DBUILD_SHARED_LIBS=ON
  -DCMAKE_CXX_STANDARD=17 -DCMAKE_BUILD_TYPE=Release)
compiler_id="$("$CXX" --version | head -1)"

src_dir=""
if [ -n "${TOOLGRPO_KOKKOS_SOURCE_DIR:-}" ]; then
  src_dir=$(cd "$TOOLGRPO_KOKKOS_SOURCE_DIR" && pwd)
  version="local:$src_dir"
else
  # A private apt configuration: its own sources list, lists and cache.
  apt_dir="$top/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  signed=""
  [ -r "$keyring" ] && signed="[signed-by=$keyring] "
  echo "deb-src ${signed}$mirror $suite main" >"$apt_dir/etc/sources.list"
  cat >"$apt_dir/etc/apt.conf" <<EOF
Dir::State::Lists "$apt_dir/lists";
Dir::Cache "$apt_dir/cache";
Dir::Etc::SourceList "$apt_dir/etc/sources.list";
Dir::Etc::SourceParts "$apt_dir/etc/none.d";
Dir::Etc::Trusted "$apt_dir/etc/none.gpg";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
APT::Sandbox::User "$(id -un)";
Debug::NoLocking "true";
EOF
  export APT_CONFIG="$apt_dir/etc/apt.conf"
  if [ -f "$top/stamp" ] && [ -d "$install_dir" ]; then
    version=$(sed -n 's/^source trilinos //p' "$top/stamp")
  else
    log "reading Debian's source index ($mirror $suite)"
    apt-get -q -o Acquire::Retries=3 update >"$top/apt-update.log" 2>&1 ||
      { cat "$top/apt-update.log" >&2; log "apt-get update with the private configuration failed"; exit 1; }
    version=$(apt-cache showsrc trilinos 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$version" ] || { log "no trilinos source package in $mirror $suite"; exit 1; }
  fi
fi

stamp_text="source trilinos ${version}
compiler $compiler_id
options ${options[*]}"
if [ -f "$top/stamp" ] && [ "$(cat "$top/stamp")" = "$stamp_text" ] && [ -f "$install_dir/lib/cmake/Kokkos/KokkosConfig.cmake" ]; then
  log "cached: Kokkos (OpenMP, Serial) from trilinos $version in $install_dir"
  echo "$install_dir"
  exit 0
fi
rm -f "$top/stamp"
start=$(date +%s)

if [ -z "$src_dir" ]; then
  fetch="$top/fetch"
  rm -rf "$fetch"
  mkdir -p "$fetch"
  log "fetching Debian's trilinos $version source package"
  if ! (cd "$fetch" && apt-get -q -o Acquire::Retries=3 source --download-only "trilinos=$version") \
    >"$top/apt-source.log" 2>&1; then
    # Some archives (mirrors, caching proxies) miss the .dsc while serving the tarballs. apt checks each file
    # it fetched against the hashes of the signed Sources index, so the two tarballs, when both arrived, are
    # the right ones, and only they are used below.
    if ls "$fetch"/trilinos_*.orig.tar.* "$fetch"/trilinos_*.debian.tar.* >/dev/null 2>&1; then
      log "apt-get source trilinos=$version reported errors, but both tarballs arrived (checked by apt): $(grep -m1 '^E:' "$top/apt-source.log" || true)"
    else
      cat "$top/apt-source.log" >&2; log "apt-get source trilinos=$version failed"; exit 1
    fi
  fi
  orig=$(ls "$fetch"/trilinos_*.orig.tar.* | head -1)
  debian=$(ls "$fetch"/trilinos_*.debian.tar.* | head -1)
  log "unpacking packages/kokkos of $(basename "$orig")"
  rm -rf "$top/src"
  mkdir -p "$top/src"
  tar -xf "$orig" -C "$top/src" --strip-components=1 --wildcards '*/packages/kokkos/*'
  tar -xf "$debian" -C "$top/src"
  # Apply the parts of the Debian patches that touch packages/kokkos, in the series order (a patch may fix
  # several packages at once, e.g. the missing <cstdint> includes GCC 13 and later no longer bring in).
  while read -r patch; do
    case "$patch" in '' | '#'*) continue ;; esac
    part=$(awk '
      /^--- / { if ((getline next_line) > 0) { keep = (next_line ~ /^\+\+\+ b\/packages\/kokkos\//);
                  if (keep) { print; print next_line } } next }
      /^(diff |Index: )/ { keep = 0; next }
      keep { print }' "$top/src/debian/patches/$patch")
    if [ -n "$part" ]; then
      log "applying Debian patch $patch (its packages/kokkos files)"
      patch -s -p1 -d "$top/src" <<<"$part"
    fi
  done <"$top/src/debian/patches/series"
  src_dir="$top/src/packages/kokkos"
  rm -rf "$fetch"  # the 166 MB archive is no longer needed
fi

log "building Kokkos with OpenMP and Serial ($CXX, $(nproc) jobs)"
rm -rf "$top/build" "$install_dir"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CXX="$CXX" CC="$CC" cmake -S "$src_dir" -B "$top/build" -DCMAKE_INSTALL_PREFIX="$install_dir" "${options[@]}" \
  "${launcher[@]}" >"$top/configure.log" 2>&1 || { cat "$top/configure.log" >&2; exit 1; }
cmake --build "$top/build" -j"$(nproc)" >"$top/build.log" 2>&1 || { tail -40 "$top/build.log" >&2; exit 1; }
cmake --install "$top/build" >"$top/install.log" 2>&1 || { cat "$top/install.log" >&2; exit 1; }
rm -rf "$top/build"
echo "$stamp_text" >"$top/stamp"
log "built in $(($(date +%s) - start)) s: $install_dir"
echo "$install_dir"
