//===- Transforms.cpp - Config-built, geometry-consistent transforms ------===//
#include "hat/Data/Transforms.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
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
  std::size_t kept = 0;
  for (std::size_t i = 0; i < sample.boxes.size(); ++i) {
    Box box = sample.boxes[i];
    box[0] = std::clamp(box[0] - x0, 0.f, float(width));
    box[2] = std::clamp(box[2] - x0, 0.f, float(width));
    box[1] = std::clamp(box[1] - y0, 0.f, float(height));
    box[3] = std::clamp(box[3] - y0, 0.f, float(height));
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

  std::vector<std::vector<cv::Point2f>> lanes;
  for (auto &lane : sample.lanes) {
    std::vector<cv::Point2f> inside;
    for (const cv::Point2f &point : lane) {
      cv::Point2f moved(point.x - x0, point.y - y0);
      if (moved.x >= 0 && moved.x <= width && moved.y >= 0 && moved.y <= height)
        inside.push_back(moved);
    }
    if (inside.size() >= 2)
      lanes.push_back(std::move(inside));
  }
  sample.lanes = std::move(lanes);

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
        point.x = width - point.x;
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
        point.y = height - point.y;
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
  if (sample.colorSpace != "bgr")
    throw std::invalid_argument("AugmentHSV needs a BGR image, got " +
                                sample.colorSpace);
  cv::Mat hsv;
  cv::cvtColor(sample.image, hsv, cv::COLOR_BGR2HSV);
  cv::Mat channels[3];
  cv::split(hsv, channels);
  cv::LUT(channels[0], hueLut, channels[0]);
  cv::LUT(channels[1], satLut, channels[1]);
  cv::LUT(channels[2], valLut, channels[2]);
  cv::merge(channels, 3, hsv);
  cv::cvtColor(hsv, sample.image, cv::COLOR_HSV2BGR);
}

//===----------------------------------------------------------------------===//
// BgrToYuv444 / ToTensor / Normalize
//===----------------------------------------------------------------------===//

cv::Mat bgrToYuv444(const cv::Mat &bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  const int height = bgr.rows, width = bgr.cols;
  // I420 needs even sides; replicate the last row/column and crop after.
  cv::Mat even = bgr;
  if ((height | width) & 1)
    cv::copyMakeBorder(bgr, even, 0, height & 1, 0, width & 1,
                       cv::BORDER_REPLICATE);
  const int evenH = even.rows, evenW = even.cols;
  cv::Mat i420;
  cv::cvtColor(even, i420, cv::COLOR_BGR2YUV_I420);
  cv::Mat y(evenH, evenW, CV_8UC1, i420.data);
  cv::Mat u(evenH / 2, evenW / 2, CV_8UC1, i420.data + evenH * evenW);
  cv::Mat v(evenH / 2, evenW / 2, CV_8UC1,
            i420.data + evenH * evenW + (evenH / 2) * (evenW / 2));
  cv::Mat planes[3];
  planes[0] = y;
  cv::resize(u, planes[1], cv::Size(evenW, evenH), 0, 0, cv::INTER_NEAREST);
  cv::resize(v, planes[2], cv::Size(evenW, evenH), 0, 0, cv::INTER_NEAREST);
  cv::Mat yuv;
  cv::merge(planes, 3, yuv);
  if (evenH != height || evenW != width)
    yuv = yuv(cv::Rect(0, 0, width, height)).clone();
  return yuv;
}

BgrToYuv444::BgrToYuv444(BgrToYuv444Options options) : options_(options) {}

void BgrToYuv444::apply(Sample &sample, SampleRng &rng) const {
  requireBeforeToTensor(sample, "BgrToYuv444");
  // A grey image has no chroma to convert and stays single-channel.
  if (sample.image.channels() == 1 || sample.colorSpace == "yuv444")
    return;
  if (options_.rgb_input)
    cv::cvtColor(sample.image, sample.image, cv::COLOR_RGB2BGR);
  sample.image = bgrToYuv444(sample.image);
  sample.colorSpace = "yuv444";
}

ToTensor::ToTensor(ToTensorOptions options) : options_(options) {}

void ToTensor::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "ToTensor");
  if (sample.isTensor)
    return;
  if (options_.to_yuv && sample.image.channels() == 3 &&
      sample.colorSpace == "bgr") {
    sample.image = bgrToYuv444(sample.image);
    sample.colorSpace = "yuv444";
  }
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
  interpolationFlag(options_.interpolation);
}

void RandomResizedCrop::apply(Sample &sample, SampleRng &rng) const {
  requireImage(sample, "RandomResizedCrop");
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
  cv::Mat crop = sample.image(cv::Rect(x0, y0, cropW, cropH));
  cv::resize(crop, sample.image, cv::Size(options_.size[1], options_.size[0]),
             0, 0, interpolationFlag(options_.interpolation));
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
  const bool colour = image.channels() == 3 && sample.colorSpace == "bgr";
  if (options_.brightness > 0)
    image.convertTo(image, -1, brightness, 0);
  if (options_.contrast > 0) {
    cv::Mat grey = image;
    if (colour)
      cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
    const double mean = cv::mean(grey)[0];
    image.convertTo(image, -1, contrast, (1 - contrast) * mean);
  }
  if (options_.saturation > 0 && colour) {
    cv::Mat grey, greyBgr;
    cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(grey, greyBgr, cv::COLOR_GRAY2BGR);
    cv::addWeighted(image, saturation, greyBgr, 1 - saturation, 0, image);
  }
}

} // namespace hat::data
