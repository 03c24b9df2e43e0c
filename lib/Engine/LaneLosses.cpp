//===- LaneLosses.cpp - GaNet's heatmap focal loss and masked L1 ----------===//

#include "hat/Engine/LaneLosses.h"

#include "hat/Engine/Builders.h"

#include <ATen/ATen.h>

namespace hat::engine {

namespace {
void requireSameShape(const LossInput &input, const char *loss) {
  if (!input.pred.defined() || !input.target.defined())
    throw std::invalid_argument(std::string(loss) +
                                ": pred and target are required");
  if (input.pred.sizes() != input.target.sizes())
    throw std::invalid_argument(std::string(loss) + ": pred " +
                                tensorShapeText(input.pred) + " and target " +
                                tensorShapeText(input.target) +
                                " must have one shape");
}
} // namespace

LaneFastFocalLoss::LaneFastFocalLoss(LaneFastFocalLossOptions options)
    : DetectionLoss(options.loss_name, options.loss_weight, LossReduction::Sum),
      options_(std::move(options)) {
  if (!(options_.eps > 0 && options_.eps < 0.5))
    throw std::invalid_argument("LaneFastFocalLoss: eps must be in (0, 0.5)");
  if (!(options_.alpha >= 0) || !(options_.beta >= 0))
    throw std::invalid_argument(
        "LaneFastFocalLoss: alpha and beta must be >= 0");
}

at::Tensor LaneFastFocalLoss::compute(const LossInput &input) const {
  requireSameShape(input, "LaneFastFocalLoss");
  const at::Tensor target = input.target.to(input.pred.scalar_type());
  const at::Tensor p =
      input.pred.sigmoid().clamp(options_.eps, 1.0 - options_.eps);
  const at::Tensor pos = target.eq(1).to(p.scalar_type());
  const at::Tensor neg = target.lt(1).to(p.scalar_type());
  const at::Tensor posLoss =
      (p.log() * (1 - p).pow(options_.alpha) * pos).sum();
  const at::Tensor negLoss = ((1 - p).log() * p.pow(options_.alpha) *
                              (1 - target).pow(options_.beta) * neg)
                                 .sum();
  const double numPos = pos.sum().item<double>();
  const at::Tensor loss = numPos > 0 ? -(posLoss + negLoss) / numPos : -negLoss;
  return loss * options_.loss_weight;
}

L1Loss::L1Loss(L1LossOptions options)
    : DetectionLoss(options.loss_name, options.loss_weight, options.reduction),
      options_(std::move(options)) {}

at::Tensor L1Loss::compute(const LossInput &input) const {
  requireSameShape(input, "L1Loss");
  const at::Tensor loss =
      (input.pred - input.target.to(input.pred.scalar_type())).abs();
  return weightReduceLoss(loss, input.weight, options_.reduction,
                          input.avgFactor) *
         options_.loss_weight;
}

namespace {
config::Expected<std::any> buildLaneFocal(const config::BuildArgs &args) {
  return guardedLoss(args, [](const config::BuildArgs &a) {
    LaneFastFocalLossOptions o;
    o.loss_name = strKwarg(a, "loss_name", o.loss_name);
    o.loss_weight = numberKwarg(a, "loss_weight", o.loss_weight);
    o.alpha = numberKwarg(a, "alpha", o.alpha);
    o.beta = numberKwarg(a, "beta", o.beta);
    o.eps = numberKwarg(a, "eps", o.eps);
    return std::make_shared<LaneFastFocalLoss>(o);
  });
}
HAT_REGISTER("loss", {"LaneFastFocalLoss"},
             config::KwargSpec{
                 {}, {"loss_name", "loss_weight", "alpha", "beta", "eps"}},
             buildLaneFocal);

config::Expected<std::any> buildL1(const config::BuildArgs &args) {
  return guardedLoss(args, [](const config::BuildArgs &a) {
    L1LossOptions o;
    o.loss_name = strKwarg(a, "loss_name", o.loss_name);
    o.loss_weight = numberKwarg(a, "loss_weight", o.loss_weight);
    o.reduction = parseLossReduction(
        strKwarg(a, "reduction", "mean", {"none", "mean", "sum"}));
    return std::make_shared<L1Loss>(o);
  });
}
HAT_REGISTER("loss", {"L1Loss"},
             config::KwargSpec{{}, {"loss_name", "loss_weight", "reduction"}},
             buildL1);
} // namespace

} // namespace hat::engine
