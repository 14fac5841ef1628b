// The start-up check of model.device cuda's rank placement, on stated device counts (no GPU needed).
#include <gtest/gtest.h>

#include <string>

#include "app/cli/commands.hpp"
#include "app/train/policy.hpp"

namespace toolgrpo::app {
namespace {

std::string refusal(int local_rank, int local_size, int devices, bool allow) {
  try {
    gpu_placement_check(local_rank, local_size, devices, allow, "gpu07");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(GpuPlacement, OneRankPerGpuPasses) {
  EXPECT_EQ(refusal(0, 1, 1, false), "");
  EXPECT_EQ(refusal(3, 4, 4, false), "");
  EXPECT_EQ(refusal(1, 2, 8, false), "");  // fewer ranks than GPUs: some stay idle, none is shared
}

TEST(GpuPlacement, MoreRanksThanGpusAreRefusedNamingNodeRanksAndGpus) {
  const std::string m = refusal(0, 4, 2, false);
  EXPECT_NE(m.find("4 ranks on node gpu07 for 2 GPUs"), std::string::npos) << m;
  EXPECT_NE(m.find("ranks 2..3 would share a GPU"), std::string::npos) << m;
  EXPECT_NE(m.find("--gpus-per-task=1"), std::string::npos) << m;
  EXPECT_NE(m.find("parallel.share_gpus=true"), std::string::npos) << m;
  EXPECT_NE(refusal(1, 2, 1, false).find("2 ranks on node gpu07 for 1 GPU:"), std::string::npos);
  // Every rank of the node refuses, not only those that would share.
  EXPECT_NE(refusal(0, 3, 2, false), "");
  // Sharing asked for explicitly.
  EXPECT_EQ(refusal(3, 4, 2, true), "");
}

TEST(GpuPlacement, NoGpuIsRefusedEvenWhenSharingIsAllowed) {
  const std::string m = refusal(0, 2, 0, true);
  EXPECT_NE(m.find("node gpu07 (rank 0 of its 2 ranks) sees no GPU"), std::string::npos) << m;
  EXPECT_NE(m.find("CUDA_VISIBLE_DEVICES"), std::string::npos) << m;
}

}  // namespace
}  // namespace toolgrpo::app
