//===- PostProcessTest.cpp - Post-processing by output name, COCO runs ----===//

#include "hat/Detection/PostProcess.h"
#include "hat/Detection/CocoAccumulator.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace hat::detection;

namespace {

const char *kTwoLevels = R"({"type": "FCOSMultiStrideFilter",
  "num_classes": 2, "strides": [8, 16], "score_threshold": 0.05,
  "iou_threshold": 0.6, "bbox_units": "stride",
  "outputs": {"cls": ["cls_s8", "cls_s16"], "bbox": ["bbox_s8", "bbox_s16"],
              "centerness": ["ctr_s8", "ctr_s16"]}})";

TEST(PostProcess, ParsesOutputNamesPerStride) {
  DetectionPostProcessor pp = DetectionPostProcessor::fromJson(kTwoLevels);
  EXPECT_EQ(pp.numClasses(), 2);
  EXPECT_EQ(pp.clsOutputs(), (std::vector<std::string>{"cls_s8", "cls_s16"}));
  EXPECT_EQ(pp.centernessOutputs()[1], "ctr_s16");
  EXPECT_EQ(pp.options().strides, (std::vector<int>{8, 16}));
}

TEST(PostProcess, RefusesMalformedDescriptions) {
  auto refused = [](const std::string &json, const std::string &what) {
    try {
      DetectionPostProcessor::fromJson(json);
      ADD_FAILURE() << "accepted " << json;
    } catch (const FcosDecodeError &e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos)
          << e.what();
    }
  };
  refused("[1]", "not a JSON object");
  refused(R"({"type": "YoloFilter"})", "unsupported \"type\"");
  refused(R"({"type": "FCOSMultiStrideFilter", "strides": [8],
              "outputs": {"cls": ["a"], "bbox": ["b"], "centerness": ["c"]}})",
          "num_classes");
  refused(R"({"type": "FCOSMultiStrideFilter", "strides": [8, 16],
              "num_classes": 2,
              "outputs": {"cls": ["a"], "bbox": ["b", "d"],
                          "centerness": ["c", "e"]}})",
          "names 1 outputs for 2 strides");
  refused(R"({"type": "FCOSMultiStrideFilter", "strides": [8],
              "num_classes": 2})",
          "\"outputs\"");
}

// One image; level s8 is 2x2 and s16 1x1. One strong cell: s8 (y=0, x=1),
// class 1 logit 2, centerness logit 0, ltrb (0.5, 0.25, 1, 2) strides from
// the point (12, 4) -> box (8, 2, 20, 20), score sqrt(sigmoid(2) * 0.5).
struct Outputs {
  std::vector<float> cls8 = std::vector<float>(2 * 4, -10.f);
  std::vector<float> box8 = std::vector<float>(4 * 4, 0.f);
  std::vector<float> ctr8 = std::vector<float>(4, -10.f);
  std::vector<float> cls16 = std::vector<float>(2, -10.f);
  std::vector<float> box16 = std::vector<float>(4, 0.f);
  std::vector<float> ctr16 = std::vector<float>(1, -10.f);
  Outputs() {
    const int cell = 0 * 2 + 1;
    cls8[1 * 4 + cell] = 2.f;
    ctr8[cell] = 0.f;
    const float ltrb[4] = {0.5f, 0.25f, 1.f, 2.f};
    for (int c = 0; c < 4; ++c)
      box8[c * 4 + cell] = ltrb[c];
  }
  // In a scrambled order: the decoder finds outputs by name.
  std::vector<NamedOutput> named() const {
    return {{"ctr_s16", {1, 1, 1, 1}, ctr16.data()},
            {"bbox_s8", {1, 4, 2, 2}, box8.data()},
            {"cls_s16", {1, 2, 1, 1}, cls16.data()},
            {"cls_s8", {1, 2, 2, 2}, cls8.data()},
            {"bbox_s16", {1, 4, 1, 1}, box16.data()},
            {"ctr_s8", {1, 1, 2, 2}, ctr8.data()}};
  }
};

TEST(PostProcess, DecodesOutputsFoundByName) {
  DetectionPostProcessor pp = DetectionPostProcessor::fromJson(kTwoLevels);
  Outputs o;
  std::vector<ImageDetections> dets = pp.decode(o.named());
  ASSERT_EQ(dets.size(), 1u);
  ASSERT_EQ(dets[0].size(), 1u);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].x1, 8.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].y1, 2.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].x2, 20.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].y2, 20.f);
  EXPECT_EQ(dets[0].labels[0], 1);
  const float p = 1.f / (1.f + std::exp(-2.f));
  EXPECT_NEAR(dets[0].scores[0], std::sqrt(p * 0.5f), 1e-6);
}

TEST(PostProcess, NamesAMissingOrMisshapenOutput) {
  DetectionPostProcessor pp = DetectionPostProcessor::fromJson(kTwoLevels);
  Outputs o;
  std::vector<NamedOutput> missing = o.named();
  missing.erase(missing.begin() + 1); // bbox_s8
  EXPECT_THROW(
      {
        try {
          pp.decode(missing);
        } catch (const FcosDecodeError &e) {
          EXPECT_NE(std::string(e.what()).find("no output 'bbox_s8'"),
                    std::string::npos);
          throw;
        }
      },
      FcosDecodeError);
  std::vector<NamedOutput> wrong = o.named();
  wrong[1].shape = {1, 3, 2, 2};
  EXPECT_THROW(pp.decode(wrong), FcosDecodeError);
}

TEST(PostProcess, ReturnsBoxesToTheStoredImage) {
  // A 100x50 image resized by 2 (to 200x100) and padded to 256x256: a box
  // reaching into the padding is cut at the image's edge first.
  ImageDetections d;
  d.boxes = {{20, 10, 60, 30}, {180, 80, 240, 120}};
  d.scores = {0.9f, 0.8f};
  d.labels = {0, 1};
  ImageMeta meta;
  meta.scaleX = meta.scaleY = 2.f;
  meta.validRegion = {0, 0, 200, 100};
  meta.originalWidth = 100;
  meta.originalHeight = 50;
  DetectionPostProcessor::toOriginalImage(d, meta);
  EXPECT_FLOAT_EQ(d.boxes[0].x1, 10.f);
  EXPECT_FLOAT_EQ(d.boxes[0].y2, 15.f);
  EXPECT_FLOAT_EQ(d.boxes[1].x1, 90.f);
  EXPECT_FLOAT_EQ(d.boxes[1].x2, 100.f);
  EXPECT_FLOAT_EQ(d.boxes[1].y2, 50.f);
}

CocoGroundTruth twoImages() {
  CocoGroundTruth gt;
  gt.images = {{1, 100, 100, "a.jpg"}, {2, 100, 100, "b.jpg"}};
  gt.categories = {{7, "shirt"}, {3, "shoe"}}; // label 0 = id 3, 1 = id 7
  GroundTruthBox shoe;
  shoe.id = 1;
  shoe.imageId = 1;
  shoe.categoryId = 3;
  shoe.x = 10;
  shoe.y = 10;
  shoe.width = 20;
  shoe.height = 20;
  shoe.area = 400;
  GroundTruthBox shirt = shoe;
  shirt.id = 2;
  shirt.imageId = 2;
  shirt.categoryId = 7;
  gt.annotations = {shoe, shirt};
  return gt;
}

ImageDetections oneBox(int label) {
  ImageDetections d;
  d.boxes = {{10, 10, 30, 30}};
  d.scores = {0.9f};
  d.labels = {label};
  return d;
}

TEST(CocoAccumulator, LabelsAreCategoriesInIdOrder) {
  CocoAccumulator acc(twoImages(), "gt");
  EXPECT_EQ(acc.categoryIdOfLabel(), (std::vector<int64_t>{3, 7}));
  EXPECT_TRUE(acc.add(1, oneBox(0)));
  ASSERT_EQ(acc.results().size(), 1u);
  EXPECT_EQ(acc.results()[0].categoryId, 3);
  EXPECT_DOUBLE_EQ(acc.results()[0].width, 20.0);
}

TEST(CocoAccumulator, ScoresOnlyTheImagesItSaw) {
  CocoAccumulator acc(twoImages(), "gt");
  acc.add(1, oneBox(0));
  // Image 2 was never run: its object does not count as missed.
  auto metrics = acc.metrics();
  ASSERT_EQ(metrics.size(), 12u);
  EXPECT_EQ(metrics[0].first, "mAP");
  // Category 3: one perfect detection (AP 1); category 7 has no object in
  // image 1 (AP -1, left out of the mean).
  EXPECT_NEAR(metrics[0].second, 1.0, 1e-12);
  acc.add(2, ImageDetections{});
  EXPECT_NEAR(acc.metrics()[0].second, 0.5, 1e-12);
}

TEST(CocoAccumulator, RepeatedImagesKeepTheirFirstDetections) {
  CocoAccumulator acc(twoImages(), "gt");
  EXPECT_TRUE(acc.add(1, oneBox(0)));
  EXPECT_FALSE(acc.add(1, oneBox(1)));
  EXPECT_EQ(acc.results().size(), 1u);
  // Another rank's share: image 1 again (a padded shard) and image 2.
  DetectionBox fromRank1;
  fromRank1.imageId = 1;
  fromRank1.categoryId = 7;
  DetectionBox image2 = fromRank1;
  image2.imageId = 2;
  image2.x = image2.y = 10;
  image2.width = image2.height = 20;
  image2.score = 0.5;
  acc.addResults({1, 2}, {fromRank1, image2});
  ASSERT_EQ(acc.results().size(), 2u);
  EXPECT_EQ(acc.results()[1].imageId, 2);
  EXPECT_EQ(acc.imageIds(), (std::vector<int64_t>{1, 2}));
  EXPECT_NEAR(acc.metrics()[0].second, 1.0, 1e-12);
}

TEST(CocoAccumulator, RefusesUnknownImagesLabelsAndNaNScores) {
  CocoAccumulator acc(twoImages(), "instances.json");
  try {
    acc.add(5, oneBox(0));
    ADD_FAILURE();
  } catch (const CocoEvalError &e) {
    EXPECT_NE(std::string(e.what()).find("image id 5 is not in instances.json"),
              std::string::npos);
  }
  EXPECT_THROW(acc.add(1, oneBox(2)), CocoEvalError);
  ImageDetections nan = oneBox(0);
  nan.scores[0] = std::nanf("");
  EXPECT_THROW(acc.add(1, nan), CocoEvalError);
  EXPECT_TRUE(acc.empty());
  EXPECT_TRUE(acc.metrics().empty());
}

} // namespace

namespace {

const char *kDetr = R"({"type": "DeformableDETRPostProcess", "num_classes": 2,
  "num_select": 3, "input_size": [100, 200],
  "outputs": {"logits": "pred_logits", "boxes": "pred_boxes"}})";

TEST(DetrPostProcess, KeepsTheTopScoresOverQueriesAndClasses) {
  DetectionPostProcessor pp = DetectionPostProcessor::fromJson(kDetr);
  EXPECT_EQ(pp.kind(), DetectionPostProcessor::Kind::Detr);
  EXPECT_EQ(pp.numClasses(), 2);
  // 1 image, 3 queries x 2 classes. The two logits of 1.0 tie: the lower
  // flat index (query 0, class 1 = 1) ranks before (query 2, class 0 = 4).
  const float logits[] = {-3.f, 1.f, 2.f, -1.f, 1.f, -5.f};
  const float boxes[] = {0.5f,  0.5f,  0.2f, 0.4f,  // query 0
                         0.25f, 0.75f, 0.5f, 0.5f,  // query 1
                         0.1f,  0.1f,  0.2f, 0.2f}; // query 2
  auto dets = pp.decode({{"pred_boxes", {1, 3, 4}, boxes},
                         {"aux_logits_0", {1, 3, 2}, boxes},
                         {"pred_logits", {1, 3, 2}, logits}});
  ASSERT_EQ(dets.size(), 1u);
  ASSERT_EQ(dets[0].size(), 3u);
  EXPECT_EQ(dets[0].labels, (std::vector<int>{0, 1, 0}));
  EXPECT_FLOAT_EQ(dets[0].scores[0], 1.f / (1.f + std::exp(-2.f)));
  EXPECT_FLOAT_EQ(dets[0].scores[1], 1.f / (1.f + std::exp(-1.f)));
  EXPECT_FLOAT_EQ(dets[0].scores[2], dets[0].scores[1]);
  // Query 1: (0.25, 0.75, 0.5, 0.5) of a 200 x 100 input.
  EXPECT_FLOAT_EQ(dets[0].boxes[0].x1, 0.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].y1, 50.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].x2, 100.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[0].y2, 100.f);
  // Query 0 then query 2.
  EXPECT_FLOAT_EQ(dets[0].boxes[1].x1, 80.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[1].y2, 70.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[2].x2, 40.f);
  EXPECT_FLOAT_EQ(dets[0].boxes[2].y1, 0.f);
}

TEST(DetrPostProcess, KeepsEveryCandidateWhenFewerThanNumSelectAndNaNLast) {
  DetrDecodeOptions options;
  options.numSelect = 100;
  options.inputHeight = options.inputWidth = 10;
  const float logits[] = {std::nanf(""), 0.f, -1.f, 3.f};
  const float boxes[] = {0.5f, 0.5f, 1.f, 1.f, 0.5f, 0.5f, 0.5f, 0.5f};
  // 2 images of 1 query x 2 classes.
  auto dets = decodeDetr(logits, boxes, 2, 1, 2, options);
  ASSERT_EQ(dets.size(), 2u);
  ASSERT_EQ(dets[0].size(), 2u);
  EXPECT_EQ(dets[0].labels, (std::vector<int>{1, 0}));
  EXPECT_TRUE(std::isnan(dets[0].scores[1]));
  EXPECT_EQ(dets[1].labels, (std::vector<int>{1, 0}));
  EXPECT_FLOAT_EQ(dets[1].boxes[0].x1, 2.5f);
  EXPECT_FLOAT_EQ(dets[1].boxes[0].x2, 7.5f);
}

TEST(DetrPostProcess, RefusesMalformedDescriptionsAndShapes) {
  auto refused = [](const std::string &json, const std::string &what) {
    try {
      DetectionPostProcessor::fromJson(json);
      ADD_FAILURE() << "accepted " << json;
    } catch (const FcosDecodeError &e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos)
          << e.what();
    }
  };
  refused(R"({"type": "DeformableDETRPostProcess", "num_classes": 2,
    "outputs": {"logits": "l", "boxes": "b"}})",
          "\"input_size\" must be the network input's [height, width]");
  refused(R"({"type": "DeformableDETRPostProcess", "num_classes": 2,
    "input_size": [8, 8], "num_select": 0,
    "outputs": {"logits": "l", "boxes": "b"}})",
          "\"num_select\" must be an integer");
  refused(R"({"type": "DeformableDETRPostProcess", "input_size": [8, 8],
    "outputs": {"logits": "l", "boxes": "b"}})",
          "\"num_classes\" must be given");
  refused(R"({"type": "DeformableDETRPostProcess", "num_classes": 2,
    "input_size": [8, 8], "outputs": {"logits": "l"}})",
          "naming the \"boxes\" output");

  DetectionPostProcessor pp = DetectionPostProcessor::fromJson(kDetr);
  const float data[24] = {};
  auto decodeError = [&](const std::vector<NamedOutput> &outputs) {
    try {
      pp.decode(outputs);
    } catch (const FcosDecodeError &e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(decodeError({{"pred_logits", {1, 3, 2}, data}})
                .find("no output 'pred_boxes'"),
            std::string::npos);
  EXPECT_NE(decodeError({{"pred_logits", {1, 3, 3}, data},
                         {"pred_boxes", {1, 3, 4}, data}})
                .find("'pred_logits' has shape [1, 3, 3], expected [N, Q, 2]"),
            std::string::npos);
  EXPECT_NE(decodeError({{"pred_logits", {1, 3, 2}, data},
                         {"pred_boxes", {1, 2, 4}, data}})
                .find("'pred_boxes' has shape [1, 2, 4], expected [1, 3, 4]"),
            std::string::npos);
}

} // namespace
