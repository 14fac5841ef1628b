#!/usr/bin/env bash
# Starting corpora for the loader fuzzers (tests/fuzz/fuzz_TARGET.cpp): OUT_DIR/TARGET/ for each target, made of
# the shared reference data, the files toolgrpo itself writes (a tiny model from init-model, synthetic data) and
# a few hand-made rows for the formats the shared data lacks (API-Bank, BFCL).
# Usage: tests/fuzz/loader_seeds.sh OUT_DIR BUILD_DIR SHARED_DATA
# BUILD_DIR holds the normal build (BUILD_DIR/app/toolgrpo); run from the repository root.
set -euo pipefail
out=$1 build=$2 shared=$3
toolgrpo="$build/app/toolgrpo"
rm -rf "$out"
mkdir -p "$out"/{tokenizer,chat_template,dataset,safetensors,model_config,eval_rows,line_reader,yaml_config}

"$toolgrpo" synth-data --out "$out/synth" --n 50 --heldout 5 --heldout-seen 5 >/dev/null
"$toolgrpo" init-model --preset tiny --tokenizer bpe --tokenizer-data "$out/synth/train.jsonl" \
  --out "$out/model" >/dev/null

# tokenizer.json (flag byte 0) and texts to encode with the Qwen2.5 tokenizer (flag byte 1).
{ printf '\000'; cat "$out/model/tokenizer.json"; } >"$out/tokenizer/learned"
head -n 4 "$shared/toolrl/sft.jsonl" | awk -v d="$out/tokenizer" '{printf "\001%s", $0 > (d "/text" NR)}'

# ToolRL datasets: JSON Lines (flag 0: auto) and the official JSON array (flag 2).
{ printf '\000'; head -n 3 "$shared/toolrl/sft.jsonl"; } >"$out/dataset/jsonl"
{ printf '\000'; head -n 3 "$out/synth/train.jsonl"; } >"$out/dataset/synth"
printf '\002[{"instruction": "Tools: f", "input": "hi", "output": "<think> x </think>"}]' >"$out/dataset/array"

# Chat templates over messages with tool calls (flag 1) and ToolRL prompts (flag 3).
printf '\001{"messages": [{"role": "system", "content": "Tools"}, {"role": "user", "content": "book it"},
  {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f",
  "arguments": {"a": 1, "b": "x\\u00e9"}}}]}, {"role": "tool", "content": "ok"}], "tools": [{"type": "function",
  "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}}]}' \
  >"$out/chat_template/tools"
printf '\003{"system": "Tools:\\n- f()", "user": "call f"}' >"$out/chat_template/toolrl"

# safetensors: each fixture model's file and the tiny model's (init-model's writer) with their headers kept (the
# names, dtypes, order and metadata) but every dimension cut to at most 2 and the offsets and data rewritten to
# match, so the seeds stay small; and one with metadata, several dtypes and an empty tensor.
python3 - "$shared/fixtures/models" "$out/safetensors" "$out/model/model.safetensors" <<'PY'
import json, os, struct, sys
models, dest, tiny = sys.argv[1:4]
size = {"F32": 4, "BF16": 2, "F16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

def write(path, header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)

files = [(n, os.path.join(models, n, "model.safetensors")) for n in sorted(os.listdir(models))] + [("tiny", tiny)]
for name, path in files:
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    out, offset = {}, 0
    for key, e in header.items():
        if key == "__metadata__":
            out[key] = e
            continue
        shape = [min(d, 2) for d in e["shape"]]
        count = 1
        for d in shape:
            count *= d
        nbytes = count * size[e["dtype"]]
        out[key] = {"dtype": e["dtype"], "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    write(os.path.join(dest, name), out, bytes(range(256)) * (offset // 256) + bytes(offset % 256))
write(os.path.join(dest, "mixed"),
      {"__metadata__": {"format": "pt"}, "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
       "b": {"dtype": "I64", "shape": [1], "data_offsets": [12, 20]},
       "c": {"dtype": "BOOL", "shape": [0, 4], "data_offsets": [20, 20]},
       "d": {"dtype": "F32", "shape": [], "data_offsets": [20, 24]}}, bytes(24))
PY

# config.json: every one in the shared data, and the tiny model's.
for f in "$shared"/fixtures/models/*/config.json; do
  cp "$f" "$out/model_config/$(basename "$(dirname "$f")").json"
done
cp "$out/model/config.json" "$out/model_config/tiny.json"

# API-Bank (mode byte 0) and BFCL questions NUL answers NUL output (mode byte 1), a few rows each.
printf '\000[{"system": "Tools: {'"'"'date'"'"': {'"'"'type'"'"': '"'"'str'"'"'}}", "user": "**Dialogue Records History**\\n<user> When? </user>", "answer": [{"name": "QueryMeeting", "parameters": {"date": "2023-03-01", "room": 2}}], "other": {"x": 1}},
 {"system": "s", "user": "u", "answer": {"name": "ToolSearcher", "parameters": {"keywords": "alarm"}}}]' \
  >"$out/eval_rows/apibank"
fn_closest='{"name": "restaurant_search.find_closest", "description": "Closest restaurant.", "parameters": {"type": "dict", "properties": {"location": {"type": "string"}, "cuisine": {"type": "string"}}, "required": ["location", "cuisine"]}}'
fn_time='{"name": "get_time", "description": "Time in a zone.", "parameters": {"type": "dict", "properties": {"tz": {"type": "string"}, "n": {"type": "array", "items": {"type": "integer"}}}, "required": ["tz"]}}'
{
  printf '\001'
  printf '{"id": "simple_40", "question": [[{"role": "user", "content": "Sushi near Boston?"}]], "function": [%s]}\n' "$fn_closest"
  printf '{"id": "parallel_3", "question": [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Time in Paris and CET?"}]], "function": [%s]}\n' "$fn_time"
  printf '{"id": "multiple_7", "question": [[{"role": "user", "content": "Time?"}], [{"role": "assistant", "content": "Where?"}, {"role": "user", "content": "Paris"}]], "function": [%s, %s]}\n' "$fn_closest" "$fn_time"
  printf '\000'
  printf '{"id": "simple_40", "ground_truth": [{"find_closest": {"location": ["Boston, MA", "Boston"], "cuisine": ["Sushi"]}}]}\n'
  printf '{"id": "parallel_3", "ground_truth": [{"get_time": {"tz": ["Europe/Paris"], "n": [[1, 2], ""]}}, {"get_time": {"tz": ["CET"]}}]}\n'
  printf '{"id": "multiple_7", "ground_truth": [{"get_time": {"tz": ["Europe/Paris", ""]}}]}\n'
  printf '\000<think>x</think>\n<tool_call>\n{"name": "get_time", "parameters": {"tz": "CET"}}\n{"name": "get_time", "parameters": {"tz": "Europe/Paris", "n": [1, 2]}}\n</tool_call>'
} >"$out/eval_rows/bfcl"
{
  printf '\001{"id": "irrelevance_1", "question": [[{"role": "user", "content": "Hi"}]], "function": [%s]}\n' "$fn_time"
  printf '\000\000<think>x</think>\n<response> hello </response>'
} >"$out/eval_rows/irrelevance"

# JSON Lines files: a block-size byte, then lines (one of them longer than a block; CRLF; no final newline).
{ printf '\000'; head -c 12000 "$shared/toolrl/test.jsonl"; } >"$out/line_reader/toolrl"
{ printf '\000'; printf 'a\r\n\n%5000s\nlast' x; } >"$out/line_reader/edges"

# Run configurations: the ones shipped with the jobs.
for f in jobs/configs/*.yaml; do cp "$f" "$out/yaml_config/$(basename "$f")"; done
