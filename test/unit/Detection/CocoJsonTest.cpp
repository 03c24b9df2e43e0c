//===- CocoJsonTest.cpp - COCO files: parsing, validation, errors ---------===//

#include "hat/Detection/CocoJson.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

using namespace hat::detection;

namespace {

const char *kGt = R"({
  "images": [{"id": 1, "width": 100, "height": 80, "file_name": "a.jpg"},
             {"id": 2, "width": 100, "height": 80}],
  "categories": [{"id": 3, "name": "shirt"}, {"id": 5, "name": "bag"}],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 30, 40],
     "area": 1100.5, "iscrowd": 0},
    {"id": 2, "image_id": 1, "category_id": 5, "bbox": [10, 10, 20, 20],
     "area": 400, "iscrowd": 1}
  ]
})";

// The message of the CocoFormatError `fn` throws ("" when none).
template <typename Fn> std::string errorOf(Fn &&fn) {
  try {
    fn();
  } catch (const CocoFormatError &error) {
    return error.what();
  }
  return "";
}

std::string gtError(const std::string &text) {
  return errorOf([&] { parseCocoGroundTruth(text, "gt.json"); });
}

std::string detError(const std::string &text) {
  CocoGroundTruth gt = parseCocoGroundTruth(kGt, "gt.json");
  return errorOf([&] { parseCocoDetections(text, "dets.json", gt); });
}

} // namespace

TEST(CocoJson, ParsesGroundTruth) {
  CocoGroundTruth gt = parseCocoGroundTruth(kGt, "gt.json");
  ASSERT_EQ(gt.images.size(), 2u);
  EXPECT_EQ(gt.images[0].fileName, "a.jpg");
  EXPECT_EQ(gt.images[1].height, 80);
  ASSERT_EQ(gt.categories.size(), 2u);
  EXPECT_EQ(gt.categories[1].name, "bag");
  ASSERT_EQ(gt.annotations.size(), 2u);
  EXPECT_EQ(gt.annotations[0].width, 30);
  EXPECT_EQ(gt.annotations[0].area, 1100.5);
  EXPECT_FALSE(gt.annotations[0].iscrowd);
  EXPECT_TRUE(gt.annotations[1].iscrowd);
}

TEST(CocoJson, GroundTruthErrorsNameTheEntry) {
  EXPECT_EQ(gtError(""), "gt.json: empty file: expected a COCO instances "
                         "object");
  EXPECT_NE(gtError("{\"images\": [}")
                .find("gt.json: line 1, column 13: "
                      "invalid JSON"),
            std::string::npos);
  EXPECT_NE(gtError("[]").find("the top level must be an object"),
            std::string::npos);
  EXPECT_NE(gtError(R"({"images": []})").find("no \"categories\" array"),
            std::string::npos);
  std::string base = R"({"images": [{"id": 1}], "categories": [{"id": 1}],
                         "annotations": [)";
  EXPECT_EQ(gtError(base + R"({"id": 4, "image_id": 1, "category_id": 1,
                               "bbox": [0, 0, 1], "area": 1}]})"),
            "gt.json: annotations[0] (id 4): \"bbox\" must be [x, y, width, "
            "height], not [0,0,1]");
  EXPECT_EQ(gtError(base + R"({"id": 4, "image_id": 1, "category_id": 1,
                               "bbox": [0, 0, 1, 1]}]})"),
            "gt.json: annotations[0] (id 4): missing \"area\"");
  EXPECT_EQ(gtError(base + R"({"id": 4, "image_id": 9, "category_id": 1,
                               "bbox": [0, 0, 1, 1], "area": 1}]})"),
            "gt.json: annotations[0] (id 4): image_id 9 is not in \"images\"");
  EXPECT_EQ(gtError(base + R"({"id": 4, "image_id": 1, "category_id": 2,
                               "bbox": [0, 0, 1, 1], "area": 1}]})"),
            "gt.json: annotations[0] (id 4): category_id 2 is not in "
            "\"categories\"");
  EXPECT_EQ(gtError(base + R"({"id": 4, "image_id": 1, "category_id": 1,
                               "bbox": [0, 0, 1, 1], "area": 1},
                              {"id": 4, "image_id": 1, "category_id": 1,
                               "bbox": [0, 0, 1, 1], "area": 1}]})"),
            "gt.json: annotations[1] (id 4): duplicate annotation id 4");
  EXPECT_EQ(gtError(base + R"({"id": 1.5, "image_id": 1, "category_id": 1,
                               "bbox": [0, 0, 1, 1], "area": 1}]})"),
            "gt.json: annotations[0] (id 1.5): \"id\" must be an integer, "
            "not 1.5");
  EXPECT_EQ(gtError(R"({"images": [{"id": 1}, {"id": 1}], "categories": []})"),
            "gt.json: images[1] (id 1): duplicate image id 1");
}

TEST(CocoJson, GroundTruthWarnings) {
  std::vector<std::string> warnings;
  parseCocoGroundTruth(R"({"images": [{"id": 1, "width": 50, "height": 50}],
      "categories": [{"id": 1}],
      "annotations": [
        {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5],
         "area": 25},
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 5],
         "area": 0},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [40, 40, 20, 5],
         "area": 100}]})",
                       "gt.json", &warnings);
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_NE(warnings[0].find("annotations[0] (id 0): annotation id 0"),
            std::string::npos);
  EXPECT_NE(warnings[1].find("degenerate bbox [0,0,0,5]"), std::string::npos);
  EXPECT_NE(warnings[2].find("reaches outside its 50x50 image"),
            std::string::npos);
}

TEST(CocoJson, ParsesDetections) {
  CocoGroundTruth gt = parseCocoGroundTruth(kGt, "gt.json");
  std::vector<DetectionBox> dets = parseCocoDetections(
      R"([{"image_id": 2, "category_id": 5, "bbox": [1.5, 2, 3, 4],
           "score": 0.25, "segmentation": []},
          {"image_id": 1.0, "category_id": 3, "bbox": [0, 0, 1, 1],
           "score": -2}])",
      "dets.json", gt);
  ASSERT_EQ(dets.size(), 2u);
  EXPECT_EQ(dets[0].imageId, 2);
  EXPECT_EQ(dets[0].x, 1.5);
  EXPECT_EQ(dets[0].score, 0.25);
  EXPECT_EQ(dets[1].imageId, 1);
  EXPECT_EQ(dets[1].score, -2);
}

TEST(CocoJson, DetectionErrorsNameTheEntry) {
  EXPECT_EQ(detError("  \n"),
            "dets.json: empty file: expected a JSON array of detections");
  EXPECT_NE(detError("{}").find("must be a JSON array"), std::string::npos);
  EXPECT_EQ(detError(R"([{"image_id": 9, "category_id": 3,
                          "bbox": [0, 0, 1, 1], "score": 0.5}])"),
            "dets.json: detection 0: image_id 9 is not an image of the "
            "ground truth");
  EXPECT_EQ(detError(R"([{"image_id": 1, "category_id": 3,
                          "bbox": [0, 0, 1, 1], "score": 0.5},
                         {"image_id": 1, "category_id": 4,
                          "bbox": [0, 0, 1, 1], "score": 0.5}])"),
            "dets.json: detection 1: category_id 4 is not a category of the "
            "ground truth");
  EXPECT_EQ(detError(R"([{"image_id": 1, "category_id": 3,
                          "bbox": [0, 0, 1, 1]}])"),
            "dets.json: detection 0: missing \"score\"");
  EXPECT_EQ(detError(R"([{"image_id": 1, "category_id": 3,
                          "bbox": [0, 0, 1, 1], "score": "high"}])"),
            "dets.json: detection 0: \"score\" must be a number, not \"high\"");
  // Python's json.dump writes NaN for a NaN score; it is not JSON.
  std::string nan = detError("[{\"image_id\": 1, \"category_id\": 3,\n"
                             "  \"bbox\": [0, 0, 1, 1], \"score\": NaN}]");
  EXPECT_NE(nan.find("dets.json: line 2, column"), std::string::npos) << nan;
  EXPECT_NE(nan.find("NaN and Infinity are not JSON numbers"),
            std::string::npos)
      << nan;
}

TEST(CocoJson, EmptyResultsAreAcceptedWithAWarning) {
  CocoGroundTruth gt = parseCocoGroundTruth(kGt, "gt.json");
  std::vector<std::string> warnings;
  EXPECT_TRUE(parseCocoDetections("[]", "dets.json", gt, &warnings).empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no detections"), std::string::npos);
}

TEST(CocoJson, WrittenResultsReadBackExactly) {
  CocoGroundTruth gt = parseCocoGroundTruth(kGt, "gt.json");
  std::vector<DetectionBox> dets = {
      {1, 3, 0.1, 1.0 / 3, 2e-7, 123456.789, 0.123456789012345678},
      {2, 5, -1, 0, 5, 5, 1}};
  const std::string path = ::testing::TempDir() + "hat_dets_roundtrip.json";
  writeCocoDetections(path, dets);
  std::vector<DetectionBox> back = loadCocoDetections(path, gt);
  std::remove(path.c_str());
  ASSERT_EQ(back.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back[i].imageId, dets[i].imageId);
    EXPECT_EQ(back[i].categoryId, dets[i].categoryId);
    EXPECT_EQ(back[i].x, dets[i].x);
    EXPECT_EQ(back[i].y, dets[i].y);
    EXPECT_EQ(back[i].width, dets[i].width);
    EXPECT_EQ(back[i].height, dets[i].height);
    EXPECT_EQ(back[i].score, dets[i].score);
  }
  EXPECT_NE(errorOf([&] {
              loadCocoDetections("/nonexistent/d.json", gt);
            }).find("/nonexistent/d.json: cannot open file"),
            std::string::npos);
}

TEST(CocoJson, AnnotationIgnoreKeyIsNotUsedAsInPycocotools) {
  // pycocotools sets gt['ignore'] from iscrowd, overwriting the file's own
  // "ignore": an object marked ignore=1 but not crowd is still counted, so
  // missing it costs recall.
  CocoGroundTruth gt = parseCocoGroundTruth(
      R"({"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10],
             "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10],
             "area": 100, "iscrowd": 0, "ignore": 1}]})",
      "gt.json");
  std::vector<DetectionBox> dets =
      parseCocoDetections(R"([{"image_id": 1, "category_id": 1,
                               "bbox": [0, 0, 10, 10], "score": 0.9}])",
                          "dets.json", gt);
  CocoEvalResult r = evaluateCoco(gt, dets);
  EXPECT_NEAR(r.stats[8], 0.5, 1e-12); // AR100: 1 of 2 objects
  // Precision 1/(1+eps) up to recall .5 (51 of 101 points).
  EXPECT_NEAR(r.stats[0], 51.0 / 101.0, 1e-12);
}

TEST(CocoJson, NonFiniteResultsAreNotWritten) {
  std::vector<DetectionBox> dets = {{1, 3, 0, 0, 1, 1, 0.5},
                                    {1, 3, 0, std::nan(""), 1, 1, 0.5}};
  EXPECT_EQ(errorOf([&] { cocoDetectionsToJson(dets); }),
            "COCO results: detection 1: bbox or score is not finite (JSON "
            "has no NaN)");
}
