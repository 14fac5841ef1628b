#!/usr/bin/env bash
# Seeds for fuzz_checkpoint: real checkpoints, as toolgrpo writes them, of two SFT steps and one GRPO step on a
# synthetic task, a checkpoint after each, each file one seed. The model is the tiny preset shrunk further (hidden
# size 8, one layer: its config.json edited and its weights rewritten, with python3's standard library), so
# that a checkpoint is some 70 KB, mostly HDF5 structure and metadata, instead of 1.2 MB of weights: the
# fuzzer's mutations then land on what the reader parses, at hundreds of inputs a second.
# Usage: tests/fuzz/checkpoint_seeds.sh OUT_DIR BUILD_DIR   (BUILD_DIR: a normal build, with app/toolgrpo)
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 OUT_DIR BUILD_DIR" >&2
  exit 2
fi
out=$1
bin=$2/app/toolgrpo
[ -x "$bin" ] || { echo "$0: no $bin (build the normal toolgrpo first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
quiet() { "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "$0: failed: $*" >&2; exit 1; }; }

quiet "$bin" synth-data --out "$work/data" --n 16 --heldout 2 --heldout-seen 2
quiet "$bin" init-model --preset tiny --out "$work/tiny"
# The tiny preset (hidden 64, MLP 128, 4 heads and 2 KV heads of 16, 2 layers) as hidden 8, MLP 16, 2 heads and
# 1 KV head of 4, 1 layer: every extent mapped, layer 0's tensors kept, the values small and deterministic.
python3 - "$work/tiny" "$work/mini" <<'PY'
import json, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
cfg = json.load(open(os.path.join(src, "config.json")))
cfg.update(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
           num_key_value_heads=1, head_dim=4)
json.dump(cfg, open(os.path.join(dst, "config.json"), "w"), indent=2)
for name in ("tokenizer.json", "generation_config.json"):
    open(os.path.join(dst, name), "wb").write(open(os.path.join(src, name), "rb").read())
raw = open(os.path.join(src, "model.safetensors"), "rb").read()
header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
extent = {64: 8, 128: 16, 32: 4, cfg["vocab_size"]: cfg["vocab_size"]}
out, data, at = {}, b"", 0
for name in sorted(k for k in header if k != "__metadata__" and ".layers.1." not in k):
    shape = [extent[d] for d in header[name]["shape"]]
    n = 1
    for d in shape:
        n *= d
    values = struct.pack("<%df" % n, *[((i * 37) % 17 - 8) / 64.0 for i in range(n)])
    out[name] = {"dtype": "F32", "shape": shape, "data_offsets": [at, at + len(values)]}
    data += values
    at += len(values)
text = json.dumps(out).encode()
text += b" " * (-len(text) % 8)
open(os.path.join(dst, "model.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + data)
PY
common=(model.path="$work/mini" data.train="$work/data/train.jsonl" run.out_dir="$work/runs" checkpoint.every=1
  checkpoint.async=false)
quiet "$bin" sft "${common[@]}" run.name=sft sft.steps=2 sft.batch_size=2
quiet "$bin" train "${common[@]}" run.name=grpo grpo.steps=1 rollout.prompts_per_step=1 rollout.group_size=2 \
  rollout.max_new_tokens=4 rollout.max_prompt_tokens=48 grpo.mini_batches=1
n=0
for f in "$work"/runs/*/checkpoints/ckpt-*.h5; do
  cp "$f" "$out/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "$0: the runs wrote no checkpoint" >&2; exit 1; }
echo "$n checkpoint seeds in $out"
