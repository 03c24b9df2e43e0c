//===- GaNetLossTest.cpp - GaNet's targets and losses on head outputs -----===//

#include "hat/Engine/GaNetLoss.h"
#include "hat/Engine/LaneLosses.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cfloat>

using namespace hat::engine;
using hat::lane::Lane;

namespace {

GaNetLoss makeLoss() {
  L1LossOptions start, point;
  start.loss_name = "start_offset";
  point.loss_name = "point_offset";
  return GaNetLoss(
      {}, std::make_shared<LaneFastFocalLoss>(LaneFastFocalLossOptions{}),
      std::make_shared<L1Loss>(start), std::make_shared<L1Loss>(point));
}

// A 64x160 input at downscale 8 (an 8 x 20 map) with one vertical lane at
// x = 20.5: keypoints in column 2 of every row at (2.5625, r + 0.5).
LaneBatch oneLane() { return {{Lane{{20.5f, 0.f}, {20.5f, 63.f}}}}; }

TEST(GaNetLoss, OffsetLossesOnZeroOutputsAreTheMeanTargets) {
  GaNetLoss loss = makeLoss();
  GaNetHeadOutputs out;
  out.heatmap = at::zeros({1, 1, 8, 20}, at::kDouble).requires_grad_();
  out.startOffset = at::zeros({1, 2, 8, 20}, at::kDouble).requires_grad_();
  out.pointOffset = at::zeros({1, 2, 8, 20}, at::kDouble).requires_grad_();
  auto losses = loss(out, oneLane(), 64, 160);
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_EQ(losses[1].first, "start_offset");
  // Start offsets from cell (2, r) to the start point (2.5625, 7.5): x
  // 0.5625 in each of 8 cells, y 7.5 - r: (4.5 + 32) / 8.
  const double cells = 8 + 1e-4 + FLT_EPSILON;
  EXPECT_NEAR(losses[1].second.item<double>(), 36.5 / cells, 1e-9);
  // Point offsets: (0.5625, 0.5) in each cell.
  EXPECT_NEAR(losses[2].second.item<double>(), 8 * 1.0625 / cells, 1e-9);
  EXPECT_GT(losses[0].second.item<double>(), 0);
  (losses[0].second + losses[1].second + losses[2].second).backward();
  // Offsets get gradient only on keypoint cells (column 2).
  at::Tensor g = out.startOffset.grad();
  EXPECT_NE(g[0][0][3][2].item<double>(), 0);
  EXPECT_EQ(g[0][0][3][5].item<double>(), 0);
}

TEST(GaNetLoss, PerfectOutputsHaveZeroOffsetLoss) {
  GaNetLoss loss = makeLoss();
  GaNetTargetTensors t = ganetTargets(oneLane(), 64, 160, {});
  GaNetHeadOutputs out;
  out.heatmap = at::logit(t.heatmap.clamp(1e-4, 1 - 1e-4));
  out.startOffset = t.startOffset.clone();
  out.pointOffset = t.pointOffset.clone();
  auto losses = loss(out, oneLane(), 64, 160);
  EXPECT_NEAR(losses[1].second.item<double>(), 0, 1e-7);
  EXPECT_NEAR(losses[2].second.item<double>(), 0, 1e-7);
  // A confident, correct heatmap has a much lower focal loss than zeros.
  GaNetHeadOutputs zero = out;
  zero.heatmap = at::zeros_like(out.heatmap);
  EXPECT_LT(losses[0].second.item<double>(),
            0.01 * loss(zero, oneLane(), 64, 160)[0].second.item<double>());
}

TEST(GaNetLoss, RefusesMapsThatDoNotFitTheInput) {
  GaNetLoss loss = makeLoss();
  GaNetHeadOutputs out;
  out.heatmap = at::zeros({1, 1, 16, 40});
  out.startOffset = at::zeros({1, 2, 16, 40});
  out.pointOffset = at::zeros({1, 2, 16, 40});
  try {
    loss(out, oneLane(), 64, 160);
    ADD_FAILURE();
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("does not fit [1, 1, 8, 20]"),
              std::string::npos)
        << e.what();
  }
  L1LossOptions same;
  same.loss_name = "heatmap";
  EXPECT_THROW(
      GaNetLoss({},
                std::make_shared<LaneFastFocalLoss>(LaneFastFocalLossOptions{}),
                std::make_shared<L1Loss>(same),
                std::make_shared<L1Loss>(L1LossOptions{})),
      std::invalid_argument);
}

} // namespace
