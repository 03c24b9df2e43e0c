//===- CocoDetectionMetric.cpp - COCO mAP of a detector's predictions -----===//
//
// The engine's side of the COCO evaluation: tensors in, the torch-free
// CocoAccumulator (shared with hat-run and hat-infer) does the rest.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Registry.h"
#include "hat/Metrics/Metrics.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>

namespace hat::metrics {

CocoDetectionMetric::CocoDetectionMetric(const std::string &annFile) {
  try {
    data = std::make_unique<detection::CocoAccumulator>(annFile);
  } catch (const std::exception &e) {
    throw std::runtime_error(e.what());
  }
}

CocoDetectionMetric::~CocoDetectionMetric() = default;

void CocoDetectionMetric::reset() { data->clear(); }

config::Expected<config::Value>
CocoDetectionMetric::update(const std::vector<config::Value> &args) {
  // HAT's configs call update(model_outs); update(batch, model_outs) is
  // accepted too (the outputs are the last argument).
  if (args.empty() || args.size() > 2 || !args.back().isDict())
    return config::Diagnostic(
        "COCODetectionMetric.update(model_outs) takes the detector's predict "
        "outputs (a dict with 'pred_bboxes' and 'img_id')");
  const config::DictData &outs = args.back().asDict();
  const config::Value *preds = outs.find("pred_bboxes");
  const config::Value *idsValue = outs.find("img_id");
  if (!preds || !(preds->isList() || preds->isTuple()) || !idsValue)
    return config::Diagnostic(
        "COCODetectionMetric.update: the model outputs have no "
        "'pred_bboxes'/'img_id'; is the model a detector with a post_process "
        "(e.g. FCOS with FCOSMultiStrideFilter), run in eval mode?");
  at::Tensor ids = asTensor(*idsValue);
  const auto &items = preds->sequenceItems();
  if (!ids.defined() || ids.dim() != 1 ||
      ids.size(0) != static_cast<int64_t>(items.size()))
    return config::Diagnostic(
        "COCODetectionMetric.update: 'img_id' must hold one id per entry of "
        "'pred_bboxes' (" +
        std::to_string(items.size()) + ")");
  ids = ids.to(at::kLong);
  for (size_t n = 0; n < items.size(); ++n) {
    at::Tensor t = asTensor(items[n]);
    if (!t.defined() || t.dim() != 2 || t.size(1) != 6)
      return config::Diagnostic(
          "COCODetectionMetric.update: pred_bboxes[" + std::to_string(n) +
          "] must be a [K, 6] tensor (x1, y1, x2, y2, score, label)");
    t = t.detach().to(at::kCPU, at::kFloat).contiguous();
    auto a = t.accessor<float, 2>();
    detection::ImageDetections image;
    for (int64_t k = 0; k < t.size(0); ++k) {
      const float label = a[k][5];
      if (!(label >= 0) || label != static_cast<float>(static_cast<int>(label)))
        return config::Diagnostic(
            "COCODetectionMetric: pred_bboxes[" + std::to_string(n) + "] row " +
            std::to_string(k) + " has label " + std::to_string(label));
      image.boxes.push_back({a[k][0], a[k][1], a[k][2], a[k][3]});
      image.scores.push_back(a[k][4]);
      image.labels.push_back(static_cast<int>(label));
    }
    try {
      data->add(ids[n].item<int64_t>(), std::move(image));
    } catch (const std::exception &e) {
      return config::Diagnostic(std::string("COCODetectionMetric: ") +
                                e.what());
    }
  }
  return config::Value::none();
}

std::vector<std::pair<std::string, double>> CocoDetectionMetric::get() const {
  return data->metrics();
}

std::vector<double> CocoDetectionMetric::state() const {
  std::vector<double> out;
  out.push_back(static_cast<double>(data->imageIds().size()));
  for (int64_t id : data->imageIds())
    out.push_back(static_cast<double>(id));
  out.push_back(static_cast<double>(data->results().size()));
  for (const auto &d : data->results())
    out.insert(out.end(), {static_cast<double>(d.imageId),
                           static_cast<double>(d.categoryId), d.x, d.y, d.width,
                           d.height, d.score});
  return out;
}

config::Expected<config::Value>
CocoDetectionMetric::mergeState(const std::vector<double> &other) {
  auto bad = [] {
    return config::Diagnostic("COCODetectionMetric: malformed state from "
                              "another rank");
  };
  size_t pos = 0;
  if (other.empty() || !(other[0] >= 0) ||
      other[0] > static_cast<double>(other.size()))
    return bad();
  const size_t images = static_cast<size_t>(other[pos++]);
  if (pos + images >= other.size())
    return bad();
  std::vector<int64_t> ids;
  for (size_t i = 0; i < images; ++i)
    ids.push_back(static_cast<int64_t>(other[pos++]));
  const double count = other[pos++];
  if (!(count >= 0) || other.size() - pos != static_cast<size_t>(count) * 7)
    return bad();
  std::vector<detection::DetectionBox> results;
  for (size_t k = 0; k < static_cast<size_t>(count); ++k) {
    detection::DetectionBox d;
    d.imageId = static_cast<int64_t>(other[pos++]);
    d.categoryId = static_cast<int64_t>(other[pos++]);
    d.x = other[pos++];
    d.y = other[pos++];
    d.width = other[pos++];
    d.height = other[pos++];
    d.score = other[pos++];
    results.push_back(d);
  }
  try {
    data->addResults(ids, results);
  } catch (const std::exception &e) {
    return config::Diagnostic(std::string("COCODetectionMetric: ") + e.what());
  }
  return config::Value::none();
}

namespace {
config::Expected<std::any>
buildCocoDetectionMetric(const config::BuildArgs &args) {
  config::Value annFile = args.get("ann_file");
  if (!annFile.isStr() || annFile.asStr().empty())
    return args.error("'ann_file' must be the path of the COCO annotation "
                      "file (instances_*.json), got " +
                      annFile.repr());
  try {
    return std::any(
        MetricPtr(std::make_shared<CocoDetectionMetric>(annFile.asStr())));
  } catch (const std::exception &e) {
    return args.error(std::string("COCODetectionMetric: ") + e.what());
  }
}
HAT_REGISTER("metric", {"COCODetectionMetric"},
             config::KwargSpec{{"ann_file"}, {}}, buildCocoDetectionMetric);
} // namespace

} // namespace hat::metrics
