//===- GaNetLoss.cpp - GaNet's targets and losses on head outputs ---------===//

#include "hat/Engine/GaNetLoss.h"

#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>
#include <tuple>

namespace hat::engine {

GaNetTargetTensors ganetTargets(const LaneBatch &lanes, int64_t inputHeight,
                                int64_t inputWidth,
                                const lane::GaNetTargetOptions &options) {
  const int64_t n = static_cast<int64_t>(lanes.size());
  const int64_t h = inputHeight / options.downscale;
  const int64_t w = inputWidth / options.downscale;
  GaNetTargetTensors t;
  t.heatmap = at::zeros({n, 1, h, w}, at::kFloat);
  t.startOffset = at::zeros({n, 2, h, w}, at::kFloat);
  t.pointOffset = at::zeros({n, 2, h, w}, at::kFloat);
  t.mask = at::zeros({n, 1, h, w}, at::kFloat);
  const size_t plane = static_cast<size_t>(h * w);
  for (int64_t i = 0; i < n; ++i) {
    lane::GaNetTargets maps =
        lane::encodeGaNet(lanes[i], static_cast<int>(inputHeight),
                          static_cast<int>(inputWidth), options);
    std::memcpy(t.heatmap[i].data_ptr<float>(), maps.heatmap.data(),
                plane * sizeof(float));
    std::memcpy(t.startOffset[i].data_ptr<float>(), maps.startOffset.data(),
                2 * plane * sizeof(float));
    std::memcpy(t.pointOffset[i].data_ptr<float>(), maps.pointOffset.data(),
                2 * plane * sizeof(float));
    std::memcpy(t.mask[i].data_ptr<float>(), maps.offsetMask.data(),
                plane * sizeof(float));
  }
  return t;
}

GaNetLoss::GaNetLoss(lane::GaNetTargetOptions targets,
                     DetectionLossPtr heatmapLoss,
                     DetectionLossPtr startOffsetLoss,
                     DetectionLossPtr pointOffsetLoss)
    : targets_(targets), heatmap_(std::move(heatmapLoss)),
      startOffset_(std::move(startOffsetLoss)),
      pointOffset_(std::move(pointOffsetLoss)) {
  if (!heatmap_ || !startOffset_ || !pointOffset_)
    throw std::invalid_argument("GaNetLoss needs three losses");
  if (heatmap_->name() == startOffset_->name() ||
      heatmap_->name() == pointOffset_->name() ||
      startOffset_->name() == pointOffset_->name())
    throw std::invalid_argument(
        "GaNet's losses need distinct loss_name values (got '" +
        heatmap_->name() + "', '" + startOffset_->name() + "', '" +
        pointOffset_->name() + "')");
}

std::vector<std::pair<std::string, at::Tensor>>
GaNetLoss::operator()(const GaNetHeadOutputs &outputs, const LaneBatch &lanes,
                      int64_t inputHeight, int64_t inputWidth) const {
  const int64_t n = static_cast<int64_t>(lanes.size());
  const int64_t h = inputHeight / targets_.downscale;
  const int64_t w = inputWidth / targets_.downscale;
  auto check = [&](const at::Tensor &t, int64_t channels, const char *what) {
    if (!t.defined() || t.dim() != 4 || t.size(0) != n ||
        t.size(1) != channels || t.size(2) != h || t.size(3) != w)
      throw std::invalid_argument(
          std::string("GaNet ") + what + " output " + tensorShapeText(t) +
          " does not fit [" + std::to_string(n) + ", " +
          std::to_string(channels) + ", " + std::to_string(h) + ", " +
          std::to_string(w) + "] (input " + std::to_string(inputHeight) + "x" +
          std::to_string(inputWidth) + " / downscale " +
          std::to_string(targets_.downscale) + ")");
  };
  check(outputs.heatmap, 1, "heatmap");
  check(outputs.startOffset, 2, "start offset");
  check(outputs.pointOffset, 2, "point offset");
  GaNetTargetTensors t = ganetTargets(lanes, inputHeight, inputWidth, targets_);
  const auto device = outputs.heatmap.device();
  const auto dtype = outputs.heatmap.scalar_type();
  std::vector<std::pair<std::string, at::Tensor>> losses;
  LossInput heat;
  heat.pred = outputs.heatmap;
  heat.target = t.heatmap.to(device, dtype);
  losses.emplace_back(heatmap_->name(), heatmap_->compute(heat));
  const at::Tensor mask = t.mask.to(device, dtype);
  const double cells = mask.sum().item<double>() + 1e-4;
  for (auto [loss, pred, target] :
       {std::tuple{startOffset_.get(), &outputs.startOffset, &t.startOffset},
        std::tuple{pointOffset_.get(), &outputs.pointOffset, &t.pointOffset}}) {
    LossInput in;
    in.pred = *pred;
    in.target = target->to(device, dtype);
    in.weight = mask.expand_as(*pred);
    in.avgFactor = cells;
    losses.emplace_back(loss->name(), loss->compute(in));
  }
  return losses;
}

config::Expected<std::shared_ptr<const GaNetLoss>>
buildGaNetLoss(const config::Value &ganetModelConfig) {
  if (!ganetModelConfig.isDict())
    return config::Diagnostic("a GaNet model config must be a dict, got " +
                              ganetModelConfig.repr());
  const config::DictData &model = ganetModelConfig.asDict();
  auto located = [](const config::DictData &d, const std::string &message) {
    return d.loc.valid() ? config::Diagnostic(d.loc, message)
                         : config::Diagnostic(message);
  };
  auto dictOf =
      [&](const char *key,
          const char *type) -> config::Expected<const config::DictData *> {
    const config::Value *v = model.find(key);
    if (!v || v->isNone() || !v->isDict())
      return located(model, std::string("GaNet needs '") + key +
                                "' (dict(type=\"" + type +
                                "\", ...)) to train");
    return &v->asDict();
  };
  auto targets = dictOf("targets", "GaNetTarget");
  if (!targets)
    return targets.error();
  auto losses = dictOf("losses", "GaNetLoss");
  if (!losses)
    return losses.error();
  lane::GaNetTargetOptions options;
  for (auto [key, field, min] :
       {std::tuple{"hm_down_scale", &options.downscale, 1},
        std::tuple{"radius", &options.radius, 0}}) {
    const config::Value *v = (*targets)->find(key);
    if (!v || v->isNone())
      continue;
    if (!v->isInt() || v->asInt() < min || v->asInt() > 1024)
      return located(**targets, std::string("GaNetTarget '") + key +
                                    "' must be an integer in [" +
                                    std::to_string(min) + ", 1024], got " +
                                    v->repr());
    *field = static_cast<int>(v->asInt());
  }
  DetectionLossPtr built[3];
  const char *keys[] = {"loss_kpts_cls", "loss_pts_offset_reg",
                        "loss_int_offset_reg"};
  for (int i = 0; i < 3; ++i) {
    const config::Value *v = (*losses)->find(keys[i]);
    if (!v || v->isNone())
      return located(**losses,
                     std::string("GaNetLoss needs '") + keys[i] + "'");
    // Two L1Losses would both be "l1_loss": unless a loss_name is given,
    // each term is logged under its GaNetLoss key.
    config::Value named = *v;
    if (v->isDict() && !v->asDict().find("loss_name")) {
      named = v->shallowCopy();
      named.asDict().set("loss_name", config::Value::string(keys[i]));
    }
    auto loss = buildDetectionLoss(named, keys[i]);
    if (!loss)
      return loss.error();
    built[i] = *loss;
  }
  try {
    return std::shared_ptr<const GaNetLoss>(
        std::make_shared<GaNetLoss>(options, built[0], built[1], built[2]));
  } catch (const std::invalid_argument &e) {
    return located(**losses, std::string("GaNet: ") + e.what());
  }
}

} // namespace hat::engine
