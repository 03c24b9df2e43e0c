//===- FcosTarget.h - FCOS label assignment and losses ----------*- C++ -*-===//
//
// Training side of HAT's FCOS: DynamicFcosTarget assigns ground-truth boxes
// to the head's points from the cost of the current predictions (the
// simOTA rule of YOLOX, as HAT's DynamicFcosTarget does), and FcosLoss turns
// the head outputs and a batch's boxes into the named losses the config's
// loss_collector sums. docs/detection.md ("Training: targets and losses")
// describes the rules.
//
// Head output contract, per level l with stride s_l (levels in the order of
// `strides`):
//   cls scores  [N, C, H, W] logits, C = cls_out_channels (no background)
//   bbox preds  [N, 4, H, W] distances l, t, r, b >= 0 in units of s_l
//   centerness  [N, 1, H, W] logits
// The point of cell (x, y) is (x * s_l + s_l / 2, y * s_l + s_l / 2) in
// input pixels (integer division, as HAT's get_points).
//
//===----------------------------------------------------------------------===//
#ifndef HAT_ENGINE_FCOSTARGET_H
#define HAT_ENGINE_FCOSTARGET_H

#include "hat/Config/Registry.h"
#include "hat/Engine/DetectionLosses.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hat::data {
struct Batch;
} // namespace hat::data

namespace hat::engine {

/// The FCOS head's outputs for one batch, one tensor per level.
struct FcosHeadOutputs {
  std::vector<at::Tensor> clsScores;
  std::vector<at::Tensor> bboxPreds;
  std::vector<at::Tensor> centerness;
};

/// A batch's ground truth, one entry per image: boxes [M, 4] (x1, y1, x2,
/// y2 in input pixels) and labels [M] (int64; 0..C-1 a class, negative an
/// ignore region: no point inside it is trained, as HAT does for label < 0).
struct DetectionGroundTruth {
  std::vector<at::Tensor> boxes;
  std::vector<at::Tensor> labels;
};

/// The ground truth of a collated batch; crowd boxes become ignore regions
/// (label -1), as mmdet's gt_bboxes_ignore.
DetectionGroundTruth groundTruthFromBatch(const data::Batch &batch);

struct DynamicFcosTargetOptions {
  std::vector<int64_t> strides;
  /// simOTA's candidate count: a ground truth keeps
  /// k = max(1, floor(sum of its topK best IoUs)) lowest-cost points.
  int64_t topK = 10;
  int64_t cls_out_channels = 0;
  /// Label of negative points; must be cls_out_channels (HAT's convention).
  int64_t background_label = 0;
  /// Cost terms, each with reduction "none": per-class loss [.., C] summed
  /// over the classes, plus the box loss of the decoded boxes.
  DetectionLossPtr loss_cls, loss_reg;
  /// Candidates only within center ± stride * radius (clipped to the box)
  /// instead of the whole box.
  bool center_sampling = false;
  double center_sampling_radius = 2.5;
  /// ReLU the bbox predictions first (for heads that do not).
  bool bbox_relu = false;
};

/// Per-point targets of a batch, flattened image-major, then level, then
/// row-major within a level (HAT's order): index = n * P + point.
struct FcosTargets {
  at::Tensor clsTargets;        ///< [N*P] int64, background_label if negative
  at::Tensor labelWeights;      ///< [N*P] float, 0 inside ignore regions
  at::Tensor bboxTargets;       ///< [N*P, 4] l, t, r, b in stride units
  at::Tensor centernessTargets; ///< [N*P] IoU of the prediction and its GT
  at::Tensor assignedGt;        ///< [N*P] int64, GT index in its image or -1
  at::Tensor positive;          ///< [N*P] bool
  int64_t numPositive = 0;
  int64_t pointsPerImage = 0;
};

/// HAT's three loss inputs, ready for loss_cls, loss_reg, loss_centerness.
struct FcosLossInputs {
  LossInput cls, reg, centerness;
};

class DynamicFcosTarget {
public:
  /// Throws std::invalid_argument for inconsistent options.
  explicit DynamicFcosTarget(DynamicFcosTargetOptions options);

  const DynamicFcosTargetOptions &options() const { return options_; }

  /// The points of a level as [H*W, 2] (x, y) in input pixels, row-major.
  static at::Tensor levelPoints(int64_t height, int64_t width, int64_t stride,
                                const at::TensorOptions &options);

  /// The assignment alone (no gradient flows through it). Throws
  /// std::invalid_argument for outputs that break the contract or ground
  /// truth that does not match the batch.
  FcosTargets assign(const FcosHeadOutputs &outputs,
                     const DetectionGroundTruth &truth) const;

  /// assign() and HAT's loss inputs: every point for the classification
  /// (weights = label weights, avg_factor = max(positives, 1)); the positive
  /// points' boxes decoded around the origin for the box loss (weights =
  /// the geometric centerness of their targets, avg_factor = its sum); the
  /// positive points' centerness logits against their IoU targets. Without
  /// positives the box and centerness inputs hold one zero-weighted point,
  /// so those losses are 0 and still connected to the outputs.
  FcosLossInputs lossInputs(const FcosHeadOutputs &outputs,
                            const DetectionGroundTruth &truth,
                            FcosTargets *targets = nullptr) const;

private:
  struct Flat;
  Flat flatten(const FcosHeadOutputs &outputs, int64_t numImages) const;
  DynamicFcosTargetOptions options_;
};

/// The geometric FCOS centerness of l, t, r, b targets [M, 4]:
/// sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)).
at::Tensor fcosCenterness(const at::Tensor &ltrb);

/// Boxes [.., 4] from a point [.., 2] and distances l, t, r, b [.., 4].
at::Tensor distanceToBox(const at::Tensor &points, const at::Tensor &ltrb);

/// FCOS's training losses: targets, then loss_cls, loss_reg and
/// loss_centerness, each reported under its loss_name.
class FcosLoss {
public:
  /// Throws std::invalid_argument when two losses share a name.
  FcosLoss(std::shared_ptr<const DynamicFcosTarget> target,
           DetectionLossPtr lossCls, DetectionLossPtr lossReg,
           DetectionLossPtr lossCenterness);

  /// {loss_cls name: ..., loss_reg name: ..., loss_centerness name: ...}
  /// in that order; scalars that backpropagate into `outputs`.
  std::vector<std::pair<std::string, at::Tensor>>
  operator()(const FcosHeadOutputs &outputs,
             const DetectionGroundTruth &truth) const;

  const DynamicFcosTarget &target() const { return *target_; }

private:
  std::shared_ptr<const DynamicFcosTarget> target_;
  DetectionLossPtr lossCls_, lossReg_, lossCenterness_;
};

/// Builds FcosLoss from an FCOS model config dict: its `targets`
/// (DynamicFcosTarget), `loss_cls`, `loss_reg` and `loss_centerness`.
config::Expected<std::shared_ptr<const FcosLoss>>
buildFcosLoss(const config::Value &fcosModelConfig);

} // namespace hat::engine

#endif // HAT_ENGINE_FCOSTARGET_H
