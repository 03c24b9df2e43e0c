//===- DetectionLossesTest.cpp - Focal, GIoU, sigmoid CE on known values --===//
//
// Expected values are worked out by hand in the comments (alpha 0.25,
// gamma 2 unless said otherwise); gradients are checked against central
// finite differences in double precision.
//
//===----------------------------------------------------------------------===//
#include "EngineTestUtil.h"

#include "hat/Engine/DetectionLosses.h"
#include "hat/Engine/Engine.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

using namespace hat::engine;
using hat::engine::test::buildFromSource;

namespace {

const double kLn2 = std::log(2.0);
const double kLn3 = std::log(3.0);

FocalLoss focal(int64_t numClasses, LossReduction reduction,
                double lossWeight = 1.0) {
  FocalLossOptions options;
  options.num_classes = numClasses;
  options.reduction = reduction;
  options.loss_weight = lossWeight;
  return FocalLoss(options);
}

at::Tensor doubles(std::vector<double> values, std::vector<int64_t> shape) {
  return at::tensor(values, at::kDouble).reshape(shape);
}

/// Largest |autograd - central difference| over the elements of `x` for
/// the scalar f(x).
double gradientError(const std::function<at::Tensor(const at::Tensor &)> &f,
                     at::Tensor x, double step = 1e-6) {
  x = x.detach().clone().set_requires_grad(true);
  at::Tensor y = f(x);
  y.backward();
  at::Tensor analytic = x.grad().clone();
  at::Tensor flat = x.detach().clone().reshape(-1);
  double worst = 0;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    at::Tensor plus = flat.clone(), minus = flat.clone();
    plus[i] += step;
    minus[i] -= step;
    const double numeric = (f(plus.reshape(x.sizes())).item<double>() -
                            f(minus.reshape(x.sizes())).item<double>()) /
                           (2 * step);
    worst = std::max(
        worst, std::abs(numeric - analytic.reshape(-1)[i].item<double>()));
  }
  return worst;
}

} // namespace

TEST(FocalLoss, ElementValuesForPositiveNegativeAndBackground) {
  // Two foreground classes (num_classes = 3 with the background).
  // Logit 0 -> p = 0.5; logit ln 3 -> p = 0.75.
  //   positive, p = 0.5:  0.25 * 0.5^2 * ln 2
  //   negative, p = 0.5:  0.75 * 0.5^2 * ln 2
  //   negative, p = 0.75: 0.75 * 0.75^2 * -ln(0.25)
  const double pos05 = 0.25 * 0.25 * kLn2;
  const double neg05 = 0.75 * 0.25 * kLn2;
  const double neg075 = 0.75 * 0.5625 * std::log(4.0);
  at::Tensor pred = doubles({0, kLn3, 0, kLn3, 0, kLn3}, {3, 2});
  at::Tensor target = at::tensor({0, 2, -1}, at::kLong);
  at::Tensor loss =
      focal(3, LossReduction::None).compute({pred, target, {}, std::nullopt});
  ASSERT_EQ(loss.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_NEAR(loss[0][0].item<double>(), pos05, 1e-9);  // 0.0433217
  EXPECT_NEAR(loss[0][1].item<double>(), neg075, 1e-9); // 0.5848429
  // Label 2 (= num_classes - 1) and -1 are both background.
  EXPECT_NEAR(loss[1][0].item<double>(), neg05, 1e-9); // 0.1299651
  EXPECT_NEAR(loss[1][1].item<double>(), neg075, 1e-9);
  EXPECT_TRUE(at::equal(loss[1], loss[2]));

  const double all = pos05 + 3 * neg075 + 2 * neg05;
  EXPECT_NEAR(focal(3, LossReduction::Sum)
                  .compute({pred, target, {}, std::nullopt})
                  .item<double>(),
              all, 1e-9);
  EXPECT_NEAR(focal(3, LossReduction::Mean)
                  .compute({pred, target, {}, std::nullopt})
                  .item<double>(),
              all / 6, 1e-9);
  // One weight per row, an avg_factor, and loss_weight 2:
  // 2 * (row 0 + 0.5 * row 1) / 4.
  at::Tensor weighted =
      focal(3, LossReduction::Mean, 2.0)
          .compute({pred, target, doubles({1, 0.5, 0}, {3}), 4.0});
  EXPECT_NEAR(weighted.item<double>(),
              2 * (pos05 + neg075 + 0.5 * (neg05 + neg075)) / 4, 1e-7);
}

TEST(FocalLoss, AlphaGammaAndTheEpsCap) {
  FocalLossOptions options;
  options.num_classes = 2;
  options.alpha = 0.5;
  options.gamma = 0;
  options.reduction = LossReduction::None;
  // gamma 0, alpha 0.5: half the binary cross entropy, 0.5 * ln 2 at logit 0.
  EXPECT_NEAR(FocalLoss(options)
                  .compute({doubles({0}, {1, 1}),
                            at::tensor({0}, at::kLong),
                            {},
                            std::nullopt})
                  .item<double>(),
              0.5 * kLn2, 1e-12);
  // A confidently wrong positive (logit -40): the cross entropy is capped at
  // -ln(1e-12) = 27.631..., (1 - p_t)^2 is 1 to 1e-17.
  options.alpha = 0.25;
  options.gamma = 2;
  at::Tensor capped = FocalLoss(options).compute(
      {doubles({-40}, {1, 1}), at::tensor({0}, at::kLong), {}, std::nullopt});
  EXPECT_NEAR(capped.item<double>(), 0.25 * -std::log(1e-12), 1e-9);
  // Without the cap: the exact 0.25 * softplus(40) = 10, still finite.
  options.eps = 0;
  EXPECT_NEAR(FocalLoss(options)
                  .compute({doubles({-40}, {1, 1}),
                            at::tensor({0}, at::kLong),
                            {},
                            std::nullopt})
                  .item<double>(),
              10.0, 1e-9);
  // A large wrong logit in float32 still has a gradient (HAT's form in
  // float would round 1 - p to 0 and lose it).
  at::Tensor big = at::full({1, 1}, 20.0f).set_requires_grad(true);
  FocalLoss(options)
      .compute({big, at::tensor({1}, at::kLong), {}, std::nullopt})
      .sum()
      .backward();
  EXPECT_NEAR(big.grad().item<float>(), 0.75, 1e-3);
}

TEST(FocalLoss, RefusesWrongClassCountsAndLabels) {
  FocalLoss loss = focal(81, LossReduction::Mean);
  try {
    loss.compute({at::zeros({4, 81}), at::zeros({4}, at::kLong), {}, {}});
    FAIL() << "81 logits accepted for num_classes=81";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("expects 80 class logits"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(
      loss.compute(
          {at::zeros({2, 80}), at::tensor({0, 81}, at::kLong), {}, {}}),
      std::invalid_argument);
  EXPECT_THROW(
      loss.compute({at::zeros({2, 80}), at::zeros({3}, at::kLong), {}, {}}),
      std::invalid_argument);
  EXPECT_THROW(focal(1, LossReduction::Mean), std::invalid_argument);
  // An avg_factor cannot be combined with "sum" (mmdet refuses it too).
  EXPECT_THROW(
      focal(3, LossReduction::Sum)
          .compute({at::zeros({1, 2}), at::zeros({1}, at::kLong), {}, 2.0}),
      std::invalid_argument);
}

TEST(FocalLoss, GradientMatchesFiniteDifferences) {
  FocalLoss loss = focal(4, LossReduction::Mean);
  at::Tensor target = at::tensor({0, 2, 3, 1}, at::kLong);
  at::Tensor pred = doubles(
      {0.3, -1.2, 2.0, 0.1, -0.4, 1.5, -3.0, 0.7, 0.0, 4.0, -2.2, 1.1}, {4, 3});
  EXPECT_LT(gradientError(
                [&](const at::Tensor &x) {
                  return loss.compute({x, target, {}, std::nullopt});
                },
                pred),
            1e-7);
}

TEST(GIoU, HandComputedOverlapDisjointAndDegenerateBoxes) {
  GIoULossOptions options;
  options.reduction = LossReduction::None;
  GIoULoss loss(options);
  // Rows: identical; (0,0,2,2) vs (1,1,3,3): IoU 1/7, enclosing 9, union 7,
  // GIoU 1/7 - 2/9; disjoint (0,0,1,1) vs (2,0,3,1): IoU 0, enclosing 3,
  // union 2, GIoU -1/3; two empty boxes at one point; an empty box inside a
  // box; an inverted box (no area) against a box.
  at::Tensor pred = doubles(
      {0, 0, 4, 2, 0, 0, 2, 2, 0, 0, 1, 1, 5, 5, 5, 5, 1, 1, 1, 1, 2, 2, 0, 0},
      {6, 4});
  at::Tensor target = doubles(
      {0, 0, 4, 2, 1, 1, 3, 3, 2, 0, 3, 1, 5, 5, 5, 5, 0, 0, 2, 2, 0, 0, 2, 2},
      {6, 4});
  at::Tensor values = loss.compute({pred, target, {}, std::nullopt});
  ASSERT_EQ(values.sizes(), (std::vector<int64_t>{6}));
  EXPECT_NEAR(values[0].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(values[1].item<double>(), 1 - (1.0 / 7 - 2.0 / 9), 1e-6);
  EXPECT_NEAR(values[2].item<double>(), 4.0 / 3, 1e-6);
  // Empty boxes: IoU 0 and the enclosing area equals the union (both eps).
  EXPECT_NEAR(values[3].item<double>(), 1.0, 1e-9);
  EXPECT_NEAR(values[4].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(values[5].item<double>(), 1.0, 1e-6);
  EXPECT_TRUE(at::isfinite(values).all().item<bool>());

  EXPECT_NEAR(alignedIoU(pred, target)[1].item<double>(), 1.0 / 7, 1e-6);
  EXPECT_NEAR(alignedGIoU(pred, target)[2].item<double>(), -1.0 / 3, 1e-6);
}

TEST(GIoU, CenternessWeightsAvgFactorAndNoPositives) {
  GIoULossOptions options;
  options.loss_weight = 2.0;
  GIoULoss loss(options);
  at::Tensor pred = doubles({0, 0, 2, 2, 0, 0, 1, 1}, {2, 4});
  at::Tensor target = doubles({1, 1, 3, 3, 2, 0, 3, 1}, {2, 4});
  const double first = 1 - (1.0 / 7 - 2.0 / 9), second = 4.0 / 3;
  // FCOS: weights are the targets' centerness, avg_factor their sum.
  at::Tensor weighted =
      loss.compute({pred, target, doubles({0.5, 1.0}, {2}), 1.5});
  EXPECT_NEAR(weighted.item<double>(), 2 * (0.5 * first + second) / 1.5, 1e-6);
  // Per-coordinate weights are averaged over the four.
  at::Tensor perCoordinate = loss.compute(
      {pred, target, doubles({0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1}, {2, 4}), 1.5});
  EXPECT_NEAR(perCoordinate.item<double>(), weighted.item<double>(), 1e-9);
  // All weights zero (no positive point): 0, and backward still works.
  at::Tensor free = pred.clone().set_requires_grad(true);
  at::Tensor none = loss.compute({free, target, doubles({0, 0}, {2}), {}});
  EXPECT_EQ(none.item<double>(), 0.0);
  none.backward();
  ASSERT_TRUE(free.grad().defined());
  EXPECT_EQ(free.grad().abs().sum().item<double>(), 0.0);
  EXPECT_THROW(loss.compute({pred, doubles({0, 0, 1}, {1, 3}), {}, {}}),
               std::invalid_argument);
}

TEST(GIoU, GradientMatchesFiniteDifferences) {
  GIoULoss loss{GIoULossOptions{}};
  // Overlapping, disjoint and nested pairs (no ties in min/max, where the
  // derivative is not defined).
  at::Tensor pred = doubles(
      {0.1, 0.2, 2.3, 2.1, 0.0, 0.3, 1.1, 1.2, 1.0, 1.5, 5.2, 4.9}, {3, 4});
  at::Tensor target = doubles(
      {1.2, 0.9, 3.1, 3.3, 2.0, 0.1, 3.4, 1.7, 2.1, 2.2, 3.9, 4.1}, {3, 4});
  EXPECT_LT(gradientError(
                [&](const at::Tensor &x) {
                  return loss.compute({x, target, {}, std::nullopt});
                },
                pred),
            1e-7);
}

TEST(SigmoidCrossEntropy, ValuesSoftTargetsAndGradient) {
  SigmoidCrossEntropyLossOptions options;
  options.reduction = LossReduction::None;
  SigmoidCrossEntropyLoss loss(options);
  // Logit 0, target 0.5: ln 2. Logit 2, target 1: ln(1 + e^-2).
  // Logit -1, target 0: ln(1 + e^-1). Logit 50, target 0: 50 (stable).
  at::Tensor values = loss.compute(
      {doubles({0, 2, -1, 50}, {4}), doubles({0.5, 1, 0, 0}, {4}), {}, {}});
  EXPECT_NEAR(values[0].item<double>(), kLn2, 1e-12);
  EXPECT_NEAR(values[1].item<double>(), std::log1p(std::exp(-2.0)), 1e-12);
  EXPECT_NEAR(values[2].item<double>(), std::log1p(std::exp(-1.0)), 1e-12);
  EXPECT_NEAR(values[3].item<double>(), 50.0, 1e-9);

  SigmoidCrossEntropyLoss mean{SigmoidCrossEntropyLossOptions{}};
  EXPECT_NEAR(
      mean.compute({doubles({0, 2}, {2}), doubles({0.5, 1}, {2}), {}, {}})
          .item<double>(),
      (kLn2 + std::log1p(std::exp(-2.0))) / 2, 1e-12);
  // A zero weight (FCOS without positives) gives 0, not NaN.
  EXPECT_EQ(
      mean.compute(
              {doubles({3}, {1}), doubles({0}, {1}), doubles({0}, {1}), {}})
          .item<double>(),
      0.0);
  at::Tensor target = doubles({0.2, 0.9, 0.5}, {3});
  EXPECT_LT(gradientError(
                [&](const at::Tensor &x) {
                  return mean.compute({x, target, {}, std::nullopt});
                },
                doubles({-0.7, 1.3, 0.2}, {3})),
            1e-8);
  EXPECT_THROW(mean.compute({doubles({0, 1}, {2}), doubles({0}, {1}), {}, {}}),
               std::invalid_argument);
}

TEST(DetectionLossRegistry, SeedKwargsBuildTheRightLosses) {
  const char *source = R"(
loss_cls = dict(type="FocalLoss", loss_name="cls", num_classes=80 + 1,
                alpha=0.25, gamma=2.0, loss_weight=1.0, reduction="none")
loss_reg = dict(type="GIoULoss", loss_name="reg", loss_weight=2.0,
                reduction="none")
loss_centerness = dict(type="CrossEntropyLoss", loss_name="centerness",
                       use_sigmoid=True)
softmax = dict(type="CrossEntropyLoss", loss_name="ce", reduction="sum")
bad_reduction = dict(type="GIoULoss", reduction="avg")
bad_classes = dict(type="FocalLoss", num_classes=1)
smoothing = dict(type="CrossEntropyLoss", use_sigmoid=True, label_smoothing=0.1)
)";
  auto build = [&](const char *name) {
    return buildFromSource(source, name, "loss");
  };
  auto cls = build("loss_cls");
  ASSERT_TRUE(cls) << cls.error().str();
  DetectionLossPtr focalLoss = std::any_cast<DetectionLossPtr>(*cls);
  EXPECT_STREQ(focalLoss->typeName(), "FocalLoss");
  EXPECT_EQ(focalLoss->name(), "cls");
  EXPECT_EQ(focalLoss->reduction(), LossReduction::None);
  // The registered loss computes what the options-struct loss computes.
  at::Tensor pred = at::randn({5, 80}, at::kDouble);
  at::Tensor target = at::tensor({0, 79, 80, -1, 3}, at::kLong);
  EXPECT_TRUE(at::allclose(
      focalLoss->compute({pred, target, {}, {}}),
      focal(81, LossReduction::None).compute({pred, target, {}, {}})));

  auto reg = build("loss_reg");
  ASSERT_TRUE(reg) << reg.error().str();
  DetectionLossPtr giou = std::any_cast<DetectionLossPtr>(*reg);
  EXPECT_EQ(giou->name(), "reg");
  EXPECT_DOUBLE_EQ(giou->lossWeight(), 2.0);

  auto centerness = build("loss_centerness");
  ASSERT_TRUE(centerness) << centerness.error().str();
  DetectionLossPtr bce = std::any_cast<DetectionLossPtr>(*centerness);
  EXPECT_STREQ(bce->typeName(), "CrossEntropyLoss");
  EXPECT_EQ(bce->name(), "centerness");
  EXPECT_EQ(bce->reduction(), LossReduction::Mean);

  // Without use_sigmoid it stays the classification loss, named by loss_name.
  auto softmax = build("softmax");
  ASSERT_TRUE(softmax) << softmax.error().str();
  const Loss *classification = std::any_cast<Loss>(&*softmax);
  ASSERT_NE(classification, nullptr);
  EXPECT_EQ(classification->name, "ce");
  at::Tensor logits = at::zeros({3, 4});
  EXPECT_NEAR(
      classification->fn(logits, at::zeros({3}, at::kLong)).item<double>(),
      3 * std::log(4.0), 1e-5); // summed over the batch

  auto badReduction = build("bad_reduction");
  ASSERT_FALSE(badReduction);
  EXPECT_NE(badReduction.error().str().find("'reduction' must be one of"),
            std::string::npos)
      << badReduction.error().str();
  auto badClasses = build("bad_classes");
  ASSERT_FALSE(badClasses);
  EXPECT_EQ(badClasses.error().line, 10u) << badClasses.error().str();
  EXPECT_NE(badClasses.error().message.find("counts the background"),
            std::string::npos);
  auto smoothing = build("smoothing");
  ASSERT_FALSE(smoothing);
  EXPECT_NE(smoothing.error().str().find("label_smoothing"), std::string::npos);
}
