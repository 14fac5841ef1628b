#!/usr/bin/env bash
# Runs the test suite (bash jobs/test.sh: build, CTest, fuzzer) inside a Debian 13 (trixie) root on a Debian 12
# machine, against trixie's packages (libtorch 2.6, g++ 14, CMake 3.31, clang 19). Needs root.
#
#   bash jobs/test_debian13.sh            the tests
#   bash jobs/test_debian13.sh CMD...     CMD (a bash command line) in the root's copy of the checkout instead
#
# The root is made once with debootstrap and kept outside the clone; it is made again when its marker file
# (written last) is missing, e.g. after an interrupted first run or after removing the folder. The packages
# are installed by the project's own jobs/setup.sh (TOOLGRPO_SETUP_PACKAGES_ONLY=1) inside the root. The
# checkout (its tracked and untracked, not ignored files) is copied into ROOT/src/toolgrpo on every run, and
# ../shared is bind-mounted read-only beside it; the build folders and the compiler cache stay in the root, so
# a second run rebuilds only what changed. /proc, /sys, /dev, /dev/pts and /dev/shm are mounted in a private
# mount namespace (unshare -m), so nothing stays mounted when the run ends, however it ends.
# The archive is the one this machine's apt configuration names (the first URIs: of
# /etc/apt/sources.list.d/debian.sources, else the first deb line of /etc/apt/sources.list).
# Environment:
#   TOOLGRPO_DEBIAN13_ROOT   where the root lives (default /var/cache/toolgrpo/debian13-root)
#   TOOLGRPO_DEBIAN_MIRROR   the archive, instead of the one from the apt configuration
#   FUZZ_SECONDS             passed on to jobs/test.sh inside (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)

ROOT=${TOOLGRPO_DEBIAN13_ROOT:-/var/cache/toolgrpo/debian13-root}
SUITE=trixie
MARKER="$ROOT/.toolgrpo-debian13-ready"
MARKER_TEXT="toolgrpo debian13 root v1 ($SUITE, minbase)"
t_start=$(date +%s)
log() { printf '[debian13] %s (%d s)\n' "$*" "$(($(date +%s) - t_start))"; }

[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap, chroot, mounts)"; exit 2; }
command -v unshare >/dev/null || { log "needs unshare (util-linux)"; exit 2; }

# The archive of this machine's own apt configuration.
apt_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  printf '%s' "$uri"
}
# The security archive of the same configuration (the URIs: of the stanza whose suite ends in -security).
apt_security_mirror() {
  [ -r /etc/apt/sources.list.d/debian.sources ] || return 0
  awk '/^URIs:/ {u = $2} /^Suites:/ && /-security/ {print u; exit}' /etc/apt/sources.list.d/debian.sources
}
MIRROR=${TOOLGRPO_DEBIAN_MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { log "no Debian archive in this machine's apt configuration; set TOOLGRPO_DEBIAN_MIRROR"; exit 2; }
SECURITY=$(apt_security_mirror || true)

# Runs "$@" (a command line for bash) in the root, inside a private mount namespace with the pseudo file
# systems, the copied checkout and the shared data mounted.
in_root() {
  local shared_src
  shared_src=$(cd "$checkout/.." && pwd)/shared
  unshare -m --propagation private -- env ROOT="$ROOT" SHARED_SRC="$shared_src" CMD="$*" bash -c '
    set -euo pipefail
    mount -t proc proc "$ROOT/proc"
    mount --rbind /sys "$ROOT/sys"
    mount --rbind /dev "$ROOT/dev"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts" 2>/dev/null || true
    mount -t tmpfs -o size=2g tmpfs "$ROOT/dev/shm"
    mkdir -p "$ROOT/src/shared"
    if [ -d "$SHARED_SRC" ]; then
      mount --bind "$SHARED_SRC" "$ROOT/src/shared"
      mount -o remount,bind,ro "$ROOT/src/shared"
    fi
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      TOOLGRPO_DEBIAN13=0 CCACHE_DIR=/var/cache/toolgrpo-ccache FUZZ_SECONDS="${FUZZ_SECONDS:-60}" \
      bash -c "$CMD"
  '
}

# ---- the root: made when its marker is missing ----
if [ ! -f "$MARKER" ] || [ "$(cat "$MARKER")" != "$MARKER_TEXT" ]; then
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      debootstrap >/dev/null
  }
  if [ -d "$ROOT" ]; then
    log "the root at $ROOT is incomplete or from another version: making it again"
    if grep -q " $ROOT/" /proc/mounts; then log "something is still mounted under $ROOT"; exit 1; fi
    rm -rf --one-file-system "$ROOT"
  fi
  mkdir -p "$(dirname "$ROOT")"
  log "debootstrap $SUITE into $ROOT"
  debootstrap --variant=minbase --include=ca-certificates,procps "$SUITE" "$ROOT" "$MIRROR" \
    >"$ROOT.debootstrap.log" 2>&1 || { tail -30 "$ROOT.debootstrap.log"; log "debootstrap failed"; exit 1; }
  {
    printf 'Types: deb deb-src\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$MIRROR" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$SECURITY" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$SECURITY" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$ROOT/etc/apt/sources.list.d/debian.sources"
  rm -f "$ROOT/etc/apt/sources.list"
  # No services start in the root.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod +x "$ROOT/usr/sbin/policy-rc.d"
  log "root made"
fi

# ---- the checkout, copied (tracked and untracked files, not the ignored build folders) ----
log "copying the checkout into $ROOT/src/toolgrpo"
mkdir -p "$ROOT/src/toolgrpo"
if git -C "$checkout" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Files deleted from the checkout go from the copy too; unchanged files keep their times (tar -p, mtimes),
  # so the cached build does not rebuild them.
  find "$ROOT/src/toolgrpo" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  git -C "$checkout" ls-files -z -c -o --exclude-standard |
    (cd "$checkout" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
    tar -C "$checkout" --null -T - -cf - | tar -C "$ROOT/src/toolgrpo" -xpf -
else
  tar -C "$checkout" --exclude='./build*' -cf - . | tar -C "$ROOT/src/toolgrpo" -xpf -
fi

# ---- packages (jobs/setup.sh's own list), then the marker ----
if [ ! -f "$MARKER" ]; then
  log "installing the project's packages in the root (jobs/setup.sh)"
  in_root "cd /src/toolgrpo && TOOLGRPO_SETUP_PACKAGES_ONLY=1 bash jobs/setup.sh" || {
    log "installing the packages failed"; exit 1; }
  echo "$MARKER_TEXT" >"$MARKER"
  log "packages installed"
fi

if [ $# -gt 0 ]; then
  log "running in the root: $*"
  in_root "cd /src/toolgrpo && $*"
  exit
fi

# ---- the tests: the README's command, with the build folders and the compiler cache in the root (procps:
# the Slurm requeue test looks for its daemons and ranks with pgrep, which a minbase root lacks) ----
# The real-Slurm requeue test (label slurm) waits for Open MPI 4's "mpirun: Forwarding signal" line, which
# Open MPI 5's prterun (Debian 13) does not print: left out here until it knows Open MPI 5.
log "leaving out the tests labelled slurm (they expect Open MPI 4's mpirun)"
log "running bash jobs/test.sh in Debian $(. "$ROOT/etc/os-release" && echo "$VERSION_ID ($VERSION_CODENAME)")"
t_test=$(date +%s)
rc=0
in_root "cd /src/toolgrpo && echo \"[debian13] g++ \$(g++ -dumpfullversion), cmake \$(cmake --version | head -1 | awk '{print \$3}'), libtorch-dev \$(dpkg-query -W -f='\${Version}' libtorch-dev)\" && \
  TOOLGRPO_EXTRA_PACKAGES=procps TOOLGRPO_CTEST_EXCLUDE_LABELS=slurm BUILD_DIR=/var/cache/toolgrpo-build/build \
  FUZZ_DIR=/var/cache/toolgrpo-build/build-fuzz bash jobs/test.sh" || rc=$?
if [ "$rc" -eq 0 ]; then
  log "Debian 13 stage passed (tests $(($(date +%s) - t_test)) s)"
else
  log "Debian 13 stage FAILED with exit code $rc (tests $(($(date +%s) - t_test)) s)"
fi
exit "$rc"
