//===- LaneMetricTest.cpp - CulaneF1Score and GaNet's loss from config ----===//
//
// The engine's lane pieces on hand-made lanes: the CulaneF1Score metric a
// config builds (updated the two ways a config calls it, merged across
// ranks) and GaNetLoss built from a GaNet model config.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"
#include "hat/Engine/GaNetLoss.h"
#include "hat/Metrics/Metrics.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

using namespace hat;

namespace {

config::Value laneTensor(std::vector<float> xy) {
  at::Tensor t = at::tensor(xy, at::kFloat).reshape({-1, 2});
  return metrics::tensorValue(t);
}

config::Value perImage(std::vector<std::vector<config::Value>> images) {
  std::vector<config::Value> items;
  for (auto &lanes : images)
    items.push_back(config::Value::list(std::move(lanes)));
  return config::Value::list(std::move(items));
}

config::Value evaluate(const std::string &source) {
  auto module = config::loadConfigSource(source, "test.py");
  EXPECT_TRUE(bool(module)) << (module ? "" : module.error().str());
  return *(*module)->get("value");
}

metrics::MetricPtr buildMetric(const std::string &kwargs) {
  auto built = config::Registry::instance().build(
      evaluate("value = dict(type='CulaneF1Score'" + kwargs + ")"), "metric");
  EXPECT_TRUE(bool(built)) << (built ? "" : built.error().str());
  return std::any_cast<metrics::MetricPtr>(*built);
}

double figure(const metrics::Metric &m, const std::string &name) {
  for (auto &[key, value] : m.get())
    if (key == name)
      return value;
  ADD_FAILURE() << "no figure " << name;
  return -1;
}

// One image on the 590x1640 canvas: GT lanes at x = 100 and x = 400 (rows
// 300..589); predictions at x = 103 (IoU 27/33 > 0.5 with the first GT) and
// x = 1000 (matches nothing). tp 1, fp 1, fn 1: P = R = F1 = 0.5.
TEST(CulaneF1ScoreMetric, CountsHandMadeLanes) {
  metrics::MetricPtr metric = buildMetric("");
  EXPECT_EQ(metric->typeName(), "CulaneF1Score");
  EXPECT_TRUE(metric->get().empty());
  config::Value gt = perImage(
      {{laneTensor({100, 300, 100, 589}), laneTensor({400, 300, 400, 589})}});
  config::Value pred = perImage(
      {{laneTensor({103, 300, 103, 589}), laneTensor({1000, 300, 1000, 589})}});
  ASSERT_TRUE(bool(metric->update({gt, pred})));
  EXPECT_DOUBLE_EQ(figure(*metric, "CulaneF1Score"), 0.5);
  EXPECT_DOUBLE_EQ(figure(*metric, "precision"), 0.5);
  EXPECT_DOUBLE_EQ(figure(*metric, "recall"), 0.5);
  EXPECT_DOUBLE_EQ(figure(*metric, "tp"), 1);
  // update(batch, model_outs) reads ori_gt_lines and pred_lanes: a second
  // image with one GT lane and no prediction adds a false negative.
  config::Value batch = metrics::makeDict(
      {{"ori_gt_lines", perImage({{laneTensor({800, 300, 800, 589})}})}});
  config::Value outs = metrics::makeDict({{"pred_lanes", perImage({{}})}});
  ASSERT_TRUE(bool(metric->update({batch, outs})));
  EXPECT_DOUBLE_EQ(figure(*metric, "fn"), 2);
  EXPECT_DOUBLE_EQ(figure(*metric, "recall"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(figure(*metric, "CulaneF1Score"), 0.4);
  // Another rank's identical counts double every count, not the figures.
  std::vector<double> state = metric->state();
  ASSERT_TRUE(bool(metric->mergeState(state)));
  EXPECT_DOUBLE_EQ(figure(*metric, "tp"), 2);
  EXPECT_DOUBLE_EQ(figure(*metric, "CulaneF1Score"), 0.4);
  metric->reset();
  EXPECT_TRUE(metric->get().empty());
}

TEST(CulaneF1ScoreMetric, KwargsSetCanvasWidthThresholdAndName) {
  // On a 50-px-wide canvas neither lane draws a pixel: no match.
  metrics::MetricPtr small = buildMetric(", img_shape=(590, 50, 1)");
  config::Value gt = perImage({{laneTensor({100, 300, 100, 589})}});
  config::Value pred = perImage({{laneTensor({103, 300, 103, 589})}});
  ASSERT_TRUE(bool(small->update({gt, pred})));
  EXPECT_DOUBLE_EQ(figure(*small, "tp"), 0);
  // 6-px lanes 3 px apart overlap by 3/9 < 0.5; at iou_thresh 0.3 they match.
  metrics::MetricPtr thin = buildMetric(", width=6, name='F1'");
  ASSERT_TRUE(bool(thin->update({gt, pred})));
  EXPECT_DOUBLE_EQ(figure(*thin, "F1"), 0);
  metrics::MetricPtr loose = buildMetric(", width=6, iou_thresh=0.3");
  ASSERT_TRUE(bool(loose->update({gt, pred})));
  EXPECT_DOUBLE_EQ(figure(*loose, "CulaneF1Score"), 1);
}

TEST(CulaneF1ScoreMetric, RefusesBadKwargsAndInputs) {
  for (const char *kwargs : {", samples=20", ", width=0", ", iou_thresh=1.5",
                             ", img_shape=(590,)", ", colour='red'"}) {
    auto built = config::Registry::instance().build(
        evaluate(std::string("value = dict(type='CulaneF1Score'") + kwargs +
                 ")"),
        "metric");
    EXPECT_FALSE(bool(built)) << kwargs;
  }
  metrics::MetricPtr metric = buildMetric("");
  config::Value gt = perImage({{laneTensor({100, 300, 100, 589})}});
  auto missing =
      metric->update({metrics::makeDict({{"img", gt}}), perImage({{}})});
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(missing.error().message.find("ori_gt_lines"), std::string::npos);
  auto mismatch = metric->update({gt, perImage({{}, {}})});
  ASSERT_FALSE(bool(mismatch));
  EXPECT_NE(mismatch.error().message.find("1 images of ground truth, 2"),
            std::string::npos);
  auto shape = metric->update(
      {gt, perImage({{metrics::tensorValue(at::zeros({4, 3}))}})});
  ASSERT_FALSE(bool(shape));
  EXPECT_NE(shape.error().message.find("[P, 2]"), std::string::npos);
}

TEST(GaNetLossFromConfig, NamesTermsByTheirKeysAndChecksThem) {
  config::Value model =
      evaluate("value = dict(type='GaNet', targets=dict(type='GaNetTarget', "
               "hm_down_scale=8, radius=2), losses=dict(type='GaNetLoss', "
               "loss_kpts_cls=dict(type='LaneFastFocalLoss', loss_weight=1.0), "
               "loss_pts_offset_reg=dict(type='L1Loss', loss_weight=0.5), "
               "loss_int_offset_reg=dict(type='L1Loss', loss_weight=1.0)))");
  auto loss = engine::buildGaNetLoss(model);
  ASSERT_TRUE(bool(loss)) << loss.error().str();
  engine::GaNetHeadOutputs out;
  out.heatmap = at::zeros({1, 1, 8, 20});
  out.startOffset = at::zeros({1, 2, 8, 20});
  out.pointOffset = at::zeros({1, 2, 8, 20});
  auto terms =
      (**loss)(out, {{lane::Lane{{20.5f, 0.f}, {20.5f, 63.f}}}}, 64, 160);
  ASSERT_EQ(terms.size(), 3u);
  EXPECT_EQ(terms[0].first, "loss_kpts_cls");
  EXPECT_EQ(terms[1].first, "loss_pts_offset_reg");
  EXPECT_EQ(terms[2].first, "loss_int_offset_reg");
  // The start-offset term is half the unweighted one: (4.5 + 32) / 8 / 2
  // over the 8 keypoint cells (x 0.5625 each, y 7.5 - r), per the two
  // channels' mean over cells + 1e-4.
  EXPECT_NEAR(terms[1].second.item<double>(), (4.5 + 32) / (8 + 1e-4) / 2,
              1e-5);

  config::Value noTargets =
      evaluate("value = dict(type='GaNet', losses=dict(type='GaNetLoss'))");
  auto missing = engine::buildGaNetLoss(noTargets);
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(missing.error().message.find("needs 'targets'"), std::string::npos);
  config::Value badRadius =
      evaluate("value = dict(type='GaNet', targets=dict(type='GaNetTarget', "
               "radius=-1), losses=dict(type='GaNetLoss'))");
  auto radius = engine::buildGaNetLoss(badRadius);
  ASSERT_FALSE(bool(radius));
  EXPECT_NE(radius.error().message.find("radius"), std::string::npos);
}

} // namespace
