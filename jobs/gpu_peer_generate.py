#!/usr/bin/env python3
"""The peer of jobs/gpu_check.sh's generation figure: the same workload through Hugging Face transformers'
generate on the same GPU. A random model in Qwen2.5-1.5B's exact shape (bf16), PROMPTS prompts of PROMPT_LEN
random tokens, GROUP samples each (num_return_sequences), exactly NEW new tokens (no early stop), temperature 1,
no top-k or top-p. Prints one JSON line: wall seconds, new tokens per second, peak GPU memory."""
import argparse
import json
import time

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=256)
    ap.add_argument("--new", type=int, default=256)
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    a = ap.parse_args()
    cfg = Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                      num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
                      rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                      bos_token_id=None, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(cfg).to(dtype)
    model.eval()
    ids = torch.randint(3, cfg.vocab_size, (a.prompts, a.prompt_len), device="cuda")
    mask = torch.ones_like(ids)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0,
                             top_p=1.0, num_return_sequences=a.group, max_new_tokens=a.new,
                             min_new_tokens=a.new, pad_token_id=0)
    torch.cuda.synchronize()
    wall = time.time() - t0
    new_tokens = (out.shape[1] - a.prompt_len) * out.shape[0]
    print(json.dumps({"peer": "transformers", "transformers": transformers.__version__, "torch": torch.__version__,
                      "prompts": a.prompts, "group": a.group, "prompt_len": a.prompt_len, "new": a.new,
                      "dtype": a.dtype, "wall_s": round(wall, 3), "new_tokens": int(new_tokens),
                      "new_tokens_per_s": round(new_tokens / wall, 1),
                      "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 1e9, 3)}))


if __name__ == "__main__":
    main()
