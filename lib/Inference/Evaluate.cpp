//===- Evaluate.cpp - Score a compiled model on a config's data -----------===//

#include "hat/Inference/Evaluate.h"

#include "hat/Data/DataLoader.h"
#include "hat/Data/Datasets.h"
#include "hat/Detection/Draw.h"
#include "hat/Eval/Kernels.h"
#include "hat/Eval/Tensor.h"
#include "hat/Lane/CulaneFiles.h"
#include "hat/Lane/GaNetCodec.h"
#include "hat/Runtime/Runtime.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
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
  // A model compiled for the camera pyramid takes what the pyramid
  // delivers: YUV444 (from NV12), or its Y plane alone for one channel.
  // Feeding it RGB or BGR would run without error and score garbage.
  if (session.model().inputSource == "pyramid")
    for (size_t n = 0; n < batch.colorSpaces.size(); ++n)
      if (batch.colorSpaces[n] != "yuv444" && batch.colorSpaces[n] != "gray")
        throw InferenceError(
            "the HBM was compiled with --input-source pyramid and takes "
            "YUV444 images, but image " +
            std::to_string(n) + " of the batch is " + batch.colorSpaces[n] +
            ": convert it with BgrToYuv444 (in the transforms or the batch "
            "processor's batch_transforms), or compile with --input-source "
            "ddr");
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

/// The session's float outputs by their HBM names, for a CPU decoder.
std::vector<detection::NamedOutput>
namedOutputs(runtime::Session &session,
             const std::vector<eval::Tensor> &outputs) {
  const std::vector<std::string> &names = session.model().outputNames;
  if (names.size() != outputs.size())
    throw InferenceError("the HBM names " + std::to_string(names.size()) +
                         " of its " + std::to_string(outputs.size()) +
                         " outputs");
  std::vector<detection::NamedOutput> named;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].dtype != eval::DType::F32)
      throw InferenceError("output '" + names[i] +
                           "' is not float: the CPU decoder reads "
                           "dequantized outputs");
    named.push_back({names[i], outputs[i].shape, outputs[i].f.data()});
  }
  return named;
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
  data::Batch batch;
  int64_t total = 0;
  auto t0 = std::chrono::steady_clock::now();
  loader.startEpoch(0);
  while (loader.next(batch)) {
    std::vector<eval::Tensor> outputs =
        runBatch(session, batch, batchTransforms);
    std::vector<detection::NamedOutput> named = namedOutputs(session, outputs);
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

config::Expected<CulaneF1Spec>
parseCulaneF1Score(const config::BuildArgs &args) {
  CulaneF1Spec spec;
  config::Value name = args.get("name");
  if (!name.isNone()) {
    if (!name.isStr() || name.asStr().empty())
      return args.error("'name' must be a non-empty string, got " +
                        name.repr());
    spec.name = name.asStr();
  }
  config::Value iou = args.get("iou_thresh");
  if (!iou.isNone()) {
    if (!iou.isNumber() || iou.isBool() || !(iou.asNumber() >= 0) ||
        !(iou.asNumber() < 1))
      return args.error("'iou_thresh' must be a number in [0, 1), got " +
                        iou.repr());
    spec.options.iouThreshold = iou.asNumber();
  }
  config::Value shape = args.get("img_shape");
  if (!shape.isNone()) {
    std::vector<int64_t> dims;
    if (shape.isList() || shape.isTuple())
      for (const config::Value &d : shape.sequenceItems())
        dims.push_back(d.isInt() ? d.asInt() : -1);
    if (dims.size() < 2 || dims.size() > 3 || dims[0] < 1 || dims[1] < 1 ||
        dims[0] > 32767 || dims[1] > 32767 || (dims.size() == 3 && dims[2] < 1))
      return args.error("'img_shape' must be (height, width[, channels]) "
                        "with sizes in 1..32767, got " +
                        shape.repr());
    spec.options.imageHeight = static_cast<int>(dims[0]);
    spec.options.imageWidth = static_cast<int>(dims[1]);
  }
  config::Value width = args.get("width");
  if (!width.isNone()) {
    if (!width.isInt() || width.asInt() < 1 || width.asInt() > 32767)
      return args.error("'width' (the lane's thickness in pixels) must be an "
                        "integer in 1..32767, got " +
                        width.repr());
    spec.options.laneWidth = static_cast<int>(width.asInt());
  }
  config::Value samples = args.get("samples");
  if (!samples.isNone() && (!samples.isInt() || samples.asInt() != 50))
    return args.error("'samples' must be 50: the official CULane evaluator "
                      "samples each spline segment 50 times, and the F1 here "
                      "follows it exactly; got " +
                      samples.repr());
  return spec;
}

std::vector<std::pair<std::string, double>>
culaneFigures(const lane::CulaneCounts &counts, const std::string &name) {
  return {{name, counts.f1().value_or(0.0)},
          {"precision", counts.precision().value_or(0.0)},
          {"recall", counts.recall().value_or(0.0)},
          {"tp", static_cast<double>(counts.tp)},
          {"fp", static_cast<double>(counts.fp)},
          {"fn", static_cast<double>(counts.fn)}};
}

std::vector<std::vector<lane::Lane>> batchLanes(const data::Batch &batch,
                                                bool stored) {
  const std::vector<float> &points =
      stored ? batch.originalLanePoints : batch.lanePoints;
  const std::vector<int64_t> &pointOffsets =
      stored ? batch.originalLanePointOffsets : batch.lanePointOffsets;
  const std::vector<int64_t> &laneOffsets =
      stored ? batch.originalLaneOffsets : batch.laneOffsets;
  const size_t n = static_cast<size_t>(batch.size());
  if (laneOffsets.size() != n + 1 || pointOffsets.empty() ||
      laneOffsets.back() + 1 != static_cast<int64_t>(pointOffsets.size()) ||
      pointOffsets.back() * 2 != static_cast<int64_t>(points.size()))
    throw InferenceError(std::string("the batch carries no ") +
                         (stored ? "stored " : "") +
                         "lanes: lane detection needs a lane dataset (e.g. "
                         "CuLaneFromLMDB) collated by collate_2d");
  std::vector<std::vector<lane::Lane>> lanes(n);
  for (size_t i = 0; i < n; ++i)
    for (int64_t l = laneOffsets[i]; l < laneOffsets[i + 1]; ++l) {
      lane::Lane lane;
      for (int64_t p = pointOffsets[size_t(l)]; p < pointOffsets[size_t(l) + 1];
           ++p)
        lane.push_back({points[size_t(2 * p)], points[size_t(2 * p + 1)]});
      lanes[i].push_back(std::move(lane));
    }
  return lanes;
}

void evaluateLaneDetector(
    runtime::Session &session, const lane::GaNetPostProcessor &postProcessor,
    data::DataLoader &loader, lane::CulaneF1Score &metric,
    Throughput &throughput,
    const std::vector<data::TransformPtr> &batchTransforms,
    LanePredictions *predictions) {
  data::Batch batch;
  int64_t total = 0;
  auto t0 = std::chrono::steady_clock::now();
  loader.startEpoch(0);
  while (loader.next(batch)) {
    std::vector<eval::Tensor> outputs =
        runBatch(session, batch, batchTransforms);
    std::vector<detection::NamedOutput> named = namedOutputs(session, outputs);
    std::vector<std::vector<lane::Lane>> lanes;
    try {
      lanes = postProcessor.decode(named);
    } catch (const std::exception &e) {
      throw InferenceError(e.what());
    }
    std::vector<std::vector<lane::Lane>> truth = batchLanes(batch, true);
    if (lanes.size() != truth.size() ||
        batch.scaleFactors.size() != lanes.size() ||
        batch.cropOffsets.size() != lanes.size())
      throw InferenceError("the loader's batches carry no scale factors and "
                           "crop offsets: lane detection needs a lane "
                           "dataset collated by collate_2d");
    for (size_t n = 0; n < lanes.size(); ++n) {
      try {
        lane::lanesToOriginalImage(
            lanes[n], batch.scaleFactors[n][0], batch.scaleFactors[n][1],
            batch.cropOffsets[n][0], batch.cropOffsets[n][1]);
      } catch (const std::exception &e) {
        throw InferenceError("sample " + std::to_string(total + int64_t(n)) +
                             ": " + e.what());
      }
      metric.update(truth[n], lanes[n]);
      if (predictions)
        predictions->emplace_back(batch.sampleIndices.at(n),
                                  std::move(lanes[n]));
    }
    total += batch.size();
  }
  throughput = {total, secondsSince(t0)};
  if (total == 0)
    throw InferenceError("the loader produced no samples");
}

size_t writeLaneFiles(const data::Dataset &dataset,
                      const LanePredictions &predictions,
                      const std::string &dir) {
  size_t written = 0;
  for (const auto &[index, lanes] : predictions) {
    const data::Sample sample = dataset.load(static_cast<size_t>(index));
    if (sample.fileName.empty())
      throw InferenceError("sample " + std::to_string(index) +
                           " has no packed image path to name its "
                           ".lines.txt after; repack the LMDB with hat-pack");
    const std::string path = lane::culaneLanesPath(dir, sample.fileName);
    std::error_code ec;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path(), ec);
    std::ofstream file(path, std::ios::binary);
    file << lane::formatLanesText(lanes);
    if (!file.flush())
      throw InferenceError("cannot write " + path);
    ++written;
  }
  return written;
}

size_t writeLaneImages(const data::Dataset &dataset,
                       const LanePredictions &predictions,
                       const std::string &dir, int64_t maxImages) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw InferenceError("cannot create " + dir + ": " + ec.message());
  static const cv::Scalar colours[] = {
      {0, 0, 255}, {0, 255, 255}, {255, 0, 255}, {255, 128, 0}, {0, 128, 255}};
  size_t written = 0;
  for (const auto &[index, lanes] : predictions) {
    if (maxImages > 0 && static_cast<int64_t>(written) >= maxImages)
      break;
    data::Sample sample = dataset.load(static_cast<size_t>(index));
    cv::Mat image = sample.image;
    if (sample.colorSpace == "rgb")
      cv::cvtColor(image, image, cv::COLOR_RGB2BGR);
    const int thickness = std::max(2, image.cols / 200);
    for (const auto &truth : sample.originalLanes)
      for (size_t k = 1; k < truth.size(); ++k)
        cv::line(image, truth[k - 1], truth[k], {0, 200, 0}, 1, cv::LINE_AA);
    for (size_t l = 0; l < lanes.size(); ++l) {
      const cv::Scalar &colour = colours[l % std::size(colours)];
      for (size_t k = 0; k < lanes[l].size(); ++k) {
        const cv::Point2f p(lanes[l][k].x, lanes[l][k].y);
        cv::circle(image, p, thickness, colour, cv::FILLED, cv::LINE_AA);
        if (k > 0)
          cv::line(image, {lanes[l][k - 1].x, lanes[l][k - 1].y}, p, colour,
                   thickness / 2 + 1, cv::LINE_AA);
      }
    }
    const std::string path =
        (std::filesystem::path(dir) / (std::to_string(index) + ".jpg"))
            .string();
    if (!cv::imwrite(path, image))
      throw InferenceError("cannot write " + path);
    ++written;
  }
  return written;
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
