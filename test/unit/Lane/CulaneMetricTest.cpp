//===- CulaneMetricTest.cpp - The CULane F1 on hand-made cases ------------===//
//
// Expected IoUs marked "official" are what the official evaluator's
// LaneCompare::get_lane_similarity (SCNN tools/lane_evaluation, built
// against this machine's OpenCV 4.6) returns for the same lanes.
//
//===----------------------------------------------------------------------===//

#include "hat/Lane/CulaneMetric.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace hat::lane;

namespace {

Lane lane(std::initializer_list<float> xy) {
  Lane points;
  for (auto it = xy.begin(); it != xy.end(); it += 2)
    points.push_back({*it, *(it + 1)});
  return points;
}

Lane shifted(const Lane &points, float dx) {
  Lane out = points;
  for (LanePoint &p : out)
    p.x += dx;
  return out;
}

const Lane kVertical = lane({800, 590, 800, 300});
const Lane kCurve = lane({100, 590, 300, 450, 500, 350, 650, 280});

// The official way: every segment of the (interpolated) lane drawn with
// cv::line on the whole canvas.
cv::Mat drawWholeCanvas(const Lane &points, const CulaneOptions &options) {
  cv::Mat canvas =
      cv::Mat::zeros(options.imageHeight, options.imageWidth, CV_8UC1);
  const std::vector<LanePoint> samples =
      points.size() == 2 ? points : interpolateCulaneLane(points);
  for (std::size_t i = 0; i + 1 < samples.size(); ++i)
    cv::line(canvas, cv::Point2f(samples[i].x, samples[i].y),
             cv::Point2f(samples[i + 1].x, samples[i + 1].y), cv::Scalar(1),
             options.laneWidth);
  return canvas;
}

void expectSameAsWholeCanvas(const Lane &points, const CulaneOptions &options) {
  const cv::Mat expected = drawWholeCanvas(points, options);
  const LaneMask mask = rasterizeCulaneLane(points, options);
  ASSERT_EQ(mask.count, cv::countNonZero(expected));
  for (int y = 0; y < expected.rows; ++y)
    for (int x = 0; x < expected.cols; ++x)
      ASSERT_EQ(mask.contains(x, y), expected.at<uint8_t>(y, x) != 0)
          << "pixel (" << x << ", " << y << ")";
}

} // namespace

TEST(CulaneSpline, SamplesFiftyPerSegmentAndEndsOnTheLastPoint) {
  const Lane points = lane({0, 0, 10, 0, 20, 0});
  const std::vector<LanePoint> samples = interpolateCulaneLane(points);
  ASSERT_EQ(samples.size(), 101u); // 50 per segment + the last point
  // Collinear, evenly spaced points: the natural spline is the line itself.
  for (std::size_t k = 0; k < samples.size(); ++k) {
    EXPECT_NEAR(samples[k].x, 0.2 * k, 1e-4) << k;
    EXPECT_EQ(samples[k].y, 0.0f) << k;
  }
  EXPECT_EQ(samples.back().x, 20.0f);
  // Two points are drawn as one segment, without samples.
  EXPECT_EQ(interpolateCulaneLane(kVertical).size(), 2u);
}

TEST(CulaneSpline, CurvesThroughEveryPoint) {
  const std::vector<LanePoint> samples = interpolateCulaneLane(kCurve);
  ASSERT_EQ(samples.size(), 151u);
  for (std::size_t i = 0; i < kCurve.size(); ++i) {
    EXPECT_FLOAT_EQ(samples[50 * i].x, kCurve[i].x) << i;
    EXPECT_FLOAT_EQ(samples[50 * i].y, kCurve[i].y) << i;
  }
  // Between the knots it bends: not the chord's midpoint.
  const LanePoint middle = samples[75];
  EXPECT_GT(std::fabs(middle.y - 0.5f * (450 + 350)) +
                std::fabs(middle.x - 0.5f * (300 + 500)),
            0.5f);
}

TEST(CulaneRaster, MatchesWholeCanvasDrawing) {
  CulaneOptions options;
  expectSameAsWholeCanvas(kVertical, options);
  expectSameAsWholeCanvas(kCurve, options);
  // Reaching outside the canvas on the left and at the top.
  expectSameAsWholeCanvas(lane({-100, 590, 100, 400, 200, -20}), options);
  // A 2-point lane far outside the canvas except where it crosses it.
  expectSameAsWholeCanvas(lane({-5000, 500, 9000, 100}), options);
  // Entirely outside: draws nothing.
  expectSameAsWholeCanvas(lane({-200, 100, -100, 50}), options);
  // A repeated point: the official spline samples NaN, drawn at INT_MIN.
  expectSameAsWholeCanvas(lane({100, 590, 100, 590, 200, 400, 300, 300}),
                          options);
  // Odd and small widths.
  options.laneWidth = 7;
  expectSameAsWholeCanvas(kCurve, options);
  options.laneWidth = 1;
  expectSameAsWholeCanvas(kCurve, options);
}

TEST(CulaneRaster, MatchesWholeCanvasDrawingOnRandomLanes) {
  std::mt19937 random(5);
  std::uniform_real_distribution<float> x(-300, 1940), y(-50, 640);
  std::uniform_int_distribution<int> count(2, 12);
  CulaneOptions options;
  for (int trial = 0; trial < 50; ++trial) {
    // Mostly the benchmark's width; odd and thin ones too.
    options.laneWidth = trial < 30 ? 30 : trial < 40 ? 31 : 4;
    Lane points;
    const int n = count(random);
    for (int i = 0; i < n; ++i)
      points.push_back({x(random), y(random)});
    SCOPED_TRACE(trial);
    expectSameAsWholeCanvas(points, options);
  }
  // Lanes as CULane draws them: from the bottom row up, 10 rows apart,
  // some entering from beyond the left or right border.
  options.laneWidth = 30;
  std::uniform_real_distribution<float> bottom(-400, 2040), lean(-3, 3);
  for (int trial = 0; trial < 20; ++trial) {
    Lane points;
    const float x0 = bottom(random), slope = lean(random);
    for (float row = 590; row >= 250; row -= 10)
      points.push_back({x0 + slope * (590 - row), row});
    SCOPED_TRACE(trial);
    expectSameAsWholeCanvas(points, options);
  }
}

TEST(CulaneIoU, OfficialValues) {
  const CulaneOptions options;
  EXPECT_EQ(culaneLaneIoU(kVertical, kVertical, options), 1.0);
  // official: 0.50832659660468882
  EXPECT_EQ(culaneLaneIoU(kVertical, shifted(kVertical, 10), options),
            0.50832659660468882);
  // 40 px apart: 30-px lanes do not touch.
  EXPECT_EQ(culaneLaneIoU(kVertical, shifted(kVertical, 40), options), 0.0);
  // official: 0.84893527794604162
  EXPECT_EQ(culaneLaneIoU(kCurve, shifted(kCurve, 5), options),
            0.84893527794604162);
  // official: 0.62896315338474718 (clipped at the left border)
  EXPECT_EQ(culaneLaneIoU(lane({-100, 590, 100, 400, 200, 300}),
                          lane({-90, 590, 110, 400, 210, 300}), options),
            0.62896315338474718);
  // official: 0.73557909533611121 (a prefix of the lane)
  EXPECT_EQ(
      culaneLaneIoU(kCurve, lane({100, 590, 300, 450, 500, 350}), options),
      0.73557909533611121);
  // official: 0.7764052849659917 (leaving the canvas on the right)
  EXPECT_EQ(culaneLaneIoU(lane({1000, 590, 1100, 500, 1150, 450, 1700, 300}),
                          lane({990, 590, 1090, 500, 1140, 450, 1690, 300}),
                          options),
            0.7764052849659917);
  // Fewer than 2 points: similarity 0, whatever the other lane.
  EXPECT_EQ(culaneLaneIoU(lane({800, 590}), kVertical, options), 0.0);
  EXPECT_EQ(culaneLaneIoU(Lane(), kVertical, options), 0.0);
  // Neither lane draws a pixel: 0 / 0, as in the official tool.
  EXPECT_TRUE(std::isnan(culaneLaneIoU(lane({-200, 100, -100, 50}),
                                       lane({-300, 100, -100, 50}), options)));
}

TEST(CulaneAssignment, MaximisesTheSummedIoUNotTheBestPair) {
  // Greedy on the best pair would take GT0-P0 (0.9) and leave GT1 with 0.1;
  // the maximum-weight matching crosses them (0.8 + 0.85).
  EXPECT_EQ(culaneAssignment({{0.9, 0.8}, {0.85, 0.1}}),
            (std::vector<int>{1, 0}));
  // More GT lanes than predictions: predictions are the left side.
  EXPECT_EQ(culaneAssignment({{0.3}, {0.7}, {0.6}}),
            (std::vector<int>{-1, 0, -1}));
  EXPECT_EQ(culaneAssignment({{0.2, 0.6, 0.1}}), (std::vector<int>{1}));
  EXPECT_TRUE(culaneAssignment({}).empty());
  EXPECT_EQ(culaneAssignment({{}, {}}), (std::vector<int>{-1, -1}));
  EXPECT_THROW(culaneAssignment({{0.1, 0.2}, {0.3}}), std::invalid_argument);
}

TEST(CulaneAssignment, OfficialQuirks) {
  // The 1e-2 tolerance: 0.499 is "tight" next to 0.505 and is visited
  // first, so the official tool pairs GT0 with P0 and, with threshold 0.5,
  // counts no true positive where an exact optimum would count one.
  EXPECT_EQ(culaneAssignment({{0.499, 0.505}}), (std::vector<int>{0}));
  // A GT lane whose IoUs are all NaN stops the whole matching: the later
  // GT lane stays unmatched too.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(culaneAssignment({{nan, nan}, {0.9, 0.8}}),
            (std::vector<int>{-1, -1}));
}

TEST(CulaneImage, HandMadeCounts) {
  const CulaneOptions options;
  auto counts = [&](const std::vector<Lane> &gt,
                    const std::vector<Lane> &pred) {
    const CulaneImageResult r = evaluateCulaneImage(gt, pred, options);
    return std::vector<int64_t>{r.tp, r.fp, r.fn};
  };
  using Counts = std::vector<int64_t>;
  // Identical lanes.
  EXPECT_EQ(counts({kVertical, kCurve}, {kCurve, kVertical}),
            (Counts{2, 0, 0}));
  // Shifted by 40 px: no overlap, a miss and a false alarm.
  EXPECT_EQ(counts({kVertical}, {shifted(kVertical, 40)}), (Counts{0, 1, 1}));
  // Shifted by 10 px: IoU 0.508 > 0.5 matches.
  EXPECT_EQ(counts({kVertical}, {shifted(kVertical, 10)}), (Counts{1, 0, 0}));
  // Two predictions for one GT lane: one is a false positive.
  EXPECT_EQ(counts({kVertical}, {kVertical, shifted(kVertical, 3)}),
            (Counts{1, 1, 0}));
  // One-point lanes never match but count.
  EXPECT_EQ(counts({lane({800, 590})}, {lane({800, 590})}), (Counts{0, 1, 1}));
  EXPECT_EQ(counts({kVertical, Lane()}, {kVertical}), (Counts{1, 0, 1}));
  // No GT: every prediction is false; no prediction: every GT lane missed.
  EXPECT_EQ(counts({}, {kVertical, kCurve}), (Counts{0, 2, 0}));
  EXPECT_EQ(counts({kVertical, kCurve}, {}), (Counts{0, 0, 2}));
  EXPECT_EQ(counts({}, {}), (Counts{0, 0, 0}));

  const CulaneImageResult r =
      evaluateCulaneImage({kCurve, kVertical, lane({5, 5})},
                          {shifted(kVertical, 40), kVertical}, options);
  EXPECT_EQ(r.gtMatch, (std::vector<int>{-1, 1, -1}));
  EXPECT_EQ(r.degenerateGt, 1);
  EXPECT_EQ(r.degeneratePred, 0);

  // The threshold is strict and configurable.
  CulaneOptions strict = options;
  strict.iouThreshold = 0.50832659660468882; // the IoU of the 10-px shift
  EXPECT_EQ(
      evaluateCulaneImage({kVertical}, {shifted(kVertical, 10)}, strict).tp, 0);
}

TEST(CulaneF1Score, AccumulatesAndDerivesF1) {
  CulaneF1Score metric;
  EXPECT_FALSE(metric.get().precision().has_value());
  EXPECT_FALSE(metric.get().f1().has_value());
  metric.update({kVertical, kCurve}, {kVertical});              // 1 TP, 1 FN
  metric.update({kVertical}, {shifted(kVertical, 40), kCurve}); // 2 FP, 1 FN
  const CulaneCounts &c = metric.get();
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.fp, 2);
  EXPECT_EQ(c.fn, 2);
  EXPECT_EQ(c.images, 2);
  EXPECT_DOUBLE_EQ(*c.precision(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(*c.recall(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(*c.f1(), 1.0 / 3);
  // Only false positives: precision 0, recall undefined (the official tool
  // prints -1), so no F1.
  CulaneF1Score crossing;
  crossing.update({}, {kVertical});
  EXPECT_EQ(*crossing.get().precision(), 0.0);
  EXPECT_FALSE(crossing.get().recall().has_value());
  EXPECT_FALSE(crossing.get().f1().has_value());
  metric.reset();
  EXPECT_EQ(metric.get().images, 0);
}

TEST(CulaneF1Score, PerCanvasSize) {
  CulaneF1Score metric;
  // On an 810 x 295 canvas the lane at x = 800 loses its right part and all
  // but its top cap, yet still matches itself.
  CulaneImage image;
  image.gt = {kVertical};
  image.pred = {kVertical};
  image.imageWidth = 810;
  image.imageHeight = 295;
  EXPECT_EQ(metric.update(image).tp, 1);
  // Outside the canvas: nothing is drawn, IoU NaN, no match.
  image.imageWidth = 700;
  EXPECT_EQ(metric.update(image).tp, 0);
  image.imageWidth = -3;
  image.imageHeight = 40000;
  EXPECT_THROW(metric.update(image), std::invalid_argument);
}

TEST(CulaneF1Score, CategoriesStateAndMerge) {
  const std::vector<std::string> categories = {"normal", "night"};
  CulaneF1Score rank0({}, categories), rank1({}, categories);
  rank0.update({kVertical}, {kVertical}, 0);
  rank0.update({kCurve}, {}, 1);
  rank1.update({kCurve}, {kCurve, kVertical}, 1);
  rank1.update({}, {kVertical}); // no category
  EXPECT_THROW(rank1.update({}, {}, 2), std::out_of_range);

  const std::vector<double> state1 = rank1.state();
  ASSERT_EQ(state1.size(), 18u);
  rank0.mergeState(state1);
  EXPECT_EQ(rank0.get().tp, 2);
  EXPECT_EQ(rank0.get().fp, 2);
  EXPECT_EQ(rank0.get().fn, 1);
  EXPECT_EQ(rank0.get().images, 4);
  EXPECT_EQ(rank0.category(0).tp, 1);
  EXPECT_EQ(rank0.category(0).images, 1);
  EXPECT_EQ(rank0.category(1).tp, 1);
  EXPECT_EQ(rank0.category(1).fp, 1);
  EXPECT_EQ(rank0.category(1).fn, 1);
  EXPECT_EQ(rank0.category(1).images, 2);

  // Malformed states are refused and change nothing.
  const std::vector<double> before = rank0.state();
  EXPECT_THROW(rank0.mergeState({1, 2, 3}), std::invalid_argument);
  std::vector<double> negative = state1;
  negative[1] = -1;
  EXPECT_THROW(rank0.mergeState(negative), std::invalid_argument);
  std::vector<double> fractional = state1;
  fractional[7] = 0.5;
  EXPECT_THROW(rank0.mergeState(fractional), std::invalid_argument);
  EXPECT_EQ(rank0.state(), before);
}

TEST(CulaneF1Score, ThreadsDoNotChangeTheCounts) {
  std::mt19937 random(9);
  std::uniform_real_distribution<float> shift(-30, 30);
  std::vector<CulaneImage> images(60);
  for (std::size_t i = 0; i < images.size(); ++i) {
    images[i].gt = {shifted(kCurve, 100.0f * (i % 5)), kVertical};
    images[i].pred = {shifted(kCurve, 100.0f * (i % 5) + shift(random)),
                      shifted(kVertical, shift(random))};
    images[i].category = static_cast<int>(i % 3);
  }
  const std::vector<std::string> categories = {"a", "b", "c"};
  CulaneF1Score one({}, categories), two({}, categories),
      serial({}, categories);
  one.updateAll(images, 1);
  two.updateAll(images, 2);
  for (const CulaneImage &image : images)
    serial.update(image);
  EXPECT_EQ(one.state(), two.state());
  EXPECT_EQ(one.state(), serial.state());
  EXPECT_GT(one.get().tp, 0);
  EXPECT_GT(one.get().fp, 0);
}

TEST(CulaneOptions, Validation) {
  CulaneOptions options;
  EXPECT_NO_THROW(validateCulaneOptions(options));
  options.laneWidth = 0;
  EXPECT_THROW(validateCulaneOptions(options), std::invalid_argument);
  options = CulaneOptions();
  options.iouThreshold = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(validateCulaneOptions(options), std::invalid_argument);
  options = CulaneOptions();
  options.imageWidth = 0;
  EXPECT_THROW(CulaneF1Score metric(options), std::invalid_argument);
}

TEST(CulaneCategories, TheNineTestSplits) {
  const std::vector<std::string> expected = {"normal", "crowd",  "hlight",
                                             "shadow", "noline", "arrow",
                                             "curve",  "cross",  "night"};
  EXPECT_EQ(culaneTestCategories(), expected);
}
