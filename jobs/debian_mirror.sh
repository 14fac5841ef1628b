# Sourced by jobs/kokkos_openmp.sh and jobs/gpu_debs.sh: debian_mirror prints the first Debian archive of this
# machine's apt configuration (deb822 sources, else sources.list; security archives skipped), or nothing.
debian_mirror() {
  local uri=""
  [ -r /etc/apt/sources.list.d/debian.sources ] &&
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$uri" ] || [ ! -r /etc/apt/sources.list ] ||
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)
  printf '%s' "$uri"
}
