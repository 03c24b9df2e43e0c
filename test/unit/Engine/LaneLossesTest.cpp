//===- LaneLossesTest.cpp - GaNet's losses on hand-computed values --------===//

#include "hat/Engine/LaneLosses.h"

#include "hat/Config/Config.h"

#include <ATen/ATen.h>
#include <cfloat>
#include <gtest/gtest.h>

using namespace hat::engine;

namespace {

TEST(LaneFastFocalLoss, MatchesTheHandComputedCornerNetLoss) {
  // Cell 0: a keypoint (target 1), logit 0 -> p = 0.5:
  //   -(1 - 0.5)^2 log(0.5) = 0.25 ln 2 = 0.1732868
  // Cell 1: near a keypoint (target 0.5), logit 2 -> p = sigmoid(2):
  //   -(1 - 0.5)^4 p^2 log(1 - p) = 0.1031299
  // One positive: the sum, 0.2764167.
  LaneFastFocalLoss loss({});
  LossInput in;
  in.pred = at::tensor({0.0, 2.0}, at::kDouble).requires_grad_();
  in.target = at::tensor({1.0, 0.5}, at::kDouble);
  at::Tensor value = loss.compute(in);
  EXPECT_NEAR(value.item<double>(), 0.2764166813538243, 1e-12);
  value.backward();
  EXPECT_TRUE(in.pred.grad().defined());
  // The positive cell's gradient pushes its logit up.
  EXPECT_LT(in.pred.grad()[0].item<double>(), 0);
}

TEST(LaneFastFocalLoss, WithoutPositivesIsTheNegativeSum) {
  LaneFastFocalLossOptions options;
  options.loss_weight = 2.0;
  LaneFastFocalLoss loss(options);
  LossInput in;
  in.pred = at::tensor({2.0}, at::kDouble);
  in.target = at::tensor({0.5}, at::kDouble);
  EXPECT_NEAR(loss.compute(in).item<double>(), 2 * 0.10312988621383798, 1e-12);
}

TEST(LaneFastFocalLoss, RefusesMismatchedShapesAndBadOptions) {
  LaneFastFocalLoss loss({});
  LossInput in;
  in.pred = at::zeros({2, 3});
  in.target = at::zeros({3, 2});
  EXPECT_THROW(loss.compute(in), std::invalid_argument);
  LaneFastFocalLossOptions bad;
  bad.eps = 0;
  EXPECT_THROW(LaneFastFocalLoss{bad}, std::invalid_argument);
}

TEST(L1Loss, MaskedMeanOverTheMaskedCells) {
  // |1-0| + |2-2| * 0 + |3-5| = 3 over avg_factor 2 (+ FLT_EPSILON, as
  // mmdet's weight_reduce_loss).
  L1LossOptions options;
  options.loss_weight = 0.5;
  L1Loss loss(options);
  LossInput in;
  in.pred = at::tensor({1.0, 2.0, 3.0}, at::kDouble);
  in.target = at::tensor({0.0, 2.0, 5.0}, at::kDouble);
  in.weight = at::tensor({1.0, 0.0, 1.0}, at::kDouble);
  in.avgFactor = 2.0;
  EXPECT_NEAR(loss.compute(in).item<double>(), 0.5 * 3.0 / (2.0 + FLT_EPSILON),
              1e-12);
}

TEST(LaneLosses, BuildFromConfigWithTheirKwargs) {
  auto module = hat::config::loadConfigSource(
      "a = dict(type='LaneFastFocalLoss', loss_weight=1.0)\n"
      "b = dict(type='L1Loss', loss_weight=0.5, loss_name='offset')\n"
      "c = dict(type='L1Loss', gamma=2)\n",
      "lane.py");
  ASSERT_TRUE(bool(module)) << module.error().str();
  auto a = buildDetectionLoss(*(*module)->get("a"), "loss");
  ASSERT_TRUE(bool(a)) << a.error().str();
  EXPECT_STREQ((*a)->typeName(), "LaneFastFocalLoss");
  auto b = buildDetectionLoss(*(*module)->get("b"), "loss");
  ASSERT_TRUE(bool(b)) << b.error().str();
  EXPECT_EQ((*b)->name(), "offset");
  EXPECT_DOUBLE_EQ((*b)->lossWeight(), 0.5);
  auto c = buildDetectionLoss(*(*module)->get("c"), "loss");
  ASSERT_FALSE(bool(c));
  EXPECT_NE(c.error().str().find("gamma"), std::string::npos)
      << c.error().str();
}

} // namespace
