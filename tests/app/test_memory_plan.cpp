// The memory plan's arithmetic: parameter counts of real architectures, the micro-batch the learner forms, and
// which parts a rank holds.
#include <gtest/gtest.h>

#include "app/train/memory_plan.hpp"
#include "model/init.hpp"

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
  EXPECT_GT(bytes(t, "activations"), 1e9);  // ~4 MB per token over 24 layers
  EXPECT_EQ(bytes(t, "generation"), -1.0);
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
  gen.gen_new_tokens = 512;
  EXPECT_GT(bytes(memory_plan(c, gen, 100e9, "test"), "generation") - bytes(g, "generation"),
            24.0 * 2 * 128 * 16 * 256 * 4 - 1);  // 256 more cached tokens for each of 16 sequences
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
