//===- Transforms.cpp - Config-built, geometry-consistent transforms ------===//
#include "hat/Data/Transforms.h"
#include "hat/Data/DataLoader.h"
#include "hat/Data/Error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace hat::data {

Transform::~Transform() = default;

void applyTransforms(const std::vector<TransformPtr> &transforms,
                     Sample &sample, SampleRng &rng) {
  for (const TransformPtr &transform : transforms)
    transform->apply(sample, rng);
}

int interpolationFlag(const std::string &name) {
  if (name == "nearest")
    return cv::INTER_NEAREST;
  if (name == "bilinear" || name == "linear")
    return cv::INTER_LINEAR;
  if (name == "area")
    return cv::INTER_AREA;
  if (name == "bicubic" || name == "cubic")
    return cv::INTER_CUBIC;
  throw std::invalid_argument("unknown interpolation '" + name +
                              "' (nearest, bilinear, area, bicubic)");
}

namespace {

void requireImage(const Sample &sample, const char *transform) {
  if (sample.image.empty())
    throw std::invalid_argument(std::string(transform) + ": empty image");
}

void requireBeforeToTensor(const Sample &sample, const char *transform) {
  requireImage(sample, transform);
  if (sample.isTensor || sample.image.depth() != CV_8U)
    throw std::invalid_argument(std::string(transform) +
                                " works on 8-bit images; put it before "
                                "ToTensor/Normalize");
}

/// Whether a transform with application probability p runs. p >= 1 and
/// p <= 0 draw nothing, so adding `p=1.0` leaves a sample's stream as it was.
bool applies(SampleRng &rng, double p) {
  if (p >= 1)
    return true;
  if (p <= 0)
    return false;
  return rng.bernoulli(p);
}

void requireProbability(double p, const char *transform) {
  if (!(p >= 0 && p <= 1))
    throw std::invalid_argument(std::string(transform) +
                                ": p must be in [0, 1], got " +
                                std::to_string(p));
}

void requireRange(const std::array<double, 2> &range, const char *transform,
                  const char *what) {
  if (!(range[0] <= range[1]) || !std::isfinite(range[0]) ||
      !std::isfinite(range[1]))
    throw std::invalid_argument(std::string(transform) + ": " + what +
                                " must be (low, high) with low <= high");
}

/// A 3-channel image in BGR or RGB: the channel index of R, G and B.
std::array<int, 3> rgbChannels(const Sample &sample, const char *transform) {
  if (sample.image.channels() != 3 ||
      (sample.colorSpace != "bgr" && sample.colorSpace != "rgb"))
    throw std::invalid_argument(std::string(transform) +
                                " needs a BGR or RGB colour image, got a " +
                                std::to_string(sample.image.channels()) +
                                "-channel '" + sample.colorSpace + "' image");
  return sample.colorSpace == "rgb" ? std::array<int, 3>{0, 1, 2}
                                    : std::array<int, 3>{2, 1, 0};
}

/// Lane points are pixel positions: inside means 0 <= x <= W - 1 and
/// 0 <= y <= H - 1 (the range a horizontal flip maps onto itself).
bool lanePointInside(const cv::Point2f &point, int width, int height) {
  return point.x >= 0 && point.x <= width - 1 && point.y >= 0 &&
         point.y <= height - 1;
}

/// Keeps the inside points of every lane, and the lanes with two or more.
void dropLanePointsOutside(Sample &sample, int width, int height) {
  std::vector<std::vector<cv::Point2f>> lanes;
  for (auto &lane : sample.lanes) {
    std::vector<cv::Point2f> inside;
    for (const cv::Point2f &point : lane)
      if (lanePointInside(point, width, height))
        inside.push_back(point);
    if (inside.size() >= 2)
      lanes.push_back(std::move(inside));
  }
  sample.lanes = std::move(lanes);
}

/// Drops boxes without area, with their labels, category ids and crowd flags.
void keepBoxesWithArea(Sample &sample) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < sample.boxes.size(); ++i) {
    const Box &box = sample.boxes[i];
    if (box[2] <= box[0] || box[3] <= box[1])
      continue;
    sample.boxes[kept] = box;
    if (i < sample.boxLabels.size())
      sample.boxLabels[kept] = sample.boxLabels[i];
    if (i < sample.boxCategoryIds.size())
      sample.boxCategoryIds[kept] = sample.boxCategoryIds[i];
    if (i < sample.boxIsCrowd.size())
      sample.boxIsCrowd[kept] = sample.boxIsCrowd[i];
    ++kept;
  }
  sample.boxes.resize(kept);
  sample.boxLabels.resize(std::min(kept, sample.boxLabels.size()));
  sample.boxCategoryIds.resize(std::min(kept, sample.boxCategoryIds.size()));
  sample.boxIsCrowd.resize(std::min(kept, sample.boxIsCrowd.size()));
}

/// A 256-entry lookup table x -> saturate(round(f(x))).
template <typename Fn> cv::Mat lookupTable(Fn f) {
  cv::Mat table(1, 256, CV_8U);
  for (int x = 0; x < 256; ++x)
    table.at<uint8_t>(x) = cv::saturate_cast<uint8_t>(f(double(x)));
  return table;
}

// Boxes, lanes and the recorded scale follow a resize by (sx, sy).
void scaleGeometry(Sample &sample, double sx, double sy) {
  for (Box &box : sample.boxes) {
    box[0] = static_cast<float>(box[0] * sx);
    box[1] = static_cast<float>(box[1] * sy);
    box[2] = static_cast<float>(box[2] * sx);
    box[3] = static_cast<float>(box[3] * sy);
  }
  for (auto &lane : sample.lanes)
    for (cv::Point2f &point : lane) {
      point.x = static_cast<float>(point.x * sx);
      point.y = static_cast<float>(point.y * sy);
    }
  sample.scaleX *= sx;
  sample.scaleY *= sy;
  if (Box *region = sample.validRegion ? &*sample.validRegion : nullptr) {
    (*region)[0] = static_cast<float>((*region)[0] * sx);
    (*region)[1] = static_cast<float>((*region)[1] * sy);
    (*region)[2] = static_cast<float>((*region)[2] * sx);
    (*region)[3] = static_cast<float>((*region)[3] * sy);
  }
}

// Boxes are shifted into the window (x0, y0, width, height) and clipped to
// it; those left without area are dropped with their labels. Lane points
// outside the window are dropped, and lanes left with fewer than two points.
void cropGeometry(Sample &sample, int x0, int y0, int width, int height) {
  // The window's corner in stored-image pixels.
  sample.originX += x0 / sample.scaleX;
  sample.originY += y0 / sample.scaleY;
  for (Box &box : sample.boxes) {
    box[0] = std::clamp(box[0] - x0, 0.f, float(width));
    box[2] = std::clamp(box[2] - x0, 0.f, float(width));
    box[1] = std::clamp(box[1] - y0, 0.f, float(height));
    box[3] = std::clamp(box[3] - y0, 0.f, float(height));
  }
  keepBoxesWithArea(sample);
  for (auto &lane : sample.lanes)
    for (cv::Point2f &point : lane)
      point -= cv::Point2f(float(x0), float(y0));
  dropLanePointsOutside(sample, width, height);

  // A window inside the image keeps an unset (whole-image) region unset.
  if (Box *region = sample.validRegion ? &*sample.validRegion : nullptr) {
    (*region)[0] = std::clamp((*region)[0] - x0, 0.f, float(width));
    (*region)[2] = std::clamp((*region)[2] - x0, 0.f, float(width));
    (*region)[1] = std::clamp((*region)[1] - y0, 0.f, float(height));
    (*region)[3] = std::clamp((*region)[3] - y0, 0.f, float(height));
  }
}

std::size_t countBoxesInWindow(const Sample &sample, int x0, int y0, int width,
                               int height) {
  std::size_t count = 0;
  for (const Box &box : sample.boxes)
    if (std::min<float>(box[2], x0 + width) > std::max<float>(box[0], x0) &&
        std::min<float>(box[3], y0 + height) > std::max<float>(box[1], y0))
      ++count;
  return count;
}

} // namespace

//===----------------------------------------------------------------------===//
// Resize
//===----------------------------------------------------------------------===//

Resize::Resize(ResizeOptions options) : options_(std::move(options)) {
  if (options_.img_scale[0] <= 0 || options_.img_scale[1] <= 0)
    throw std::invalid_argument("Resize: img_scale must be positive");
  for (const auto &scale : options_.img_scales)
    if (scale[0] <= 0 || scale[1] <= 0)
      throw std::invalid_argument("Resize: img_scale must be positive");
  if (options_.multiscale_mode != "range" &&
      options_.multiscale_mode != "value")
    throw std::invalid_argument(
        "Resize: multiscale_mode must be 'range' or 'value', got '" +
        options_.multiscale_mode + "'");
  if (options_.multiscale_mode == "range" && options_.img_scales.size() > 2)
    throw std::invalid_argument(
        "Resize: multiscale_mode 'range' takes two img_scales (the ends of "
        "the range), got " +
        std::to_string(options_.img_scales.size()));
  if (options_.img_scales.size() > 1 && options_.ratio_range)
    throw std::invalid_argument(
        "Resize: ratio_range scales a single img_scale; give one scale or no "
        "ratio_range");
  if (options_.ratio_range &&
      ((*options_.ratio_range)[0] <= 0 ||
       (*options_.ratio_range)[1] < (*options_.ratio_range)[0]))
    throw std::invalid_argument(
        "Resize: ratio_range must be (low, high), 0 < low <= high");
  interpolationFlag(options_.interpolation);
}

void Resize::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "Resize");
  double ratio = 1.0;
  if (options_.ratio_range)
    ratio = rng.uniform((*options_.ratio_range)[0], (*options_.ratio_range)[1]);
  std::array<int, 2> scale = options_.img_scale;
  if (options_.img_scales.size() == 1) {
    scale = options_.img_scales[0];
  } else if (!options_.img_scales.empty() &&
             options_.multiscale_mode == "value") {
    scale = options_.img_scales[rng.uniformInt(
        0, static_cast<int64_t>(options_.img_scales.size()) - 1)];
  } else if (!options_.img_scales.empty()) {
    const auto &a = options_.img_scales[0], &b = options_.img_scales[1];
    auto between = [&](int x, int y) {
      return static_cast<int>(rng.uniformInt(std::min(x, y), std::max(x, y)));
    };
    if (options_.keep_ratio) {
      // mmdet: long and short edges drawn separately; the keep-ratio rule
      // below only looks at which is long and which short.
      const int longEdge = between(std::max(a[0], a[1]), std::max(b[0], b[1]));
      const int shortEdge = between(std::min(a[0], a[1]), std::min(b[0], b[1]));
      scale = {longEdge, shortEdge};
    } else {
      const int height = between(a[0], b[0]);
      scale = {height, between(a[1], b[1])};
    }
  }
  const double targetH = scale[0] * ratio;
  const double targetW = scale[1] * ratio;
  const int height = sample.image.rows, width = sample.image.cols;
  int newW, newH;
  if (options_.keep_ratio) {
    const double longTarget = std::max(targetH, targetW);
    const double shortTarget = std::min(targetH, targetW);
    const double factor = std::min(longTarget / std::max(height, width),
                                   shortTarget / std::min(height, width));
    newW = std::max(1, static_cast<int>(width * factor + 0.5));
    newH = std::max(1, static_cast<int>(height * factor + 0.5));
  } else {
    newW = std::max(1, static_cast<int>(targetW + 0.5));
    newH = std::max(1, static_cast<int>(targetH + 0.5));
  }
  if (newW != width || newH != height)
    cv::resize(sample.image, sample.image, cv::Size(newW, newH), 0, 0,
               interpolationFlag(options_.interpolation));
  scaleGeometry(sample, double(newW) / width, double(newH) / height);
}

//===----------------------------------------------------------------------===//
// RandomCrop
//===----------------------------------------------------------------------===//

RandomCrop::RandomCrop(RandomCropOptions options) : options_(options) {
  if (options_.size[0] <= 0 || options_.size[1] <= 0)
    throw std::invalid_argument("RandomCrop: size must be positive");
}

void RandomCrop::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "RandomCrop");
  const int height = sample.image.rows, width = sample.image.cols;
  const int cropH = std::min(options_.size[0], height);
  const int cropW = std::min(options_.size[1], width);
  const int marginH = height - cropH, marginW = width - cropW;
  int x0 = 0, y0 = 0;
  // Redraw crops that would lose every box, as mmdet does by retrying.
  const int attempts =
      (options_.allow_negative_crop || sample.boxes.empty()) ? 1 : 10;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    y0 = static_cast<int>(rng.uniformInt(0, marginH));
    x0 = static_cast<int>(rng.uniformInt(0, marginW));
    if (countBoxesInWindow(sample, x0, y0, cropW, cropH) > 0)
      break;
  }
  sample.image = sample.image(cv::Rect(x0, y0, cropW, cropH)).clone();
  cropGeometry(sample, x0, y0, cropW, cropH);
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

Pad::Pad(PadOptions options) : options_(options) {
  if (options_.size.has_value() == options_.divisor.has_value())
    throw std::invalid_argument("Pad: give exactly one of size and divisor");
  if (options_.divisor && *options_.divisor <= 0)
    throw std::invalid_argument("Pad: divisor must be positive");
}

void Pad::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "Pad");
  const int height = sample.image.rows, width = sample.image.cols;
  int targetH, targetW;
  if (options_.size) {
    // Never crops: an image larger than `size` keeps its size.
    targetH = std::max(height, (*options_.size)[0]);
    targetW = std::max(width, (*options_.size)[1]);
  } else {
    const int divisor = *options_.divisor;
    targetH = (height + divisor - 1) / divisor * divisor;
    targetW = (width + divisor - 1) / divisor * divisor;
  }
  if (targetH != height || targetW != width) {
    cv::copyMakeBorder(sample.image, sample.image, 0, targetH - height, 0,
                       targetW - width, cv::BORDER_CONSTANT,
                       cv::Scalar::all(options_.pad_val));
    if (!sample.validRegion)
      sample.validRegion = Box{0, 0, float(width), float(height)};
  }
}

//===----------------------------------------------------------------------===//
// RandomFlip
//===----------------------------------------------------------------------===//

RandomFlip::RandomFlip(RandomFlipOptions options) : options_(options) {}

void RandomFlip::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "RandomFlip");
  // Both draws always happen so the stream does not depend on outcomes.
  const bool flipX = rng.bernoulli(options_.px);
  const bool flipY = rng.bernoulli(options_.py);
  const float width = static_cast<float>(sample.image.cols);
  const float height = static_cast<float>(sample.image.rows);
  if (flipX) {
    cv::flip(sample.image, sample.image, 1);
    for (Box &box : sample.boxes) {
      const float x1 = box[0];
      box[0] = width - box[2];
      box[2] = width - x1;
    }
    for (auto &lane : sample.lanes)
      for (cv::Point2f &point : lane)
        point.x = width - 1 - point.x;
    if (Box *region = sample.validRegion ? &*sample.validRegion : nullptr) {
      const float x1 = (*region)[0];
      (*region)[0] = width - (*region)[2];
      (*region)[2] = width - x1;
    }
  }
  if (flipY) {
    cv::flip(sample.image, sample.image, 0);
    for (Box &box : sample.boxes) {
      const float y1 = box[1];
      box[1] = height - box[3];
      box[3] = height - y1;
    }
    for (auto &lane : sample.lanes)
      for (cv::Point2f &point : lane)
        point.y = height - 1 - point.y;
    if (Box *region = sample.validRegion ? &*sample.validRegion : nullptr) {
      const float y1 = (*region)[1];
      (*region)[1] = height - (*region)[3];
      (*region)[3] = height - y1;
    }
  }
}

//===----------------------------------------------------------------------===//
// AugmentHSV
//===----------------------------------------------------------------------===//

AugmentHSV::AugmentHSV(AugmentHSVOptions options) : options_(options) {}

void AugmentHSV::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "AugmentHSV");
  const bool enabled = rng.bernoulli(options_.p);
  const double hueGain = rng.uniform(-1, 1) * options_.hgain + 1;
  const double satGain = rng.uniform(-1, 1) * options_.sgain + 1;
  const double valGain = rng.uniform(-1, 1) * options_.vgain + 1;
  if (!enabled)
    return;
  cv::Mat hueLut(1, 256, CV_8U), satLut(1, 256, CV_8U), valLut(1, 256, CV_8U);
  for (int x = 0; x < 256; ++x) {
    // OpenCV's 8-bit hue spans 0..179.
    double hue = std::fmod(x * hueGain, 180.0);
    if (hue < 0)
      hue += 180.0;
    hueLut.at<uint8_t>(x) = static_cast<uint8_t>(hue);
    satLut.at<uint8_t>(x) = cv::saturate_cast<uint8_t>(x * satGain);
    valLut.at<uint8_t>(x) = cv::saturate_cast<uint8_t>(x * valGain);
  }
  if (sample.image.channels() == 1) {
    cv::LUT(sample.image, valLut, sample.image);
    return;
  }
  const bool rgb = rgbChannels(sample, "AugmentHSV")[0] == 0;
  cv::Mat hsv;
  cv::cvtColor(sample.image, hsv, rgb ? cv::COLOR_RGB2HSV : cv::COLOR_BGR2HSV);
  cv::Mat channels[3];
  cv::split(hsv, channels);
  cv::LUT(channels[0], hueLut, channels[0]);
  cv::LUT(channels[1], satLut, channels[1]);
  cv::LUT(channels[2], valLut, channels[2]);
  cv::merge(channels, 3, hsv);
  cv::cvtColor(hsv, sample.image, rgb ? cv::COLOR_HSV2RGB : cv::COLOR_HSV2BGR);
}

//===----------------------------------------------------------------------===//
// BgrToYuv444 / ToTensor / Normalize
//===----------------------------------------------------------------------===//

namespace {
/// floor(numerator / denominator) for a positive denominator.
int64_t floorDivide(int64_t numerator, int64_t denominator) {
  int64_t quotient = numerator / denominator;
  if (numerator % denominator != 0 && numerator < 0)
    --quotient;
  return quotient;
}
} // namespace

cv::Mat bgrToYuv444(const cv::Mat &bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  const int height = bgr.rows, width = bgr.cols;
  cv::Mat yuv(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    const cv::Vec3b *in = bgr.ptr<cv::Vec3b>(y);
    cv::Vec3b *out = yuv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const int b = in[x][0], g = in[x][1], r = in[x][2];
      out[x][0] = cv::saturate_cast<uint8_t>(
          floorDivide(77 * r + 150 * g + 29 * b + 128, 256));
    }
  }
  // Chroma of each 2x2 block from its mean colour: with n pixels summing to
  // (R, G, B), U = floor((-43 R - 84 G + 127 B + 128 n) / (256 n)) + 128.
  for (int y0 = 0; y0 < height; y0 += 2)
    for (int x0 = 0; x0 < width; x0 += 2) {
      const int y1 = std::min(y0 + 2, height), x1 = std::min(x0 + 2, width);
      int64_t sumB = 0, sumG = 0, sumR = 0, n = 0;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const cv::Vec3b &pixel = bgr.at<cv::Vec3b>(y, x);
          sumB += pixel[0];
          sumG += pixel[1];
          sumR += pixel[2];
          ++n;
        }
      const uint8_t u = cv::saturate_cast<uint8_t>(
          floorDivide(-43 * sumR - 84 * sumG + 127 * sumB + 128 * n, 256 * n) +
          128);
      const uint8_t v = cv::saturate_cast<uint8_t>(
          floorDivide(127 * sumR - 106 * sumG - 21 * sumB + 128 * n, 256 * n) +
          128);
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          cv::Vec3b &pixel = yuv.at<cv::Vec3b>(y, x);
          pixel[1] = u;
          pixel[2] = v;
        }
    }
  return yuv;
}

BgrToYuv444::BgrToYuv444(BgrToYuv444Options options) : options_(options) {}

void BgrToYuv444::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "BgrToYuv444");
  // A grey image has no chroma to convert and stays single-channel.
  if (sample.image.channels() == 1)
    return;
  if (sample.image.channels() != 3)
    throw std::invalid_argument("BgrToYuv444 needs a 3-channel image, got " +
                                std::to_string(sample.image.channels()));
  if (sample.colorSpace == "yuv444")
    throw std::invalid_argument(
        "BgrToYuv444: the image is already YUV444 (converted by "
        "ToTensor(to_yuv=True) or an earlier BgrToYuv444)");
  if (sample.colorSpace == "rgb" && !options_.rgb_input)
    throw std::invalid_argument("BgrToYuv444: the image is RGB (the dataset's "
                                "to_rgb=True); set rgb_input=True");
  if (sample.colorSpace == "bgr" && options_.rgb_input)
    throw std::invalid_argument(
        "BgrToYuv444: rgb_input=True but the image is BGR (give the dataset "
        "to_rgb=True, or drop rgb_input)");
  const bool isFloat = sample.image.depth() != CV_8U;
  cv::Mat pixels = sample.image;
  if (isFloat) {
    // After ToTensor (or on a batch) the values must still be pixels.
    double low = 0, high = 0;
    cv::minMaxIdx(sample.image.reshape(1), &low, &high);
    if (low < 0 || high > 255)
      throw std::invalid_argument(
          "BgrToYuv444 needs pixel values in 0..255, got " +
          std::to_string(low) + ".." + std::to_string(high) +
          ": put it before Normalize");
    sample.image.convertTo(pixels, CV_8U);
  }
  if (options_.rgb_input)
    cv::cvtColor(pixels, pixels, cv::COLOR_RGB2BGR);
  cv::Mat yuv = bgrToYuv444(pixels);
  if (isFloat)
    yuv.convertTo(yuv, sample.image.depth());
  sample.image = yuv;
  sample.colorSpace = "yuv444";
}

ToTensor::ToTensor(ToTensorOptions options) : options_(options) {}

void ToTensor::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "ToTensor");
  if (sample.isTensor)
    return;
  if (options_.to_yuv && sample.image.channels() == 3 &&
      (sample.colorSpace == "bgr" || sample.colorSpace == "rgb") &&
      sample.image.depth() == CV_8U)
    BgrToYuv444({sample.colorSpace == "rgb"}).apply(sample, rng);
  sample.image.convertTo(sample.image, CV_32F);
  sample.isTensor = true;
}

Normalize::Normalize(NormalizeOptions options) : options_(std::move(options)) {
  if (options_.mean.empty() || options_.std.empty())
    throw std::invalid_argument("Normalize: mean and std must not be empty");
  for (double value : options_.std)
    if (value == 0)
      throw std::invalid_argument("Normalize: std must not be zero");
}

void Normalize::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "Normalize");
  const int channels = sample.image.channels();
  auto perChannel = [&](const std::vector<double> &values, const char *what) {
    if (values.size() != 1 && static_cast<int>(values.size()) != channels)
      throw std::invalid_argument("Normalize: " + std::string(what) + " has " +
                                  std::to_string(values.size()) +
                                  " values for a " + std::to_string(channels) +
                                  "-channel image");
    cv::Scalar scalar;
    for (int c = 0; c < std::min(channels, 4); ++c)
      scalar[c] = values.size() == 1 ? values[0] : values[c];
    return scalar;
  };
  const cv::Scalar mean = perChannel(options_.mean, "mean");
  cv::Scalar inverseStd = perChannel(options_.std, "std");
  for (int c = 0; c < 4; ++c)
    inverseStd[c] = inverseStd[c] == 0 ? 0 : 1.0 / inverseStd[c];
  if (sample.image.depth() != CV_32F)
    sample.image.convertTo(sample.image, CV_32F);
  sample.isTensor = true;
  cv::subtract(sample.image, mean, sample.image);
  cv::multiply(sample.image, inverseStd, sample.image);
}

//===----------------------------------------------------------------------===//
// RandomResizedCrop
//===----------------------------------------------------------------------===//

RandomResizedCrop::RandomResizedCrop(RandomResizedCropOptions options)
    : options_(std::move(options)) {
  if (options_.size[0] <= 0 || options_.size[1] <= 0)
    throw std::invalid_argument("RandomResizedCrop: size must be positive");
  if (options_.scale[0] <= 0 || options_.scale[1] < options_.scale[0] ||
      options_.ratio[0] <= 0 || options_.ratio[1] < options_.ratio[0])
    throw std::invalid_argument("RandomResizedCrop: scale and ratio must be "
                                "(low, high) with 0 < low <= high");
  requireProbability(options_.p, "RandomResizedCrop");
  interpolationFlag(options_.interpolation);
}

void RandomResizedCrop::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "RandomResizedCrop");
  if (!applies(rng, options_.p))
    return;
  const int height = sample.image.rows, width = sample.image.cols;
  const double area = double(height) * width;
  const double logRatioLow = std::log(options_.ratio[0]);
  const double logRatioHigh = std::log(options_.ratio[1]);
  int cropW = 0, cropH = 0, x0 = 0, y0 = 0;
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double targetArea =
        area * rng.uniform(options_.scale[0], options_.scale[1]);
    const double aspect = std::exp(rng.uniform(logRatioLow, logRatioHigh));
    const int w = static_cast<int>(std::lround(std::sqrt(targetArea * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(targetArea / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      cropW = w;
      cropH = h;
      y0 = static_cast<int>(rng.uniformInt(0, height - h));
      x0 = static_cast<int>(rng.uniformInt(0, width - w));
      found = true;
    }
  }
  if (!found) {
    // Centre crop with the aspect ratio clamped into range.
    const double inRatio = double(width) / height;
    if (inRatio < options_.ratio[0]) {
      cropW = width;
      cropH = static_cast<int>(std::lround(cropW / options_.ratio[0]));
    } else if (inRatio > options_.ratio[1]) {
      cropH = height;
      cropW = static_cast<int>(std::lround(cropH * options_.ratio[1]));
    } else {
      cropW = width;
      cropH = height;
    }
    cropW = std::clamp(cropW, 1, width);
    cropH = std::clamp(cropH, 1, height);
    y0 = (height - cropH) / 2;
    x0 = (width - cropW) / 2;
  }
  // A fresh output: when the output size equals the image's, resizing into
  // sample.image would overwrite the crop (a view of it) while reading it.
  cv::Mat resized;
  cv::resize(sample.image(cv::Rect(x0, y0, cropW, cropH)), resized,
             cv::Size(options_.size[1], options_.size[0]), 0, 0,
             interpolationFlag(options_.interpolation));
  sample.image = resized;
  cropGeometry(sample, x0, y0, cropW, cropH);
  scaleGeometry(sample, double(options_.size[1]) / cropW,
                double(options_.size[0]) / cropH);
}

//===----------------------------------------------------------------------===//
// ColorJitter
//===----------------------------------------------------------------------===//

ColorJitter::ColorJitter(ColorJitterOptions options) : options_(options) {
  if (options_.brightness < 0 || options_.contrast < 0 ||
      options_.saturation < 0)
    throw std::invalid_argument("ColorJitter: factors must be non-negative");
}

void ColorJitter::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "ColorJitter");
  auto draw = [&](double amount) {
    return rng.uniform(std::max(0.0, 1 - amount), 1 + amount);
  };
  const bool enabled = rng.bernoulli(options_.p);
  const double brightness = draw(options_.brightness);
  const double contrast = draw(options_.contrast);
  const double saturation = draw(options_.saturation);
  if (!enabled)
    return;
  cv::Mat &image = sample.image;
  const bool colour = image.channels() == 3 && (sample.colorSpace == "bgr" ||
                                                sample.colorSpace == "rgb");
  const int toGrey =
      sample.colorSpace == "rgb" ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY;
  const int fromGrey =
      sample.colorSpace == "rgb" ? cv::COLOR_GRAY2RGB : cv::COLOR_GRAY2BGR;
  if (options_.brightness > 0)
    image.convertTo(image, -1, brightness, 0);
  if (options_.contrast > 0) {
    cv::Mat grey = image;
    if (colour)
      cv::cvtColor(image, grey, toGrey);
    const double mean = cv::mean(grey)[0];
    image.convertTo(image, -1, contrast, (1 - contrast) * mean);
  }
  if (options_.saturation > 0 && colour) {
    cv::Mat grey, greyBgr;
    cv::cvtColor(image, grey, toGrey);
    cv::cvtColor(grey, greyBgr, fromGrey);
    cv::addWeighted(image, saturation, greyBgr, 1 - saturation, 0, image);
  }
}

//===----------------------------------------------------------------------===//
// FixedCrop
//===----------------------------------------------------------------------===//

FixedCrop::FixedCrop(FixedCropOptions options) : options_(options) {
  const auto &[x, y, w, h] = options_.size;
  if (x < 0 || y < 0 || w <= 0 || h <= 0)
    throw std::invalid_argument(
        "FixedCrop: size must be (x1, y1, w, h) with x1, y1 >= 0 and w, h > 0, "
        "got (" +
        std::to_string(x) + ", " + std::to_string(y) + ", " +
        std::to_string(w) + ", " + std::to_string(h) + ")");
}

void FixedCrop::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "FixedCrop");
  const auto &[x, y, w, h] = options_.size;
  if (x + w > sample.image.cols || y + h > sample.image.rows)
    throw DataError("FixedCrop", sample.key,
                    "the crop window (x1 " + std::to_string(x) + ", y1 " +
                        std::to_string(y) + ", w " + std::to_string(w) +
                        ", h " + std::to_string(h) + ") does not fit the " +
                        std::to_string(sample.image.cols) + "x" +
                        std::to_string(sample.image.rows) + " image");
  sample.image = sample.image(cv::Rect(x, y, w, h)).clone();
  cropGeometry(sample, x, y, w, h);
}

//===----------------------------------------------------------------------===//
// RandomSelectOne
//===----------------------------------------------------------------------===//

RandomSelectOne::RandomSelectOne(RandomSelectOneOptions options)
    : options_(std::move(options)) {
  const std::size_t count = options_.transforms.size();
  if (count == 0)
    throw std::invalid_argument("RandomSelectOne: transforms is empty");
  for (const TransformPtr &transform : options_.transforms)
    if (!transform)
      throw std::invalid_argument("RandomSelectOne: a transform is missing");
  requireProbability(options_.p, "RandomSelectOne");
  std::vector<double> weights = options_.p_trans;
  if (weights.empty())
    weights.assign(count, 1.0);
  if (weights.size() != count)
    throw std::invalid_argument(
        "RandomSelectOne: p_trans has " + std::to_string(weights.size()) +
        " weights for " + std::to_string(count) + " transforms");
  double total = 0;
  for (double weight : weights) {
    if (!(weight >= 0) || !std::isfinite(weight))
      throw std::invalid_argument(
          "RandomSelectOne: p_trans weights must be finite and >= 0");
    total += weight;
  }
  if (!(total > 0))
    throw std::invalid_argument(
        "RandomSelectOne: p_trans weights must not all be 0");
  double running = 0;
  for (double weight : weights) {
    running += weight / total;
    cumulative_.push_back(running);
  }
  cumulative_.back() = 1.0;
}

bool RandomSelectOne::needs8BitImage() const {
  return std::any_of(options_.transforms.begin(), options_.transforms.end(),
                     [](const TransformPtr &t) { return t->needs8BitImage(); });
}

void RandomSelectOne::apply(Sample &sample, SampleRng &rng) const {
  if (!applies(rng, options_.p))
    return;
  const double draw = rng.uniform();
  std::size_t chosen = 0;
  while (chosen + 1 < cumulative_.size() && draw >= cumulative_[chosen])
    ++chosen;
  options_.transforms[chosen]->apply(sample, rng);
}

//===----------------------------------------------------------------------===//
// Colour transforms of the lane pipeline
//===----------------------------------------------------------------------===//

RGBShift::RGBShift(RGBShiftOptions options) : options_(options) {
  requireRange(options_.r_shift_limit, "RGBShift", "r_shift_limit");
  requireRange(options_.g_shift_limit, "RGBShift", "g_shift_limit");
  requireRange(options_.b_shift_limit, "RGBShift", "b_shift_limit");
  requireProbability(options_.p, "RGBShift");
}

void RGBShift::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "RGBShift");
  // The colour space is checked whether or not the shift is drawn, so a
  // wrong pipeline fails on the first sample.
  const std::array<int, 3> channel = rgbChannels(sample, "RGBShift");
  if (!applies(rng, options_.p))
    return;
  const double shifts[3] = {
      rng.uniform(options_.r_shift_limit[0], options_.r_shift_limit[1]),
      rng.uniform(options_.g_shift_limit[0], options_.g_shift_limit[1]),
      rng.uniform(options_.b_shift_limit[0], options_.b_shift_limit[1])};
  cv::Mat planes[3];
  cv::split(sample.image, planes);
  for (int colour = 0; colour < 3; ++colour) {
    const double shift = shifts[colour];
    cv::Mat &plane = planes[channel[colour]];
    cv::LUT(plane, lookupTable([&](double x) { return x + shift; }), plane);
  }
  cv::merge(planes, 3, sample.image);
}

HueSaturationValue::HueSaturationValue(HueSaturationValueOptions options)
    : options_(options) {
  requireRange(options_.hue_range, "HueSaturationValue", "hue_range");
  requireRange(options_.sat_range, "HueSaturationValue", "sat_range");
  requireRange(options_.val_range, "HueSaturationValue", "val_range");
  requireProbability(options_.p, "HueSaturationValue");
}

void HueSaturationValue::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "HueSaturationValue");
  const bool grey = sample.image.channels() == 1;
  const bool rgb = !grey && rgbChannels(sample, "HueSaturationValue")[0] == 0;
  if (!applies(rng, options_.p))
    return;
  const double hueShift =
      rng.uniform(options_.hue_range[0], options_.hue_range[1]);
  const double satShift =
      rng.uniform(options_.sat_range[0], options_.sat_range[1]);
  const double valShift =
      rng.uniform(options_.val_range[0], options_.val_range[1]);
  const cv::Mat valTable = lookupTable([&](double x) { return x + valShift; });
  // A grey image has only a value to shift.
  if (grey) {
    cv::LUT(sample.image, valTable, sample.image);
    return;
  }
  cv::Mat hsv;
  cv::cvtColor(sample.image, hsv, rgb ? cv::COLOR_RGB2HSV : cv::COLOR_BGR2HSV);
  cv::Mat planes[3];
  cv::split(hsv, planes);
  // OpenCV's 8-bit hue spans 0..179 and wraps around.
  cv::Mat hueTable(1, 256, CV_8U);
  for (int x = 0; x < 256; ++x) {
    double hue = std::fmod(std::round(x + hueShift), 180.0);
    if (hue < 0)
      hue += 180.0;
    hueTable.at<uint8_t>(x) = static_cast<uint8_t>(hue);
  }
  cv::LUT(planes[0], hueTable, planes[0]);
  cv::LUT(planes[1], lookupTable([&](double x) { return x + satShift; }),
          planes[1]);
  cv::LUT(planes[2], valTable, planes[2]);
  cv::merge(planes, 3, hsv);
  cv::cvtColor(hsv, sample.image, rgb ? cv::COLOR_HSV2RGB : cv::COLOR_HSV2BGR);
}

JPEGCompress::JPEGCompress(JPEGCompressOptions options) : options_(options) {
  for (int quality : {options_.max_quality, options_.min_quality})
    if (quality < 1 || quality > 100)
      throw std::invalid_argument(
          "JPEGCompress: max_quality and min_quality must be in 1..100, got " +
          std::to_string(quality));
  requireProbability(options_.p, "JPEGCompress");
}

void JPEGCompress::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "JPEGCompress");
  // The JPEG codec's colour conversion expects BGR (or grey).
  if (sample.image.channels() == 3)
    rgbChannels(sample, "JPEGCompress");
  if (!applies(rng, options_.p))
    return;
  const int quality = static_cast<int>(
      rng.uniformInt(std::min(options_.min_quality, options_.max_quality),
                     std::max(options_.min_quality, options_.max_quality)));
  const bool rgb = sample.image.channels() == 3 && sample.colorSpace == "rgb";
  cv::Mat pixels = sample.image;
  if (rgb)
    cv::cvtColor(pixels, pixels, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> encoded;
  if (!cv::imencode(".jpg", pixels, encoded,
                    {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw DataError("JPEGCompress", sample.key, "JPEG encoding failed");
  cv::Mat decoded =
      cv::imdecode(encoded, sample.image.channels() == 1 ? cv::IMREAD_GRAYSCALE
                                                         : cv::IMREAD_COLOR);
  if (decoded.empty() || decoded.size() != sample.image.size())
    throw DataError("JPEGCompress", sample.key, "JPEG decoding failed");
  if (rgb)
    cv::cvtColor(decoded, decoded, cv::COLOR_BGR2RGB);
  sample.image = decoded;
}

MeanBlur::MeanBlur(BlurOptions options) : options_(options) {
  if (options_.ksize < 1)
    throw std::invalid_argument("MeanBlur: ksize must be >= 1, got " +
                                std::to_string(options_.ksize));
  requireProbability(options_.p, "MeanBlur");
}

void MeanBlur::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "MeanBlur");
  if (!applies(rng, options_.p))
    return;
  cv::blur(sample.image, sample.image,
           cv::Size(options_.ksize, options_.ksize));
}

MedianBlur::MedianBlur(BlurOptions options) : options_(options) {
  if (options_.ksize < 1 || options_.ksize % 2 == 0)
    throw std::invalid_argument("MedianBlur: ksize must be odd and >= 1, got " +
                                std::to_string(options_.ksize));
  requireProbability(options_.p, "MedianBlur");
}

void MedianBlur::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "MedianBlur");
  if (!applies(rng, options_.p) || options_.ksize == 1)
    return;
  cv::medianBlur(sample.image, sample.image, options_.ksize);
}

RandomBrightnessContrast::RandomBrightnessContrast(
    RandomBrightnessContrastOptions options)
    : options_(options) {
  requireRange(options_.brightness_limit, "RandomBrightnessContrast",
               "brightness_limit");
  requireRange(options_.contrast_limit, "RandomBrightnessContrast",
               "contrast_limit");
  requireProbability(options_.p, "RandomBrightnessContrast");
}

void RandomBrightnessContrast::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "RandomBrightnessContrast");
  if (!applies(rng, options_.p))
    return;
  const double alpha =
      1.0 + rng.uniform(options_.contrast_limit[0], options_.contrast_limit[1]);
  const double beta =
      rng.uniform(options_.brightness_limit[0], options_.brightness_limit[1]);
  double offset = beta * 255.0;
  if (!options_.brightness_by_max) {
    const cv::Scalar mean = cv::mean(sample.image);
    double sum = 0;
    for (int c = 0; c < sample.image.channels(); ++c)
      sum += mean[c];
    offset = beta * sum / sample.image.channels();
  }
  cv::LUT(sample.image,
          lookupTable([&](double x) { return x * alpha + offset; }),
          sample.image);
}

//===----------------------------------------------------------------------===//
// ShiftScaleRotate
//===----------------------------------------------------------------------===//

ShiftScaleRotate::ShiftScaleRotate(ShiftScaleRotateOptions options)
    : options_(std::move(options)) {
  requireRange(options_.shift_limit, "ShiftScaleRotate", "shift_limit");
  requireRange(options_.scale_limit, "ShiftScaleRotate", "scale_limit");
  requireRange(options_.rotate_limit, "ShiftScaleRotate", "rotate_limit");
  if (!(options_.scale_limit[0] > 0))
    throw std::invalid_argument(
        "ShiftScaleRotate: scale_limit is the range of the scale factor and "
        "must be above 0, got (" +
        std::to_string(options_.scale_limit[0]) + ", " +
        std::to_string(options_.scale_limit[1]) + ")");
  const int interpolation = options_.interpolation;
  if (interpolation != cv::INTER_NEAREST && interpolation != cv::INTER_LINEAR &&
      interpolation != cv::INTER_CUBIC && interpolation != cv::INTER_LANCZOS4)
    throw std::invalid_argument(
        "ShiftScaleRotate: interpolation must be an OpenCV flag 0 (nearest), "
        "1 (linear), 2 (cubic) or 4 (lanczos4), got " +
        std::to_string(interpolation));
  if (options_.border_mode < cv::BORDER_CONSTANT ||
      options_.border_mode > cv::BORDER_REFLECT_101)
    throw std::invalid_argument(
        "ShiftScaleRotate: border_mode must be an OpenCV flag 0 (constant), "
        "1 (replicate), 2 (reflect), 3 (wrap) or 4 (reflect101), got " +
        std::to_string(options_.border_mode));
  if (options_.value.empty() || options_.value.size() > 4)
    throw std::invalid_argument(
        "ShiftScaleRotate: value must be one number or one per channel");
  requireProbability(options_.p, "ShiftScaleRotate");
}

cv::Matx23d ShiftScaleRotate::matrix(cv::Size size, double angleDegrees,
                                     double scale, double dx, double dy) {
  const cv::Point2f centre(size.width * 0.5f, size.height * 0.5f);
  cv::Mat rotation = cv::getRotationMatrix2D(centre, angleDegrees, scale);
  cv::Matx23d m(rotation);
  m(0, 2) += dx * size.width;
  m(1, 2) += dy * size.height;
  return m;
}

void ShiftScaleRotate::warp(Sample &sample, const cv::Matx23d &m) const {
  const int width = sample.image.cols, height = sample.image.rows;
  cv::Scalar fill;
  for (int c = 0; c < 4; ++c)
    fill[c] = options_.value.size() == 1
                  ? options_.value[0]
                  : (c < int(options_.value.size()) ? options_.value[c] : 0);
  if (options_.value.size() > 1 &&
      int(options_.value.size()) != sample.image.channels())
    throw std::invalid_argument(
        "ShiftScaleRotate: value has " + std::to_string(options_.value.size()) +
        " numbers for a " + std::to_string(sample.image.channels()) +
        "-channel image");
  cv::Mat warped;
  cv::warpAffine(sample.image, warped, cv::Mat(m), sample.image.size(),
                 options_.interpolation, options_.border_mode, fill);
  sample.image = warped;

  auto map = [&](double x, double y) {
    return cv::Point2d(m(0, 0) * x + m(0, 1) * y + m(0, 2),
                       m(1, 0) * x + m(1, 1) * y + m(1, 2));
  };
  for (auto &lane : sample.lanes)
    for (cv::Point2f &point : lane) {
      const cv::Point2d moved = map(point.x, point.y);
      point = cv::Point2f(float(moved.x), float(moved.y));
    }
  dropLanePointsOutside(sample, width, height);

  // Boxes are continuous (pixel i spans [i, i + 1)) while the matrix maps
  // pixel positions: corners move through c' = M (c - 0.5) + 0.5.
  auto moveBox = [&](Box &box) {
    double x1 = width, y1 = height, x2 = 0, y2 = 0;
    for (double cx : {double(box[0]), double(box[2])})
      for (double cy : {double(box[1]), double(box[3])}) {
        const cv::Point2d moved = map(cx - 0.5, cy - 0.5);
        x1 = std::min(x1, moved.x + 0.5);
        x2 = std::max(x2, moved.x + 0.5);
        y1 = std::min(y1, moved.y + 0.5);
        y2 = std::max(y2, moved.y + 0.5);
      }
    box = {float(std::clamp(x1, 0.0, double(width))),
           float(std::clamp(y1, 0.0, double(height))),
           float(std::clamp(x2, 0.0, double(width))),
           float(std::clamp(y2, 0.0, double(height)))};
  };
  for (Box &box : sample.boxes)
    moveBox(box);
  keepBoxesWithArea(sample);
  if (sample.validRegion)
    moveBox(*sample.validRegion);
}

void ShiftScaleRotate::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "ShiftScaleRotate");
  if (!applies(rng, options_.p))
    return;
  const double angle =
      rng.uniform(options_.rotate_limit[0], options_.rotate_limit[1]);
  const double scale =
      rng.uniform(options_.scale_limit[0], options_.scale_limit[1]);
  const double dx =
      rng.uniform(options_.shift_limit[0], options_.shift_limit[1]);
  const double dy =
      rng.uniform(options_.shift_limit[0], options_.shift_limit[1]);
  warp(sample, matrix(sample.image.size(), angle, scale, dx, dy));
}

//===----------------------------------------------------------------------===//
// Batch transforms
//===----------------------------------------------------------------------===//

void applyBatchTransforms(const std::vector<TransformPtr> &transforms,
                          Batch &batch) {
  for (const TransformPtr &transform : transforms)
    if (!transform->worksOnBatches())
      throw std::invalid_argument(
          std::string(transform->name()) +
          " cannot run on a collated batch (batch_transforms take "
          "BgrToYuv444 and Normalize); put it in the dataset's transforms");
  if (transforms.empty() || batch.size() == 0)
    return;
  const int channels = int(batch.imageShape[1]);
  const int height = int(batch.imageShape[2]), width = int(batch.imageShape[3]);
  const std::size_t plane = std::size_t(height) * width;
  // Transforms are deterministic here; the stream is never drawn from.
  SampleRng unused(0);
  for (int64_t n = 0; n < batch.size(); ++n) {
    float *image = batch.images.data() + std::size_t(n) * channels * plane;
    std::vector<cv::Mat> planes;
    for (int c = 0; c < channels; ++c)
      planes.emplace_back(height, width, CV_32F, image + c * plane);
    Sample sample;
    cv::merge(planes, sample.image);
    sample.isTensor = true;
    if (std::size_t(n) < batch.colorSpaces.size())
      sample.colorSpace = batch.colorSpaces[n];
    applyTransforms(transforms, sample, unused);
    if (sample.image.size() != cv::Size(width, height) ||
        sample.image.channels() != channels)
      throw std::invalid_argument(
          "batch_transforms changed the shape of a batch image");
    sample.image.convertTo(sample.image, CV_32F);
    std::vector<cv::Mat> results;
    cv::split(sample.image, results);
    for (int c = 0; c < channels; ++c)
      results[c].copyTo(planes[c]); // same size and type: into the batch
    if (std::size_t(n) < batch.colorSpaces.size())
      batch.colorSpaces[n] = sample.colorSpace;
  }
}

} // namespace hat::data
