//===- DatasetTest.cpp - Datasets and their error reporting ---------------===//
#include "TestUtil.h"
#include "hat/Data/DataLoader.h"
#include "hat/Data/Datasets.h"
#include "hat/Data/Error.h"
#include "hat/Data/Pack.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

using namespace hat::data;
using hat::data::test::TempDir;

namespace {

// A one-image COCO-format LMDB whose record the test controls.
std::string writeCocoLmdb(const TempDir &dir, const RecordData &record) {
  const std::string out = dir / "coco_lmdb";
  LmdbWriter writer(out, false);
  writer.putRecord(record);
  DatasetMeta meta;
  meta.format = "coco";
  meta.count = 1;
  meta.classNames = {"a", "b"};
  writer.commit(meta);
  return out;
}

RecordData goodRecord() {
  RecordData record;
  record.key = recordKey(0);
  cv::imencode(".png", cv::Mat(20, 30, CV_8UC3, cv::Scalar(1, 2, 3)),
               record.image);
  record.width = 30;
  record.height = 20;
  record.channels = 3;
  record.objects.push_back({2, 3, 12, 13, 1, 0, false, 100});
  return record;
}

std::string loadError(const Dataset &dataset) {
  try {
    dataset.load(0);
  } catch (const DataError &error) {
    return error.what();
  }
  return "";
}

} // namespace

TEST(Datasets, CocoLoadsBoxesAndAppliesTransforms) {
  TempDir dir;
  const std::string path = writeCocoLmdb(dir, goodRecord());
  Coco dataset({path,
                {std::make_shared<Resize>(
                    ResizeOptions{{40, 60}, std::nullopt, true, "nearest"})}});
  Sample raw = dataset.load(0);
  EXPECT_EQ(raw.boxes[0], (Box{2, 3, 12, 13}));
  EXPECT_EQ(raw.boxLabels, (std::vector<int>{0}));
  EXPECT_EQ(raw.boxCategoryIds, (std::vector<int>{1}));
  EXPECT_EQ(raw.boxIsCrowd, (std::vector<uint8_t>{0}));
  EXPECT_EQ(raw.originalSize, cv::Size(30, 20));
  EXPECT_EQ(raw.image.at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));
  Sample resized = dataset.get(0, 0, 0);
  EXPECT_EQ(resized.image.size(), cv::Size(60, 40));
  EXPECT_EQ(resized.boxes[0], (Box{4, 6, 24, 26}));
  EXPECT_EQ(resized.originalSize, cv::Size(30, 20));
  EXPECT_DOUBLE_EQ(resized.scaleX, 2.0);
}

TEST(Datasets, CocoImageIdAndSizesReachTheBatch) {
  TempDir dir;
  RecordData record = goodRecord();
  record.imageId = 139;
  Coco dataset({writeCocoLmdb(dir, record),
                {std::make_shared<Resize>(
                     ResizeOptions{{40, 40}, std::nullopt, true, "nearest"}),
                 std::make_shared<Pad>(PadOptions{std::array<int, 2>{40, 40},
                                                  std::nullopt, 0})}});
  std::vector<Sample> samples = {dataset.get(0, 0, 0)};
  Batch batch = collate2d(samples);
  EXPECT_EQ(batch.imageIds, (std::vector<int64_t>{139}));
  EXPECT_EQ(batch.originalSizes,
            (std::vector<std::array<int64_t, 2>>{{20, 30}}));
  // 30 x 20 scaled by 4/3 to 40 x 27 (rounded), then padded to 40 x 40.
  EXPECT_EQ(batch.imageShape, (std::array<int64_t, 4>{1, 3, 40, 40}));
  EXPECT_EQ(batch.validRegions[0], (std::array<float, 4>{0, 0, 40, 27}));
  EXPECT_FLOAT_EQ(batch.scaleFactors[0][0], 40.f / 30);
  EXPECT_FLOAT_EQ(batch.boxes[0], 2 * 40.f / 30);
  EXPECT_EQ(batch.boxLabels, (std::vector<int64_t>{0}));
}

TEST(Datasets, UndecodableImageNamesLmdbKeyAndReason) {
  TempDir dir;
  RecordData record = goodRecord();
  record.image.assign(100, 0x42);
  const std::string path = writeCocoLmdb(dir, record);
  const std::string error = loadError(CocoFromLMDB({path, {}}));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("key '0000000000'"), std::string::npos) << error;
  EXPECT_NE(error.find("does not decode"), std::string::npos) << error;
}

TEST(Datasets, WrongAnnotationsAreReported) {
  struct Case {
    RecordObject object;
    const char *reason;
  } cases[] = {{{2, 3, 80, 13, 1, 0, false, 0}, "lies outside"},
               {{12, 3, 2, 13, 1, 0, false, 0}, "has no area"},
               {{2, 3, 12, 13, 1, 5, false, 0}, "has label 5"}};
  for (const Case &c : cases) {
    TempDir dir;
    RecordData record = goodRecord();
    record.objects = {c.object};
    const std::string error =
        loadError(CocoFromLMDB({writeCocoLmdb(dir, record), {}}));
    EXPECT_NE(error.find(c.reason), std::string::npos) << error;
    EXPECT_NE(error.find("object 0"), std::string::npos) << error;
  }
  TempDir dir;
  RecordData record = goodRecord();
  record.lanes = {{1, 2, 3}};
  record.objects.clear();
  const std::string error =
      loadError(CocoFromLMDB({writeCocoLmdb(dir, record), {}}));
  EXPECT_NE(error.find("lane 0 has 3 coordinates"), std::string::npos) << error;
}

TEST(Datasets, RefuseLmdbOfAnotherFormat) {
  TempDir dir;
  const std::string path = writeCocoLmdb(dir, goodRecord());
  try {
    ImageNetFromLMDB dataset({path, {}});
    FAIL() << "opened a coco LMDB as classification";
  } catch (const DataError &error) {
    EXPECT_NE(std::string(error.what()).find("packed as 'coco'"),
              std::string::npos);
  }
}

TEST(Datasets, FashionMnistFromIdxMatchesPackedLmdb) {
  if (!hat::data::test::haveFashionMnist())
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  PackOptions options;
  options.format = "fashion-mnist";
  options.src = kDefaultFashionMnistDir;
  options.split = "val";
  options.out = dir / "lmdb";
  options.limit = 50;
  pack(options);
  FashionMNIST fromIdx({kDefaultFashionMnistDir, false, {}});
  FashionMNIST fromLmdb({options.out, true, {}});
  ImageNetFromLMDB asClassification({options.out, {}});
  EXPECT_EQ(fromIdx.size(), 10000u);
  EXPECT_EQ(fromLmdb.size(), 50u);
  EXPECT_EQ(fromIdx.classNames(), fromLmdb.classNames());
  for (std::size_t i = 0; i < 50; i += 7) {
    Sample a = fromIdx.load(i), b = fromLmdb.load(i),
           c = asClassification.load(i);
    EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);
    EXPECT_EQ(cv::norm(a.image, c.image, cv::NORM_INF), 0);
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(b.colorSpace, "gray");
  }
}

// A PNG whose header declares 60000x60000 pixels: OpenCV refuses it by
// throwing cv::Exception from imdecode, which used to escape decodeSample as
// a raw OpenCV assertion instead of a DataError naming the record.
TEST(Datasets, OversizedPngHeaderIsADataError) {
  auto be32 = [](std::vector<uint8_t> &out, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(uint8_t(value >> shift));
  };
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr = {'I', 'H', 'D', 'R'};
  be32(ihdr, 60000);                        // width
  be32(ihdr, 60000);                        // height
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0}); // 8-bit RGB, no interlace
  be32(png, uint32_t(ihdr.size() - 4));
  png.insert(png.end(), ihdr.begin(), ihdr.end());
  be32(png, uint32_t(crc32(0, ihdr.data(), uInt(ihdr.size()))));
  // Empty IDAT and IEND chunks, so the header reads completely and OpenCV
  // gets to checking the size.
  for (const char *name : {"IDAT", "IEND"}) {
    std::vector<uint8_t> chunk(name, name + 4);
    be32(png, 0);
    png.insert(png.end(), chunk.begin(), chunk.end());
    be32(png, uint32_t(crc32(0, chunk.data(), 4)));
  }

  RecordData record;
  record.key = recordKey(4);
  record.image = png;
  record.channels = 3;
  try {
    decodeSample(record, "big.lmdb", 10);
    FAIL() << "a 60000x60000 PNG header decoded";
  } catch (const DataError &error) {
    EXPECT_EQ(error.source(), "big.lmdb");
    EXPECT_EQ(error.key(), recordKey(4));
    EXPECT_NE(error.reason().find("does not decode"), std::string::npos)
        << error.what();
  }
}
