# The learning demo's held-out splits and per-seed evaluation files, shared by jobs/demo.sh and
# jobs/demo_compare.sh (sourced; OUT is the demo's output directory). A split is "unseen" (tools and phrasings
# training never shows, heldout.jsonl) or "seen" (the training tools with new requests, heldout_seen_tools.jsonl).
DEMO_SPLITS=(unseen seen)
split_file() { case $1 in unseen) echo "$OUT/data/heldout.jsonl" ;; *) echo "$OUT/data/heldout_seen_tools.jsonl" ;; esac; }
split_title() { case $1 in unseen) echo "tools never seen in training" ;; *) echo "the training tools, new requests" ;; esac; }
split_short() { case $1 in unseen) echo "unseen tools" ;; *) echo "training tools" ;; esac; }
# seed_files TAG SPLIT MODE SEED_DIR...: the seeds' `eval --out` files of TAG, comma-joined (an eval-table column).
seed_files() {
  local tag=$1 split=$2 mode=$3 d list=""
  shift 3
  for d; do list+="${list:+,}$d/eval/$tag.$split.$mode.jsonl"; done
  printf '%s' "$list"
}
