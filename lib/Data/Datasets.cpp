//===- Datasets.cpp - Datasets by HAT's config names ----------------------===//
#include "hat/Data/Datasets.h"
#include "hat/Data/Error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace hat::data {

Dataset::~Dataset() = default;

Sample Dataset::get(std::size_t index, uint64_t seed, uint64_t epoch) const {
  Sample sample = load(index);
  SampleRng rng(seed, epoch, index);
  applyTransforms(transforms_, sample, rng);
  return sample;
}

namespace {
const char *encodingName(ImageEncoding encoding) {
  switch (encoding) {
  case ImageEncoding::Png:
    return "PNG";
  case ImageEncoding::Jpeg:
    return "JPEG";
  default:
    return "unknown encoding";
  }
}

std::string boxText(const RecordObject &object) {
  char buffer[128];
  std::snprintf(buffer, sizeof(buffer), "(%g, %g, %g, %g)", object.x1,
                object.y1, object.x2, object.y2);
  return buffer;
}
} // namespace

Sample decodeSample(const RecordData &record, const std::string &source,
                    std::size_t numClasses) {
  auto fail = [&](const std::string &reason) -> DataError {
    return DataError(source, record.key, reason);
  };
  if (record.image.empty())
    throw fail("record holds no image bytes");
  cv::Mat encoded(1, static_cast<int>(record.image.size()), CV_8UC1,
                  const_cast<uint8_t *>(record.image.data()));
  Sample sample;
  try {
    sample.image =
        cv::imdecode(encoded, record.channels == 1 ? cv::IMREAD_GRAYSCALE
                                                   : cv::IMREAD_COLOR);
  } catch (const cv::Exception &error) {
    // OpenCV throws (rather than returning an empty image) for a header it
    // refuses, e.g. a PNG declaring more pixels than
    // OPENCV_IO_MAX_IMAGE_PIXELS.
    throw fail(std::string("image does not decode (") +
               encodingName(record.encoding) + ", " +
               std::to_string(record.image.size()) + " bytes): " + error.err);
  }
  if (sample.image.empty())
    throw fail(std::string("image does not decode (") +
               encodingName(record.encoding) + ", " +
               std::to_string(record.image.size()) + " bytes)");
  const int width = sample.image.cols, height = sample.image.rows;
  if ((record.width > 0 && record.width != width) ||
      (record.height > 0 && record.height != height))
    throw fail("decoded image is " + std::to_string(width) + "x" +
               std::to_string(height) + " but the record says " +
               std::to_string(record.width) + "x" +
               std::to_string(record.height));
  sample.colorSpace = sample.image.channels() == 1 ? "gray" : "bgr";
  sample.originalSize = sample.image.size();
  sample.key = record.key;
  sample.imageId = record.imageId;
  sample.label = record.label;
  if (record.label >= 0 && numClasses > 0 &&
      static_cast<std::size_t>(record.label) >= numClasses)
    throw fail("label " + std::to_string(record.label) + " is not below the " +
               std::to_string(numClasses) + " classes");

  // One pixel of slack: annotation tools round box edges outwards.
  const float slack = 1.0f;
  for (std::size_t i = 0; i < record.objects.size(); ++i) {
    const RecordObject &object = record.objects[i];
    const std::string which =
        "object " + std::to_string(i) + " box " + boxText(object);
    if (!std::isfinite(object.x1) || !std::isfinite(object.y1) ||
        !std::isfinite(object.x2) || !std::isfinite(object.y2))
      throw fail(which + " is not finite");
    if (object.x2 <= object.x1 || object.y2 <= object.y1)
      throw fail(which + " has no area");
    if (object.x1 < -slack || object.y1 < -slack || object.x2 > width + slack ||
        object.y2 > height + slack)
      throw fail(which + " lies outside the " + std::to_string(width) + "x" +
                 std::to_string(height) + " image");
    if (object.label < 0 || (numClasses > 0 && static_cast<std::size_t>(
                                                   object.label) >= numClasses))
      throw fail(which + " has label " + std::to_string(object.label) +
                 " outside 0.." + std::to_string(numClasses) + ")");
    sample.boxes.push_back({std::clamp(object.x1, 0.f, float(width)),
                            std::clamp(object.y1, 0.f, float(height)),
                            std::clamp(object.x2, 0.f, float(width)),
                            std::clamp(object.y2, 0.f, float(height))});
    sample.boxLabels.push_back(object.label);
    sample.boxCategoryIds.push_back(object.categoryId);
    sample.boxIsCrowd.push_back(object.iscrowd ? 1 : 0);
  }
  for (std::size_t i = 0; i < record.lanes.size(); ++i) {
    const std::vector<float> &points = record.lanes[i];
    if (points.size() % 2 != 0 || points.size() < 4)
      throw fail("lane " + std::to_string(i) + " has " +
                 std::to_string(points.size()) +
                 " coordinates (needs x,y pairs, at least two points)");
    std::vector<cv::Point2f> lane;
    for (std::size_t p = 0; p < points.size(); p += 2) {
      if (!std::isfinite(points[p]) || !std::isfinite(points[p + 1]))
        throw fail("lane " + std::to_string(i) + " has a non-finite point");
      lane.emplace_back(points[p], points[p + 1]);
    }
    sample.lanes.push_back(std::move(lane));
  }
  sample.originalLanes = sample.lanes;
  return sample;
}

LmdbDataset::LmdbDataset(const std::string &dataPath,
                         std::vector<TransformPtr> transforms,
                         const std::vector<std::string> &acceptedFormats,
                         const char *datasetName)
    : Dataset(std::move(transforms)),
      reader_(std::make_unique<LmdbReader>(dataPath)) {
  const std::string &format = reader_->meta().format;
  if (std::find(acceptedFormats.begin(), acceptedFormats.end(), format) ==
      acceptedFormats.end()) {
    std::string accepted;
    for (const std::string &name : acceptedFormats)
      accepted += (accepted.empty() ? "" : ", ") + name;
    throw DataError(dataPath, "",
                    std::string(datasetName) + " reads " + accepted +
                        " LMDBs, but this one was packed as '" + format + "'");
  }
}

Sample LmdbDataset::load(std::size_t index) const {
  const RecordData record = reader_->record(index);
  Sample sample =
      decodeSample(record, reader_->path(), reader_->meta().classNames.size());
  sample.index = index;
  sample.fileName = record.fileName;
  return sample;
}

ImageNetFromLMDB::ImageNetFromLMDB(ImageNetFromLMDBOptions options)
    : LmdbDataset(options.data_path, std::move(options.transforms),
                  {"imagefolder", "fashion-mnist"}, "ImageNetFromLMDB") {}

CocoFromLMDB::CocoFromLMDB(CocoFromLMDBOptions options)
    : LmdbDataset(options.data_path, std::move(options.transforms), {"coco"},
                  "CocoFromLMDB") {}

CuLaneFromLMDB::CuLaneFromLMDB(CuLaneFromLMDBOptions options)
    : LmdbDataset(options.data_path, std::move(options.transforms), {"culane"},
                  "CuLaneFromLMDB"),
      toRgb_(options.to_rgb) {}

Sample CuLaneFromLMDB::load(std::size_t index) const {
  Sample sample = LmdbDataset::load(index);
  sample.hasLanes = true;
  if (toRgb_ && sample.image.channels() == 3) {
    cv::cvtColor(sample.image, sample.image, cv::COLOR_BGR2RGB);
    sample.colorSpace = "rgb";
  }
  return sample;
}

FashionMNIST::FashionMNIST(FashionMNISTOptions options)
    : Dataset(options.transforms) {
  if (isLmdbDirectory(options.data_path))
    lmdb_ = std::make_unique<LmdbDataset>(
        options.data_path, std::vector<TransformPtr>{},
        std::vector<std::string>{"fashion-mnist"}, "FashionMNIST");
  else
    idx_ = readFashionMnist(options.data_path, options.train ? "train" : "val");
}

std::size_t FashionMNIST::size() const {
  return lmdb_ ? lmdb_->size() : idx_.labels.dims[0];
}

Sample FashionMNIST::load(std::size_t index) const {
  if (lmdb_)
    return lmdb_->load(index);
  if (index >= size())
    throw DataError("Fashion-MNIST IDX", recordKey(index),
                    "index out of range");
  const int rows = static_cast<int>(idx_.images.dims[1]);
  const int cols = static_cast<int>(idx_.images.dims[2]);
  Sample sample;
  sample.image = cv::Mat(rows, cols, CV_8UC1,
                         const_cast<uint8_t *>(idx_.images.data.data()) +
                             index * idx_.images.itemSize())
                     .clone();
  sample.colorSpace = "gray";
  sample.originalSize = sample.image.size();
  sample.label = idx_.labels.data[index];
  sample.index = index;
  sample.key = recordKey(index);
  return sample;
}

const std::vector<std::string> &FashionMNIST::classNames() const {
  return lmdb_ ? lmdb_->classNames() : fashionMnistClassNames();
}

} // namespace hat::data
