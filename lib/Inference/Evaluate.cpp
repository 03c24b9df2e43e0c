//===- Evaluate.cpp - Score a compiled model on a config's data -----------===//

#include "hat/Inference/Evaluate.h"

#include "hat/Data/DataLoader.h"
#include "hat/Data/Datasets.h"
#include "hat/Detection/Draw.h"
#include "hat/Eval/Kernels.h"
#include "hat/Eval/Tensor.h"
#include "hat/Runtime/Runtime.h"

#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <filesystem>
#include <unordered_map>

namespace hat::inference {

namespace {
/// Runs `batch` through the session after the batch processor's
/// batch_transforms (in place).
std::vector<eval::Tensor>
runBatch(runtime::Session &session, data::Batch &batch,
         const std::vector<data::TransformPtr> &batchTransforms) {
  if (!batchTransforms.empty()) {
    try {
      data::applyBatchTransforms(batchTransforms, batch);
    } catch (const std::exception &e) {
      throw InferenceError(std::string("batch_transforms: ") + e.what());
    }
  }
  eval::Tensor images =
      eval::Tensor::f32({batch.imageShape[0], batch.imageShape[1],
                         batch.imageShape[2], batch.imageShape[3]});
  images.f = batch.images;
  std::vector<eval::Tensor> outputs;
  std::string error;
  if (!session.run({images}, outputs, error))
    throw InferenceError(error);
  // An integer output with a scale (a head compiled with
  // dequant_output=False) is dequantized here, on the CPU as on the board:
  // float(q) * scale, the arithmetic of the in-model dequantize, so the
  // decoder sees the same floats either way.
  const hbm::Model &model = session.model();
  for (size_t o = 0; o < outputs.size(); ++o) {
    const hbm::TensorDesc &desc = model.tensors[size_t(model.outputs[o])];
    if (outputs[o].dtype != eval::DType::F32 && !desc.scale.empty())
      outputs[o] = eval::dequantize(outputs[o], desc.scale, -1);
  }
  return outputs;
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}
} // namespace

std::vector<std::pair<std::string, double>>
evaluateClassifier(runtime::Session &session, data::DataLoader &loader,
                   const std::vector<int64_t> &topKs,
                   const std::string &loaderName, Throughput &throughput,
                   const std::vector<data::TransformPtr> &batchTransforms) {
  std::vector<int64_t> correct(topKs.size() + 1, 0);
  int64_t total = 0;
  data::Batch batch;
  auto t0 = std::chrono::steady_clock::now();
  loader.startEpoch(0);
  while (loader.next(batch)) {
    std::vector<eval::Tensor> outputs =
        runBatch(session, batch, batchTransforms);
    const eval::Tensor &logits = outputs.at(0);
    if (logits.dtype != eval::DType::F32 || logits.shape.size() != 2 ||
        logits.shape[0] != batch.size())
      throw InferenceError("the model's first output is not [N, classes] "
                           "float scores");
    const int64_t classes = logits.shape[1];
    for (int64_t n = 0; n < batch.size(); ++n) {
      const int64_t label = batch.labels[size_t(n)];
      if (label < 0 || label >= classes)
        throw InferenceError(loaderName + " sample " +
                             std::to_string(total + n) + " has label " +
                             std::to_string(label) + ", the model scores " +
                             std::to_string(classes) + " classes (0.." +
                             std::to_string(classes - 1) + ")");
      const float *row = logits.f.data() + n * classes;
      const float score = row[label];
      // Rank of the label: how many classes score higher (ties resolved
      // towards the lower index, as argmax does).
      int64_t rank = 0;
      for (int64_t c = 0; c < classes; ++c)
        rank += row[c] > score || (row[c] == score && c < label);
      correct[0] += rank == 0;
      for (size_t i = 0; i < topKs.size(); ++i)
        correct[i + 1] += rank < topKs[i];
    }
    total += batch.size();
  }
  throughput = {total, secondsSince(t0)};
  if (total == 0)
    throw InferenceError(loaderName + " produced no samples");
  std::vector<std::pair<std::string, double>> metrics;
  metrics.emplace_back("accuracy", double(correct[0]) / double(total));
  for (size_t i = 0; i < topKs.size(); ++i)
    metrics.emplace_back("top" + std::to_string(topKs[i]),
                         double(correct[i + 1]) / double(total));
  return metrics;
}

void evaluateDetector(runtime::Session &session,
                      const detection::DetectionPostProcessor &postProcessor,
                      data::DataLoader &loader,
                      detection::CocoAccumulator &accumulator,
                      Throughput &throughput,
                      const std::vector<data::TransformPtr> &batchTransforms) {
  const std::vector<std::string> &names = session.model().outputNames;
  data::Batch batch;
  int64_t total = 0;
  auto t0 = std::chrono::steady_clock::now();
  loader.startEpoch(0);
  while (loader.next(batch)) {
    std::vector<eval::Tensor> outputs =
        runBatch(session, batch, batchTransforms);
    if (names.size() != outputs.size())
      throw InferenceError("the HBM names " + std::to_string(names.size()) +
                           " of its " + std::to_string(outputs.size()) +
                           " outputs");
    std::vector<detection::NamedOutput> named;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].dtype != eval::DType::F32)
        throw InferenceError("output '" + names[i] +
                             "' is not float: the detector's decoding reads "
                             "dequantized outputs");
      named.push_back({names[i], outputs[i].shape, outputs[i].f.data()});
    }
    std::vector<detection::ImageDetections> detections;
    try {
      detections = postProcessor.decode(named);
    } catch (const std::exception &e) {
      throw InferenceError(e.what());
    }
    if (static_cast<int64_t>(detections.size()) != batch.size() ||
        batch.imageIds.size() != detections.size() ||
        batch.scaleFactors.size() != detections.size() ||
        batch.validRegions.size() != detections.size() ||
        batch.originalSizes.size() != detections.size())
      throw InferenceError("the loader's batches carry no image ids and "
                           "sizes: detection needs a COCO dataset collated "
                           "by collate_2d");
    for (size_t n = 0; n < detections.size(); ++n) {
      detection::ImageMeta meta;
      meta.imageId = batch.imageIds[n];
      meta.scaleX = batch.scaleFactors[n][0];
      meta.scaleY = batch.scaleFactors[n][1];
      meta.validRegion = batch.validRegions[n];
      meta.originalHeight = batch.originalSizes[n][0];
      meta.originalWidth = batch.originalSizes[n][1];
      detection::DetectionPostProcessor::toOriginalImage(detections[n], meta);
      try {
        accumulator.add(meta.imageId, std::move(detections[n]));
      } catch (const std::exception &e) {
        throw InferenceError(e.what());
      }
    }
    total += batch.size();
  }
  throughput = {total, secondsSince(t0)};
  if (total == 0)
    throw InferenceError("the loader produced no samples");
}

size_t writeDetectionImages(
    const data::Dataset &dataset,
    const std::vector<std::pair<int64_t, detection::ImageDetections>>
        &detections,
    const std::string &dir, float minScore, int64_t maxImages) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw InferenceError("cannot create " + dir + ": " + ec.message());
  std::unordered_map<int64_t, const detection::ImageDetections *> byId;
  for (const auto &[id, dets] : detections)
    byId.emplace(id, &dets);
  detection::DrawOptions options;
  options.minScore = minScore;
  size_t written = 0;
  for (size_t i = 0; i < dataset.size(); ++i) {
    if (maxImages > 0 && static_cast<int64_t>(written) >= maxImages)
      break;
    data::Sample sample = dataset.load(i);
    auto it = byId.find(sample.imageId);
    if (it == byId.end())
      continue;
    cv::Mat image = sample.image;
    detection::drawDetections(image, *it->second, dataset.classNames(),
                              options);
    const std::string path =
        (std::filesystem::path(dir) / (std::to_string(sample.imageId) + ".jpg"))
            .string();
    if (!cv::imwrite(path, image))
      throw InferenceError("cannot write " + path);
    ++written;
  }
  return written;
}

} // namespace hat::inference
