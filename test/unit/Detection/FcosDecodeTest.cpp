//===- FcosDecodeTest.cpp - FCOS decoding on hand-made output maps --------===//

#include "hat/Detection/FcosDecode.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace hat::detection;

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Two levels (strides 8 and 16; 2x2 and 1x1 cells), 2 classes, batch 2.
// Every logit is -10 (nothing) except:
//   image 0, level 0, cell (y=0,x=1): class 1 logit 2, centerness 0,
//     ltrb (0.5, 0.25, 1, 2) strides from the point (12, 4)
//     -> box (8, 2, 20, 20), score sqrt(sigmoid(2) * 0.5)
//   image 0, level 0, cell (y=1,x=0): class 1 logit 1.5, centerness 0,
//     ltrb (0, 1.25, 2, 1) from (4, 12) -> box (4, 2, 20, 20): IoU .75 with
//     the box above and a lower score -> suppressed by NMS
//   image 0, level 1, cell (0,0): class 0 logit 1, class 1 logit 0,
//     centerness 10, ltrb (.5,.5,.5,.5) from (8, 8) -> box (0, 0, 16, 16)
//     for both classes (different classes never suppress each other)
//   image 1, level 1, cell (0,0): class 0 logit 3, centerness 0, ltrb
//     (1, 1, 1, 1) -> box (-8, -8, 24, 24)
struct Maps {
  static constexpr int N = 2, C = 2;
  std::vector<float> cls0 = std::vector<float>(N * C * 4, -10.f);
  std::vector<float> box0 = std::vector<float>(N * 4 * 4, 0.f);
  std::vector<float> ctr0 = std::vector<float>(N * 1 * 4, -10.f);
  std::vector<float> cls1 = std::vector<float>(N * C * 1, -10.f);
  std::vector<float> box1 = std::vector<float>(N * 4 * 1, 0.f);
  std::vector<float> ctr1 = std::vector<float>(N * 1 * 1, -10.f);

  Maps() {
    auto at0 = [](int n, int c, int channels, int y, int x) {
      return ((n * channels + c) * 2 + y) * 2 + x;
    };
    cls0[at0(0, 1, C, 0, 1)] = 2.f;
    ctr0[at0(0, 0, 1, 0, 1)] = 0.f;
    const float ltrb[4] = {0.5f, 0.25f, 1.f, 2.f};
    for (int i = 0; i < 4; ++i)
      box0[at0(0, i, 4, 0, 1)] = ltrb[i];
    cls0[at0(0, 1, C, 1, 0)] = 1.5f;
    ctr0[at0(0, 0, 1, 1, 0)] = 0.f;
    const float ltrb2[4] = {0.f, 1.25f, 2.f, 1.f};
    for (int i = 0; i < 4; ++i)
      box0[at0(0, i, 4, 1, 0)] = ltrb2[i];
    cls1[0 * C + 0] = 1.f;
    cls1[0 * C + 1] = 0.f;
    ctr1[0] = 10.f;
    for (int i = 0; i < 4; ++i)
      box1[0 * 4 + i] = 0.5f;
    cls1[1 * C + 0] = 3.f;
    ctr1[1] = 0.f;
    for (int i = 0; i < 4; ++i)
      box1[1 * 4 + i] = 1.f;
  }

  std::vector<FcosLevel> levels() const {
    return {{cls0.data(), box0.data(), ctr0.data(), 2, 2},
            {cls1.data(), box1.data(), ctr1.data(), 1, 1}};
  }
};

FcosDecodeOptions options() {
  FcosDecodeOptions o;
  o.strides = {8, 16};
  o.threshold = -2.944f;
  o.scoreThreshold = 0.05f;
  o.iouThreshold = 0.6f;
  return o;
}

void expectBox(const Box &box, float x1, float y1, float x2, float y2) {
  EXPECT_FLOAT_EQ(box.x1, x1);
  EXPECT_FLOAT_EQ(box.y1, y1);
  EXPECT_FLOAT_EQ(box.x2, x2);
  EXPECT_FLOAT_EQ(box.y2, y2);
}

} // namespace

TEST(FcosDecode, DecodesFiltersAndSuppresses) {
  Maps maps;
  std::vector<ImageDetections> out = decodeFcos(maps.levels(), 2, 2, options());
  ASSERT_EQ(out.size(), 2u);
  const ImageDetections &a = out[0];
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a.labels[0], 0);
  EXPECT_FLOAT_EQ(a.scores[0], std::sqrt(sigmoid(1.f) * sigmoid(10.f)));
  expectBox(a.boxes[0], 0, 0, 16, 16);
  EXPECT_EQ(a.labels[1], 1);
  EXPECT_FLOAT_EQ(a.scores[1], std::sqrt(0.5f * sigmoid(10.f)));
  expectBox(a.boxes[1], 0, 0, 16, 16);
  EXPECT_EQ(a.labels[2], 1);
  EXPECT_FLOAT_EQ(a.scores[2], std::sqrt(sigmoid(2.f) * 0.5f));
  expectBox(a.boxes[2], 8, 2, 20, 20);

  const ImageDetections &b = out[1];
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.labels[0], 0);
  expectBox(b.boxes[0], -8, -8, 24, 24); // no max_shape: no clamp
}

TEST(FcosDecode, MaxShapeClampsBoxes) {
  Maps maps;
  FcosDecodeOptions o = options();
  o.maxShape = FcosDecodeOptions::Shape{30.f, 18.f}; // (height, width)
  ImageDetections b = decodeFcosImage(maps.levels(), 2, 1, 2, o);
  ASSERT_EQ(b.size(), 1u);
  expectBox(b.boxes[0], 0, 0, 18, 24);
  ImageDetections a = decodeFcosImage(maps.levels(), 2, 0, 2, o);
  ASSERT_EQ(a.size(), 3u);
  expectBox(a.boxes[2], 8, 2, 18, 20);
}

TEST(FcosDecode, ThresholdsAndCaps) {
  Maps maps;
  FcosDecodeOptions o = options();
  // The score threshold is strict and applies to sigmoid(cls) alone: the
  // class-1 candidate at level 1 has exactly 0.5.
  o.scoreThreshold = 0.5f;
  EXPECT_EQ(decodeFcosImage(maps.levels(), 2, 0, 2, o).size(), 2u);
  // The logit filter drops whole cells whose best logit is <= threshold:
  // 1.5 is kept only while the NMS suppresses it; at threshold 1.2 the
  // level-1 cell (best logit 1) goes, leaving the two level-0 cells, which
  // still suppress each other.
  o = options();
  o.threshold = 1.2f;
  ImageDetections filtered = decodeFcosImage(maps.levels(), 2, 0, 2, o);
  ASSERT_EQ(filtered.size(), 1u);
  expectBox(filtered.boxes[0], 8, 2, 20, 20);
  // Without NMS (threshold 1) both level-0 boxes stay.
  o.iouThreshold = 1.f;
  EXPECT_EQ(decodeFcosImage(maps.levels(), 2, 0, 2, o).size(), 2u);
  // maxPerImage keeps the best scores.
  o = options();
  o.maxPerImage = 2;
  ImageDetections capped = decodeFcosImage(maps.levels(), 2, 0, 2, o);
  ASSERT_EQ(capped.size(), 2u);
  EXPECT_EQ(capped.labels[0], 0);
  // mmdetection-style score: the plain product.
  o = options();
  o.sqrtScore = false;
  ImageDetections product = decodeFcosImage(maps.levels(), 2, 0, 2, o);
  EXPECT_FLOAT_EQ(product.scores[0], sigmoid(1.f) * sigmoid(10.f));
}

TEST(FcosDecode, RefusesMismatchedInputs) {
  Maps maps;
  FcosDecodeOptions o = options();
  o.strides = {8};
  EXPECT_THROW(decodeFcos(maps.levels(), 2, 2, o), FcosDecodeError);
  EXPECT_THROW(decodeFcosImage(maps.levels(), 2, 2, 2, options()),
               FcosDecodeError);
  o = options();
  o.strides = {8, 0};
  EXPECT_THROW(decodeFcos(maps.levels(), 2, 2, o), FcosDecodeError);
}

TEST(FcosDecode, RescaleAndCocoConversion) {
  ImageDetections d;
  d.boxes = {{10, 20, 50, 80}, {0, 0, 600, 10}};
  d.scores = {0.9f, 0.4f};
  d.labels = {1, 0};
  // The val pipeline resized a 400x300 image by 0.5 (keep ratio).
  rescaleDetections(d, 0.5f, 0.5f, 400, 300);
  expectBox(d.boxes[0], 20, 40, 100, 160);
  expectBox(d.boxes[1], 0, 0, 400, 20);
  std::vector<DetectionBox> coco = toCocoDetections(d, 42, {7, 9});
  ASSERT_EQ(coco.size(), 2u);
  EXPECT_EQ(coco[0].imageId, 42);
  EXPECT_EQ(coco[0].categoryId, 9);
  EXPECT_DOUBLE_EQ(coco[0].x, 20);
  EXPECT_DOUBLE_EQ(coco[0].y, 40);
  EXPECT_DOUBLE_EQ(coco[0].width, 80);
  EXPECT_DOUBLE_EQ(coco[0].height, 120);
  EXPECT_FLOAT_EQ(static_cast<float>(coco[0].score), 0.9f);
  EXPECT_EQ(coco[1].categoryId, 7);
  d.labels[1] = 5;
  EXPECT_THROW(toCocoDetections(d, 42, {7, 9}), std::out_of_range);
}

TEST(FcosDecode, PixelUnitsSkipTheStride) {
  Maps maps;
  FcosDecodeOptions o = options();
  o.bboxUnits = FcosDecodeOptions::BboxUnits::Pixels;
  ImageDetections b = decodeFcosImage(maps.levels(), 2, 1, 2, o);
  ASSERT_EQ(b.size(), 1u);
  expectBox(b.boxes[0], 7, 7, 9, 9); // point (8, 8) +- 1 pixel
}

TEST(FcosDecode, OptionsFromThePostProcessAttribute) {
  int numClasses = 0;
  FcosDecodeOptions o = fcosDecodeOptionsFromJson(
      R"({"type": "FCOSMultiStrideFilter", "num_classes": 10,
          "strides": [8, 16, 32], "bbox_units": "stride",
          "threshold": -2.944, "max_shape": [256, 320],
          "iou_threshold": 0.5, "for_compile": true,
          "outputs": {"cls": ["cls_s8"]}})",
      &numClasses);
  EXPECT_EQ(numClasses, 10);
  EXPECT_EQ(o.strides, (std::vector<int>{8, 16, 32}));
  EXPECT_FLOAT_EQ(o.threshold, -2.944f);
  EXPECT_FLOAT_EQ(o.scoreThreshold, 0.05f); // HAT's decoder default
  EXPECT_FLOAT_EQ(o.iouThreshold, 0.5f);
  ASSERT_TRUE(o.maxShape.has_value());
  EXPECT_EQ(o.maxShape->height, 256.f);
  EXPECT_EQ(o.maxShape->width, 320.f);
  EXPECT_EQ(o.maxPerImage, 100);
  EXPECT_THROW(fcosDecodeOptionsFromJson(R"({"strides": []})"),
               FcosDecodeError);
  EXPECT_THROW(
      fcosDecodeOptionsFromJson(R"({"strides": [8], "bbox_units": "meters"})"),
      FcosDecodeError);
  EXPECT_THROW(
      fcosDecodeOptionsFromJson(R"({"type": "Other", "strides": [8]})"),
      FcosDecodeError);
  EXPECT_THROW(fcosDecodeOptionsFromJson("{"), FcosDecodeError);
}

TEST(FcosDecode, NonFiniteDistancesMakeNoBox) {
  Maps maps;
  maps.box1[1 * 4 + 2] = std::nanf("");
  EXPECT_EQ(decodeFcosImage(maps.levels(), 2, 1, 2, options()).size(), 0u);
  maps.box1[1 * 4 + 2] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(decodeFcosImage(maps.levels(), 2, 1, 2, options()).size(), 0u);
}
