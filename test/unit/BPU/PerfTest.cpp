//===- PerfTest.cpp - The estimate's bounds, fusion and the arena plan ----===//
//
// For random models on every march at -O0 and -O3: no layer is faster than
// the march's peak MACs or DDR bandwidth allow, the model figures are the
// sums of the layer figures, fusion (-O3) never adds DDR traffic or latency,
// every tile fits SRAM, and no two tensors that are live at the same time
// share arena bytes.
//
//===----------------------------------------------------------------------===//

#include "../Runtime/RandomModels.h"

#include "hat/BPU/Compile.h"
#include "hat/BPU/March.h"
#include "hat/BPU/PerfModel.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace hat;

namespace {

hbm::Model compile(MLIRContext &context, ModuleOp module, int opt,
                   const std::string &march,
                   const std::string &inputSource = "ddr") {
  OwningOpRef<ModuleOp> clone = module.clone();
  bpu::CompileOptions options;
  options.march = march;
  options.optLevel = opt;
  options.inputSource = inputSource;
  PassManager pm(&context, ModuleOp::getOperationName());
  EXPECT_TRUE(succeeded(bpu::buildPipeline(pm, options)));
  EXPECT_TRUE(succeeded(pm.run(*clone)));
  auto model = bpu::exportHbm(*clone);
  EXPECT_TRUE(succeeded(model));
  return succeeded(model) ? *model : hbm::Model();
}

class PerfTest : public ::testing::Test {
protected:
  void SetUp() override {
    SmallString<128> d;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("hat-perf", d));
    dir = d.str().str();
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }
  MLIRContext context;
  std::string dir;
};

TEST_F(PerfTest, RooflineBoundsAndTotals) {
  for (unsigned seed : {0u, 1u, 2u, 3u}) {
    test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
    ASSERT_TRUE(rm.module);
    for (const bpu::March &march : bpu::allMarches())
      for (int opt : {0, 3}) {
        hbm::Model m = compile(context, *rm.module, opt, march.name);
        ASSERT_EQ(m.layerPerf.size(), m.layers.size());
        double latency = 0, shares = 0;
        int64_t bytes = 0, macs = 0;
        for (const hbm::LayerPerf &p : m.layerPerf) {
          const std::string where = std::string(march.name) + " -O" +
                                    std::to_string(opt) + " " + p.name;
          const double macFloor = double(p.macs) / march.peakMacsPerUs();
          const double ddrFloor =
              double(p.loadBytes + p.storeBytes) / march.ddrBytesPerUs();
          EXPECT_GE(p.computeUs, macFloor * (1 - 1e-12)) << where;
          EXPECT_GE(p.totalUs, macFloor * (1 - 1e-12)) << where;
          EXPECT_GE(p.totalUs, ddrFloor * (1 - 1e-12)) << where;
          EXPECT_GE(p.totalUs, std::max(p.computeUs, p.memoryUs)) << where;
          EXPECT_LE(p.macUtilisation, 1.0) << where;
          if (p.op != "reshape")
            EXPECT_GE(p.totalUs, march.layerOverheadUs) << where;
          EXPECT_LE(p.sramBytes, march.sramBytes) << where;
          latency += p.totalUs;
          shares += p.share;
          bytes += p.loadBytes + p.storeBytes;
          macs += p.macs;
        }
        EXPECT_NEAR(m.perf.latencyUs, latency, 1e-9 * latency);
        EXPECT_NEAR(shares, 1.0, 1e-9);
        EXPECT_EQ(m.perf.macs, macs);
        EXPECT_EQ(m.perf.ddrBytesPerFrame, bytes / m.perf.batch);
        EXPECT_NEAR(m.perf.fps, 1e6 * double(m.perf.batch) / latency,
                    1e-6 * m.perf.fps);
        EXPECT_LE(m.perf.macUtilisation, 1.0);
      }
  }
}

TEST_F(PerfTest, FusionSavesTrafficAndTime) {
  for (unsigned seed : {0u, 1u, 2u, 3u, 4u, 5u}) {
    test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
    ASSERT_TRUE(rm.module);
    for (const char *march : {"bayes", "nash-e", "nash-p"}) {
      hbm::Model o0 = compile(context, *rm.module, 0, march);
      hbm::Model o3 = compile(context, *rm.module, 3, march);
      EXPECT_LT(o3.layers.size(), o0.layers.size()) << seed << march;
      // Intermediates a fusion removes may already have stayed on chip.
      EXPECT_LE(o3.perf.ddrBytesPerFrame, o0.perf.ddrBytesPerFrame)
          << seed << march;
      EXPECT_LT(o3.perf.latencyUs, o0.perf.latencyUs) << seed << march;
    }
  }
}

TEST_F(PerfTest, PyramidInputReadsNoDdr) {
  test::RandomModel rm = test::makeRandomIntegerModel(context, 2, dir);
  ASSERT_TRUE(rm.module);
  hbm::Model ddr = compile(context, *rm.module, 3, "nash-m", "ddr");
  hbm::Model pyr = compile(context, *rm.module, 3, "nash-m", "pyramid");
  ASSERT_EQ(ddr.layerPerf[0].op, "quantize");
  EXPECT_GT(ddr.layerPerf[0].loadBytes, 0);
  EXPECT_EQ(pyr.layerPerf[0].loadBytes, 0);
  EXPECT_EQ(pyr.inputSource, "pyramid");
  EXPECT_LT(pyr.perf.ddrBytesPerFrame, ddr.perf.ddrBytesPerFrame);
}

TEST_F(PerfTest, TilesFitSmallSram) {
  // bernoulli2 has the smallest SRAM; every tile fits it and -O3 (fusion and
  // tile search) never moves more bytes than -O0. test/BPU/tile.mlir shows a
  // layer that needs several tiles.
  test::RandomModel rm = test::makeRandomIntegerModel(context, 3, dir);
  ASSERT_TRUE(rm.module);
  hbm::Model o0 = compile(context, *rm.module, 0, "bernoulli2");
  hbm::Model o3 = compile(context, *rm.module, 3, "bernoulli2");
  for (const hbm::Layer &l : o3.layers)
    if (l.kind != hbm::LayerKind::Reshape)
      EXPECT_GE(l.tile.tiles, 1) << l.name;
  for (const hbm::LayerPerf &p : o3.layerPerf)
    EXPECT_LE(p.sramBytes, bpu::findMarch("bernoulli2")->sramBytes);
  EXPECT_LE(o3.perf.ddrBytesPerFrame, o0.perf.ddrBytesPerFrame);
}

TEST_F(PerfTest, ArenaNeverOverlapsLiveTensors) {
  for (unsigned seed : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u}) {
    test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
    ASSERT_TRUE(rm.module);
    hbm::Model m = compile(context, *rm.module, 3, "nash-e");
    // Live range of each arena tensor: [writer, last reader]; outputs live
    // to the end. Reshape results share their input's bytes on purpose.
    const size_t n = m.tensors.size();
    std::vector<int64_t> first(n, -1), last(n, -1);
    std::vector<int32_t> aliasOf(n, -1);
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const hbm::Layer &l = m.layers[i];
      first[size_t(l.output)] = last[size_t(l.output)] = int64_t(i);
      for (int32_t in : l.inputs)
        last[size_t(in)] = int64_t(i);
      if (l.kind == hbm::LayerKind::Reshape)
        aliasOf[size_t(l.output)] = l.inputs[0];
    }
    for (int32_t o : m.outputs)
      last[size_t(o)] = int64_t(m.layers.size());
    int64_t total = 0;
    for (size_t a = 0; a < n; ++a) {
      if (m.tensors[a].arenaOffset < 0 || first[a] < 0)
        continue;
      total += m.tensors[a].bytes();
      for (size_t b = a + 1; b < n; ++b) {
        if (m.tensors[b].arenaOffset < 0 || first[b] < 0 ||
            aliasOf[b] == int32_t(a) || aliasOf[a] == int32_t(b))
          continue;
        const bool live = first[a] <= last[b] && first[b] <= last[a];
        const hbm::TensorDesc &x = m.tensors[a], &y = m.tensors[b];
        const bool overlap = x.arenaOffset < y.arenaOffset + y.bytes() &&
                             y.arenaOffset < x.arenaOffset + x.bytes();
        EXPECT_FALSE(live && overlap)
            << "seed " << seed << ": " << x.name << " and " << y.name;
      }
    }
    // Reuse makes the arena smaller than all tensors laid end to end.
    EXPECT_LT(m.arenaBytes, total) << seed;
  }
}

TEST_F(PerfTest, O3NeverSlowerThanO0) {
  for (unsigned seed : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u}) {
    test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
    ASSERT_TRUE(rm.module);
    for (const bpu::March &march : bpu::allMarches()) {
      hbm::Model o0 = compile(context, *rm.module, 0, march.name);
      hbm::Model o3 = compile(context, *rm.module, 3, march.name);
      EXPECT_LE(o3.perf.latencyUs, o0.perf.latencyUs * (1 + 1e-12))
          << seed << " " << march.name;
    }
  }
}

TEST_F(PerfTest, MonotoneInBatch) {
  // Twice the images is twice the MACs and activation bytes (the weights
  // once): never faster, never more than twice as slow.
  for (unsigned seed : {0u, 1u, 4u}) {
    test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
    ASSERT_TRUE(rm.module);
    OwningOpRef<ModuleOp> two = rm.module->clone();
    PassManager pm(&context, ModuleOp::getOperationName());
    hat::HatInferShapesOptions batch2;
    batch2.batchSize = 2 * rm.inputShape[0];
    pm.addNestedPass<func::FuncOp>(hat::createHatInferShapes(batch2));
    ASSERT_TRUE(succeeded(pm.run(*two)));
    for (const char *march : {"nash-e", "nash-m", "nash-p"}) {
      hbm::Model a = compile(context, *rm.module, 3, march);
      hbm::Model b = compile(context, *two, 3, march);
      EXPECT_EQ(b.perf.macs, 2 * a.perf.macs) << seed << march;
      EXPECT_GE(b.perf.latencyUs, a.perf.latencyUs) << seed << march;
      EXPECT_LE(b.perf.latencyUs, 2 * a.perf.latencyUs) << seed << march;
      EXPECT_GE(b.perf.peakDdrBytes, a.perf.peakDdrBytes) << seed << march;
    }
  }
}

TEST_F(PerfTest, PeakDdrIsWeightsActivationsIoAndRuntime) {
  for (unsigned seed : {0u, 1u, 2u, 3u}) {
    test::RandomModel rm = test::makeRandomIntegerModel(context, seed, dir);
    ASSERT_TRUE(rm.module);
    for (const char *march : {"bernoulli2", "nash-m"}) {
      hbm::Model m = compile(context, *rm.module, 3, march);
      int64_t constants = 0, biases = 0, io = 0;
      for (const hbm::Constant &c : m.constants) {
        constants += int64_t(c.data.size());
        if (c.layout == "plain")
          biases += int64_t(c.data.size());
      }
      for (int32_t t : m.inputs)
        io += m.tensors[size_t(t)].bytes();
      for (int32_t t : m.outputs)
        io += m.tensors[size_t(t)].bytes();
      EXPECT_EQ(m.perf.ioBytes, io) << seed << march;
      // Weights are counted unpacked plus 12 bytes per output channel (int32
      // bias, multiplier, shift); the HBM pads weights to 16 x 2 blocks and
      // stores 4 bias bytes per channel.
      EXPECT_GT(m.perf.weightBytes, 0) << seed << march;
      EXPECT_LE(m.perf.weightBytes, constants + 2 * biases) << seed << march;
      // The DDR homes of the intermediate tensors in the BPU's layout: at
      // most every one of them end to end (reshape views counted twice
      // only loosen the bound), at least the largest one; the results are
      // the caller's buffers, counted with the I/O.
      int64_t sumHomes = 0, largestHome = 0;
      for (size_t t = 0; t < m.tensors.size(); ++t) {
        const hbm::TensorDesc &d = m.tensors[t];
        if (d.arenaOffset < 0 || llvm::is_contained(m.outputs, int32_t(t)))
          continue;
        const int64_t bytes =
            (bpu::bpuFeatureMapBytes(d.shape, hbm::dtypeBytes(d.dtype)) + 63) /
            64 * 64;
        sumHomes += bytes;
        largestHome = std::max(largestHome, bytes);
      }
      EXPECT_LE(m.perf.ddrActivationBytes, sumHomes) << seed << march;
      EXPECT_GE(m.perf.ddrActivationBytes, largestHome) << seed << march;
      // The runtime's part is the march table's constant, whatever the model.
      EXPECT_EQ(m.perf.runtimeBytes, bpu::findMarch(march)->runtimeDdrBytes)
          << seed << march;
      EXPECT_GT(m.perf.runtimeBytes, 0) << seed << march;
      EXPECT_EQ(m.perf.peakDdrBytes, m.perf.weightBytes +
                                         m.perf.ddrActivationBytes +
                                         m.perf.ioBytes + m.perf.runtimeBytes)
          << seed << march;
    }
  }
}

// The BPU's DDR layout of feature maps (peak DDR), by hand: NHWC with the
// channel bytes rounded up to 16, 32, 64, 128 or 256 k + one of those;
// images of at most 4 channels keep C and align H to 2 and W to 32; float
// (and int32) tensors and other ranks are their plain size.
TEST(PerfModelTest, FeatureMapLayoutBytes) {
  using bpu::bpuFeatureMapBytes;
  EXPECT_EQ(bpuFeatureMapBytes({1, 3, 224, 224}, 1), 224 * 224 * 3);
  EXPECT_EQ(bpuFeatureMapBytes({1, 3, 7, 7}, 1), 8 * 32 * 3);
  EXPECT_EQ(bpuFeatureMapBytes({1, 16, 10, 10}, 1), 100 * 16);
  EXPECT_EQ(bpuFeatureMapBytes({1, 24, 10, 10}, 1), 100 * 32);
  EXPECT_EQ(bpuFeatureMapBytes({2, 40, 3, 3}, 1), 2 * 9 * 64);
  EXPECT_EQ(bpuFeatureMapBytes({1, 160, 2, 2}, 1), 4 * 256);
  EXPECT_EQ(bpuFeatureMapBytes({1, 256, 1, 1}, 1), 256);
  EXPECT_EQ(bpuFeatureMapBytes({1, 320, 1, 1}, 1), 256 + 64);
  EXPECT_EQ(bpuFeatureMapBytes({1, 400, 1, 1}, 1), 512);
  EXPECT_EQ(bpuFeatureMapBytes({1, 1152, 1, 1}, 1), 1024 + 128);
  EXPECT_EQ(bpuFeatureMapBytes({1, 80, 2, 2}, 2), 4 * 256); // int16
  EXPECT_EQ(bpuFeatureMapBytes({1, 1000}, 1), 1024);
  EXPECT_EQ(bpuFeatureMapBytes({1, 80, 4, 4}, 4), 80 * 16 * 4);
  EXPECT_EQ(bpuFeatureMapBytes({2, 3, 5}, 1), 30);
  // Never below the plain size, monotone in every dimension.
  for (int64_t c : {1, 3, 5, 17, 100, 255, 257, 700})
    for (int64_t w : {1, 7, 33}) {
      const int64_t bytes = bpuFeatureMapBytes({1, c, 3, w}, 1);
      EXPECT_GE(bytes, c * 3 * w) << c << " " << w;
      EXPECT_GE(bpuFeatureMapBytes({1, c + 1, 3, w}, 1), bytes) << c;
      EXPECT_GE(bpuFeatureMapBytes({1, c, 3, w + 1}, 1), bytes) << w;
      EXPECT_GE(bpuFeatureMapBytes({1, c, 4, w}, 1), bytes) << c;
    }
  // NV12: Y (H x W, width to 32) + UV (H / 2 x W).
  EXPECT_EQ(bpu::nv12ImageBytes({1, 3, 896, 896}), 896 * 896 + 448 * 896);
  EXPECT_EQ(bpu::nv12ImageBytes({1, 3, 5, 33}), 6 * 64 + 3 * 64);
  EXPECT_EQ(bpu::nv12ImageBytes({1, 4, 8, 8}), -1);
}

// The cost model on its own: never below the roofline, monotone in the
// array's work and in DDR bytes, overheads added once per layer / tile.
TEST(PerfModelTest, RooflineAndMonotone) {
  for (const bpu::March &m : bpu::allMarches()) {
    for (int64_t pixels : {1, 49, 64, 3136, 12544})
      for (int64_t channels : {3, 16, 32, 96, 256, 1024})
        for (int64_t groups : {int64_t(1), channels}) {
          bpu::ConvGeometry c;
          c.pixels = pixels, c.taps = 9, c.inChannels = channels;
          c.outChannels = channels, c.groups = groups;
          const double macs = double(pixels) * 9 * channels / groups * channels;
          const double cycles = bpu::macArrayCycles(c, m);
          EXPECT_GE(cycles, macs / double(m.macsPerCycle) * (1 - 1e-12))
              << m.name << " " << pixels << " " << channels;
          // More pixels, more output channels or more input channels per
          // group never cost fewer cycles.
          bpu::ConvGeometry more = c;
          more.pixels += 1;
          EXPECT_GE(bpu::macArrayCycles(more, m), cycles) << m.name;
          more = c;
          more.outChannels += groups, more.inChannels += groups;
          EXPECT_GE(bpu::macArrayCycles(more, m), cycles) << m.name;
          more = c;
          more.taps = 25;
          EXPECT_GE(bpu::macArrayCycles(more, m), cycles) << m.name;
          for (int64_t bytes : {0, 4096, 1 << 20, 1 << 24})
            for (int64_t tiles : {1, 2, 9}) {
              bpu::LayerTime t =
                  bpu::layerTime(cycles, true, bytes, tiles, false, m);
              EXPECT_GE(t.totalUs, macs / m.peakMacsPerUs() * (1 - 1e-12));
              EXPECT_GE(t.totalUs,
                        double(bytes) / m.ddrBytesPerUs() * (1 - 1e-12));
              EXPECT_NEAR(t.overheadUs,
                          m.layerOverheadUs + (tiles - 1) * m.tileOverheadUs,
                          1e-12);
              EXPECT_GE(
                  bpu::layerTime(cycles, true, 2 * bytes + 1, tiles, false, m)
                      .totalUs,
                  t.totalUs);
              EXPECT_GE(
                  bpu::layerTime(2 * cycles + 1, true, bytes, tiles, false, m)
                      .totalUs,
                  t.totalUs);
              EXPECT_GE(bpu::layerTime(cycles, true, bytes, tiles + 1, false, m)
                            .totalUs,
                        t.totalUs);
              EXPECT_EQ(
                  bpu::layerTime(cycles, true, bytes, tiles, true, m).totalUs,
                  0.0);
            }
        }
  }
}

} // namespace
