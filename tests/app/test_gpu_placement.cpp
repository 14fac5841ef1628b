// The start-up check of model.device cuda's rank placement, on stated device counts (no GPU needed).
#include <gtest/gtest.h>

#include <string>

#include "app/cli/commands.hpp"
#include "app/train/policy.hpp"
#include "model/torch_info.hpp"

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

std::string sharing_refusal(const std::vector<std::pair<std::string, std::string>>& node_gpu, bool allow) {
  try {
    gpu_sharing_check(node_gpu, allow);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(GpuPlacement, ByBusIdEachRankWithItsOwnGpuPasses) {
  // Slurm --gpus-per-task=1: every rank sees one GPU, numbered 0, but they are different GPUs.
  EXPECT_EQ(sharing_refusal({{"gpu07", "0000:1B:00.0"}, {"gpu07", "0000:3B:00.0"}, {"gpu07", "0000:5B:00.0"},
                             {"gpu07", "0000:9B:00.0"}},
                            false),
            "");
  // The same bus id on two nodes is two GPUs.
  EXPECT_EQ(sharing_refusal({{"gpu07", "0000:1B:00.0"}, {"gpu08", "0000:1B:00.0"}}, false), "");
  EXPECT_EQ(refusal(0, 4, 1, false).empty(), false) << "the count alone would have refused it";
}

TEST(GpuPlacement, ByBusIdRanksOnOneGpuAreRefusedNamingThem) {
  const std::string m = sharing_refusal(
      {{"gpu07", "0000:1B:00.0"}, {"gpu07", "0000:3B:00.0"}, {"gpu08", "0000:1B:00.0"}, {"gpu08", "0000:1B:00.0"}},
      false);
  EXPECT_NE(m.find("ranks 2, 3 on node gpu08 would all use GPU 0000:1B:00.0"), std::string::npos) << m;
  EXPECT_NE(m.find("parallel.share_gpus=true"), std::string::npos) << m;
  EXPECT_EQ(sharing_refusal({{"gpu08", "0000:1B:00.0"}, {"gpu08", "0000:1B:00.0"}}, true), "");
  // Without a GPU runtime (this CPU build's machine) no id is claimed.
  if (!model::cuda_available()) {
    EXPECT_EQ(gpu_bus_id(0), "");
  }
}

}  // namespace
}  // namespace toolgrpo::app
