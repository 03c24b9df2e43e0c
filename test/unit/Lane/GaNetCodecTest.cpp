//===- GaNetCodecTest.cpp - GaNet targets and decoder on hand-made lanes --===//

#include "hat/Lane/GaNetCodec.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace hat::lane;

namespace {

// CuLane's network input 320x800 at downscale 8: a 40 x 100 map.
// Lane A: vertical at x = 100.5 over the whole height.
// Lane B: from (700, 319) up to (500, 0): x = 700 - 200 * (319 - y) / 319.
std::vector<Lane> twoLanes() {
  return {{{100.5f, 0.f}, {100.5f, 319.f}}, {{700.f, 319.f}, {500.f, 0.f}}};
}

TEST(GaNetCodec, TargetsHaveOneKeypointPerRow) {
  GaNetTargets t = encodeGaNet(twoLanes(), 320, 800, {});
  EXPECT_EQ(t.height, 40);
  EXPECT_EQ(t.width, 100);
  ASSERT_EQ(t.keypoints.size(), 2u);
  EXPECT_EQ(t.keypoints[0].size(), 40u);
  const size_t plane = 40 * 100;
  // Lane A, row 10: y = 84 px -> (12.5625, 10.5) in cells, cell (12, 10).
  const size_t at = 10 * 100 + 12;
  EXPECT_FLOAT_EQ(t.heatmap[at], 1.f);
  EXPECT_FLOAT_EQ(t.offsetMask[at], 1.f);
  EXPECT_FLOAT_EQ(t.pointOffset[at], 0.5625f);
  EXPECT_FLOAT_EQ(t.pointOffset[plane + at], 0.5f);
  // Its start point is the bottom keypoint (row 39): (12.5625, 39.5).
  EXPECT_FLOAT_EQ(t.startOffset[at], 0.5625f);
  EXPECT_FLOAT_EQ(t.startOffset[plane + at], 29.5f);
  // Next to a keypoint the Gaussian (radius 2, sigma 5/6) is exp(-0.72).
  EXPECT_NEAR(t.heatmap[at + 1], std::exp(-1.0 / (2 * 25.0 / 36)), 1e-6);
  EXPECT_FLOAT_EQ(t.offsetMask[at + 1], 0.f);
}

TEST(GaNetCodec, DecodeOfTargetsReturnsTheKeypoints) {
  GaNetTargets t = encodeGaNet(twoLanes(), 320, 800, {});
  GaNetMaps maps{t.heatmap.data(), t.pointOffset.data(), t.startOffset.data(),
                 t.height, t.width};
  std::vector<Lane> lanes = decodeGaNet(maps, {});
  ASSERT_EQ(lanes.size(), 2u);
  for (int l = 0; l < 2; ++l) {
    ASSERT_EQ(lanes[l].size(), 40u) << "lane " << l;
    // Sorted top first; keypoints were stored bottom first.
    for (size_t i = 0; i < 40; ++i) {
      const LanePoint &kp = t.keypoints[l][39 - i];
      EXPECT_NEAR(lanes[l][i].x, kp.x * 8, 1e-3);
      EXPECT_NEAR(lanes[l][i].y, kp.y * 8, 1e-3);
    }
  }
  // Left to right: lane A first.
  EXPECT_NEAR(lanes[0][0].x, 100.5f, 1e-3);
  // Lane B at y = 4 (row 0): x = 700 - 200 * 315 / 319.
  EXPECT_NEAR(lanes[1][0].x, 700.f - 200.f * 315.f / 319.f, 1e-3);
}

TEST(GaNetCodec, LogitHeatmapsDecodeTheSame) {
  GaNetTargets t = encodeGaNet(twoLanes(), 320, 800, {});
  std::vector<float> logits(t.heatmap.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float p = std::clamp(t.heatmap[i], 1e-4f, 1.f - 1e-4f);
    logits[i] = std::log(p / (1.f - p));
  }
  GaNetDecodeOptions options;
  options.heatmapIsLogit = true;
  GaNetMaps maps{logits.data(), t.pointOffset.data(), t.startOffset.data(),
                 t.height, t.width};
  std::vector<Lane> lanes = decodeGaNet(maps, options);
  ASSERT_EQ(lanes.size(), 2u);
  EXPECT_EQ(lanes[1].size(), 40u);
}

TEST(GaNetCodec, ShortAndOutsideLanesHaveNoTargets) {
  std::vector<Lane> lanes = {
      {{10.f, 10.f}},                   // one point
      {{-50.f, 0.f}, {-40.f, 319.f}},   // left of the image
      {{300.f, 200.f}, {301.f, 203.f}}, // within one row band: 1 keypoint
  };
  GaNetTargets t = encodeGaNet(lanes, 320, 800, {});
  EXPECT_TRUE(t.keypoints.empty());
  for (float v : t.heatmap)
    ASSERT_EQ(v, 0.f);
  EXPECT_THROW(encodeGaNet(lanes, 4, 800, {}), std::invalid_argument);
}

TEST(GaNetCodec, DecoderDropsWeakKeypointsAndShortLanes) {
  // Lane A as before; lane C spans only rows 37-39 (3 keypoints).
  std::vector<Lane> lanes = {twoLanes()[0], {{600.f, 295.f}, {610.f, 319.f}}};
  GaNetTargets t = encodeGaNet(lanes, 320, 800, {});
  ASSERT_EQ(t.keypoints.size(), 2u);
  EXPECT_EQ(t.keypoints[1].size(), 3u);
  GaNetMaps maps{t.heatmap.data(), t.pointOffset.data(), t.startOffset.data(),
                 t.height, t.width};
  GaNetDecodeOptions options;
  EXPECT_EQ(decodeGaNet(maps, options).size(), 2u);
  options.minPoints = 5;
  std::vector<Lane> decoded = decodeGaNet(maps, options);
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_NEAR(decoded[0][0].x, 100.5f, 1e-3);
  // Nothing passes a threshold above every keypoint's heat.
  options.kptThr = 1.0f;
  EXPECT_TRUE(decodeGaNet(maps, options).empty());
}

TEST(GaNetCodec, LanesReturnToTheStoredImage) {
  // CuLane: crop the top 270 rows of 590x1640, resize to 320x800.
  std::vector<Lane> lanes = {{{400.f, 160.f}, {800.f, 0.f}}};
  lanesToOriginalImage(lanes, 800.f / 1640.f, 320.f / 320.f, 0.f, 270.f);
  EXPECT_NEAR(lanes[0][0].x, 820.f, 1e-3);
  EXPECT_NEAR(lanes[0][0].y, 430.f, 1e-3);
  EXPECT_NEAR(lanes[0][1].x, 1640.f, 1e-3);
  EXPECT_THROW(lanesToOriginalImage(lanes, 0.f, 1.f), std::invalid_argument);
}

} // namespace
