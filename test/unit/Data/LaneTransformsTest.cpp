//===- LaneTransformsTest.cpp - HAT's GaNet / CuLane transforms -----------===//
//
// Lanes are checked against the pixels they moved with: on a coordinate
// image (pixel (x, y) holds x, y) warped with nearest-neighbour sampling,
// the pixel under a transformed lane point names where it came from.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"
#include "hat/Data/DataLoader.h"
#include "hat/Data/Error.h"
#include "hat/Data/Transforms.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>

using namespace hat::data;
using hat::data::test::coordinateImage;

namespace {

Sample coordinateSample(int width, int height) {
  Sample sample;
  sample.image = coordinateImage(width, height);
  sample.originalSize = sample.image.size();
  return sample;
}

/// A textured colour image (JPEG and blurs have something to change).
Sample texturedSample(int width, int height) {
  Sample sample;
  sample.image = cv::Mat(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      sample.image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(uint8_t(x * 7 % 256), uint8_t((x * y) % 251),
                    uint8_t((y * 13 + x) % 256));
  sample.lanes.push_back({{2, float(height - 1)}, {float(width / 2), 3}});
  sample.boxes.push_back({1, 1, 9, 9});
  sample.boxLabels.push_back(0);
  return sample;
}

cv::Vec3b at(const Sample &sample, int x, int y) {
  return sample.image.at<cv::Vec3b>(y, x);
}

bool sameSample(const Sample &a, const Sample &b) {
  return a.image.size() == b.image.size() && a.image.type() == b.image.type() &&
         cv::norm(a.image, b.image, cv::NORM_INF) == 0 && a.lanes == b.lanes &&
         a.boxes == b.boxes && a.colorSpace == b.colorSpace;
}

/// Records which of several transforms ran, in the sample's label.
class Marker : public Transform {
public:
  explicit Marker(int id) : id_(id) {}
  void apply(Sample &sample, SampleRng &) const override { sample.label = id_; }
  const char *name() const override { return "Marker"; }

private:
  int id_;
};

} // namespace

TEST(FixedCrop, CropsPixelsAndDropsLanePointsOutside) {
  Sample sample = coordinateSample(100, 60);
  // A lane crossing the window's top edge, one lane left with a single point
  // inside, and a box overhanging the window.
  sample.lanes.push_back({{10, 59}, {20, 40}, {30, 25}, {40, 10}});
  sample.lanes.push_back({{90, 59}, {99, 5}});
  sample.boxes.push_back({0, 0, 30, 40});
  sample.boxLabels.push_back(3);
  FixedCrop crop(FixedCropOptions{{5, 20, 80, 40}}); // x1 5, y1 20, w 80, h 40
  SampleRng rng(1);
  crop.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(80, 40));
  EXPECT_EQ(at(sample, 0, 0), cv::Vec3b(5, 20, 7));
  EXPECT_EQ(at(sample, 79, 39), cv::Vec3b(84, 59, 7));
  // (40, 10) lies above the window and is dropped; the rest moves by
  // (-5, -20). The second lane keeps only (90, 59) -> fewer than 2: removed.
  ASSERT_EQ(sample.lanes.size(), 1u);
  const std::vector<cv::Point2f> expected = {{5, 39}, {15, 20}, {25, 5}};
  EXPECT_EQ(sample.lanes[0], expected);
  for (const cv::Point2f &point : sample.lanes[0]) {
    const cv::Vec3b source = at(sample, int(point.x), int(point.y));
    EXPECT_EQ(source[0], point.x + 5);
    EXPECT_EQ(source[1], point.y + 20);
  }
  EXPECT_EQ(sample.boxes[0], (Box{0, 0, 25, 20}));

  // (w, h) crops from the origin: FixedCropOptions holds (0, 0, w, h).
  Sample small = coordinateSample(30, 20);
  small.key = "0000000042";
  FixedCrop tooLarge(FixedCropOptions{{0, 270, 1640, 320}});
  try {
    tooLarge.apply(small, rng);
    ADD_FAILURE() << "a window outside the image was accepted";
  } catch (const DataError &error) {
    EXPECT_EQ(error.key(), "0000000042");
    EXPECT_NE(std::string(error.what()).find("does not fit the 30x20 image"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(FixedCrop(FixedCropOptions{{0, 0, 0, 5}}),
               std::invalid_argument);
  EXPECT_THROW(FixedCrop(FixedCropOptions{{-1, 0, 5, 5}}),
               std::invalid_argument);
}

TEST(RandomFlip, LanePointsUseHatsPixelConvention) {
  // 100 px wide: x = 10 -> 89 (= W - 1 - x), the column cv::flip moves
  // pixel 10 to; a point on the last column stays inside.
  Sample sample = coordinateSample(100, 20);
  sample.lanes.push_back({{10, 5}, {99, 19}, {0, 0}});
  SampleRng rng(1);
  RandomFlip({1.0, 0.0}).apply(sample, rng);
  const std::vector<cv::Point2f> expected = {{89, 5}, {0, 19}, {99, 0}};
  EXPECT_EQ(sample.lanes[0], expected);
  for (const cv::Point2f &point : sample.lanes[0])
    EXPECT_EQ(at(sample, int(point.x), int(point.y))[0], 99 - int(point.x));
  // Flipping twice gives the lanes back exactly.
  RandomFlip({1.0, 0.0}).apply(sample, rng);
  EXPECT_EQ(sample.lanes[0],
            (std::vector<cv::Point2f>{{10, 5}, {99, 19}, {0, 0}}));
}

// HAT's lane evaluation maps a network-input point back with the batch's
// scale_factor and crop_offset: stored = current / scale + offset. The
// tutorial's val pipeline, FixedCrop then Resize, on a 1640x590 image.
TEST(FixedCrop, CropOffsetAndScaleMapPointsBackToTheStoredImage) {
  Sample sample = coordinateSample(1640, 590);
  sample.lanes.push_back({{820, 589}, {900, 300}});
  sample.originalLanes = sample.lanes;
  SampleRng rng(1);
  FixedCrop(FixedCropOptions{{0, 270, 1640, 320}}).apply(sample, rng);
  ResizeOptions options;
  options.img_scale = {320, 800};
  options.keep_ratio = false;
  options.multiscale_mode = "value";
  Resize(options).apply(sample, rng);
  EXPECT_DOUBLE_EQ(sample.originX, 0.0);
  EXPECT_DOUBLE_EQ(sample.originY, 270.0);
  ASSERT_EQ(sample.lanes.size(), 1u);
  for (size_t k = 0; k < sample.lanes[0].size(); ++k) {
    const cv::Point2f &p = sample.lanes[0][k];
    EXPECT_NEAR(p.x / sample.scaleX + sample.originX,
                sample.originalLanes[0][k].x, 1e-3);
    EXPECT_NEAR(p.y / sample.scaleY + sample.originY,
                sample.originalLanes[0][k].y, 1e-3);
  }
  // A crop after a resize is counted in stored pixels: 10 resized pixels
  // at scale 0.5 are 20 stored ones.
  Sample small = coordinateSample(100, 60);
  ResizeOptions half;
  half.img_scale = {30, 50};
  half.keep_ratio = false;
  half.multiscale_mode = "value";
  Resize(half).apply(small, rng);
  FixedCrop(FixedCropOptions{{10, 5, 30, 20}}).apply(small, rng);
  EXPECT_DOUBLE_EQ(small.originX, 20.0);
  EXPECT_DOUBLE_EQ(small.originY, 10.0);
}

TEST(Resize, LanePointsScaleWithTheImageWithoutKeepRatio) {
  // HAT's lane config: img_scale=(320, 800), keep_ratio=False: x and y
  // scale separately.
  Sample sample = coordinateSample(200, 100);
  sample.lanes.push_back({{100, 50}, {150, 80}});
  ResizeOptions options;
  options.img_scale = {40, 50};
  options.keep_ratio = false;
  options.multiscale_mode = "value";
  options.interpolation = "nearest";
  SampleRng rng(1);
  Resize(options).apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(50, 40));
  EXPECT_EQ(sample.lanes[0], (std::vector<cv::Point2f>{{25, 20}, {37.5, 32}}));
  EXPECT_EQ(at(sample, 25, 20), cv::Vec3b(100, 50, 7));
  EXPECT_DOUBLE_EQ(sample.scaleX, 0.25);
  EXPECT_DOUBLE_EQ(sample.scaleY, 0.4);
}

TEST(ShiftScaleRotate, KnownMatrixMovesPixelsAndLanesTogether) {
  // 90 degrees about the centre (20, 20) of a 40x40 image, no scale or
  // shift: (x, y) -> (y, 40 - x).
  const cv::Matx23d m =
      ShiftScaleRotate::matrix(cv::Size(40, 40), 90.0, 1.0, 0.0, 0.0);
  EXPECT_NEAR(m(0, 0), 0, 1e-12);
  EXPECT_NEAR(m(0, 1), 1, 1e-12);
  EXPECT_NEAR(m(0, 2), 0, 1e-12);
  EXPECT_NEAR(m(1, 0), -1, 1e-12);
  EXPECT_NEAR(m(1, 1), 0, 1e-12);
  EXPECT_NEAR(m(1, 2), 40, 1e-12);

  ShiftScaleRotateOptions options;
  options.interpolation = cv::INTER_NEAREST;
  options.border_mode = cv::BORDER_CONSTANT;
  options.p = 1.0;
  ShiftScaleRotate transform(options);
  Sample sample = coordinateSample(40, 40);
  // (1, 20) maps to (20, 39), inside; (0, 5) maps to (5, 40): outside.
  sample.lanes.push_back({{10, 5}, {30, 12}, {1, 20}, {0, 5}});
  sample.lanes.push_back({{0, 30}, {35, 3}}); // -> (30, 40) out, (3, 5) in
  transform.warp(sample, m);
  ASSERT_EQ(sample.lanes.size(), 1u);
  const std::vector<cv::Point2f> expected = {{5, 30}, {12, 10}, {20, 39}};
  ASSERT_EQ(sample.lanes[0].size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(sample.lanes[0][i].x, expected[i].x, 1e-4);
    EXPECT_NEAR(sample.lanes[0][i].y, expected[i].y, 1e-4);
  }
  // The pixel under each moved point came from the original point.
  EXPECT_EQ(at(sample, 5, 30), cv::Vec3b(10, 5, 7));
  EXPECT_EQ(at(sample, 12, 10), cv::Vec3b(30, 12, 7));
  EXPECT_EQ(at(sample, 20, 39), cv::Vec3b(1, 20, 7));

  // A pure shift by (dx, dy) = (0.25, -0.1) of a 40x20 image: +10, -2 px.
  Sample shifted = coordinateSample(40, 20);
  shifted.lanes.push_back({{3, 10}, {29, 2}, {35, 15}});
  shifted.boxes.push_back({0, 5, 10, 15});
  shifted.boxLabels.push_back(0);
  transform.warp(shifted, ShiftScaleRotate::matrix(shifted.image.size(), 0, 1.0,
                                                   0.25, -0.1));
  ASSERT_EQ(shifted.lanes.size(), 1u);
  // (29, 2) -> (39, 0) stays; (35, 15) -> (45, 13) leaves the image.
  EXPECT_EQ(shifted.lanes[0], (std::vector<cv::Point2f>{{13, 8}, {39, 0}}));
  EXPECT_EQ(at(shifted, 13, 8), cv::Vec3b(3, 10, 7));
  EXPECT_EQ(at(shifted, 0, 0), cv::Vec3b(0, 0, 0)); // border_mode 0 fill
  EXPECT_EQ(shifted.boxes[0], (Box{10, 3, 20, 13}));
}

TEST(ShiftScaleRotate, RandomDrawsFollowTheReplayedMatrix) {
  ShiftScaleRotateOptions options;
  options.shift_limit = {-0.1, 0.1};
  options.scale_limit = {0.8, 1.2};
  options.rotate_limit = {-10, 10};
  options.interpolation = cv::INTER_NEAREST;
  options.border_mode = cv::BORDER_CONSTANT;
  options.p = 0.6;
  ShiftScaleRotate transform(options);
  int applied = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Sample sample = coordinateSample(80, 32);
    sample.lanes.push_back({{40, 31}, {42, 20}, {45, 10}});
    SampleRng rng(seed), replay(seed);
    transform.apply(sample, rng);
    if (!replay.bernoulli(0.6)) {
      EXPECT_EQ(sample.lanes[0],
                (std::vector<cv::Point2f>{{40, 31}, {42, 20}, {45, 10}}));
      EXPECT_EQ(at(sample, 7, 9), cv::Vec3b(7, 9, 7));
      continue;
    }
    ++applied;
    const double angle = replay.uniform(-10, 10);
    const double scale = replay.uniform(0.8, 1.2);
    const double dx = replay.uniform(-0.1, 0.1);
    const double dy = replay.uniform(-0.1, 0.1);
    const cv::Matx23d m =
        ShiftScaleRotate::matrix(cv::Size(80, 32), angle, scale, dx, dy);
    // The kept points: each moved by the matrix, with its source point.
    std::vector<std::pair<cv::Point2f, cv::Point2f>> expected;
    for (const cv::Point2f &p :
         {cv::Point2f(40, 31), cv::Point2f(42, 20), cv::Point2f(45, 10)}) {
      const cv::Point2f moved(float(m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2)),
                              float(m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2)));
      if (moved.x >= 0 && moved.x <= 79 && moved.y >= 0 && moved.y <= 31)
        expected.emplace_back(moved, p);
    }
    if (expected.size() < 2) {
      EXPECT_TRUE(sample.lanes.empty());
      continue;
    }
    ASSERT_EQ(sample.lanes.size(), 1u);
    ASSERT_EQ(sample.lanes[0].size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const auto &[moved, source] = expected[i];
      EXPECT_NEAR(sample.lanes[0][i].x, moved.x, 1e-3);
      EXPECT_NEAR(sample.lanes[0][i].y, moved.y, 1e-3);
      // Nearest sampling: the pixel under the moved point came from within
      // two pixels of the source point (rounding on both sides).
      const cv::Vec3b pixel =
          at(sample, int(std::lround(moved.x)), int(std::lround(moved.y)));
      ASSERT_EQ(pixel[2], 7) << "the point landed on border fill";
      EXPECT_LE(std::abs(pixel[0] - source.x), 2.0);
      EXPECT_LE(std::abs(pixel[1] - source.y), 2.0);
    }
  }
  EXPECT_GT(applied, 5);
  EXPECT_LT(applied, 20);
}

TEST(RandomSelectOne, FrequenciesFollowPAndWeightsDeterministically) {
  RandomSelectOneOptions options;
  options.transforms = {std::make_shared<Marker>(0),
                        std::make_shared<Marker>(1)};
  options.p = 0.7;
  options.p_trans = {1, 3};
  RandomSelectOne select(options);
  auto count = [&] {
    std::array<int, 3> counts{0, 0, 0}; // none, first, second
    for (uint64_t index = 0; index < 8000; ++index) {
      Sample sample;
      sample.label = -1;
      SampleRng rng(123, 0, index);
      select.apply(sample, rng);
      ++counts[sample.label + 1];
    }
    return counts;
  };
  const std::array<int, 3> counts = count();
  // Expected: 0.3 none, 0.7 * 1/4 = 0.175 first, 0.7 * 3/4 = 0.525 second.
  EXPECT_NEAR(counts[0] / 8000.0, 0.3, 0.02);
  EXPECT_NEAR(counts[1] / 8000.0, 0.175, 0.02);
  EXPECT_NEAR(counts[2] / 8000.0, 0.525, 0.02);
  EXPECT_EQ(count(), counts); // the same seed gives the same choices

  // Equal weights by default; p = 1 always applies one.
  RandomSelectOne always(
      {{std::make_shared<Marker>(0), std::make_shared<Marker>(1)}, 1.0, {}});
  int second = 0;
  for (uint64_t index = 0; index < 4000; ++index) {
    Sample sample;
    SampleRng rng(7, 1, index);
    always.apply(sample, rng);
    ASSERT_GE(sample.label, 0);
    second += sample.label;
  }
  EXPECT_NEAR(second / 4000.0, 0.5, 0.03);
  EXPECT_THROW(RandomSelectOne({{}, 0.5, {}}), std::invalid_argument);
  EXPECT_THROW(RandomSelectOne({{std::make_shared<Marker>(0)}, 0.5, {0}}),
               std::invalid_argument);
}

TEST(ColourTransforms, KnownPixels) {
  SampleRng rng(1);
  // RGBShift with fixed shifts: R +10, G 0, B -5, found through the colour
  // space (BGR stores R last, RGB first).
  RGBShift shift({{10, 10}, {0, 0}, {-5, -5}, 1.0});
  Sample bgr;
  bgr.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(100, 100, 250));
  shift.apply(bgr, rng);
  EXPECT_EQ(at(bgr, 1, 1), cv::Vec3b(95, 100, 255)); // R saturates at 255
  Sample rgb;
  rgb.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(100, 100, 100));
  rgb.colorSpace = "rgb";
  shift.apply(rgb, rng);
  EXPECT_EQ(at(rgb, 0, 0), cv::Vec3b(110, 100, 95));
  Sample grey;
  grey.image = cv::Mat(2, 2, CV_8UC1, cv::Scalar(100));
  grey.colorSpace = "gray";
  EXPECT_THROW(shift.apply(grey, rng), std::invalid_argument);
  // Refused whether or not the shift would have been drawn.
  EXPECT_THROW(RGBShift({{-1, 1}, {-1, 1}, {-1, 1}, 0.0}).apply(grey, rng),
               std::invalid_argument);
  Sample yuv;
  yuv.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3));
  yuv.colorSpace = "yuv444";
  EXPECT_THROW(JPEGCompress({0.0, 90, 90}).apply(yuv, rng),
               std::invalid_argument);
  EXPECT_THROW(
      HueSaturationValue({{0, 0}, {0, 0}, {0, 0}, 0.0}).apply(yuv, rng),
      std::invalid_argument);

  // HueSaturationValue: value +10 on grey; hue +60 (OpenCV units, 120
  // degrees) turns pure red into pure green.
  HueSaturationValue value({{0, 0}, {0, 0}, {10, 10}, 1.0});
  Sample flat;
  flat.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(100, 100, 100));
  value.apply(flat, rng);
  EXPECT_EQ(at(flat, 0, 0), cv::Vec3b(110, 110, 110));
  HueSaturationValue hue({{60, 60}, {0, 0}, {0, 0}, 1.0});
  Sample red;
  red.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 0, 255));
  hue.apply(red, rng);
  EXPECT_EQ(at(red, 0, 0), cv::Vec3b(0, 255, 0));

  // RandomBrightnessContrast: 100 * (1 + 0.5) + 0.2 * 255 = 201.
  RandomBrightnessContrast bc({{0.2, 0.2}, {0.5, 0.5}, true, 1.0});
  Sample pixel;
  pixel.image = cv::Mat(1, 1, CV_8UC3, cv::Scalar(100, 10, 200));
  bc.apply(pixel, rng);
  EXPECT_EQ(at(pixel, 0, 0), cv::Vec3b(201, 66, 255));
  // By the mean instead of the maximum: 100 * 1 + 0.5 * 100 = 150.
  RandomBrightnessContrast byMean({{0.5, 0.5}, {0, 0}, false, 1.0});
  Sample hundred;
  hundred.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(100, 100, 100));
  byMean.apply(hundred, rng);
  EXPECT_EQ(at(hundred, 1, 0), cv::Vec3b(150, 150, 150));

  // Blurs of a single white pixel: the 3x3 mean spreads 255 / 9; the
  // median removes it.
  Sample dot;
  dot.image = cv::Mat(5, 5, CV_8UC3, cv::Scalar(0, 0, 0));
  dot.image.at<cv::Vec3b>(2, 2) = cv::Vec3b(255, 255, 255);
  Sample median = dot;
  median.image = dot.image.clone();
  MeanBlur({3, 1.0}).apply(dot, rng);
  EXPECT_EQ(at(dot, 2, 2), cv::Vec3b(28, 28, 28));
  EXPECT_EQ(at(dot, 1, 1), cv::Vec3b(28, 28, 28));
  EXPECT_EQ(at(dot, 0, 0), cv::Vec3b(0, 0, 0));
  MedianBlur({3, 1.0}).apply(median, rng);
  EXPECT_EQ(cv::countNonZero(median.image.reshape(1)), 0);
}

TEST(JPEGCompress, ChangesPixelsNotShapeOrGeometry) {
  Sample sample = texturedSample(64, 48);
  const Sample before = sample;
  const cv::Mat original = sample.image.clone();
  JPEGCompress jpeg({1.0, 20, 20});
  SampleRng rng(3);
  jpeg.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), original.size());
  EXPECT_EQ(sample.image.type(), CV_8UC3);
  EXPECT_GT(cv::norm(sample.image, original, cv::NORM_L1), 64 * 48);
  EXPECT_EQ(sample.lanes, before.lanes);
  EXPECT_EQ(sample.boxes, before.boxes);

  // HAT's config gives max_quality=85, min_quality=95: the same range as
  // (95, 85), so the same stream gives the same image.
  Sample a = texturedSample(64, 48), b = texturedSample(64, 48);
  SampleRng rngA(9), rngB(9);
  JPEGCompress({1.0, 85, 95}).apply(a, rngA);
  JPEGCompress({1.0, 95, 85}).apply(b, rngB);
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);

  // RGB images are compressed as the colours they are: converting to RGB,
  // compressing and converting back equals compressing the BGR image.
  Sample bgr = texturedSample(64, 48), rgb = texturedSample(64, 48);
  cv::cvtColor(rgb.image, rgb.image, cv::COLOR_BGR2RGB);
  rgb.colorSpace = "rgb";
  SampleRng rngC(4), rngD(4);
  jpeg.apply(bgr, rngC);
  jpeg.apply(rgb, rngD);
  cv::cvtColor(rgb.image, rgb.image, cv::COLOR_RGB2BGR);
  EXPECT_EQ(cv::norm(bgr.image, rgb.image, cv::NORM_INF), 0);
  EXPECT_THROW(JPEGCompress({1.0, 0, 90}), std::invalid_argument);
}

TEST(LaneTransforms, ProbabilityZeroLeavesTheSampleAndStreamUnchanged) {
  ShiftScaleRotateOptions ssr;
  ssr.p = 0.0;
  RandomResizedCropOptions rrc;
  rrc.size = {16, 40};
  rrc.p = 0.0;
  RandomSelectOneOptions select;
  select.transforms = {std::make_shared<MeanBlur>(BlurOptions{3, 1.0})};
  select.p = 0.0;
  const std::vector<TransformPtr> transforms = {
      std::make_shared<RGBShift>(
          RGBShiftOptions{{-10, 10}, {-10, 10}, {-10, 10}, 0.0}),
      std::make_shared<HueSaturationValue>(
          HueSaturationValueOptions{{-10, 10}, {-15, 15}, {-10, 10}, 0.0}),
      std::make_shared<JPEGCompress>(JPEGCompressOptions{0.0, 85, 95}),
      std::make_shared<MeanBlur>(BlurOptions{3, 0.0}),
      std::make_shared<MedianBlur>(BlurOptions{3, 0.0}),
      std::make_shared<RandomBrightnessContrast>(
          RandomBrightnessContrastOptions{{-0.2, 0.2}, {-0.2, 0.2}, true, 0.0}),
      std::make_shared<ShiftScaleRotate>(ssr),
      std::make_shared<RandomResizedCrop>(rrc),
      std::make_shared<RandomSelectOne>(select)};
  for (const TransformPtr &transform : transforms) {
    SCOPED_TRACE(transform->name());
    Sample sample = texturedSample(40, 24);
    const Sample before = sample;
    SampleRng rng(5), fresh(5);
    transform->apply(sample, rng);
    EXPECT_TRUE(sameSample(sample, before));
    EXPECT_EQ(rng.next(), fresh.next()); // nothing was drawn
  }
}

TEST(RandomResizedCrop, HeightWidthAndLanesFollowThePixels) {
  RandomResizedCropOptions options;
  options.size = {32, 80}; // height=32, width=80 in HAT's config
  options.scale = {0.8, 1.2};
  options.ratio = {1.7, 2.7};
  options.interpolation = "nearest";
  RandomResizedCrop crop(options);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Sample sample = coordinateSample(200, 80);
    sample.lanes.push_back({{100, 79}, {110, 60}, {120, 40}, {130, 20}});
    SampleRng rng(seed);
    crop.apply(sample, rng);
    ASSERT_EQ(sample.image.size(), cv::Size(80, 32));
    for (const auto &lane : sample.lanes)
      for (const cv::Point2f &point : lane) {
        EXPECT_GE(point.x, 0);
        EXPECT_LE(point.x, 79);
        // The pixel under the point came from its source point (the lane's
        // points are 20 px apart, so the nearest one is it), to within the
        // size of a scaled pixel.
        const cv::Vec3b pixel = at(sample, int(point.x), int(point.y));
        cv::Point2f nearest;
        double distance = 1e9;
        for (const cv::Point2f &source :
             {cv::Point2f(100, 79), cv::Point2f(110, 60), cv::Point2f(120, 40),
              cv::Point2f(130, 20)}) {
          const double d = std::hypot(pixel[0] - source.x, pixel[1] - source.y);
          if (d < distance) {
            distance = d;
            nearest = source;
          }
        }
        // Truncating the point to a pixel and nearest sampling (floor) each
        // cost up to one pixel per axis, one of them scaled.
        EXPECT_LE(std::abs(pixel[0] - nearest.x), 1.0 / sample.scaleX + 1);
        EXPECT_LE(std::abs(pixel[1] - nearest.y), 1.0 / sample.scaleY + 1);
      }
  }
}

TEST(BatchTransforms, YuvAndNormalizeOnACollatedBatch) {
  // Two RGB samples (CuLaneDataset(to_rgb=True)) after ToTensor.
  std::vector<Sample> samples;
  for (int i = 0; i < 2; ++i) {
    Sample sample = texturedSample(6, 4);
    cv::cvtColor(sample.image, sample.image, cv::COLOR_BGR2RGB);
    sample.colorSpace = "rgb";
    SampleRng rng(1);
    ToTensor({false}).apply(sample, rng);
    samples.push_back(sample);
  }
  // What each image should become: per-sample BgrToYuv444 + Normalize.
  std::vector<cv::Mat> expected;
  for (Sample sample : samples) {
    SampleRng rng(1);
    BgrToYuv444({true}).apply(sample, rng);
    Normalize({{128.0}, {128.0}}).apply(sample, rng);
    expected.push_back(sample.image.clone());
  }
  Batch batch = collate2d(samples);
  applyBatchTransforms(
      {std::make_shared<BgrToYuv444>(BgrToYuv444Options{true}),
       std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}})},
      batch);
  EXPECT_EQ(batch.colorSpaces, (std::vector<std::string>{"yuv444", "yuv444"}));
  const int64_t plane = 4 * 6;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 6; ++x)
          ASSERT_EQ(batch.images[(n * 3 + c) * plane + y * 6 + x],
                    expected[n].at<cv::Vec3f>(y, x)[c])
              << n << " " << c << " " << y << " " << x;

  // Geometric or random transforms are refused on batches.
  Batch other = collate2d(samples);
  EXPECT_THROW(
      applyBatchTransforms(
          {std::make_shared<RandomFlip>(RandomFlipOptions{0.5, 0})}, other),
      std::invalid_argument);
  // BgrToYuv444 after Normalize on a batch: the values are no pixels.
  EXPECT_THROW(
      applyBatchTransforms(
          {std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}}),
           std::make_shared<BgrToYuv444>(BgrToYuv444Options{true})},
          other),
      std::invalid_argument);
}

TEST(LaneTransforms, HatGaNetTrainPipelineKeepsLanesInsideAndIsDeterministic) {
  // The tutorial's train transforms on a CuLane-sized image (1640x590).
  auto pipeline = [] {
    ResizeOptions resize;
    resize.img_scale = {320, 800};
    resize.multiscale_mode = "value";
    resize.keep_ratio = false;
    ShiftScaleRotateOptions ssr;
    ssr.shift_limit = {-0.1, 0.1};
    ssr.scale_limit = {0.8, 1.2};
    ssr.rotate_limit = {-10, 10};
    ssr.interpolation = 1;
    ssr.border_mode = 0;
    ssr.p = 0.6;
    RandomResizedCropOptions rrc;
    rrc.size = {320, 800};
    rrc.scale = {0.8, 1.2};
    rrc.ratio = {1.7, 2.7};
    rrc.p = 0.6;
    return std::vector<TransformPtr>{
        std::make_shared<FixedCrop>(FixedCropOptions{{0, 270, 1640, 320}}),
        std::make_shared<RandomFlip>(RandomFlipOptions{0.5, 0.0}),
        std::make_shared<Resize>(resize),
        std::make_shared<RandomSelectOne>(RandomSelectOneOptions{
            {std::make_shared<RGBShift>(
                 RGBShiftOptions{{-10, 10}, {-10, 10}, {-10, 10}, 1.0}),
             std::make_shared<HueSaturationValue>(HueSaturationValueOptions{
                 {-10, 10}, {-15, 15}, {-10, 10}, 1.0})},
            0.7,
            {}}),
        std::make_shared<JPEGCompress>(JPEGCompressOptions{0.2, 85, 95}),
        std::make_shared<RandomSelectOne>(RandomSelectOneOptions{
            {std::make_shared<MeanBlur>(BlurOptions{3, 1.0}),
             std::make_shared<MedianBlur>(BlurOptions{3, 1.0})},
            0.2,
            {}}),
        std::make_shared<RandomBrightnessContrast>(
            RandomBrightnessContrastOptions{{-0.2, 0.2}, {0, 0}, true, 0.5}),
        std::make_shared<ShiftScaleRotate>(ssr),
        std::make_shared<RandomResizedCrop>(rrc),
        std::make_shared<ToTensor>(ToTensorOptions{false})};
  };
  const std::vector<TransformPtr> transforms = pipeline();
  auto run = [&](uint64_t index) {
    Sample sample = texturedSample(1640, 590);
    sample.lanes = {{{600, 589}, {700, 450}, {800, 300}},
                    {{1000, 589}, {900, 450}, {820, 300}}};
    cv::cvtColor(sample.image, sample.image, cv::COLOR_BGR2RGB);
    sample.colorSpace = "rgb";
    SampleRng rng(2024, 0, index);
    applyTransforms(transforms, sample, rng);
    return sample;
  };
  for (uint64_t index = 0; index < 6; ++index) {
    Sample sample = run(index);
    EXPECT_EQ(sample.image.size(), cv::Size(800, 320));
    EXPECT_EQ(sample.image.type(), CV_32FC3);
    for (const auto &lane : sample.lanes) {
      EXPECT_GE(lane.size(), 2u);
      for (const cv::Point2f &point : lane) {
        EXPECT_GE(point.x, 0);
        EXPECT_LE(point.x, 799);
        EXPECT_GE(point.y, 0);
        EXPECT_LE(point.y, 319);
      }
    }
    EXPECT_TRUE(sameSample(sample, run(index)));
  }
}
