//===- DetectionLosses.h - Focal, GIoU and sigmoid CE losses ----*- C++ -*-===//
//
// The dense-detection losses of HAT's FCOS config as LibTorch functions:
//
//   FocalLoss(loss_name, num_classes, alpha, gamma, loss_weight, eps,
//             reduction)                       sigmoid focal loss
//   GIoULoss(loss_name, loss_weight, eps, reduction)
//   CrossEntropyLoss(use_sigmoid=True, loss_name, loss_weight, reduction)
//                                              binary CE on logits
//
// Each takes HAT's loss_input (pred, target, optional weight and avg_factor)
// and reduces as mmdet's weight_reduce_loss does, then scales by
// loss_weight. All are differentiable through ATen (any float dtype, any
// device the tensors are on).
//
//===----------------------------------------------------------------------===//
#ifndef HAT_ENGINE_DETECTIONLOSSES_H
#define HAT_ENGINE_DETECTIONLOSSES_H

#include "hat/Config/Registry.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace hat::engine {

/// "[2, 4, 8]" for error messages; "undefined" for an undefined tensor.
std::string tensorShapeText(const at::Tensor &t);

enum class LossReduction { None, Mean, Sum };

/// "none", "mean" or "sum"; anything else throws std::invalid_argument.
LossReduction parseLossReduction(const std::string &name);
const char *lossReductionName(LossReduction reduction);

/// HAT's loss_input dict.
struct LossInput {
  at::Tensor pred;
  at::Tensor target;
  /// Weights per element, or per leading index (e.g. one per row of a
  /// [M, C] loss); undefined means every weight is 1.
  at::Tensor weight;
  /// With reduction "mean": the weighted sum is divided by this instead of
  /// the element count (e.g. the number of positive points).
  std::optional<double> avgFactor;
};

/// mmdet's weight_reduce_loss: multiply by `weight` (broadcast over the
/// trailing dimensions it lacks), then reduce; with an avg_factor, "mean"
/// is sum / avg_factor and "sum" is refused.
at::Tensor weightReduceLoss(const at::Tensor &loss, const at::Tensor &weight,
                            LossReduction reduction,
                            std::optional<double> avgFactor);

/// A loss over LossInput. name() is the config's loss_name: the key of the
/// loss in the model's output dict.
class DetectionLoss {
public:
  DetectionLoss(std::string name, double lossWeight, LossReduction reduction)
      : name_(std::move(name)), lossWeight_(lossWeight), reduction_(reduction) {
  }
  virtual ~DetectionLoss();
  const std::string &name() const { return name_; }
  double lossWeight() const { return lossWeight_; }
  LossReduction reduction() const { return reduction_; }
  /// The registered type name ("FocalLoss", ...).
  virtual const char *typeName() const = 0;
  /// Throws std::invalid_argument for inputs of the wrong shape or values.
  virtual at::Tensor compute(const LossInput &input) const = 0;

private:
  std::string name_;
  double lossWeight_;
  LossReduction reduction_;
};
using DetectionLossPtr = std::shared_ptr<const DetectionLoss>;

struct FocalLossOptions {
  std::string loss_name = "cls";
  /// Classes including the background: the logits have num_classes - 1
  /// channels and label num_classes - 1 (or any negative label) is the
  /// background (HAT's convention: num_classes = 80 + 1 for COCO).
  int64_t num_classes = 0;
  double alpha = 0.25, gamma = 2.0, loss_weight = 1.0, eps = 1e-12;
  LossReduction reduction = LossReduction::Mean;
};

/// Sigmoid focal loss (Lin et al.) as HAT computes it: p = sigmoid(pred),
/// p_t = p for the label's channel and 1 - p elsewhere, and per element
///   -alpha_t * (1 - p_t)^gamma * log(min(p_t + eps, 1))
/// with alpha_t = alpha on the label's channel, 1 - alpha elsewhere.
/// pred [..., num_classes - 1] logits, target [...] int64 labels; with
/// reduction "none" the result has pred's shape.
class FocalLoss : public DetectionLoss {
public:
  explicit FocalLoss(FocalLossOptions options);
  const char *typeName() const override { return "FocalLoss"; }
  at::Tensor compute(const LossInput &input) const override;
  int64_t numClasses() const { return options_.num_classes; }

private:
  FocalLossOptions options_;
};

struct GIoULossOptions {
  std::string loss_name = "reg";
  double loss_weight = 1.0, eps = 1e-6;
  LossReduction reduction = LossReduction::Mean;
};

/// 1 - GIoU of aligned box pairs. pred and target [..., 4] as x1, y1, x2, y2;
/// the result has shape [...] before reduction. A weight given per
/// coordinate ([..., 4]) is averaged over the four. When every weight is
/// zero (no positive sample) the loss is 0 while still depending on pred,
/// as HAT does, so the graph stays connected.
class GIoULoss : public DetectionLoss {
public:
  explicit GIoULoss(GIoULossOptions options);
  const char *typeName() const override { return "GIoULoss"; }
  at::Tensor compute(const LossInput &input) const override;

private:
  GIoULossOptions options_;
};

struct SigmoidCrossEntropyLossOptions {
  std::string loss_name = "cross_entropy";
  double loss_weight = 1.0;
  LossReduction reduction = LossReduction::Mean;
};

/// CrossEntropyLoss(use_sigmoid=True): binary cross entropy on logits (the
/// numerically stable form); pred and target of the same shape, target in
/// [0, 1] (soft targets such as FCOS's centerness are allowed).
class SigmoidCrossEntropyLoss : public DetectionLoss {
public:
  explicit SigmoidCrossEntropyLoss(SigmoidCrossEntropyLossOptions options);
  const char *typeName() const override { return "CrossEntropyLoss"; }
  at::Tensor compute(const LossInput &input) const override;

private:
  SigmoidCrossEntropyLossOptions options_;
};

/// IoU and GIoU of aligned box pairs [..., 4] (x1, y1, x2, y2). Box areas
/// are clamped at zero, so an inverted box has no area rather than a
/// negative one. alignedIoU divides by max(union, eps), as bbox_overlaps
/// (identical boxes give exactly 1); alignedGIoU adds eps to the union and
/// the enclosing area, as HAT's GIoULoss.
at::Tensor alignedIoU(const at::Tensor &a, const at::Tensor &b,
                      double eps = 1e-6);
at::Tensor alignedGIoU(const at::Tensor &a, const at::Tensor &b,
                       double eps = 1e-6);

/// Builds a detection loss from a config dict through the registry ("loss"
/// category); a config naming a loss of another kind (e.g. softmax
/// CrossEntropyLoss) is an error naming `where`.
config::Expected<DetectionLossPtr> buildDetectionLoss(const config::Value &cfg,
                                                      const std::string &where);

/// The registry builder of CrossEntropyLoss(use_sigmoid=True); the
/// CrossEntropyLoss registration (EngineModel.cpp) dispatches to it.
config::Expected<std::any>
buildSigmoidCrossEntropyLoss(const config::BuildArgs &args);

} // namespace hat::engine

#endif // HAT_ENGINE_DETECTIONLOSSES_H
