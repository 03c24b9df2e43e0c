//===- PackTest.cpp - Packing, synthesizing and reading back --------------===//
#include "hat/Data/Pack.h"
#include "TestUtil.h"
#include "hat/Data/Datasets.h"
#include "hat/Data/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>

using namespace hat::data;
using hat::data::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> fileBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string packError(const PackOptions &options) {
  try {
    pack(options);
  } catch (const DataError &error) {
    return error.what();
  }
  return "";
}

#define REQUIRE_FASHION_MNIST()                                                \
  if (!hat::data::test::haveFashionMnist())                                    \
  GTEST_SKIP() << "dataset-fashion-mnist not installed"

} // namespace

TEST(Pack, FashionMnistSubsetReadsBackPixelsAndLabels) {
  REQUIRE_FASHION_MNIST();
  TempDir dir;
  PackOptions options;
  options.format = "fashion-mnist";
  options.src = kDefaultFashionMnistDir;
  options.split = "val";
  options.out = dir / "val_lmdb";
  options.limit = 200;
  std::size_t lastProgress = 0;
  options.progress = [&](std::size_t done, std::size_t) {
    lastProgress = done;
  };
  PackResult result = pack(options);
  EXPECT_EQ(result.count, 200u);
  EXPECT_EQ(lastProgress, 200u);

  LmdbReader reader(options.out);
  EXPECT_EQ(reader.meta().format, "fashion-mnist");
  EXPECT_EQ(reader.meta().split, "val");
  EXPECT_EQ(reader.meta().classNames.size(), 10u);
  ASSERT_EQ(reader.size(), 200u);
  FashionMnistSplit source = readFashionMnist(kDefaultFashionMnistDir, "val");
  for (std::size_t i = 0; i < 200; ++i) {
    Sample sample = decodeSample(reader.record(i), reader.path(), 10);
    ASSERT_EQ(sample.image.type(), CV_8UC1);
    cv::Mat expected(28, 28, CV_8UC1, source.images.data.data() + i * 784);
    ASSERT_EQ(cv::norm(sample.image, expected, cv::NORM_INF), 0) << i;
    ASSERT_EQ(sample.label, source.labels.data[i]);
  }

  // Packing again gives byte-identical records.
  options.out = dir / "again_lmdb";
  options.progress = nullptr;
  pack(options);
  LmdbReader again(options.out);
  std::vector<uint8_t> a, b;
  for (std::size_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(reader.get(recordKey(i), a));
    ASSERT_TRUE(again.get(recordKey(i), b));
    ASSERT_EQ(a, b);
  }
}

TEST(Pack, SynthesizedFashionDetIsDeterministicAndPacksByteIdentical) {
  REQUIRE_FASHION_MNIST();
  TempDir dir;
  SynthesizeOptions synth;
  synth.kind = "fashion-det";
  synth.out = dir / "det";
  synth.split = "val";
  synth.numImages = 6;
  synth.size = 128;
  synth.seed = 7;
  synthesize(synth);
  synth.out = dir / "det2";
  synthesize(synth);
  const std::string json = "annotations/instances_val2017.json";
  EXPECT_EQ(fileBytes(dir / ("det/" + json)),
            fileBytes(dir / ("det2/" + json)));
  EXPECT_EQ(fileBytes(dir / "det/val2017/000000000003.jpg"),
            fileBytes(dir / "det2/val2017/000000000003.jpg"));

  nlohmann::json coco;
  std::ifstream(dir / ("det/" + json)) >> coco;
  ASSERT_EQ(coco["images"].size(), 6u);
  ASSERT_EQ(coco["categories"].size(), 10u);
  ASSERT_GE(coco["annotations"].size(), 6u);

  PackOptions options;
  options.format = "coco";
  options.src = dir / "det";
  options.split = "val";
  options.out = dir / "det_lmdb";
  EXPECT_EQ(pack(options).count, 6u);
  CocoFromLMDB dataset({options.out, {}});
  ASSERT_EQ(dataset.size(), 6u);
  EXPECT_EQ(dataset.classNames()[9], "Ankle boot");
  std::size_t boxes = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    const RecordData record = dataset.reader().record(i);
    EXPECT_EQ(record.image,
              fileBytes(dir / ("det/val2017/" + record.fileName)));
    EXPECT_EQ(record.imageId, static_cast<int64_t>(i + 1));
    Sample sample = dataset.load(i);
    EXPECT_EQ(sample.image.size(), cv::Size(128, 128));
    boxes += sample.boxes.size();
  }
  EXPECT_EQ(boxes, coco["annotations"].size());
  const auto &first = coco["annotations"][0];
  const RecordData record = dataset.reader().record(0);
  EXPECT_FLOAT_EQ(record.objects[0].x1, first["bbox"][0].get<float>());
  EXPECT_FLOAT_EQ(record.objects[0].x2, first["bbox"][0].get<float>() +
                                            first["bbox"][2].get<float>());
  EXPECT_EQ(record.objects[0].label, first["category_id"].get<int>() - 1);
}

TEST(Pack, CocoWrongAnnotationNamesFileKeyAndReason) {
  REQUIRE_FASHION_MNIST();
  TempDir dir;
  SynthesizeOptions synth;
  synth.kind = "fashion-det";
  synth.out = dir / "det";
  synth.numImages = 3;
  synth.size = 96;
  synthesize(synth);
  const std::string jsonPath = dir / "det/annotations/instances_train2017.json";
  nlohmann::json coco;
  std::ifstream(jsonPath) >> coco;
  // Break the first annotation of image 2.
  for (auto &annotation : coco["annotations"])
    if (annotation["image_id"] == 2) {
      annotation["bbox"][2] = 0;
      break;
    }
  std::ofstream(jsonPath) << coco.dump();

  PackOptions options;
  options.format = "coco";
  options.src = dir / "det";
  options.out = dir / "lmdb";
  const std::string error = packError(options);
  EXPECT_NE(error.find(jsonPath), std::string::npos) << error;
  EXPECT_NE(error.find("key '0000000001'"), std::string::npos) << error;
  EXPECT_NE(error.find("has no area"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(options.out)); // a failed pack leaves nothing
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), {}), 1);

  options.on_error = "skip";
  PackResult result = pack(options);
  EXPECT_EQ(result.count, 2u);
  EXPECT_EQ(result.skipped, 1u);
  EXPECT_EQ(LmdbReader(options.out).size(), 2u);
}

TEST(Pack, CuLaneSampleRoundTripsLanes) {
  TempDir dir;
  SynthesizeOptions synth;
  synth.kind = "culane";
  synth.out = dir / "culane";
  synth.numImages = 3;
  synth.size = 328;
  synthesize(synth);
  ASSERT_TRUE(fs::exists(dir / "culane/list/train.txt"));
  PackOptions options;
  options.format = "culane";
  options.src = dir / "culane";
  options.out = dir / "culane_lmdb";
  EXPECT_EQ(pack(options).count, 3u);
  CuLaneFromLMDB dataset({options.out, {}});
  for (std::size_t i = 0; i < 3; ++i) {
    Sample sample = dataset.load(i);
    EXPECT_EQ(sample.image.size(), cv::Size(328, 118));
    ASSERT_GE(sample.lanes.size(), 1u);
    // The stored lanes stay as loaded for the metric (no transforms here).
    EXPECT_EQ(sample.originalLanes, sample.lanes);
    for (const auto &lane : sample.lanes)
      for (const cv::Point2f &point : lane) {
        EXPECT_GE(point.x, 0);
        EXPECT_LT(point.x, 328);
        EXPECT_LT(point.y, 118);
      }
  }
}

TEST(Pack, ImageFolderStoresFilesAndClassNames) {
  TempDir dir;
  for (const char *name : {"cat", "dog"}) {
    fs::create_directories(dir / ("src/train/" + std::string(name)));
    for (int i = 0; i < 2; ++i)
      cv::imwrite(dir / ("src/train/" + std::string(name) + "/" +
                         std::to_string(i) + ".png"),
                  cv::Mat(8, 6, CV_8UC3, cv::Scalar(i * 50, 10, 200)));
  }
  // A file that is not an image must be reported, naming it.
  std::ofstream(dir / "src/train/dog/broken.jpg") << "not a jpeg";
  PackOptions options;
  options.format = "imagefolder";
  options.src = dir / "src";
  options.out = dir / "lmdb";
  const std::string error = packError(options);
  EXPECT_NE(error.find("broken.jpg"), std::string::npos) << error;
  EXPECT_NE(error.find("does not decode"), std::string::npos) << error;
  fs::remove(dir / "src/train/dog/broken.jpg");
  EXPECT_EQ(pack(options).count, 4u);
  ImageNetFromLMDB dataset({options.out, {}});
  EXPECT_EQ(dataset.classNames(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(dataset.load(3).label, 1);
  EXPECT_EQ(dataset.reader().record(0).image,
            fileBytes(dir / "src/train/cat/0.png"));
}

TEST(Pack, RejectsBadArguments) {
  TempDir dir;
  PackOptions options;
  options.format = "fashion-mnist";
  options.src = dir / "missing";
  options.out = dir / "out";
  EXPECT_NE(packError(options).find("source directory does not exist"),
            std::string::npos);
  options.format = "voc";
  EXPECT_NE(packError(options).find("unknown format 'voc'"), std::string::npos);
  options.format = "coco";
  options.src = dir.path();
  options.split = "test";
  EXPECT_NE(packError(options).find("unknown split"), std::string::npos);
  options.split = "train";
  EXPECT_NE(packError(options).find("no COCO annotation file"),
            std::string::npos);
}
