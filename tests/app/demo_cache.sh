#!/usr/bin/env bash
# The learning demo's warm-start cache (jobs/demo.sh --warm-start-only, DEMO_SIZE=ci): a first run builds the
# warm start, a second reuses it, a changed key (another SFT step count) builds a second entry and leaves the
# first alone, a damaged cached model is noticed and built again with a message, and --rebuild builds anew.
# Usage: demo_cache.sh BUILD_DIR SCRATCH
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$1 SCRATCH=$2
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
export DEMO_SIZE=ci DEMO_OUT="$SCRATCH/out" DEMO_CACHE="$SCRATCH/cache" BUILD_DIR="$BUILD"
fails=0
check() {  # check WHAT COMMAND...: runs COMMAND, counts a failure when it fails
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; fails=$((fails + 1)); fi
}
demo() { bash jobs/demo.sh --warm-start-only "$@" >"$SCRATCH/log" 2>&1 || { cat "$SCRATCH/log"; exit 1; }; }
entries() { find "$DEMO_CACHE" -mindepth 1 -maxdepth 1 -name 'warm-*' | sort; }

demo
check "a first run builds the warm start" grep -q '^demo: building the warm start' "$SCRATCH/log"
first=$(entries)
check "one complete entry" test "$(entries | wc -l)" = 1 -a -f "$first/key.txt" -a -f "$first/model/model.safetensors"
check "the seed's model link points into it" test "$(readlink "$DEMO_OUT/seed1/sft")" = "$first/model"
stamp=$(stat -c %Y.%s "$first/model/model.safetensors")

demo
check "an unchanged key reuses it" grep -q "^demo: reusing the cached warm start $first" "$SCRATCH/log"
check "and builds nothing" bash -c "! grep -q '^demo: building' '$SCRATCH/log'"
check "the cached model is untouched" test "$(stat -c %Y.%s "$first/model/model.safetensors")" = "$stamp"

DEMO_SFT_STEPS=21 demo
check "a changed key builds a new entry" grep -q '^demo: building the warm start' "$SCRATCH/log"
check "beside the first" test "$(entries | wc -l)" = 2 -a -d "$first"
check "the new key names the new step count" grep -q 'sft.steps=21' "$(entries | grep -v "^$first\$")/key.txt"

# Damage: one byte of the cached weights changed.
printf 'X' | dd of="$first/model/model.safetensors" bs=1 seek=200 conv=notrunc status=none
demo
check "a damaged model is named and built again" grep -q "^demo: the cached warm start $first is damaged" "$SCRATCH/log"
check "the rebuilt files match their checksums" bash -c "cd '$first' && sha256sum --quiet -c files.sha256"
# A cache entry without its key file (an interrupted copy) is not used either.
rm "$first/key.txt"
demo
check "an entry without key.txt is built again" grep -q '^demo: building the warm start' "$SCRATCH/log"

demo --rebuild
check "--rebuild builds even when cached" grep -q '^demo: building the warm start' "$SCRATCH/log"
check "no half-built folders are left" test -z "$(find "$DEMO_CACHE" -maxdepth 1 -name '.building-*')"

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; exit 1; }
rm -rf "$SCRATCH"
echo "all checks passed"
