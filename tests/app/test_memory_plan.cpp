// The memory plan's arithmetic: parameter counts of real architectures, the micro-batch the learner forms, and
// which parts a rank holds.
#include <gtest/gtest.h>

#include <cstdlib>

#include "app/train/memory_plan.hpp"
#include "model/init.hpp"
#include "model/torch_info.hpp"

namespace toolgrpo::app {
namespace {

// Qwen2.5-0.5B-Instruct's config.json: the qwen2.5-0.5b preset with its vocabulary.
model::ModelConfig qwen25_05b() { return model::model_preset("qwen2", "qwen2.5-0.5b", 151936); }

TEST(MemoryPlan, ParameterCountsOfPublishedModels) {
  // The published parameter count of Qwen2.5-0.5B (the sum of its safetensors tensors).
  EXPECT_EQ(model::parameter_count(qwen25_05b()), 494032768);
  // Llama-3.2-1B: 1,235,814,400 parameters (tied, no biases, 32/8 heads of 64).
  model::ModelConfig l;
  l.vocab_size = 128256;
  l.hidden_size = 2048;
  l.intermediate_size = 8192;
  l.num_layers = 16;
  l.num_heads = 32;
  l.num_kv_heads = 8;
  l.head_dim = 64;
  l.tie_word_embeddings = true;
  EXPECT_EQ(model::parameter_count(l), 1235814400);
}

TEST(MemoryPlan, LargestMicroBatchFollowsTheTokenBudget) {
  EXPECT_EQ(largest_micro_batch(8192, 1000, 16), 8000);  // 8 sequences of 1000 padded tokens
  EXPECT_EQ(largest_micro_batch(8192, 1000, 3), 3000);   // only 3 sequences on this rank
  EXPECT_EQ(largest_micro_batch(512, 1000, 16), 1000);   // a sequence over the budget goes alone
}

TEST(MemoryPlan, PartsFollowTheRankRole) {
  const model::ModelConfig c = qwen25_05b();
  const double P = 494032768.0;
  MemoryWorkload train;
  train.micro_batch_tokens = 1000;
  train.longest_sequence = 1000;
  train.head_tokens = 250;
  train.reference = true;
  train.snapshot = true;
  const MemoryPlan t = memory_plan(c, train, 100e9, "test");
  const auto bytes = [](const MemoryPlan& p, const std::string& name) {
    for (const MemoryPart& m : p.parts)
      if (m.name == name) return m.bytes;
    return -1.0;
  };
  EXPECT_EQ(bytes(t, "weights"), 4 * P);
  EXPECT_EQ(bytes(t, "gradients"), 4 * P);
  EXPECT_EQ(bytes(t, "optimizer"), 8 * P);
  EXPECT_EQ(bytes(t, "reference"), 4 * P);
  EXPECT_EQ(bytes(t, "checkpoint snapshot"), 12 * P);
  // The saved log-softmax rows of 250 response positions plus two 250-row buffers in flight.
  EXPECT_EQ(bytes(t, "vocabulary head"), (250.0 + 2 * 250.0) * 151936 * 4);
  // The head's and the embedding's (vocabulary x hidden) gradients, each a new fp32 tensor before it is added.
  EXPECT_EQ(bytes(t, "vocabulary gradients"), 2 * 151936.0 * 896 * 4);
  EXPECT_GT(bytes(t, "activations"), 1e9);  // ~4 MB per token over 24 layers
  EXPECT_EQ(bytes(t, "generation"), -1.0);
  // The peak: every persistent part and the training phase's tensors, with the vocabulary gradients counted
  // again for the blocks glibc keeps freed within the phase (measured at this shape; docs/performance.md).
  EXPECT_EQ(bytes(t, "allocator reserve"), bytes(t, "vocabulary gradients"));
  const double training = bytes(t, "activations") + bytes(t, "vocabulary head") + 2 * bytes(t, "vocabulary gradients");
  EXPECT_DOUBLE_EQ(t.peak, (4 + 4 + 8 + 4 + 12) * P + 0.25e9 + training);
  EXPECT_TRUE(t.fits());
  MemoryWorkload ck = train;
  ck.checkpointing = true;  // each layer's input only, and one layer recomputed
  EXPECT_LT(bytes(memory_plan(c, ck, 100e9, "test"), "activations"), bytes(t, "activations") / 5);
  EXPECT_FALSE(memory_plan(c, train, 10e9, "test").fits());
  // Sharded over 4 training ranks, a rank holds a quarter of the moments; the writing rank collects them to
  // save.
  MemoryWorkload sharded = train;
  sharded.optimizer_shards = 4;
  EXPECT_EQ(bytes(memory_plan(c, sharded, 100e9, "test"), "optimizer"), 2 * P);
  EXPECT_EQ(bytes(memory_plan(c, sharded, 100e9, "test"), "checkpoint gather"), -1.0);
  sharded.gathers_moments = true;
  EXPECT_EQ(bytes(memory_plan(c, sharded, 100e9, "test"), "checkpoint gather"), 8 * P);
  // bf16 mixed precision (Qwen2.5-0.5B ties its head): fp32 master weights, gradients and moments, plus a
  // bf16 copy of the layers and its gradients; half the activations; the vocabulary head stays fp32; the
  // reference is bf16 with an fp32 head.
  MemoryWorkload half = train;
  half.bf16 = true;
  const MemoryPlan hp = memory_plan(c, half, 100e9, "test");
  EXPECT_EQ(bytes(hp, "weights"), 4 * P);
  EXPECT_EQ(bytes(hp, "bf16 copy"), 2 * P);
  EXPECT_EQ(bytes(hp, "gradients"), 6 * P);
  EXPECT_EQ(bytes(hp, "optimizer"), 8 * P);
  EXPECT_EQ(bytes(hp, "reference"), 2 * P + 151936.0 * 896 * 4);
  EXPECT_EQ(bytes(hp, "activations"), bytes(t, "activations") / 2);
  EXPECT_EQ(bytes(hp, "vocabulary head"), bytes(t, "vocabulary head"));
  EXPECT_EQ(bytes(t, "bf16 copy"), -1.0);
  // The plan's table names every part and the source of the available figure.
  const std::string table = t.table();
  for (const char* s : {"weights", "optimizer", "activations", "vocabulary head", "peak", "(test)"})
    EXPECT_NE(table.find(s), std::string::npos) << s << "\n" << table;

  // A generating rank of split mode: weights and the KV cache only; a longer response costs more.
  MemoryWorkload gen;
  gen.trains = false;
  gen.gen_sequences = 16;
  gen.gen_prompt_tokens = 4 * 700;
  gen.gen_longest_prompt = 700;
  gen.gen_new_tokens = 256;
  const MemoryPlan g = memory_plan(c, gen, 100e9, "test");
  EXPECT_EQ(bytes(g, "gradients"), -1.0);
  EXPECT_EQ(bytes(g, "optimizer"), -1.0);
  EXPECT_EQ(bytes(g, "allocator reserve"), -1.0);  // generation's blocks: counted in its part
  EXPECT_DOUBLE_EQ(g.peak, 4 * P + 0.25e9 + bytes(g, "generation"));
  gen.gen_new_tokens = 512;
  EXPECT_GT(bytes(memory_plan(c, gen, 100e9, "test"), "generation") - bytes(g, "generation"),
            24.0 * 2 * 128 * 16 * 256 * 4 - 1);  // 256 more cached tokens for each of 16 sequences
}

// The part's bytes, or -1 when the plan has no such part.
double part_bytes(const MemoryPlan& p, const std::string& name) {
  for (const MemoryPart& m : p.parts)
    if (m.name == name) return m.bytes;
  return -1.0;
}
bool part_on_device(const MemoryPlan& p, const std::string& name) {
  for (const MemoryPart& m : p.parts)
    if (m.name == name) return m.device;
  ADD_FAILURE() << "no part " << name;
  return false;
}

TEST(MemoryPlan, PrefillCountsThePaddedPromptsAndTheirAttentionScores) {
  // Qwen2.5-0.5B: 24 layers, hidden 896, MLP 4864, 14 heads, 2 KV heads of 64, vocabulary 151936. Two prompts
  // of up to 1000 tokens, 4 samples each, 64 new tokens, fp32, the hand-written attention.
  const model::ModelConfig c = qwen25_05b();
  MemoryWorkload w;
  w.trains = false;
  w.gen_sequences = 8;
  w.gen_prompt_rows = 2;
  w.gen_prompt_tokens = 2 * 1000;
  w.gen_longest_prompt = 1000;
  w.gen_new_tokens = 64;
  const double kv_cache = 24.0 * 2 * 128 * (2 * 1000 + 8 * 64) * 4;  // layers x (k, v) x 2 x 64 x tokens x fp32
  const double logits = 2.0 * 8 * 151936 * 4;
  const double layer = 2.0 * 1000 * (4 * 896 + 3 * 4864) * 4;
  const double mask = 2.0 * 1000 * 1000 * 5;               // (rows, 1, L, L): bool and fp32
  const double scores = 3.0 * 2 * 14 * 1000 * 1000 * 4;   // three fp32 copies of (rows, heads, L, L)
  EXPECT_DOUBLE_EQ(part_bytes(memory_plan(c, w, 100e9, "test"), "generation"),
                   kv_cache + logits + layer + mask + scores);
  w.fused_attention = true;  // the fused kernel keeps no per-head scores; the mask stays
  EXPECT_DOUBLE_EQ(part_bytes(memory_plan(c, w, 100e9, "test"), "generation"), kv_cache + logits + layer + mask);
  w.bf16 = true;  // a bf16 cache and layer; logits and mask as before
  EXPECT_DOUBLE_EQ(part_bytes(memory_plan(c, w, 100e9, "test"), "generation"),
                   kv_cache / 2 + logits + layer / 2 + mask);
}

TEST(MemoryPlan, OnAGpuTheDeviceHoldsTheModelAndTheHostTheCheckpointCopies) {
  ::setenv("NCCL_BUFFSIZE", "1048576", 1);  // 1 MiB buffers: 32 channels x (send, receive) = 64 MiB
  const model::ModelConfig c = qwen25_05b();
  const double P = 494032768.0;
  MemoryWorkload w;
  w.device = true;
  w.fused_attention = true;
  w.optimizer_shards = 2;
  w.snapshot = true;
  w.micro_batch_tokens = 1000;
  w.longest_sequence = 1000;
  w.head_tokens = 250;
  w.nccl_communicators = 2;
  MemoryBudget b;
  b.device = 80e9;
  b.device_source = "GPU 0";
  b.host = 20e9;
  b.host_source = "MemAvailable";
  const MemoryPlan p = memory_plan(c, w, b);
  EXPECT_TRUE(p.device);
  for (const char* name : {"weights", "gradients", "optimizer", "activations", "vocabulary head", "runtime",
                           "NCCL buffers", "allocator reserve"})
    EXPECT_TRUE(part_on_device(p, name)) << name;
  for (const char* name : {"checkpoint snapshot", "runtime (host)"}) EXPECT_FALSE(part_on_device(p, name)) << name;
  EXPECT_EQ(part_bytes(p, "NCCL buffers"), 2 * (64.0 * 1048576 + 0.1e9));
  // The GPU's peak: its parts, then 10% of them held by the caching allocator.
  const double tensors = 4 * P + 4 * P + 4 * P + 0.5e9 + part_bytes(p, "NCCL buffers") +
                         part_bytes(p, "activations") + part_bytes(p, "vocabulary head") +
                         part_bytes(p, "vocabulary gradients");
  EXPECT_DOUBLE_EQ(part_bytes(p, "allocator reserve"), 0.1 * tensors);
  EXPECT_DOUBLE_EQ(p.peak, 1.1 * tensors);
  EXPECT_DOUBLE_EQ(p.host_peak, 12 * P + 2e9);  // the snapshot of weights and moments, and the process
  EXPECT_EQ(p.available, 80e9);
  EXPECT_EQ(p.host_available, 20e9);
  EXPECT_TRUE(p.fits());
  const std::string table = p.table();
  for (const char* s : {"peak (GPU)", "peak (host)", "GPU 0", "MemAvailable", "GPU: ", "host: "})
    EXPECT_NE(table.find(s), std::string::npos) << s << "\n" << table;
  // Either side too small refuses the run: a GPU of 13 GB (the peak is about 13.9 GB), or a host without room
  // for the snapshot.
  EXPECT_GT(p.peak, 13e9);
  EXPECT_LT(p.peak, 14e9);
  b.device = 13e9;
  EXPECT_FALSE(memory_plan(c, w, b).fits());
  b.device = 80e9;
  b.host = 6e9;
  EXPECT_FALSE(memory_plan(c, w, b).fits());
  // A small model still leaves the allocator its 0.5 GB floor.
  EXPECT_EQ(allocator_reserve_bytes(1e9), 0.5e9);
  ::unsetenv("NCCL_BUFFSIZE");
  EXPECT_EQ(nccl_communicator_bytes(), 64.0 * 4 * 1048576 + 0.1e9);  // NCCL's default 4 MiB
}

TEST(MemoryPlan, RanksThatShareAGpuShareItsMemory) {
  EXPECT_EQ(ranks_on_device(0, 4, 4), 1);
  EXPECT_EQ(ranks_on_device(1, 8, 4), 2);  // local ranks 1 and 5 on GPU 1
  EXPECT_EQ(ranks_on_device(2, 3, 2), 2);  // local ranks 0 and 2 on GPU 0
  EXPECT_EQ(ranks_on_device(0, 3, 0), 1);  // no GPU: one
  std::string source;
  // This machine has no usable GPU (or the build has no CUDA runtime): nothing is claimed, and the reason is said.
  if (!model::cuda_available()) {
    EXPECT_EQ(device_memory_free(0, 1, source), 0.0);
    EXPECT_NE(source.find("unknown"), std::string::npos) << source;
  }
}

TEST(MemoryPlan, AvailableMemoryIsSharedByTheNodesRanks) {
  MemoryReading m;
  m.mem_available = 8e9;
  std::string one, four;
  EXPECT_EQ(memory_available(m, 1, one), 8e9);
  EXPECT_EQ(one, "MemAvailable");
  EXPECT_EQ(memory_available(m, 4, four), 2e9);
  EXPECT_EQ(four, "MemAvailable / 4 ranks on this node");
  EXPECT_EQ(memory_available(m, 0, one), 8e9) << "no rank count reads as one rank";
  EXPECT_EQ(one, "MemAvailable");
}

TEST(MemoryPlan, AvailableMemoryIsTheLowerOfMemAvailableAndTheCgroupsRoom) {
  MemoryReading m;
  m.mem_available = 8e9;
  m.cgroup_limit = 6e9;
  m.cgroup_used = 2.5e9;
  m.cgroup_file = "memory.max";
  std::string source;
  EXPECT_EQ(memory_available(m, 1, source), 3.5e9);  // the limit less what the cgroup already uses
  EXPECT_EQ(source, "cgroup memory.max");
  EXPECT_EQ(memory_available(m, 2, source), 1.75e9);
  EXPECT_EQ(source, "cgroup memory.max / 2 ranks on this node");
  m.cgroup_limit = 20e9;  // more room in the cgroup than on the node: MemAvailable
  EXPECT_EQ(memory_available(m, 1, source), 8e9);
  EXPECT_EQ(source, "MemAvailable");
  m.mem_available = 0;  // no MemAvailable line: the cgroup's room, however large
  m.cgroup_file = "memory.limit_in_bytes";
  EXPECT_EQ(memory_available(m, 1, source), 17.5e9);
  EXPECT_EQ(source, "cgroup memory.limit_in_bytes");
  m.cgroup_used = 25e9;  // over its limit: nothing, never a negative figure
  EXPECT_EQ(memory_available(m, 1, source), 0.0);
  m.cgroup_file.clear();  // nothing known
  EXPECT_EQ(memory_available(m, 3, source), 0.0);
  EXPECT_EQ(source, "neither MemAvailable nor a cgroup limit found / 3 ranks on this node");
}

TEST(MemoryPlan, ThisMachinesReading) {
  // Linux reports MemAvailable; a cgroup limit, when found, comes with its file's name.
  const MemoryReading m = memory_reading();
  EXPECT_GT(m.mem_available, 0.0);
  EXPECT_EQ(m.cgroup_file.empty(), m.cgroup_limit == 0.0) << m.cgroup_file << " " << m.cgroup_limit;
  std::string source;
  EXPECT_GT(memory_available(2, source), 0.0);
  EXPECT_NE(source.find(" / 2 ranks on this node"), std::string::npos) << source;
}

}  // namespace
}  // namespace toolgrpo::app
