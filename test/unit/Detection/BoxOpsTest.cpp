//===- BoxOpsTest.cpp - IoU (COCO and corner boxes) and NMS ---------------===//

#include "hat/Detection/BoxOps.h"

#include <gtest/gtest.h>

#include <random>

using namespace hat::detection;

TEST(BoxOps, CocoIou) {
  const double gt[4] = {0, 0, 10, 10};
  const double half[4] = {0, 0, 10, 5};
  EXPECT_DOUBLE_EQ(cocoBoxIou(half, gt, false), 0.5); // 50 / 100
  // Crowd: intersection over the detection's own area.
  EXPECT_DOUBLE_EQ(cocoBoxIou(half, gt, true), 1.0);
  const double big[4] = {-5, -5, 20, 20};
  EXPECT_DOUBLE_EQ(cocoBoxIou(big, gt, false), 0.25); // 100 / 400
  EXPECT_DOUBLE_EQ(cocoBoxIou(big, gt, true), 0.25);  // 100 / 400 (dt area)
  const double shifted[4] = {5, 5, 10, 10};
  EXPECT_DOUBLE_EQ(cocoBoxIou(shifted, gt, false), 25.0 / 175.0);
  EXPECT_DOUBLE_EQ(cocoBoxIou(shifted, gt, true), 25.0 / 100.0);
  // Touching edges, degenerate and inverted boxes overlap nothing.
  const double touching[4] = {10, 0, 5, 5};
  const double flat[4] = {0, 0, 10, 0};
  const double inverted[4] = {8, 8, -4, -4};
  EXPECT_EQ(cocoBoxIou(touching, gt, false), 0.0);
  EXPECT_EQ(cocoBoxIou(flat, gt, false), 0.0);
  EXPECT_EQ(cocoBoxIou(inverted, gt, false), 0.0);
  EXPECT_EQ(cocoBoxIou(gt, flat, false), 0.0);
}

TEST(BoxOps, CornerIou) {
  EXPECT_FLOAT_EQ(boxIou({0, 0, 10, 10}, {5, 0, 15, 10}), 50.f / 150.f);
  EXPECT_EQ(boxIou({0, 0, 10, 10}, {10, 0, 20, 10}), 0.f);
  EXPECT_EQ(boxIou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.f);
  EXPECT_FLOAT_EQ(boxIou({0, 0, 4, 4}, {0, 0, 4, 4}), 1.f);
}

TEST(BoxOps, NmsKeepsBestAndSuppressesAboveThreshold) {
  // b overlaps a with IoU 0.5 exactly, c overlaps a with 80/100 = .8 and b
  // with 50/80 = .625.
  std::vector<Box> boxes = {
      {0, 0, 10, 10}, {0, 0, 10, 5}, {0, 0, 10, 8}, {50, 50, 60, 60}};
  std::vector<float> scores = {0.9f, 0.8f, 0.85f, 0.1f};
  // IoU > 0.5 suppresses: c goes, b (exactly 0.5) stays.
  EXPECT_EQ(nms(boxes, scores, 0.5f), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(nms(boxes, scores, 0.4f), (std::vector<int>{0, 3}));
  EXPECT_EQ(nms(boxes, scores, 0.7f), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(nms(boxes, scores, 0.85f), (std::vector<int>{0, 2, 1, 3}));
  // Equal scores: the lower index first.
  EXPECT_EQ(nms({{0, 0, 1, 1}, {0, 0, 1, 1}}, {0.5f, 0.5f}, 0.5f),
            (std::vector<int>{0}));
  EXPECT_TRUE(nms({}, {}, 0.5f).empty());
}

TEST(BoxOps, BatchedNmsOnlyWithinALabel) {
  std::vector<Box> boxes = {{0, 0, 10, 10}, {0, 0, 10, 10}, {1, 0, 10, 10}};
  std::vector<float> scores = {0.9f, 0.8f, 0.7f};
  std::vector<int> labels = {0, 1, 0};
  EXPECT_EQ(batchedNms(boxes, scores, labels, 0.5f), (std::vector<int>{0, 1}));
}

TEST(BoxOps, BatchedNmsMatchesTheOffsetFormulation) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> coord(0, 100), size(5, 40), score(0, 1);
  std::uniform_int_distribution<int> label(0, 3);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<Box> boxes;
    std::vector<float> scores;
    std::vector<int> labels;
    for (int i = 0; i < 60; ++i) {
      float x = coord(rng), y = coord(rng);
      boxes.push_back({x, y, x + size(rng), y + size(rng)});
      scores.push_back(score(rng));
      labels.push_back(label(rng));
    }
    EXPECT_EQ(batchedNms(boxes, scores, labels, 0.5f),
              batchedNmsByOffset(boxes, scores, labels, 0.5f));
  }
}
