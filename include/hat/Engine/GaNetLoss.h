//===- GaNetLoss.h - GaNet's targets and losses on head outputs -*- C++ -*-===//
//
// The training side of GaNet (issue 10): the lanes of a collated batch
// become keypoint maps (hat::lane::encodeGaNet, the same code the decoder
// inverts) and the head's outputs are scored against them:
//   heatmap       [N, 1, H, W] logits  -> LaneFastFocalLoss
//   start offset  [N, 2, H, W]         -> L1Loss on keypoint cells
//   point offset  [N, 2, H, W]         -> L1Loss on keypoint cells
// The offset losses average over the keypoint cells of the batch (+1e-4),
// as GANet's RegL1KpLoss. H, W must be the input size / downscale.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_ENGINE_GANETLOSS_H
#define HAT_ENGINE_GANETLOSS_H

#include "hat/Config/Value.h"
#include "hat/Engine/DetectionLosses.h"
#include "hat/Lane/GaNetCodec.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hat::engine {

struct GaNetHeadOutputs {
  at::Tensor heatmap, startOffset, pointOffset;
};

/// Per image, its lanes in network-input pixels.
using LaneBatch = std::vector<std::vector<lane::Lane>>;

/// The maps of a batch as tensors [N, C, H, W] (float32, CPU).
struct GaNetTargetTensors {
  at::Tensor heatmap, startOffset, pointOffset, mask;
};
GaNetTargetTensors ganetTargets(const LaneBatch &lanes, int64_t inputHeight,
                                int64_t inputWidth,
                                const lane::GaNetTargetOptions &options);

class GaNetLoss {
public:
  /// Throws std::invalid_argument when two losses share a name.
  GaNetLoss(lane::GaNetTargetOptions targets, DetectionLossPtr heatmapLoss,
            DetectionLossPtr startOffsetLoss, DetectionLossPtr pointOffsetLoss);
  /// {heatmap loss name, start offset name, point offset name} -> scalars
  /// that backpropagate into `outputs`. Throws std::invalid_argument for
  /// maps whose shape does not fit the input and downscale.
  std::vector<std::pair<std::string, at::Tensor>>
  operator()(const GaNetHeadOutputs &outputs, const LaneBatch &lanes,
             int64_t inputHeight, int64_t inputWidth) const;

private:
  lane::GaNetTargetOptions targets_;
  DetectionLossPtr heatmap_, startOffset_, pointOffset_;
};

/// Builds GaNetLoss from a GaNet model config dict: its `targets`
/// (GaNetTarget: hm_down_scale, radius) and `losses` (GaNetLoss:
/// loss_kpts_cls on the heatmap, loss_pts_offset_reg on the start offset,
/// loss_int_offset_reg on the point offset).
config::Expected<std::shared_ptr<const GaNetLoss>>
buildGaNetLoss(const config::Value &ganetModelConfig);

} // namespace hat::engine

#endif // HAT_ENGINE_GANETLOSS_H
