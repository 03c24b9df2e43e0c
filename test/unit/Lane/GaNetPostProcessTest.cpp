//===- GaNetPostProcessTest.cpp - GaNet's decoder by output name ----------===//

#include "hat/Lane/GaNetPostProcess.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace hat::lane;
using hat::detection::NamedOutput;

namespace {

const char *kDescription =
    R"({"type":"GaNetDecoder","root_thr":1,"kpt_thr":0.4,"cluster_thr":5,)"
    R"("downscale":8,"min_points":10,"heatmap_is_logit":false,)"
    R"("outputs":{"kpts_hm":"hm","pts_offset":"start","int_offset":"point"}})";

// Two images of a 320x800 input: the first with a vertical lane at x =
// 100.5, the second with a slanted lane and a second vertical one.
std::vector<std::vector<Lane>> imageLanes() {
  return {{{{100.5f, 0.f}, {100.5f, 319.f}}},
          {{{700.f, 319.f}, {500.f, 0.f}}, {{300.5f, 100.f}, {300.5f, 319.f}}}};
}

struct BatchMaps {
  std::vector<float> heat, start, point;
};

// The targets of each image stacked into [2, C, 40, 100] maps.
BatchMaps encodeBatch() {
  BatchMaps maps;
  for (const std::vector<Lane> &lanes : imageLanes()) {
    GaNetTargets t = encodeGaNet(lanes, 320, 800, {});
    maps.heat.insert(maps.heat.end(), t.heatmap.begin(), t.heatmap.end());
    maps.start.insert(maps.start.end(), t.startOffset.begin(),
                      t.startOffset.end());
    maps.point.insert(maps.point.end(), t.pointOffset.begin(),
                      t.pointOffset.end());
  }
  return maps;
}

TEST(GaNetPostProcess, ReadsTheDescription) {
  EXPECT_EQ(GaNetPostProcessor::typeOf(kDescription), "GaNetDecoder");
  EXPECT_EQ(GaNetPostProcessor::typeOf(R"({"type":"FCOSMultiStrideFilter"})"),
            "FCOSMultiStrideFilter");
  GaNetPostProcessor pp = GaNetPostProcessor::fromJson(kDescription);
  EXPECT_EQ(pp.options().downscale, 8);
  EXPECT_FLOAT_EQ(pp.options().clusterThr, 5.f);
  // HAT drops lanes of at most min_points points.
  EXPECT_EQ(pp.options().minPoints, 11);
  EXPECT_FALSE(pp.options().heatmapIsLogit);
  EXPECT_EQ(pp.heatmapOutput(), "hm");
  EXPECT_EQ(pp.startOffsetOutput(), "start");
  EXPECT_EQ(pp.pointOffsetOutput(), "point");
}

TEST(GaNetPostProcess, RefusesMalformedDescriptions) {
  auto message = [](const std::string &json) {
    try {
      GaNetPostProcessor::fromJson(json);
    } catch (const GaNetDecodeError &e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message("[1]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message(R"({"type":"FCOSMultiStrideFilter"})").find("GaNetDecoder"),
            std::string::npos);
  EXPECT_NE(message(R"({"type":"GaNetDecoder","kpt_thr":1.5,"outputs":{}})")
                .find("kpt_thr"),
            std::string::npos);
  EXPECT_NE(
      message(R"({"type":"GaNetDecoder","downscale":0})").find("downscale"),
      std::string::npos);
  EXPECT_NE(message(R"({"type":"GaNetDecoder","outputs":{"kpts_hm":"a",)"
                    R"("pts_offset":"b"}})")
                .find("int_offset"),
            std::string::npos);
}

TEST(GaNetPostProcess, DecodesEachImageOfABatch) {
  BatchMaps maps = encodeBatch();
  GaNetPostProcessor pp = GaNetPostProcessor::fromJson(kDescription);
  std::vector<NamedOutput> outputs = {
      {"point", {2, 2, 40, 100}, maps.point.data()},
      {"hm", {2, 1, 40, 100}, maps.heat.data()},
      {"start", {2, 2, 40, 100}, maps.start.data()}};
  std::vector<std::vector<Lane>> lanes = pp.decode(outputs);
  ASSERT_EQ(lanes.size(), 2u);
  ASSERT_EQ(lanes[0].size(), 1u);
  ASSERT_EQ(lanes[1].size(), 2u);
  // Image 0: 40 keypoints at x = 100.5; image 1, left to right: the lane
  // at x = 300.5 (rows 12..39: keypoints at y = 100, 108, ..., 316), then
  // the slanted one.
  EXPECT_EQ(lanes[0][0].size(), 40u);
  for (const LanePoint &p : lanes[0][0])
    EXPECT_NEAR(p.x, 100.5f, 1e-3);
  EXPECT_EQ(lanes[1][0].size(), 28u);
  EXPECT_NEAR(lanes[1][0].front().x, 300.5f, 1e-3);
  EXPECT_NEAR(lanes[1][0].front().y, 100.f, 1e-3);
  EXPECT_EQ(lanes[1][1].size(), 40u);
  EXPECT_NEAR(lanes[1][1].front().x, 700.f - 200.f * 315.f / 319.f, 1e-3);
  // The same as decoding each image's maps alone.
  GaNetMaps second{maps.heat.data() + 4000, maps.point.data() + 8000,
                   maps.start.data() + 8000, 40, 100};
  std::vector<Lane> alone = decodeGaNet(second, pp.options());
  ASSERT_EQ(alone.size(), 2u);
  EXPECT_EQ(alone[1].size(), lanes[1][1].size());
  EXPECT_FLOAT_EQ(alone[1][5].x, lanes[1][1][5].x);
}

TEST(GaNetPostProcess, RefusesOutputsThatDoNotFit) {
  BatchMaps maps = encodeBatch();
  GaNetPostProcessor pp = GaNetPostProcessor::fromJson(kDescription);
  auto message = [&](std::vector<NamedOutput> outputs) {
    try {
      pp.decode(outputs);
    } catch (const GaNetDecodeError &e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message({{"hm", {2, 1, 40, 100}, maps.heat.data()},
                     {"start", {2, 2, 40, 100}, maps.start.data()}})
                .find("no output 'point'"),
            std::string::npos);
  EXPECT_NE(message({{"hm", {2, 1, 40, 100}, maps.heat.data()},
                     {"start", {2, 2, 40, 100}, maps.start.data()},
                     {"point", {2, 2, 20, 100}, maps.point.data()}})
                .find("same N, H and W"),
            std::string::npos);
  EXPECT_NE(message({{"hm", {2, 2, 40, 100}, maps.heat.data()},
                     {"start", {2, 2, 40, 100}, maps.start.data()},
                     {"point", {2, 2, 40, 100}, maps.point.data()}})
                .find("expected [N, 1, H, W]"),
            std::string::npos);
}

} // namespace
