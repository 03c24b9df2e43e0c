//===- LaneLosses.h - GaNet's heatmap focal loss and masked L1 --*- C++ -*-===//
//
// The losses of HAT's GaNet config, over LossInput like the detection
// losses (DetectionLosses.h):
//
//   LaneFastFocalLoss(loss_name, loss_weight, alpha=2, beta=4, eps)
//     CornerNet's penalty-reduced focal loss on a keypoint heatmap, as GANet
//     and CenterNet compute it: p = clamp(sigmoid(pred), eps, 1 - eps),
//       pos (target == 1):  -(1 - p)^alpha * log(p)
//       neg (target <  1):  -(1 - target)^beta * p^alpha * log(1 - p)
//     summed over every cell and divided by the number of positives (the
//     negative sum alone when there is none). pred are logits.
//   L1Loss(loss_name, loss_weight, reduction)
//     |pred - target| * weight, reduced as mmdet's weight_reduce_loss; the
//     GaNet offsets pass the keypoint mask as weight and the number of
//     masked cells + 1e-4 as avg_factor (GANet's RegL1KpLoss).
//
//===----------------------------------------------------------------------===//
#ifndef HAT_ENGINE_LANELOSSES_H
#define HAT_ENGINE_LANELOSSES_H

#include "hat/Engine/DetectionLosses.h"

namespace hat::engine {

struct LaneFastFocalLossOptions {
  std::string loss_name = "heatmap";
  double loss_weight = 1.0, alpha = 2.0, beta = 4.0, eps = 1e-4;
};

class LaneFastFocalLoss : public DetectionLoss {
public:
  explicit LaneFastFocalLoss(LaneFastFocalLossOptions options);
  const char *typeName() const override { return "LaneFastFocalLoss"; }
  /// pred [..] logits and target [..] in [0, 1] of one shape; weight and
  /// avg_factor are not used (the positives normalise).
  at::Tensor compute(const LossInput &input) const override;

private:
  LaneFastFocalLossOptions options_;
};

struct L1LossOptions {
  std::string loss_name = "l1";
  double loss_weight = 1.0;
  LossReduction reduction = LossReduction::Mean;
};

class L1Loss : public DetectionLoss {
public:
  explicit L1Loss(L1LossOptions options);
  const char *typeName() const override { return "L1Loss"; }
  at::Tensor compute(const LossInput &input) const override;

private:
  L1LossOptions options_;
};

} // namespace hat::engine

#endif // HAT_ENGINE_LANELOSSES_H
