//===- GaNetLoss.cpp - GaNet's targets and losses on head outputs ---------===//

#include "hat/Engine/GaNetLoss.h"

#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>

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

} // namespace hat::engine
