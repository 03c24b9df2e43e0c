//===- CulaneF1Metric.cpp - CULane F1 of a lane detector's predictions ----===//
//
// The engine's side of the CULane evaluation: lanes as tensors in, the
// torch-free hat::lane::CulaneF1Score (shared with hat-run and
// hat-culane-eval) counts them.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Registry.h"
#include "hat/Inference/Evaluate.h"
#include "hat/Metrics/Metrics.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>

namespace hat::metrics {

namespace {
/// Per image, its lanes, from a list (per image) of lists of [P, 2] tensors.
config::Expected<std::vector<std::vector<lane::Lane>>>
lanesFromValue(const config::Value &value, const char *what) {
  if (!(value.isList() || value.isTuple()))
    return config::Diagnostic(std::string("CulaneF1Score: ") + what +
                              " must be a list (per image) of lists of "
                              "[P, 2] lane tensors, got " +
                              value.typeName());
  std::vector<std::vector<lane::Lane>> images;
  for (const config::Value &image : value.sequenceItems()) {
    if (!(image.isList() || image.isTuple()))
      return config::Diagnostic(std::string("CulaneF1Score: ") + what + "[" +
                                std::to_string(images.size()) +
                                "] must be a list of [P, 2] lane tensors");
    std::vector<lane::Lane> lanes;
    for (const config::Value &laneValue : image.sequenceItems()) {
      at::Tensor t = asTensor(laneValue);
      if (!t.defined() || t.dim() != 2 || t.size(1) != 2)
        return config::Diagnostic(std::string("CulaneF1Score: ") + what + "[" +
                                  std::to_string(images.size()) + "][" +
                                  std::to_string(lanes.size()) +
                                  "] must be a [P, 2] (x, y) tensor");
      t = t.detach().to(at::kCPU, at::kFloat).contiguous();
      const float *p = t.data_ptr<float>();
      lane::Lane lane;
      for (int64_t k = 0; k < t.size(0); ++k)
        lane.push_back({p[2 * k], p[2 * k + 1]});
      lanes.push_back(std::move(lane));
    }
    images.push_back(std::move(lanes));
  }
  return images;
}

const config::Value *key(const config::Value &dict, const char *name) {
  return dict.isDict() ? dict.asDict().find(name) : nullptr;
}
} // namespace

CulaneF1ScoreMetric::CulaneF1ScoreMetric(std::string name,
                                         lane::CulaneOptions options)
    : name(std::move(name)), score(options) {}

std::vector<std::pair<std::string, double>> CulaneF1ScoreMetric::get() const {
  if (score.get().images == 0)
    return {};
  return inference::culaneFigures(score.get(), name);
}

config::Expected<config::Value>
CulaneF1ScoreMetric::mergeState(const std::vector<double> &other) {
  try {
    score.mergeState(other);
  } catch (const std::exception &e) {
    return config::Diagnostic(std::string("CulaneF1Score: ") + e.what());
  }
  return config::Value::none();
}

config::Expected<config::Value>
CulaneF1ScoreMetric::update(const std::vector<config::Value> &args) {
  if (args.size() != 2)
    return config::Diagnostic(
        "CulaneF1Score.update takes (annos, preds) or (batch, model_outs)");
  // (batch, model_outs): the ground truth as stored and the decoded lanes.
  const config::Value *annos = &args[0];
  if (args[0].isDict()) {
    annos = key(args[0], "ori_gt_lines");
    if (!annos)
      return config::Diagnostic(
          "CulaneF1Score.update: the batch has no 'ori_gt_lines'; is it a "
          "lane dataset (e.g. CuLaneFromLMDB) collated by collate_2d?");
  }
  const config::Value *preds = &args[1];
  if (args[1].isDict()) {
    preds = key(args[1], "pred_lanes");
    if (!preds)
      return config::Diagnostic(
          "CulaneF1Score.update: the model outputs have no 'pred_lanes'; is "
          "the model a lane detector with a post_process (GaNet with "
          "GaNetDecoder), run in eval mode?");
  }
  auto gt = lanesFromValue(*annos, "annos");
  if (!gt)
    return gt.error();
  auto pred = lanesFromValue(*preds, "preds");
  if (!pred)
    return pred.error();
  if (gt->size() != pred->size())
    return config::Diagnostic(
        "CulaneF1Score.update: " + std::to_string(gt->size()) +
        " images of ground truth, " + std::to_string(pred->size()) +
        " of predictions");
  for (size_t i = 0; i < gt->size(); ++i)
    score.update((*gt)[i], (*pred)[i]);
  return config::Value::none();
}

namespace {
config::Expected<std::any> buildCulaneF1Score(const config::BuildArgs &args) {
  auto spec = inference::parseCulaneF1Score(args);
  if (!spec)
    return spec.error();
  try {
    return std::any(MetricPtr(
        std::make_shared<CulaneF1ScoreMetric>(spec->name, spec->options)));
  } catch (const std::exception &e) {
    return args.error(std::string("CulaneF1Score: ") + e.what());
  }
}
HAT_REGISTER("metric", {"CulaneF1Score"},
             config::KwargSpec{
                 {}, {"name", "iou_thresh", "img_shape", "width", "samples"}},
             buildCulaneF1Score);
} // namespace

} // namespace hat::metrics
