//===- RuntimeTest.cpp - hat-run equals the reference evaluator -----------===//
//
// Random integer models compiled at -O0 and -O3, serialized, loaded back and
// run by the runtime with every instruction set this CPU has and with 1 and
// 2 threads: every output equals the reference evaluator's bit for bit.
//
//===----------------------------------------------------------------------===//

#include "RandomModels.h"

#include "hat/BPU/Compile.h"
#include "hat/Runtime/Runtime.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace hat;

namespace {

std::string tempDir() {
  SmallString<128> dir;
  EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("hat-runtime", dir));
  return dir.str().str();
}

/// Compiles a clone of `module` and returns the model after a serialize /
/// deserialize round trip (so the runtime only ever sees loaded HBMs).
hbm::Model compile(MLIRContext &context, ModuleOp module, int optLevel,
                   const std::string &march = "nash-e") {
  OwningOpRef<ModuleOp> clone = module.clone();
  bpu::CompileOptions options;
  options.march = march;
  options.optLevel = optLevel;
  PassManager pm(&context, ModuleOp::getOperationName());
  EXPECT_TRUE(succeeded(bpu::buildPipeline(pm, options)));
  EXPECT_TRUE(succeeded(pm.run(*clone)));
  auto model = bpu::exportHbm(*clone);
  EXPECT_TRUE(succeeded(model));
  if (failed(model))
    return {};
  std::vector<uint8_t> bytes = hbm::serialize(*model);
  hbm::Model loaded;
  std::string error;
  EXPECT_TRUE(hbm::deserialize(bytes.data(), bytes.size(), loaded, error))
      << error;
  return loaded;
}

bool bitEqual(const eval::Tensor &a, const eval::Tensor &b) {
  if (a.dtype != b.dtype || a.shape != b.shape || a.f.size() != b.f.size() ||
      a.i != b.i)
    return false;
  return a.f.empty() ||
         std::memcmp(a.f.data(), b.f.data(), a.f.size() * sizeof(float)) == 0;
}

std::vector<runtime::Isa> isasToTest() {
  std::vector<runtime::Isa> isas{runtime::Isa::Scalar};
  const runtime::Isa best = runtime::detectIsa();
  if (int(best) >= int(runtime::Isa::Avx2))
    isas.push_back(runtime::Isa::Avx2);
  if (best == runtime::Isa::Avx512Vnni)
    isas.push_back(runtime::Isa::Avx512Vnni);
  return isas;
}

class RuntimeTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(RuntimeTest, BitExactWithReferenceEvaluator) {
  const unsigned seed = GetParam();
  MLIRContext context;
  std::string dir = tempDir();
  test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
  ASSERT_TRUE(rm.module);
  const eval::Tensor input = test::randomInput(rm.inputShape, 1000 + seed);
  const std::vector<eval::Tensor> reference =
      test::evaluate(*rm.module, {input});
  ASSERT_FALSE(reference.empty());
  for (int opt : {0, 3}) {
    hbm::Model model = compile(context, *rm.module, opt);
    ASSERT_FALSE(model.layers.empty());
    // -O3 fuses the residual block's conv + add; -O0 keeps the add.
    int fused = 0, adds = 0;
    for (const hbm::Layer &l : model.layers) {
      fused += l.kind == hbm::LayerKind::Conv && l.residual;
      adds += l.kind == hbm::LayerKind::Add;
    }
    EXPECT_EQ(fused > 0, opt == 3) << "seed " << seed;
    EXPECT_EQ(adds > 0, opt == 0) << "seed " << seed;
    if (std::getenv("HAT_TEST_VERBOSE"))
      for (const hbm::Layer &l : model.layers)
        std::fprintf(stderr, "  -O%d %s %s\n", opt, l.name.c_str(),
                     hbm::layerKindName(l.kind));
    for (runtime::Isa isa : isasToTest())
      for (int threads : {1, 2}) {
        runtime::Options options;
        options.isa = isa;
        options.threads = threads;
        auto session = runtime::Session::create(model, options);
        // Even seeds have depthwise convs, which must take the direct
        // kernel (seed 6 at -O3 with its fused residual add).
        int depthwise = 0, depthwiseResidual = 0;
        for (size_t i = 0; i < model.layers.size(); ++i)
          if (std::strcmp(session->layerKernel(i), "depthwise") == 0) {
            ++depthwise;
            depthwiseResidual += model.layers[i].residual;
          }
        EXPECT_EQ(depthwise > 0, seed % 2 == 0) << "seed " << seed;
        EXPECT_EQ(depthwiseResidual > 0, seed == 6 && opt == 3)
            << "seed " << seed << " -O" << opt;
        // Every model has a conv feeding only convs (the residual block's
        // first conv), kept NHWC; outputs never are.
        int nhwc = 0;
        for (size_t t = 0; t < model.tensors.size(); ++t)
          nhwc += session->tensorNhwc(t);
        EXPECT_GT(nhwc, 0) << "seed " << seed << " -O" << opt;
        for (int32_t o : model.outputs)
          EXPECT_FALSE(session->tensorNhwc(size_t(o)));
        std::vector<eval::Tensor> out;
        std::string error;
        ASSERT_TRUE(session->run({input}, out, error)) << error;
        ASSERT_EQ(out.size(), reference.size());
        for (size_t o = 0; o < out.size(); ++o)
          EXPECT_TRUE(bitEqual(out[o], reference[o]))
              << "seed " << seed << " -O" << opt << " " << runtime::isaName(isa)
              << " threads " << threads << " output " << o;
      }
  }
  llvm::sys::fs::remove_directories(dir);
}

INSTANTIATE_TEST_SUITE_P(RandomModels, RuntimeTest, ::testing::Range(0u, 12u));

/// A batch of N model batches stacked along dimension 0 runs as one pass
/// (conv tiles crossing image boundaries): every slice of the result equals
/// the reference evaluator on that slice alone, and the same session run on
/// that slice alone, bit for bit.
TEST_P(RuntimeTest, BatchEqualsPerImage) {
  const unsigned seed = GetParam();
  constexpr int64_t kSlices = 5;
  MLIRContext context;
  std::string dir = tempDir();
  test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
  ASSERT_TRUE(rm.module);
  std::vector<int64_t> stacked = rm.inputShape;
  stacked[0] *= kSlices;
  const eval::Tensor big = test::randomInput(stacked, 2000 + seed);
  const int64_t per = eval::numelOf(rm.inputShape);
  std::vector<eval::Tensor> slices;
  std::vector<std::vector<eval::Tensor>> reference;
  for (int64_t r = 0; r < kSlices; ++r) {
    eval::Tensor slice = eval::Tensor::f32(rm.inputShape);
    std::copy_n(big.f.begin() + r * per, per, slice.f.begin());
    reference.push_back(test::evaluate(*rm.module, {slice}));
    ASSERT_FALSE(reference.back().empty());
    slices.push_back(std::move(slice));
  }
  for (int opt : {0, 3}) {
    hbm::Model model = compile(context, *rm.module, opt);
    ASSERT_FALSE(model.layers.empty());
    for (runtime::Isa isa : isasToTest())
      for (int threads : {1, 2}) {
        runtime::Options options;
        options.isa = isa;
        options.threads = threads;
        auto session = runtime::Session::create(model, options);
        std::vector<eval::Tensor> out;
        std::string error;
        ASSERT_TRUE(session->run({big}, out, error)) << error;
        // Two threads run the five batches as two image streams (2 + 3).
        EXPECT_EQ(session->lastRunStreams(), threads);
        ASSERT_EQ(out.size(), reference[0].size());
        for (size_t o = 0; o < out.size(); ++o) {
          const eval::Tensor &ref0 = reference[0][o];
          std::vector<int64_t> shape = ref0.shape;
          shape[0] *= kSlices;
          ASSERT_EQ(out[o].shape, shape);
          const size_t n = size_t(ref0.numel());
          for (int64_t r = 0; r < kSlices; ++r) {
            // The stacked result's slice r, as a tensor of its own.
            eval::Tensor got = ref0;
            if (!got.f.empty())
              std::copy_n(out[o].f.begin() + r * n, n, got.f.begin());
            if (!got.i.empty())
              std::copy_n(out[o].i.begin() + r * n, n, got.i.begin());
            std::vector<eval::Tensor> alone;
            ASSERT_TRUE(session->run({slices[size_t(r)]}, alone, error))
                << error;
            EXPECT_TRUE(bitEqual(got, reference[size_t(r)][o]))
                << "seed " << seed << " -O" << opt << " "
                << runtime::isaName(isa) << " threads " << threads << " output "
                << o << " slice " << r << " vs reference";
            EXPECT_TRUE(bitEqual(got, alone[o]))
                << "seed " << seed << " -O" << opt << " "
                << runtime::isaName(isa) << " threads " << threads << " output "
                << o << " slice " << r << " vs alone";
          }
        }
      }
  }
  llvm::sys::fs::remove_directories(dir);
}

TEST(RuntimeBatch, StackedBatchesRunSliceBySlice) {
  MLIRContext context;
  std::string dir = tempDir();
  test::RandomModel rm = test::makeRandomIntegerModel(context, 1, dir);
  ASSERT_TRUE(rm.module);
  hbm::Model model = compile(context, *rm.module, 3);
  auto session = runtime::Session::create(model, {});
  // Three model batches stacked along dimension 0.
  std::vector<int64_t> stacked = rm.inputShape;
  stacked[0] *= 3;
  eval::Tensor big = test::randomInput(stacked, 77);
  std::vector<eval::Tensor> out;
  std::string error;
  ASSERT_TRUE(session->run({big}, out, error)) << error;
  const int64_t per = eval::numelOf(rm.inputShape);
  size_t offset = 0;
  for (int r = 0; r < 3; ++r) {
    eval::Tensor slice = eval::Tensor::f32(rm.inputShape);
    std::copy_n(big.f.begin() + r * per, per, slice.f.begin());
    auto ref = test::evaluate(*rm.module, {slice});
    ASSERT_EQ(ref.size(), 1u);
    for (size_t k = 0; k < ref[0].f.size(); ++k)
      ASSERT_EQ(std::memcmp(&ref[0].f[k], &out[0].f[offset + k], 4), 0);
    offset += ref[0].f.size();
  }
  EXPECT_EQ(offset, out[0].f.size());
  // A shape that is not a multiple is an error, not a crash.
  eval::Tensor wrong = test::randomInput({1, 3, 5, 5}, 1);
  EXPECT_FALSE(session->run({wrong}, out, error));
  EXPECT_NE(error.find("must be f32 shaped like"), std::string::npos) << error;
  llvm::sys::fs::remove_directories(dir);
}

} // namespace
