//===- DetectionLosses.cpp - Focal, GIoU and sigmoid CE losses ------------===//
#include "hat/Engine/DetectionLosses.h"

#include "hat/Engine/Builders.h"

#include <ATen/ATen.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace hat::engine {

std::string tensorShapeText(const at::Tensor &t) {
  if (!t.defined())
    return "undefined";
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

LossReduction parseLossReduction(const std::string &name) {
  if (name == "none")
    return LossReduction::None;
  if (name == "mean")
    return LossReduction::Mean;
  if (name == "sum")
    return LossReduction::Sum;
  throw std::invalid_argument(
      "reduction must be 'none', 'mean' or 'sum', got '" + name + "'");
}

const char *lossReductionName(LossReduction reduction) {
  switch (reduction) {
  case LossReduction::None:
    return "none";
  case LossReduction::Mean:
    return "mean";
  case LossReduction::Sum:
    return "sum";
  }
  return "?";
}

namespace {

void requireDefined(const at::Tensor &t, const char *loss, const char *what) {
  if (!t.defined())
    throw std::invalid_argument(std::string(loss) + ": no " + what +
                                " tensor given");
}

} // namespace

at::Tensor weightReduceLoss(const at::Tensor &loss, const at::Tensor &weight,
                            LossReduction reduction,
                            std::optional<double> avgFactor) {
  at::Tensor weighted = loss;
  if (weight.defined()) {
    // A weight of fewer dimensions applies to every trailing element (one
    // weight per point for a [points, classes] loss).
    bool fits = weight.dim() <= loss.dim();
    for (int64_t d = 0; fits && d < weight.dim(); ++d)
      fits = weight.size(d) == loss.size(d) || weight.size(d) == 1;
    if (!fits)
      throw std::invalid_argument("loss weight " + tensorShapeText(weight) +
                                  " does not match the loss " +
                                  tensorShapeText(loss));
    at::Tensor w = weight.to(loss.scalar_type());
    while (w.dim() < loss.dim())
      w = w.unsqueeze(-1);
    weighted = loss * w;
  }
  if (!avgFactor) {
    switch (reduction) {
    case LossReduction::None:
      return weighted;
    case LossReduction::Mean:
      return weighted.mean();
    case LossReduction::Sum:
      return weighted.sum();
    }
  }
  switch (reduction) {
  case LossReduction::None:
    return weighted;
  case LossReduction::Mean:
    // mmdet adds float32's epsilon so a zero factor cannot divide by zero.
    return weighted.sum() / (*avgFactor + FLT_EPSILON);
  case LossReduction::Sum:
    break;
  }
  throw std::invalid_argument(
      "avg_factor can only be used with reduction 'mean' or 'none'");
}

DetectionLoss::~DetectionLoss() = default;

//===----------------------------------------------------------------------===//
// FocalLoss
//===----------------------------------------------------------------------===//

FocalLoss::FocalLoss(FocalLossOptions options)
    : DetectionLoss(options.loss_name, options.loss_weight, options.reduction),
      options_(std::move(options)) {
  if (options_.num_classes < 2)
    throw std::invalid_argument(
        "FocalLoss: num_classes counts the background too and must be >= 2, "
        "got " +
        std::to_string(options_.num_classes));
  if (!(options_.alpha >= 0 && options_.alpha <= 1))
    throw std::invalid_argument("FocalLoss: alpha must be in [0, 1]");
  if (!(options_.gamma >= 0))
    throw std::invalid_argument("FocalLoss: gamma must be >= 0");
  if (!(options_.eps >= 0))
    throw std::invalid_argument("FocalLoss: eps must be >= 0");
}

at::Tensor FocalLoss::compute(const LossInput &input) const {
  requireDefined(input.pred, "FocalLoss", "pred");
  requireDefined(input.target, "FocalLoss", "target");
  const at::Tensor &pred = input.pred;
  const int64_t classes = options_.num_classes - 1;
  if (pred.dim() < 1 || pred.size(-1) != classes)
    throw std::invalid_argument(
        "FocalLoss(num_classes=" + std::to_string(options_.num_classes) +
        ") expects " + std::to_string(classes) +
        " class logits in the last dimension (num_classes counts the "
        "background), got pred " +
        tensorShapeText(pred));
  if (input.target.sizes() != pred.sizes().slice(0, pred.dim() - 1))
    throw std::invalid_argument("FocalLoss: target " +
                                tensorShapeText(input.target) +
                                " must have pred's shape without its last "
                                "dimension, pred is " +
                                tensorShapeText(pred));
  if (!at::isIntegralType(input.target.scalar_type(), /*includeBool=*/false))
    throw std::invalid_argument("FocalLoss: target must hold integer labels");
  // Negative labels are background, as label num_classes - 1 is.
  at::Tensor labels = input.target.to(at::kLong);
  labels = at::where(labels < 0, at::full_like(labels, classes), labels);
  if (labels.numel() > 0) {
    const int64_t largest = labels.max().item<int64_t>();
    if (largest > classes)
      throw std::invalid_argument(
          "FocalLoss: label " + std::to_string(largest) +
          " is out of range: labels are 0.." + std::to_string(classes - 1) +
          " and " + std::to_string(classes) + " (background)");
  }
  const at::Tensor isLabel =
      labels.unsqueeze(-1).eq(at::arange(classes, labels.options()));
  // With s = -x on the label's channel and x elsewhere, 1 - p_t = sigmoid(s)
  // and -log(p_t) = softplus(s): both exact for large |x|, where
  // 1 - sigmoid(x) would round to 0 and lose the gradient. HAT's
  // -log(min(p_t + eps, 1)) caps each element at -log(eps); so does this.
  const at::Tensor signedLogits = at::where(isLabel, -pred, pred);
  const at::Tensor oneMinusPt = at::sigmoid(signedLogits);
  at::Tensor crossEntropy = at::softplus(signedLogits);
  if (options_.eps > 0)
    crossEntropy = crossEntropy.clamp_max(-std::log(options_.eps));
  const at::Tensor alphaT =
      isLabel.to(pred.scalar_type()) * (2 * options_.alpha - 1) +
      (1 - options_.alpha);
  at::Tensor loss = alphaT * crossEntropy;
  if (options_.gamma != 0)
    loss = loss * oneMinusPt.pow(options_.gamma);
  return weightReduceLoss(loss, input.weight, options_.reduction,
                          input.avgFactor) *
         options_.loss_weight;
}

//===----------------------------------------------------------------------===//
// GIoULoss
//===----------------------------------------------------------------------===//

namespace {

void requireBoxes(const at::Tensor &a, const at::Tensor &b, const char *who) {
  requireDefined(a, who, "pred");
  requireDefined(b, who, "target");
  if (a.dim() < 1 || a.size(-1) != 4 || a.sizes() != b.sizes())
    throw std::invalid_argument(std::string(who) +
                                ": pred and target must both be [..., 4] "
                                "boxes (x1, y1, x2, y2), got " +
                                tensorShapeText(a) + " and " +
                                tensorShapeText(b));
}

struct BoxOverlap {
  at::Tensor overlap, unionArea;
};

BoxOverlap overlapAndUnion(const at::Tensor &a, const at::Tensor &b,
                           double eps) {
  using at::indexing::Slice;
  const at::Tensor lo =
      at::max(a.index({"...", Slice(0, 2)}), b.index({"...", Slice(0, 2)}));
  const at::Tensor hi =
      at::min(a.index({"...", Slice(2, 4)}), b.index({"...", Slice(2, 4)}));
  const at::Tensor wh = (hi - lo).clamp_min(0);
  const at::Tensor overlap = wh.select(-1, 0) * wh.select(-1, 1);
  auto area = [](const at::Tensor &box) {
    return (box.select(-1, 2) - box.select(-1, 0)).clamp_min(0) *
           (box.select(-1, 3) - box.select(-1, 1)).clamp_min(0);
  };
  return {overlap, area(a) + area(b) - overlap + eps};
}

} // namespace

at::Tensor alignedIoU(const at::Tensor &a, const at::Tensor &b, double eps) {
  requireBoxes(a, b, "IoU");
  // bbox_overlaps' rule: the union is clamped at eps (not offset by it), so
  // identical boxes have IoU exactly 1; FCOS's dynamic k sums these.
  BoxOverlap parts = overlapAndUnion(a, b, 0.0);
  return parts.overlap / parts.unionArea.clamp_min(eps);
}

at::Tensor alignedGIoU(const at::Tensor &a, const at::Tensor &b, double eps) {
  using at::indexing::Slice;
  requireBoxes(a, b, "GIoU");
  BoxOverlap parts = overlapAndUnion(a, b, eps);
  const at::Tensor iou = parts.overlap / parts.unionArea;
  const at::Tensor lo =
      at::min(a.index({"...", Slice(0, 2)}), b.index({"...", Slice(0, 2)}));
  const at::Tensor hi =
      at::max(a.index({"...", Slice(2, 4)}), b.index({"...", Slice(2, 4)}));
  const at::Tensor wh = (hi - lo).clamp_min(0);
  const at::Tensor enclose = wh.select(-1, 0) * wh.select(-1, 1) + eps;
  return iou - (enclose - parts.unionArea) / enclose;
}

GIoULoss::GIoULoss(GIoULossOptions options)
    : DetectionLoss(options.loss_name, options.loss_weight, options.reduction),
      options_(std::move(options)) {
  if (!(options_.eps > 0))
    throw std::invalid_argument("GIoULoss: eps must be > 0");
}

at::Tensor GIoULoss::compute(const LossInput &input) const {
  requireBoxes(input.pred, input.target, "GIoULoss");
  at::Tensor weight = input.weight;
  if (weight.defined() && weight.dim() == input.pred.dim() &&
      weight.size(-1) == 4)
    weight = weight.mean(-1);
  if (weight.defined() && !(weight > 0).any().item<bool>()) {
    // No positive sample: 0, but still a function of pred (HAT does the
    // same) so a backward pass through it is valid.
    at::Tensor w = weight.to(input.pred.scalar_type());
    if (w.dim() < input.pred.dim())
      w = w.unsqueeze(-1);
    return (input.pred * w).sum();
  }
  const at::Tensor loss =
      1 - alignedGIoU(input.pred, input.target.to(input.pred.scalar_type()),
                      options_.eps);
  return weightReduceLoss(loss, weight, options_.reduction, input.avgFactor) *
         options_.loss_weight;
}

//===----------------------------------------------------------------------===//
// CrossEntropyLoss(use_sigmoid=True)
//===----------------------------------------------------------------------===//

SigmoidCrossEntropyLoss::SigmoidCrossEntropyLoss(
    SigmoidCrossEntropyLossOptions options)
    : DetectionLoss(options.loss_name, options.loss_weight, options.reduction),
      options_(std::move(options)) {}

at::Tensor SigmoidCrossEntropyLoss::compute(const LossInput &input) const {
  requireDefined(input.pred, "CrossEntropyLoss", "pred");
  requireDefined(input.target, "CrossEntropyLoss", "target");
  if (input.pred.sizes() != input.target.sizes())
    throw std::invalid_argument("CrossEntropyLoss(use_sigmoid=True): pred " +
                                tensorShapeText(input.pred) + " and target " +
                                tensorShapeText(input.target) +
                                " must have one shape");
  const at::Tensor loss = at::binary_cross_entropy_with_logits(
      input.pred, input.target.to(input.pred.scalar_type()), {}, {},
      at::Reduction::None);
  return weightReduceLoss(loss, input.weight, options_.reduction,
                          input.avgFactor) *
         options_.loss_weight;
}

//===----------------------------------------------------------------------===//
// Config
//===----------------------------------------------------------------------===//

config::Expected<DetectionLossPtr>
buildDetectionLoss(const config::Value &cfg, const std::string &where) {
  if (!cfg.isDict())
    return config::Diagnostic("'" + where +
                              "' must be a loss dict such as "
                              "dict(type=\"FocalLoss\", ...), got " +
                              cfg.repr());
  auto built = config::Registry::instance().build(cfg, "loss");
  if (!built) {
    config::Diagnostic diagnostic = built.error();
    diagnostic.notes.push_back("in '" + where + "'");
    return diagnostic;
  }
  if (const DetectionLossPtr *loss = std::any_cast<DetectionLossPtr>(&*built))
    return *loss;
  config::Diagnostic diagnostic(
      "'" + where +
      "' needs a detection loss over points or boxes (FocalLoss, GIoULoss, "
      "CrossEntropyLoss(use_sigmoid=True)), got " +
      cfg.repr());
  if (cfg.asDict().loc.valid())
    diagnostic = config::Diagnostic(cfg.asDict().loc, diagnostic.message);
  return diagnostic;
}

namespace {

const std::vector<std::string> kReductions = {"none", "mean", "sum"};

LossReduction reductionKwarg(const config::BuildArgs &args) {
  return parseLossReduction(strKwarg(args, "reduction", "mean", kReductions));
}

config::Expected<std::any> buildFocalLoss(const config::BuildArgs &args) {
  return guardedLoss(args, [](const config::BuildArgs &a) {
    FocalLossOptions options;
    options.loss_name = strKwarg(a, "loss_name", "cls");
    options.num_classes = intKwarg(a, "num_classes", 0);
    options.alpha = numberKwarg(a, "alpha", options.alpha);
    options.gamma = numberKwarg(a, "gamma", options.gamma);
    options.loss_weight = numberKwarg(a, "loss_weight", options.loss_weight);
    options.eps = numberKwarg(a, "eps", options.eps);
    options.reduction = reductionKwarg(a);
    return std::make_shared<FocalLoss>(options);
  });
}
HAT_REGISTER("loss", {"FocalLoss"},
             config::KwargSpec{{"num_classes"},
                               {"loss_name", "alpha", "gamma", "loss_weight",
                                "eps", "reduction"}},
             buildFocalLoss);

config::Expected<std::any> buildGIoULoss(const config::BuildArgs &args) {
  return guardedLoss(args, [](const config::BuildArgs &a) {
    GIoULossOptions options;
    options.loss_name = strKwarg(a, "loss_name", "reg");
    options.loss_weight = numberKwarg(a, "loss_weight", options.loss_weight);
    options.eps = numberKwarg(a, "eps", options.eps);
    options.reduction = reductionKwarg(a);
    return std::make_shared<GIoULoss>(options);
  });
}
HAT_REGISTER("loss", {"GIoULoss"},
             config::KwargSpec{
                 {}, {"loss_name", "loss_weight", "eps", "reduction"}},
             buildGIoULoss);

} // namespace

/// CrossEntropyLoss with use_sigmoid=True (its builder, shared with the
/// softmax form, lives in EngineModel.cpp).
config::Expected<std::any>
buildSigmoidCrossEntropyLoss(const config::BuildArgs &args) {
  return guardedLoss(args, [](const config::BuildArgs &a) {
    if (a.has("label_smoothing") && !a.get("label_smoothing").isNone())
      throw EngineError(
          a.error("'label_smoothing' applies to the softmax form; it cannot "
                  "be combined with use_sigmoid=True")
              .str());
    SigmoidCrossEntropyLossOptions options;
    options.loss_name = strKwarg(a, "loss_name", options.loss_name);
    options.loss_weight = numberKwarg(a, "loss_weight", options.loss_weight);
    options.reduction = reductionKwarg(a);
    return std::make_shared<SigmoidCrossEntropyLoss>(options);
  });
}

} // namespace hat::engine
