#!/usr/bin/env bash
# Downloads the Debian 12 (bookworm) packages that jobs/gpu_check.sh unpacks on a GPU machine which has a compiler,
# CMake, CUDA and python's torch but none of toolgrpo's other dependencies (Open MPI, parallel HDF5, yaml-cpp,
# Kokkos, GoogleTest, nlohmann-json, simdjson). Run it on any machine with apt and network access to a Debian
# archive; no root is needed. The .deb files go into DIR (default jobs/.gpu_debs, ignored by git), which travels
# with the repository copy and must stay under the size limit.
#
#   bash jobs/gpu_debs.sh [DIR]
#
# Two kinds of packages:
#   DIR/*.deb           always unpacked (dpkg -x) into the check's prefix: the libraries, headers, CMake
#                       configurations and programs toolgrpo builds and runs with.
#   DIR/fallback/*.deb  shared libraries that any ordinary Linux install has (libcurl, OpenSSL, libudev, ...)
#                       but a bare container may lack. The check unpacks them aside and links into the prefix
#                       only the ones the machine's dynamic loader cannot find, so the machine's own copies win.
# The list below is curated by hand from what the binaries and libraries really load (readelf -d / ldd), not from
# apt's dependency closure, which pulls in Fortran, LLVM and much more (over 200 packages).
#
# Environment:
#   TOOLGRPO_DEBIAN_MIRROR    the archive (default: the machine's own Debian archive, else deb.debian.org)
#   TOOLGRPO_DEBIAN_SECURITY  the security archive (default http://deb.debian.org/debian-security; "none": skip)
#   GPU_DEBS_ARCH=amd64       the GPU machine's architecture (arm64 for Grace Hopper)
#   GPU_DEBS_LIMIT_MB=40      fail when the folder grows beyond this
# Re-running is cheap: the package index is refreshed once a day (kept in DIR.apt) and files already present with
# the archive's current version are not downloaded again; files of other versions or of packages no longer listed
# are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${1:-jobs/.gpu_debs}
SUITE=bookworm  # Debian 12: glibc 2.36, so the libraries also load on Ubuntu 22.04 (2.35, see INSTALL.md) and newer
ARCH=${GPU_DEBS_ARCH:-amd64}
LIMIT_MB=${GPU_DEBS_LIMIT_MB:-40}

# Package: why it is carried.
CORE=(
  # Open MPI 4.1: the launcher for np 2 (ctest -L gpu, the mpi tests) and the library every rank links.
  libopenmpi-dev            # mpi.h, the mpicc/mpicxx wrappers (opal_wrapper) CMake's FindMPI asks for flags
  libopenmpi3               # libmpi, libopen-rte, libopen-pal and the MCA components (shared memory, TCP, ...)
  openmpi-bin               # mpirun (orterun) and orted, which mpirun and a singleton MPI_Init start
  openmpi-common            # the wrappers' data files, help texts, the default MCA parameters
  libpmix2                  # PMIx, the server mpirun runs and every rank connects to
  libmunge2                 # needed by libpmix.so.2 itself (its MUNGE security plugin is linked in)
  libhwloc15                # needed by libopen-pal (topology, binding)
  # needed by libopen-pal and libpmix (event loop). Debian 12's build calls glibc 2.36's arc4random; Debian 11's
  # build of the same libevent 2.1.12 (same soname) does not, and so loads on glibc 2.31 and later.
  libevent-core-2.1-7/bullseye
  libevent-pthreads-2.1-7/bullseye
  # Parallel HDF5 1.10 for the checkpoints (written by all ranks together through MPI-IO).
  libhdf5-openmpi-dev       # headers and libhdf5.so under lib/<arch>/hdf5/openmpi (HDF5_ROOT points there)
  libhdf5-openmpi-103-1     # libhdf5_openmpi.so.103
  libsz2                    # libsz.so.2 (szip), needed by libhdf5
  libaec0                   # libaec.so.0, needed by libsz
  # The configuration files.
  libyaml-cpp-dev           # headers and CMake configuration
  libyaml-cpp0.7            # libyaml-cpp.so.0.7
  # Kokkos 3.4 from Trilinos 13.2 (Serial backend): the reward's batch scorer. Its Kokkos::kokkos target is
  # broken; CMakeLists.txt uses Kokkos_INCLUDE_DIRS and Kokkos_LIBRARIES from the same configuration.
  libtrilinos-kokkos-dev    # headers, KokkosConfig.cmake
  libtrilinos-kokkos-13.2   # libtrilinos_kokkoscore.so.13.2 and friends
  # Header-only or static, for the build only.
  libgtest-dev              # GoogleTest headers, static libraries and CMake configuration (the test programs)
  nlohmann-json3-dev        # nlohmann/json headers and CMake configuration (io/)
  libsimdjson-dev           # simdjson headers and CMake configuration (find_package(simdjson REQUIRED))
  libsimdjson14             # libsimdjson.so.14
)
FALLBACK=(
  # libhdf5_openmpi.so.103 is linked against libcurl (its read-only S3 driver) and OpenSSL's libcrypto.
  libcurl4 libssl3
  # libcurl's own libraries, as Debian 12 builds it.
  libnghttp2-14 libidn2-0 libunistring2 librtmp1 libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0
  libffi8 libtasn1-6 libssh2-1 libpsl5 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2
  libkeyutils1 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libdb5.3 libzstd1 libbrotli1
  # needed by libhwloc (device discovery); absent in some containers.
  libudev1
)
# Not carried, as every machine that can build C++ has them: libc6, libstdc++6, libgcc-s1, libgomp1, zlib1g.
# Not carried, as only optional MCA components of Open MPI load them (the components are skipped when their
# libraries are missing, and Debian's default parameters turn most of them off): libfabric1, libucx0, libibverbs1,
# libpsm2-2, libpsm-infinipath1, libnl-3-200.

log() { printf '[gpu_debs] %s\n' "$*"; }

. jobs/debian_mirror.sh  # debian_mirror (this script runs from the repository root)
mirror=${TOOLGRPO_DEBIAN_MIRROR:-$(debian_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${TOOLGRPO_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

# A private apt configuration (its own sources, lists and cache): the machine's apt setup is neither used nor
# touched, and the suite is Debian 12 whatever the machine runs.
mkdir -p "$DIR/fallback"
DIR=$(cd "$DIR" && pwd)
apt_dir="$DIR.apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/parts.d" "$apt_dir/etc/prefs.d"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[ -r "$keyring" ] && signed="[signed-by=$keyring] "
{
  echo "deb ${signed}$mirror $SUITE main"
  echo "deb ${signed}$mirror $SUITE-updates main"
  echo "deb ${signed}$mirror bullseye main"
  [ "$security" = none ] || echo "deb ${signed}$security $SUITE-security main"
} >"$apt_dir/etc/sources.list.new"
cmp -s "$apt_dir/etc/sources.list.new" "$apt_dir/etc/sources.list" 2>/dev/null || rm -f "$apt_dir/updated"
mv "$apt_dir/etc/sources.list.new" "$apt_dir/etc/sources.list"
: >"$apt_dir/status"
cat >"$apt_dir/etc/apt.conf" <<EOF
Dir::State "$apt_dir";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir/cache";
Dir::Etc::SourceList "$apt_dir/etc/sources.list";
Dir::Etc::SourceParts "$apt_dir/etc/parts.d";
Dir::Etc::Preferences "$apt_dir/etc/preferences";
Dir::Etc::PreferencesParts "$apt_dir/etc/prefs.d";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
APT::Sandbox::User "$(id -un)";
Acquire::Retries "3";
Acquire::Languages "none";
EOF
export APT_CONFIG="$apt_dir/etc/apt.conf"
if [ -z "$(find "$apt_dir/updated" -mmin -1440 2>/dev/null)" ]; then
  log "reading Debian $SUITE's package index ($mirror, $ARCH)"
  apt-get -q update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; log "apt-get update failed"; exit 1; }
  touch "$apt_dir/updated"
fi

# fetch SUBDIR PACKAGE[/SUITE]...: downloads each package's current version (in SUITE when given, else the
# newest in Debian 12 and its updates) into DIR/SUBDIR unless that file is present.
declare -A wanted=()
fetch() {
  local sub=$1 spec p suite v a f
  shift
  declare -A ver=() arch=()
  # One apt-cache call for all: its package records, newest version first (apt-cache madison for suites).
  while read -r p v a; do [ -n "${ver[$p]:-}" ] || { ver[$p]=$v; arch[$p]=$a; }; done < <(
    apt-cache show --no-all-versions "${@%%/*}" 2>/dev/null |
      awk '/^Package:/ {p=$2} /^Version:/ {v=$2} /^Architecture:/ {a=$2} /^$/ && p {print p, v, a; p=""}')
  for spec in "$@"; do
    p=${spec%%/*}
    suite=""
    [ "$spec" = "$p" ] || suite=${spec#*/}
    v=${ver[$p]:-} a=${arch[$p]:-}
    if [ -n "$suite" ]; then
      v=$(apt-cache madison "$p" | awk -F' [|] ' -v s=" $suite/" 'index($3, s) {print $2; exit}')
    fi
    [ -n "$v" ] && [ -n "$a" ] || { log "no package $spec in the archive ($ARCH)"; exit 1; }
    f="$sub${sub:+/}${p}_${v//:/%3a}_$a.deb"
    wanted[$f]=1
    if [ ! -s "$DIR/$f" ]; then
      (cd "$DIR/${sub:-.}" && apt-get -q download "$p=$v" >/dev/null 2>"$apt_dir/download.err") ||
        { cat "$apt_dir/download.err" >&2; log "download of $p=$v failed"; exit 1; }
      log "downloaded $f"
    fi
  done
}
fetch "" "${CORE[@]}"
fetch fallback "${FALLBACK[@]}"
for f in "$DIR"/*.deb "$DIR"/fallback/*.deb; do
  [ -e "$f" ] || continue
  rel=${f#"$DIR"/}
  [ -n "${wanted[$rel]:-}" ] || { rm -f "$f"; log "removed $rel (not listed, or an older version)"; }
done

total=$(du -cb "$DIR"/*.deb "$DIR"/fallback/*.deb | tail -1 | cut -f1)
core=$(du -cb "$DIR"/*.deb | tail -1 | cut -f1)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
log "$DIR: ${#CORE[@]} packages ($(mb "$core")) + ${#FALLBACK[@]} fallback packages ($(mb $((total - core)))) = $(mb "$total")"
if [ "$total" -gt $((LIMIT_MB * 1000000)) ]; then
  log "over the limit of $LIMIT_MB MB"
  exit 1
fi
