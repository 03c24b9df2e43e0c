//===- FcosDecode.cpp - FCOS post-processing on the CPU -------------------===//

#include "hat/Detection/FcosDecode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace hat::detection {

namespace {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

void checkInputs(const std::vector<FcosLevel> &levels, int batchSize,
                 int batchIndex, int numClasses,
                 const FcosDecodeOptions &options) {
  if (levels.size() != options.strides.size())
    throw FcosDecodeError("FCOS decode: " + std::to_string(levels.size()) +
                          " output levels but " +
                          std::to_string(options.strides.size()) + " strides");
  if (numClasses <= 0)
    throw FcosDecodeError("FCOS decode: numClasses must be positive");
  if (batchIndex < 0 || batchIndex >= batchSize)
    throw FcosDecodeError("FCOS decode: image " + std::to_string(batchIndex) +
                          " of a batch of " + std::to_string(batchSize));
  for (std::size_t l = 0; l < levels.size(); ++l) {
    if (options.strides[l] <= 0)
      throw FcosDecodeError("FCOS decode: stride " +
                            std::to_string(options.strides[l]) + " of level " +
                            std::to_string(l) + " must be positive");
    const FcosLevel &level = levels[l];
    if (level.height < 0 || level.width < 0 ||
        (level.height * level.width > 0 &&
         (!level.cls || !level.bbox || !level.centerness)))
      throw FcosDecodeError("FCOS decode: level " + std::to_string(l) +
                            " has a missing map or a negative size");
  }
}

} // namespace

ImageDetections decodeFcosImage(const std::vector<FcosLevel> &levels,
                                int batchSize, int n, int numClasses,
                                const FcosDecodeOptions &options) {
  checkInputs(levels, batchSize, n, numClasses, options);
  std::vector<Box> boxes;
  std::vector<float> scores;
  std::vector<int> labels;
  // Logits this far below logit(scoreThreshold) cannot pass it, whatever
  // the float rounding of the sigmoid: skip computing it (most of the
  // C x H x W values of a trained model).
  const float t = options.scoreThreshold;
  const float skipBelow = t > 0 && t < 1
                              ? std::log(t / (1 - t)) - 0.01f
                              : -std::numeric_limits<float>::infinity();
  for (std::size_t l = 0; l < levels.size(); ++l) {
    const FcosLevel &level = levels[l];
    const int stride = options.strides[l];
    const std::size_t plane = (std::size_t)level.height * level.width;
    const float *cls = level.cls + (std::size_t)n * numClasses * plane;
    const float *bbox = level.bbox + (std::size_t)n * 4 * plane;
    const float *centerness = level.centerness + (std::size_t)n * plane;
    for (int y = 0; y < level.height; ++y)
      for (int x = 0; x < level.width; ++x) {
        const std::size_t cell = (std::size_t)y * level.width + x;
        float maxLogit = -std::numeric_limits<float>::infinity();
        for (int c = 0; c < numClasses; ++c)
          maxLogit = std::max(maxLogit, cls[c * plane + cell]);
        if (!(maxLogit > options.threshold))
          continue;
        const float px = static_cast<float>(x * stride + stride / 2);
        const float py = static_cast<float>(y * stride + stride / 2);
        const float s =
            options.bboxUnits == FcosDecodeOptions::BboxUnits::Stride
                ? static_cast<float>(stride)
                : 1.0f;
        Box box{px - std::max(bbox[0 * plane + cell], 0.0f) * s,
                py - std::max(bbox[1 * plane + cell], 0.0f) * s,
                px + std::max(bbox[2 * plane + cell], 0.0f) * s,
                py + std::max(bbox[3 * plane + cell], 0.0f) * s};
        if (options.maxShape) {
          const float w = options.maxShape->width, h = options.maxShape->height;
          box.x1 = std::clamp(box.x1, 0.0f, w);
          box.x2 = std::clamp(box.x2, 0.0f, w);
          box.y1 = std::clamp(box.y1, 0.0f, h);
          box.y2 = std::clamp(box.y2, 0.0f, h);
        }
        // A diverged model's NaN/Inf distances make no box (and no invalid
        // JSON downstream).
        if (!std::isfinite(box.x1) || !std::isfinite(box.y1) ||
            !std::isfinite(box.x2) || !std::isfinite(box.y2))
          continue;
        const float ctr = sigmoid(centerness[cell]);
        for (int c = 0; c < numClasses; ++c) {
          const float logit = cls[c * plane + cell];
          if (logit < skipBelow)
            continue;
          const float p = sigmoid(logit);
          if (!(p > options.scoreThreshold))
            continue;
          boxes.push_back(box);
          scores.push_back(options.sqrtScore ? std::sqrt(p * ctr) : p * ctr);
          labels.push_back(c);
        }
      }
  }
  std::vector<int> kept =
      batchedNms(boxes, scores, labels, options.iouThreshold);
  if (options.maxPerImage > 0 &&
      kept.size() > static_cast<std::size_t>(options.maxPerImage))
    kept.resize(options.maxPerImage);
  ImageDetections result;
  for (int i : kept) {
    result.boxes.push_back(boxes[i]);
    result.scores.push_back(scores[i]);
    result.labels.push_back(labels[i]);
  }
  return result;
}

FcosDecodeOptions fcosDecodeOptionsFromJson(const std::string &text,
                                            int *numClasses) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error &error) {
    throw FcosDecodeError(std::string("post_process: invalid JSON: ") +
                          error.what());
  }
  if (!root.is_object())
    throw FcosDecodeError("post_process: expected a JSON object");
  auto type = root.find("type");
  if (type != root.end() &&
      (!type->is_string() || *type != "FCOSMultiStrideFilter"))
    throw FcosDecodeError("post_process: type " + type->dump() +
                          " is not FCOSMultiStrideFilter");
  auto number = [&](const char *key, auto &out) {
    auto found = root.find(key);
    if (found == root.end() || found->is_null())
      return;
    if (!found->is_number())
      throw FcosDecodeError(std::string("post_process: \"") + key +
                            "\" must be a number, not " + found->dump());
    out = found->get<std::decay_t<decltype(out)>>();
  };
  FcosDecodeOptions options;
  auto strides = root.find("strides");
  if (strides == root.end() || !strides->is_array() || strides->empty())
    throw FcosDecodeError("post_process: \"strides\" must be a non-empty "
                          "list of integers");
  options.strides.clear();
  for (const auto &stride : *strides) {
    if (!stride.is_number_integer() || stride.get<int>() <= 0)
      throw FcosDecodeError("post_process: stride " + stride.dump() +
                            " is not a positive integer");
    options.strides.push_back(stride.get<int>());
  }
  number("threshold", options.threshold);
  number("score_threshold", options.scoreThreshold);
  number("iou_threshold", options.iouThreshold);
  number("max_per_img", options.maxPerImage);
  auto shape = root.find("max_shape");
  if (shape != root.end() && !shape->is_null()) {
    if (!shape->is_array() || shape->size() != 2 || !(*shape)[0].is_number() ||
        !(*shape)[1].is_number())
      throw FcosDecodeError("post_process: \"max_shape\" must be [height, "
                            "width], not " +
                            shape->dump());
    options.maxShape = FcosDecodeOptions::Shape{(*shape)[0].get<float>(),
                                                (*shape)[1].get<float>()};
  }
  auto units = root.find("bbox_units");
  if (units != root.end()) {
    if (*units == "stride")
      options.bboxUnits = FcosDecodeOptions::BboxUnits::Stride;
    else if (*units == "pixels")
      options.bboxUnits = FcosDecodeOptions::BboxUnits::Pixels;
    else
      throw FcosDecodeError("post_process: \"bbox_units\" must be \"stride\" "
                            "or \"pixels\", not " +
                            units->dump());
  }
  if (numClasses) {
    auto classes = root.find("num_classes");
    if (classes == root.end() || !classes->is_number_integer() ||
        classes->get<int>() <= 0)
      throw FcosDecodeError("post_process: \"num_classes\" must be a "
                            "positive integer");
    *numClasses = classes->get<int>();
  }
  return options;
}

std::vector<ImageDetections> decodeFcos(const std::vector<FcosLevel> &levels,
                                        int batchSize, int numClasses,
                                        const FcosDecodeOptions &options) {
  std::vector<ImageDetections> results;
  for (int n = 0; n < batchSize; ++n)
    results.push_back(
        decodeFcosImage(levels, batchSize, n, numClasses, options));
  return results;
}

void rescaleDetections(ImageDetections &detections, float scaleX, float scaleY,
                       float imageWidth, float imageHeight, float padLeft,
                       float padTop) {
  if (!(scaleX > 0) || !(scaleY > 0))
    throw std::invalid_argument("rescaleDetections: scales must be positive");
  for (Box &box : detections.boxes) {
    box.x1 = (box.x1 - padLeft) / scaleX;
    box.x2 = (box.x2 - padLeft) / scaleX;
    box.y1 = (box.y1 - padTop) / scaleY;
    box.y2 = (box.y2 - padTop) / scaleY;
    if (imageWidth > 0) {
      box.x1 = std::clamp(box.x1, 0.0f, imageWidth);
      box.x2 = std::clamp(box.x2, 0.0f, imageWidth);
    }
    if (imageHeight > 0) {
      box.y1 = std::clamp(box.y1, 0.0f, imageHeight);
      box.y2 = std::clamp(box.y2, 0.0f, imageHeight);
    }
  }
}

std::vector<DetectionBox>
toCocoDetections(const ImageDetections &detections, int64_t imageId,
                 const std::vector<int64_t> &categoryIdOfLabel) {
  std::vector<DetectionBox> out;
  out.reserve(detections.size());
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const int label = detections.labels[i];
    if (label < 0 ||
        static_cast<std::size_t>(label) >= categoryIdOfLabel.size())
      throw std::out_of_range(
          "detection label " + std::to_string(label) + " has no category id (" +
          std::to_string(categoryIdOfLabel.size()) + " categories)");
    const Box &box = detections.boxes[i];
    DetectionBox det;
    det.imageId = imageId;
    det.categoryId = categoryIdOfLabel[label];
    det.x = box.x1;
    det.y = box.y1;
    det.width = static_cast<double>(box.x2) - box.x1;
    det.height = static_cast<double>(box.y2) - box.y1;
    det.score = detections.scores[i];
    out.push_back(det);
  }
  return out;
}

} // namespace hat::detection
