//===- TransformsTest.cpp - Geometry and known pixels of each transform ---===//
//
// Geometric transforms run on a coordinate image (pixel (x, y) holds x, y)
// with nearest-neighbour sampling, so each output pixel says where it came
// from and the boxes can be checked against it.
//
//===----------------------------------------------------------------------===//
#include "hat/Data/Transforms.h"
#include "TestUtil.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <set>

using namespace hat::data;
using hat::data::test::coordinateImage;

namespace {

Sample coordinateSample(int width, int height) {
  Sample sample;
  sample.image = coordinateImage(width, height);
  sample.originalSize = sample.image.size();
  return sample;
}

void addBox(Sample &sample, Box box, int label) {
  sample.boxes.push_back(box);
  sample.boxLabels.push_back(label);
  sample.boxCategoryIds.push_back(label + 1);
  sample.boxIsCrowd.push_back(0);
}

cv::Vec3b at(const Sample &sample, int x, int y) {
  return sample.image.at<cv::Vec3b>(y, x);
}

} // namespace

TEST(Resize, KeepRatioScalesBoxesLanesAndPixels) {
  Sample sample = coordinateSample(200, 100);
  addBox(sample, {20, 10, 60, 30}, 0);
  sample.lanes.push_back({{100, 99}, {150, 50}});
  // (h, w) = (50, 100): long side 100 / 200 and short 50 / 100 -> factor 0.5.
  Resize resize({{50, 100}, std::nullopt, true, "nearest"});
  SampleRng rng(1);
  resize.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(100, 50));
  EXPECT_EQ(at(sample, 20, 10), cv::Vec3b(40, 20, 7));
  EXPECT_EQ(sample.boxes[0], (Box{10, 5, 30, 15}));
  EXPECT_FLOAT_EQ(sample.lanes[0][1].x, 75);
  EXPECT_FLOAT_EQ(sample.lanes[0][1].y, 25);
  EXPECT_DOUBLE_EQ(sample.scaleX, 0.5);
}

TEST(Resize, WithoutKeepRatioAndWithRatioRange) {
  Sample sample = coordinateSample(200, 100);
  addBox(sample, {40, 20, 80, 60}, 0);
  Resize exact({{50, 50}, std::nullopt, false, "nearest"});
  SampleRng rng(1);
  exact.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(50, 50));
  EXPECT_EQ(sample.boxes[0], (Box{10, 10, 20, 30}));
  EXPECT_EQ(at(sample, 10, 10), cv::Vec3b(40, 20, 7));

  Sample ranged = coordinateSample(100, 100);
  addBox(ranged, {0, 0, 100, 100}, 0);
  Resize random({{64, 64}, std::array<double, 2>{0.5, 2.0}, true, "nearest"});
  SampleRng draws(5);
  const double ratio = SampleRng(5).uniform(0.5, 2.0);
  random.apply(ranged, draws);
  const int side = static_cast<int>(100 * (64 * ratio / 100) + 0.5);
  EXPECT_EQ(ranged.image.cols, side);
  EXPECT_FLOAT_EQ(ranged.boxes[0][2], static_cast<float>(side));
}

TEST(RandomCrop, ShiftsClipsAndDropsBoxes) {
  Sample sample = coordinateSample(100, 80);
  addBox(sample, {0, 0, 100, 80}, 1);   // covers everything: clipped
  addBox(sample, {95, 75, 100, 80}, 2); // corner: inside or dropped
  sample.lanes.push_back({{0, 0}, {50, 40}, {99, 79}});
  RandomCrop crop({{40, 50}, true});
  SampleRng rng(3);
  crop.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(50, 40));
  const cv::Vec3b origin = at(sample, 0, 0);
  const int x0 = origin[0], y0 = origin[1];
  EXPECT_LE(x0, 50);
  EXPECT_LE(y0, 40);
  EXPECT_EQ(at(sample, 49, 39), cv::Vec3b(x0 + 49, y0 + 39, 7));
  ASSERT_GE(sample.boxes.size(), 1u);
  EXPECT_EQ(sample.boxes[0], (Box{0, 0, 50, 40}));
  EXPECT_EQ(sample.boxLabels[0], 1);
  const bool cornerInside = x0 + 50 > 95 && y0 + 40 > 75;
  EXPECT_EQ(sample.boxes.size(), cornerInside ? 2u : 1u);
  for (const auto &lane : sample.lanes)
    for (const cv::Point2f &point : lane) {
      EXPECT_GE(point.x, 0);
      EXPECT_LE(point.x, 50);
    }
}

TEST(RandomCrop, RedrawsCropsThatLoseEveryBox) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Sample sample = coordinateSample(200, 200);
    addBox(sample, {0, 0, 20, 20}, 0);
    RandomCrop crop({{50, 50}, false});
    SampleRng rng(seed);
    crop.apply(sample, rng);
    // Ten draws almost always find the box (p = (1 - 0.12)^10 of failing).
    if (sample.boxes.empty())
      continue;
    EXPECT_EQ(sample.boxLabels.size(), sample.boxes.size());
  }
}

TEST(Pad, DivisorAndSizePadBottomRight) {
  Sample sample = coordinateSample(50, 30);
  addBox(sample, {1, 2, 3, 4}, 0);
  Pad pad({std::nullopt, 32, 0});
  SampleRng rng(1);
  pad.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(64, 32));
  EXPECT_EQ(at(sample, 49, 29), cv::Vec3b(49, 29, 7));
  EXPECT_EQ(at(sample, 63, 31), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(sample.boxes[0], (Box{1, 2, 3, 4}));

  Pad toSize({std::array<int, 2>{40, 70}, std::nullopt, 9});
  toSize.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(70, 40));
  EXPECT_EQ(at(sample, 69, 39), cv::Vec3b(9, 9, 9));
  EXPECT_THROW(Pad({std::nullopt, std::nullopt, 0}), std::invalid_argument);
}

TEST(RandomFlip, MirrorsPixelsBoxesAndLanes) {
  Sample sample = coordinateSample(100, 50);
  addBox(sample, {10, 5, 30, 15}, 0);
  sample.lanes.push_back({{10, 40}, {20, 10}});
  RandomFlip flip({1.0, 0.0});
  SampleRng rng(1);
  flip.apply(sample, rng);
  EXPECT_EQ(at(sample, 0, 0), cv::Vec3b(99, 0, 7));
  EXPECT_EQ(sample.boxes[0], (Box{70, 5, 90, 15}));
  // Lane points are pixel positions (HAT): x -> W - 1 - x, so the point
  // stays on the pixel that cv::flip moved (column 10 -> 89).
  EXPECT_FLOAT_EQ(sample.lanes[0][0].x, 89);
  EXPECT_EQ(at(sample, 89, 40)[0], 10);
  // The box's pixels moved with it: the pixel inside the new box's left
  // edge came from just inside the old right edge.
  EXPECT_EQ(at(sample, 70, 5)[0], 29);

  RandomFlip vertical({0.0, 1.0});
  vertical.apply(sample, rng);
  EXPECT_EQ(at(sample, 0, 0), cv::Vec3b(99, 49, 7));
  EXPECT_EQ(sample.boxes[0], (Box{70, 35, 90, 45}));
  EXPECT_FLOAT_EQ(sample.lanes[0][0].y, 9); // 50 - 1 - 40
  EXPECT_EQ(at(sample, 89, 9), cv::Vec3b(10, 40, 7));

  Sample unchanged = coordinateSample(10, 10);
  RandomFlip never({0.0, 0.0});
  never.apply(unchanged, rng);
  EXPECT_EQ(at(unchanged, 0, 0), cv::Vec3b(0, 0, 7));
}

TEST(AugmentHSV, ScalesValueOfAKnownPixelAndKeepsGeometry) {
  Sample sample;
  sample.image = cv::Mat(4, 4, CV_8UC3, cv::Scalar(100, 100, 100));
  addBox(sample, {1, 1, 3, 3}, 0);
  AugmentHSV hsv({0.0, 0.0, 0.5, 1.0});
  SampleRng rng(11);
  SampleRng replay(11);
  replay.uniform(); // p
  replay.uniform(); // hue
  replay.uniform(); // saturation
  const double valueGain = replay.uniform(-1, 1) * 0.5 + 1;
  hsv.apply(sample, rng);
  const uint8_t expected = cv::saturate_cast<uint8_t>(100 * valueGain);
  EXPECT_EQ(at(sample, 2, 2), cv::Vec3b(expected, expected, expected));
  EXPECT_EQ(sample.boxes[0], (Box{1, 1, 3, 3}));

  Sample grey;
  grey.image = cv::Mat(2, 2, CV_8UC1, cv::Scalar(100));
  grey.colorSpace = "gray";
  SampleRng again(11);
  hsv.apply(grey, again);
  EXPECT_EQ(grey.image.at<uint8_t>(0, 0), expected);
}

TEST(BgrToYuv444, FullSwingBt601WithNv12Chroma) {
  // Known values of the full-swing integer formula (Transforms.h):
  // white (255, 255, 255) -> (255, 128, 128), grey 128 -> (128, 128, 128),
  // blue BGR (255, 0, 0) -> Y 29, U 255, V 107; red BGR (0, 0, 255) ->
  // Y 77, U 85, V 255.
  auto convertFlat = [](cv::Vec3b bgr) {
    Sample sample;
    sample.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(bgr[0], bgr[1], bgr[2]));
    SampleRng rng(1);
    BgrToYuv444({false}).apply(sample, rng);
    EXPECT_EQ(sample.colorSpace, "yuv444");
    return sample.image.at<cv::Vec3b>(1, 1);
  };
  EXPECT_EQ(convertFlat({255, 255, 255}), cv::Vec3b(255, 128, 128));
  EXPECT_EQ(convertFlat({128, 128, 128}), cv::Vec3b(128, 128, 128));
  EXPECT_EQ(convertFlat({0, 0, 0}), cv::Vec3b(0, 128, 128));
  EXPECT_EQ(convertFlat({255, 0, 0}), cv::Vec3b(29, 255, 107));
  EXPECT_EQ(convertFlat({0, 0, 255}), cv::Vec3b(77, 85, 255));

  // Luma per pixel; chroma from each 2x2 block's mean colour, replicated
  // (NV12 -> YUV444). Odd sides: the last column is a block of its own.
  Sample sample;
  sample.image = cv::Mat(3, 5, CV_8UC3, cv::Scalar(128, 128, 128));
  sample.image.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 0, 0); // blue
  addBox(sample, {0, 0, 2, 2}, 0);
  BgrToYuv444 convert({false});
  SampleRng rng(1);
  convert.apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(5, 3));
  EXPECT_EQ(at(sample, 0, 0)[0], 29);
  EXPECT_EQ(at(sample, 1, 0)[0], 128);
  // Block mean (R, G, B) = (96, 96, 159.75):
  // U = floor((-43*384 - 84*384 + 127*639 + 512) / 1024) + 128 = 160
  // V = floor((127*384 - 106*384 - 21*639 + 512) / 1024) + 128 = 123
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) {
      EXPECT_EQ(at(sample, x, y)[1], 160) << x << "," << y;
      EXPECT_EQ(at(sample, x, y)[2], 123) << x << "," << y;
    }
  EXPECT_EQ(at(sample, 4, 2), cv::Vec3b(128, 128, 128));
  EXPECT_EQ(sample.boxes[0], (Box{0, 0, 2, 2}));

  // RGB input: the same pixels in RGB order give the same YUV.
  Sample rgb;
  rgb.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 0, 255)); // RGB blue
  rgb.colorSpace = "rgb";
  BgrToYuv444({true}).apply(rgb, rng);
  EXPECT_EQ(rgb.image.at<cv::Vec3b>(0, 0), cv::Vec3b(29, 255, 107));
  // rgb_input must agree with what the sample says it is, and a second
  // conversion is refused.
  Sample bgr;
  bgr.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_THROW(BgrToYuv444({true}).apply(bgr, rng), std::invalid_argument);
  rgb.colorSpace = "rgb";
  rgb.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_THROW(BgrToYuv444({false}).apply(rgb, rng), std::invalid_argument);
  EXPECT_THROW(convert.apply(sample, rng), std::invalid_argument);

  // After ToTensor: float pixels convert the same and stay float; values
  // outside 0..255 (after Normalize) are refused.
  Sample tensor;
  tensor.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(255, 0, 0));
  ToTensor({false}).apply(tensor, rng);
  convert.apply(tensor, rng);
  EXPECT_EQ(tensor.image.type(), CV_32FC3);
  EXPECT_EQ(tensor.image.at<cv::Vec3f>(1, 0), cv::Vec3f(29, 255, 107));
  Sample normalized;
  normalized.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 0, 0));
  Normalize({{128.0}, {128.0}}).apply(normalized, rng);
  EXPECT_THROW(convert.apply(normalized, rng), std::invalid_argument);
}

TEST(ToTensorAndNormalize, ConvertValuesPerChannel) {
  Sample sample;
  sample.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 128, 255));
  SampleRng rng(1);
  ToTensor({false}).apply(sample, rng);
  EXPECT_TRUE(sample.isTensor);
  EXPECT_EQ(sample.image.type(), CV_32FC3);
  EXPECT_EQ(sample.image.at<cv::Vec3f>(1, 1), cv::Vec3f(0, 128, 255));
  Normalize({{128.0}, {128.0}}).apply(sample, rng);
  EXPECT_EQ(sample.image.at<cv::Vec3f>(0, 0), cv::Vec3f(-1, 0, 127.f / 128.f));
  Normalize({{0, 0, 127}, {1, 2, 0.5}}).apply(sample, rng);
  EXPECT_NEAR(sample.image.at<cv::Vec3f>(0, 0)[2], (127.f / 128.f - 127) / 0.5,
              1e-5);
  EXPECT_THROW(Normalize({{1, 2}, {1}}).apply(sample, rng),
               std::invalid_argument);

  Sample yuv;
  yuv.image = cv::Mat(4, 4, CV_8UC3, cv::Scalar(10, 200, 30));
  const cv::Mat expected = bgrToYuv444(yuv.image);
  ToTensor({true}).apply(yuv, rng);
  EXPECT_EQ(yuv.colorSpace, "yuv444");
  EXPECT_EQ(yuv.image.at<cv::Vec3f>(3, 3),
            cv::Vec3f(expected.at<cv::Vec3b>(3, 3)));
  // Colour transforms after ToTensor are a config error, not silent misuse.
  EXPECT_THROW(AugmentHSV({}).apply(yuv, rng), std::invalid_argument);
}

TEST(RandomResizedCrop, BoxesFollowThePixels) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Sample sample = coordinateSample(200, 100);
    addBox(sample, {0, 0, 200, 100}, 0);
    addBox(sample, {60, 30, 140, 70}, 1);
    RandomResizedCropOptions options;
    options.size = {50, 50};
    options.scale = {0.3, 1.0};
    options.interpolation = "nearest";
    RandomResizedCrop crop(options);
    SampleRng rng(seed);
    crop.apply(sample, rng);
    ASSERT_EQ(sample.image.size(), cv::Size(50, 50));
    ASSERT_GE(sample.boxes.size(), 1u);
    EXPECT_EQ(sample.boxes[0], (Box{0, 0, 50, 50}));
    if (sample.boxes.size() == 2) {
      // The pixel at the scaled box's corner came from the source box's
      // corner clipped to the crop (whose origin pixel (0, 0) names).
      const cv::Vec3b origin = at(sample, 0, 0);
      const Box &box = sample.boxes[1];
      const cv::Vec3b source = at(sample, std::min(49, int(std::ceil(box[0]))),
                                  std::min(49, int(std::ceil(box[1]))));
      const double cell = 1.0 / sample.scaleX + 1;
      EXPECT_NEAR(source[0], std::max<int>(60, origin[0]), cell);
      EXPECT_NEAR(source[1], std::max<int>(30, origin[1]),
                  1.0 / sample.scaleY + 1);
    }
  }
}

TEST(ColorJitter, BrightnessOfAKnownPixel) {
  Sample sample;
  sample.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(100, 100, 100));
  addBox(sample, {0, 0, 1, 1}, 0);
  ColorJitter jitter({0.5, 0, 0, 1.0});
  SampleRng rng(4), replay(4);
  replay.uniform(); // p
  const double factor = replay.uniform(0.5, 1.5);
  jitter.apply(sample, rng);
  const uint8_t expected = cv::saturate_cast<uint8_t>(100 * factor);
  EXPECT_EQ(at(sample, 1, 1), cv::Vec3b(expected, expected, expected));
  EXPECT_EQ(sample.boxes[0], (Box{0, 0, 1, 1}));

  // Contrast pulls towards the mean; a flat image stays flat.
  Sample flat;
  flat.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(90, 90, 90));
  ColorJitter({0, 0.9, 0, 1.0}).apply(flat, rng);
  EXPECT_EQ(at(flat, 0, 0), cv::Vec3b(90, 90, 90));
}

TEST(Transforms, SameSeedEpochIndexGivesSameOutput) {
  std::vector<TransformPtr> pipeline = {
      std::make_shared<Resize>(ResizeOptions{
          {64, 64}, std::array<double, 2>{0.5, 2.0}, true, "bilinear"}),
      std::make_shared<RandomCrop>(RandomCropOptions{{64, 64}, false}),
      std::make_shared<Pad>(PadOptions{std::nullopt, 64, 0}),
      std::make_shared<RandomFlip>(RandomFlipOptions{0.5, 0.0}),
      std::make_shared<AugmentHSV>(AugmentHSVOptions{0.015, 0.7, 0.4, 1.0}),
      std::make_shared<ToTensor>(ToTensorOptions{true}),
      std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}})};
  auto run = [&](uint64_t epoch) {
    Sample sample = coordinateSample(120, 90);
    addBox(sample, {10, 10, 100, 80}, 0);
    SampleRng rng(42, epoch, 17);
    applyTransforms(pipeline, sample, rng);
    return sample;
  };
  Sample a = run(0), b = run(0), c = run(1);
  ASSERT_EQ(a.image.size(), cv::Size(64, 64));
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);
  EXPECT_EQ(a.boxes, b.boxes);
  EXPECT_TRUE(a.image.size() != c.image.size() || a.boxes != c.boxes ||
              cv::norm(a.image, c.image, cv::NORM_INF) > 0);
}

TEST(Resize, MultiScaleValueModePicksOneListedScale) {
  // 100 x 50 to (h, w) (20, 40) or (30, 60), without keep_ratio: factors
  // 0.4 or 0.6 on both axes.
  ResizeOptions options;
  options.keep_ratio = false;
  options.interpolation = "nearest";
  options.img_scales = {{20, 40}, {30, 60}};
  options.multiscale_mode = "value";
  Resize resize(options);
  std::set<int> widths;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    Sample sample = coordinateSample(100, 50);
    addBox(sample, {10, 5, 30, 25}, 0);
    SampleRng rng(seed), replay(seed);
    const int64_t pick = replay.uniformInt(0, 1);
    resize.apply(sample, rng);
    widths.insert(sample.image.cols);
    if (pick == 0) {
      ASSERT_EQ(sample.image.size(), cv::Size(40, 20));
      EXPECT_EQ(sample.boxes[0], (Box{4, 2, 12, 10}));
    } else {
      ASSERT_EQ(sample.image.size(), cv::Size(60, 30));
      EXPECT_EQ(sample.boxes[0], (Box{6, 3, 18, 15}));
    }
  }
  EXPECT_EQ(widths, (std::set<int>{40, 60})); // both scales occur
}

TEST(Resize, MultiScaleRangeModeDrawsEdgesBetweenTheScales) {
  // keep_ratio: long edge from {40, 40}, short edge from 20..30. A 60 x 60
  // image scales by short / 60: it becomes short x short.
  ResizeOptions options;
  options.interpolation = "nearest";
  options.img_scales = {{40, 20}, {30, 40}};
  Resize resize(options);
  std::set<int> sides;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    Sample sample = coordinateSample(60, 60);
    addBox(sample, {6, 12, 30, 60}, 0);
    SampleRng rng(seed), replay(seed);
    replay.uniformInt(40, 40);
    const int side = static_cast<int>(replay.uniformInt(20, 30));
    resize.apply(sample, rng);
    ASSERT_EQ(sample.image.size(), cv::Size(side, side));
    const double f = side / 60.0;
    EXPECT_EQ(sample.boxes[0],
              (Box{float(6 * f), float(12 * f), float(30 * f), float(60 * f)}));
    sides.insert(side);
  }
  EXPECT_GT(sides.size(), 3u);
  // Without keep_ratio: h from 30..40, w from 20..40, independently.
  options.keep_ratio = false;
  Resize exact(options);
  Sample sample = coordinateSample(60, 60);
  SampleRng rng(5), replay(5);
  const int height = static_cast<int>(replay.uniformInt(30, 40));
  const int width = static_cast<int>(replay.uniformInt(20, 40));
  exact.apply(sample, rng);
  EXPECT_EQ(sample.image.size(), cv::Size(width, height));
  // ratio_range only scales one img_scale; three scales need "value".
  options.ratio_range = std::array<double, 2>{0.5, 2.0};
  EXPECT_THROW(Resize{options}, std::invalid_argument);
  ResizeOptions single = options;
  single.img_scales = {{40, 20}}; // one listed scale is just img_scale
  EXPECT_NO_THROW(Resize{single});
  options.ratio_range.reset();
  options.img_scales.push_back({50, 50});
  EXPECT_THROW(Resize{options}, std::invalid_argument);
  options.multiscale_mode = "value";
  EXPECT_NO_THROW(Resize{options});
}

TEST(RandomCrop, KnownWindowGivesExactBoxes) {
  // 100 x 80 cropped to (h, w) = (40, 50): the window origin is drawn as
  // y0 in 0..40 then x0 in 0..50; seed 3 (replayed) gives the window.
  Sample sample = coordinateSample(100, 80);
  addBox(sample, {0, 0, 100, 80}, 1);  // the whole image: becomes the window
  addBox(sample, {20, 30, 60, 50}, 2); // partly inside: clipped
  addBox(sample, {98, 0, 100, 2}, 3);  // outside every window with x0 <= 48
  RandomCrop crop({{40, 50}, true});
  SampleRng rng(3), replay(3);
  const int y0 = static_cast<int>(replay.uniformInt(0, 40));
  const int x0 = static_cast<int>(replay.uniformInt(0, 50));
  crop.apply(sample, rng);
  ASSERT_EQ(at(sample, 0, 0), cv::Vec3b(x0, y0, 7));
  // Written out for this window, (x0, y0) = (13, 6): box 2 becomes
  // (20 - 13, 30 - 6, 60 - 13, 50 - 6) = (7, 24, 47, 44), clipped to the
  // 50 x 40 window; box 3 would start at x = 85 and is dropped.
  ASSERT_EQ(x0, 13);
  ASSERT_EQ(y0, 6);
  ASSERT_EQ(sample.boxes.size(), 2u);
  EXPECT_EQ(sample.boxes[0], (Box{0, 0, 50, 40}));
  EXPECT_EQ(sample.boxes[1], (Box{7, 24, 47, 40}));
  EXPECT_EQ(sample.boxLabels, (std::vector<int>{1, 2}));
  EXPECT_EQ(sample.boxCategoryIds, (std::vector<int>{2, 3}));
  EXPECT_FALSE(sample.validRegion); // a window of content is all content
}

TEST(Pad, RegionOfContentFollowsFlipAndCrop) {
  Sample sample = coordinateSample(30, 20);
  addBox(sample, {2, 4, 10, 8}, 0);
  SampleRng rng(1);
  Pad({std::nullopt, 16, 0}).apply(sample, rng);
  ASSERT_EQ(sample.image.size(), cv::Size(32, 32));
  ASSERT_TRUE(sample.validRegion);
  EXPECT_EQ(*sample.validRegion, (Box{0, 0, 30, 20}));
  // The seed flips after padding: the content moves to the right.
  RandomFlip({1.0, 0.0}).apply(sample, rng);
  EXPECT_EQ(*sample.validRegion, (Box{2, 0, 32, 20}));
  EXPECT_EQ(sample.boxes[0], (Box{22, 4, 30, 8}));
  EXPECT_EQ(at(sample, 0, 0), cv::Vec3b(0, 0, 0)); // padding
  EXPECT_EQ(at(sample, 2, 0), cv::Vec3b(29, 0, 7));
  // A resize scales it; a crop clips it.
  Resize({{16, 16}, std::nullopt, false, "nearest"}).apply(sample, rng);
  EXPECT_EQ(*sample.validRegion, (Box{1, 0, 16, 10}));
  RandomCrop({{8, 8}, true}).apply(sample, rng);
  const Box &region = *sample.validRegion;
  EXPECT_GE(region[0], 0);
  EXPECT_LE(region[2], 8);
  EXPECT_LE(region[3], 8);
}

TEST(AugmentHSV, HueGainRotatesTheHueOfAKnownColour) {
  // Pure green has OpenCV hue 60 (of 0..179). Only the hue gain is set, so
  // hue becomes floor(60 * gain) mod 180 and saturation/value stay 255.
  for (uint64_t seed = 0; seed < 8; ++seed) {
    Sample sample;
    sample.image = cv::Mat(2, 2, CV_8UC3, cv::Scalar(0, 255, 0));
    AugmentHSV hsv({0.5, 0.0, 0.0, 1.0});
    SampleRng rng(seed), replay(seed);
    replay.uniform(); // p
    const double hueGain = replay.uniform(-1, 1) * 0.5 + 1;
    hsv.apply(sample, rng);
    cv::Mat back;
    cv::cvtColor(sample.image, back, cv::COLOR_BGR2HSV);
    const cv::Vec3b pixel = back.at<cv::Vec3b>(1, 1);
    const int expectedHue = static_cast<int>(60 * hueGain) % 180;
    // HSV -> BGR -> HSV of a saturated colour is exact up to one hue step.
    EXPECT_NEAR(pixel[0], expectedHue, 1) << "gain " << hueGain;
    EXPECT_EQ(pixel[1], 255);
    EXPECT_EQ(pixel[2], 255);
  }
}
