//===- DetrLossesTest.cpp - Hungarian matcher and set criterion -----------===//
//
// Expected numbers come from an independent float64 reference of Deformable
// DETR's HungarianMatcher and SetCriterion (Debian's python3-torch, brute
// force over every assignment), written here.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/DetrLosses.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

using namespace hat::engine;

namespace {

// 2 images, 4 queries, 3 classes: logits sin(1 + 12n + 3q + c) * 2, boxes
// (0.2 + 0.15q, 0.3 + 0.1q + 0.05n, 0.1 + 0.05q, 0.2); image 0 has objects
// of class 2 and 0, image 1 one of class 1.
struct Case {
  at::Tensor logits = at::empty({2, 4, 3}, at::kDouble);
  at::Tensor boxes = at::empty({2, 4, 4}, at::kDouble);
  SetTargets targets;
  Case() {
    for (int n = 0; n < 2; ++n)
      for (int q = 0; q < 4; ++q) {
        for (int c = 0; c < 3; ++c)
          logits[n][q][c] = std::sin(1.0 + n * 12 + q * 3 + c) * 2;
        boxes[n][q][0] = 0.2 + 0.15 * q;
        boxes[n][q][1] = 0.3 + 0.1 * q + 0.05 * n;
        boxes[n][q][2] = 0.1 + 0.05 * q;
        boxes[n][q][3] = 0.2;
      }
    targets.labels = {at::tensor({2, 0}, at::kLong),
                      at::tensor({1}, at::kLong)};
    targets.boxes = {
        at::tensor({0.5, 0.5, 0.2, 0.3, 0.25, 0.3, 0.12, 0.2}, at::kDouble)
            .view({2, 4}),
        at::tensor({0.6, 0.55, 0.25, 0.2}, at::kDouble).view({1, 4})};
  }
};

TEST(HungarianMatcher, CostMatrixAndAssignmentMatchTheReference) {
  Case c;
  HungarianMatcher matcher({});
  at::Tensor cost = matcher.costMatrix(c.logits, c.boxes, c.targets, 0);
  const double expected[4][2] = {{4.350251522189431, -2.3749401266882084},
                                 {2.51137409811611, 2.1442402487975203},
                                 {-1.6774365055140636, 2.4286392190781103},
                                 {2.6183759152747763, 6.001980839781398}};
  for (int q = 0; q < 4; ++q)
    for (int o = 0; o < 2; ++o)
      EXPECT_NEAR(cost[q][o].item<double>(), expected[q][o], 1e-9);
  auto matches = matcher.match(c.logits, c.boxes, c.targets);
  ASSERT_EQ(matches.size(), 2u);
  // Image 0: query 0 -> object 1, query 2 -> object 0; image 1: 2 -> 0.
  EXPECT_TRUE(at::equal(matches[0].first, at::tensor({0, 2}, at::kLong)));
  EXPECT_TRUE(at::equal(matches[0].second, at::tensor({1, 0}, at::kLong)));
  EXPECT_TRUE(at::equal(matches[1].first, at::tensor({2}, at::kLong)));
  EXPECT_TRUE(at::equal(matches[1].second, at::tensor({0}, at::kLong)));
}

TEST(SetCriterion, LossesOfTheLastAndAuxiliaryLayers) {
  Case c;
  SetCriterion criterion(HungarianMatcher({}), {});
  at::Tensor logits = c.logits.clone().requires_grad_();
  at::Tensor boxes = c.boxes.clone().requires_grad_();
  auto losses =
      criterion({{logits * 0.5, boxes + 0.01}, {logits, boxes}}, c.targets);
  ASSERT_EQ(losses.size(), 6u);
  const std::pair<const char *, double> expected[] = {
      {"loss_ce", 4.721938951712493},      {"loss_bbox", 0.5333333333333332},
      {"loss_giou", 1.0491452991452992},   {"loss_ce_0", 2.536561365853119},
      {"loss_bbox_0", 0.5666666666666665}, {"loss_giou_0", 1.0453475096887723}};
  at::Tensor total = at::zeros({}, at::kDouble);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(losses[i].first, expected[i].first);
    EXPECT_NEAR(losses[i].second.item<double>(), expected[i].second, 1e-9)
        << losses[i].first;
    total = total + losses[i].second;
  }
  total.backward();
  EXPECT_TRUE(logits.grad().defined());
  EXPECT_GT(boxes.grad().abs().sum().item<double>(), 0);
}

TEST(SetCriterion, ImagesWithoutObjects) {
  Case c;
  c.targets.labels = {at::empty({0}, at::kLong), at::empty({0}, at::kLong)};
  c.targets.boxes = {at::empty({0, 4}, at::kDouble),
                     at::empty({0, 4}, at::kDouble)};
  SetCriterion criterion(HungarianMatcher({}), {});
  at::Tensor boxes = c.boxes.clone().requires_grad_();
  auto losses = criterion({{c.logits, boxes}}, c.targets);
  ASSERT_EQ(losses.size(), 3u);
  // Every query is background: the focal loss over all of them (/ 1).
  EXPECT_GT(losses[0].second.item<double>(), 0);
  EXPECT_EQ(losses[1].second.item<double>(), 0);
  (losses[1].second + losses[2].second).backward();
  EXPECT_TRUE(boxes.grad().defined());
}

TEST(HungarianMatcher, RefusesBadShapesAndLabels) {
  Case c;
  HungarianMatcher matcher({});
  EXPECT_THROW(matcher.match(c.logits[0], c.boxes, c.targets),
               std::invalid_argument);
  c.targets.labels[1] = at::tensor({3}, at::kLong);
  EXPECT_THROW(matcher.match(c.logits, c.boxes, c.targets),
               std::invalid_argument);
  HungarianMatcherOptions zero;
  zero.costClass = zero.costBbox = zero.costGiou = 0;
  EXPECT_THROW(HungarianMatcher{zero}, std::invalid_argument);
}

} // namespace

namespace {

TEST(SetTargets, NormalisedCentreBoxesWithoutIgnoredObjects) {
  // A 100 (high) x 200 (wide) input; the second object is a crowd region.
  const SetTargets t = setTargetsFromBoxes(
      {at::tensor({20.f, 10.f, 60.f, 50.f, 0.f, 0.f, 10.f, 10.f}).view({2, 4}),
       at::zeros({0, 4})},
      {at::tensor({3, -1}, at::kLong), at::zeros({0}, at::kLong)}, 100, 200);
  ASSERT_EQ(t.boxes.size(), 2u);
  ASSERT_EQ(t.boxes[0].size(0), 1);
  EXPECT_TRUE(at::allclose(t.boxes[0],
                           at::tensor({0.2f, 0.3f, 0.2f, 0.4f}).view({1, 4})));
  EXPECT_EQ(t.labels[0].item<int64_t>(), 3);
  EXPECT_EQ(t.boxes[1].size(0), 0);
  EXPECT_THROW(setTargetsFromBoxes({at::zeros({2, 4})},
                                   {at::zeros({3}, at::kLong)}, 8, 8),
               std::invalid_argument);
}

} // namespace
