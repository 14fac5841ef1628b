// The BLAS report and advice: which OPENBLAS_CORETYPE fits a CPU's vector flags, and when the generic kernels
// deserve a warning.
#include <gtest/gtest.h>

#include <string>

#include "model/torch_info.hpp"

namespace toolgrpo::model {
namespace {

const std::string kAvx512 = "fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl amx_tile";
const std::string kAvx2 = "fpu sse2 avx avx2 fma bmi2";

TEST(BlasInfo, CoreTypeFollowsTheVectorFlags) {
  EXPECT_EQ(blas_coretype_for(kAvx512, "GenuineIntel"), "SkylakeX");
  EXPECT_EQ(blas_coretype_for(kAvx2, "GenuineIntel"), "Haswell");
  EXPECT_EQ(blas_coretype_for(kAvx2, "AuthenticAMD"), "Zen");
  EXPECT_EQ(blas_coretype_for(kAvx512, "AuthenticAMD"), "Zen");  // no AVX-512 kernels for AMD in OpenBLAS 0.3.21
  EXPECT_EQ(blas_coretype_for("fpu sse2 avx", "GenuineIntel"), "");
  EXPECT_EQ(blas_coretype_for("avx2x fmax", "GenuineIntel"), "");  // whole flags only
}

TEST(BlasInfo, GenericKernelsOnAVectorCpuAreWarnedAbout) {
  const std::string w = blas_warning_for("Prescott", kAvx512, "GenuineIntel");
  EXPECT_NE(w.find("generic Prescott kernels"), std::string::npos) << w;
  EXPECT_NE(w.find("AVX-512"), std::string::npos) << w;
  EXPECT_NE(w.find("OPENBLAS_CORETYPE=SkylakeX"), std::string::npos) << w;
  EXPECT_NE(blas_warning_for("Prescott", kAvx2, "AuthenticAMD").find("OPENBLAS_CORETYPE=Zen"), std::string::npos);
  EXPECT_EQ(blas_warning_for("SkylakeX", kAvx512, "GenuineIntel"), "");  // the right kernels
  EXPECT_EQ(blas_warning_for("Zen", kAvx2, "AuthenticAMD"), "");
  EXPECT_EQ(blas_warning_for("Prescott", "fpu sse2", "GenuineIntel"), "");  // nothing better to use
  EXPECT_EQ(blas_description().rfind("BLAS: ", 0), 0u) << blas_description();
}

}  // namespace
}  // namespace toolgrpo::model
