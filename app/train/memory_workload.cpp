// The sizes of a run's ranks for the memory plan; see memory_workload.hpp.
#include "app/train/memory_workload.hpp"

#include <algorithm>

namespace toolgrpo::app {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / std::max<int64_t>(1, b); }

}  // namespace

MemoryWorkload grpo_memory_workload(const Config& c, const GrpoRank& r, const PromptSizes& p, bool reference) {
  MemoryWorkload w;
  const int64_t prompt = std::max<int64_t>(1, p.train_longest), new_tokens = c.rollout.max_new_tokens;
  const int64_t G = c.rollout.group_size, gen = std::max<int64_t>(1, r.generation_ranks);
  w.trains = r.trains;
  w.reference = r.trains && reference;
  if (r.trains) {
    const int64_t budget = c.grpo.micro_batch_tokens, ranks = std::max<int64_t>(1, r.training_ranks);
    if (c.grpo.prefix_sharing) {  // rows of one prompt and the k samples that fit the budget after it
      const int64_t k = std::clamp<int64_t>((budget - prompt) / std::max<int64_t>(1, new_tokens), 1, G);
      const int64_t groups = ceil_div(ceil_div(c.rollout.prompts_per_step, c.grpo.mini_batches), ranks);
      w.longest_sequence = prompt + k * new_tokens;
      w.micro_batch_tokens = largest_micro_batch(budget, w.longest_sequence, groups * ceil_div(G, k));
      // The trap bench_grpo_step measured: a long prompt forwarded again for every few samples.
      if (k < G)
        w.notes.push_back("grpo.micro_batch_tokens " + std::to_string(budget) + " holds the longest prompt (" +
                          std::to_string(prompt) + " tokens) with " + std::to_string(k) + " of its " +
                          std::to_string(G) + " samples of up to " + std::to_string(new_tokens) +
                          " tokens: such a group's prompt is forwarded " + std::to_string(ceil_div(G, k)) +
                          " times in each pass instead of once; micro_batch_tokens >= " +
                          std::to_string(prompt + G * new_tokens) + " shares it (prefix sharing)");
      w.head_tokens = w.micro_batch_tokens / w.longest_sequence * k * new_tokens;
    } else {
      const int64_t per_rank = ceil_div(ceil_div(c.rollout.prompts_per_step * G, c.grpo.mini_batches), ranks);
      w.longest_sequence = prompt + new_tokens;
      w.micro_batch_tokens = largest_micro_batch(budget, w.longest_sequence, per_rank);
      w.head_tokens = c.grpo.response_only_head ? w.micro_batch_tokens / w.longest_sequence * new_tokens
                                                : w.micro_batch_tokens;
    }
    w.checkpointing = c.grpo.activation_checkpointing;
  }
  if (r.generates) {
    // A step's groups (one prompt each, G samples) or the evaluation's prompts (one sample each), whichever
    // caches more tokens.
    const int64_t prompts = ceil_div(c.rollout.prompts_per_step, gen);
    const int64_t eval = ceil_div(p.eval_prompts, gen);
    const int64_t eval_prompt = eval > 0 ? p.eval_longest : 0;
    const bool step_larger = prompts * (prompt + G * new_tokens) >= eval * (eval_prompt + new_tokens);
    w.gen_sequences = step_larger ? prompts * G : eval;
    w.gen_prompt_tokens = step_larger ? prompts * prompt : eval * eval_prompt;
    w.gen_longest_prompt = step_larger ? prompt : eval_prompt;
    w.gen_prompt_rows = step_larger ? prompts : eval;  // generation shares each group's prompt
    w.gen_new_tokens = new_tokens;
  }
  return w;
}

MemoryWorkload sft_memory_workload(const Config& c, int64_t ranks, int64_t longest_sequence, int64_t longest_answer) {
  MemoryWorkload w;
  w.longest_sequence = longest_sequence;
  const int64_t per_rank = ceil_div(c.sft.batch_size, ranks);
  w.micro_batch_tokens = largest_micro_batch(c.sft.micro_batch_tokens, w.longest_sequence, per_rank);
  w.head_tokens = w.micro_batch_tokens / std::max<int64_t>(1, w.longest_sequence) * longest_answer;
  w.checkpointing = c.sft.activation_checkpointing;
  return w;
}

void memory_workload_add_run(MemoryWorkload& w, const Config& c, int64_t training_ranks,
                             const CheckpointSaver& saver, bool device, bool fused_attention) {
  w.snapshot = saver.snapshots();
  w.bf16 = c.model.dtype == ModelDtype::Bf16;
  if (c.parallel.shard_optimizer && w.trains) {
    w.optimizer_shards = training_ranks;
    w.gathers_moments = saver.gathers_moments();
  }
  w.device = device;
  if (w.device) {
    w.fused_attention = fused_attention;
    const bool data_parallel = w.trains && training_ranks > 1;
    w.nccl_communicators = (data_parallel ? 1 : 0) + (data_parallel && c.parallel.shard_optimizer ? 1 : 0) +
                           (c.parallel.mode == ParallelMode::Split ? 1 : 0);
  }
}

}  // namespace toolgrpo::app
