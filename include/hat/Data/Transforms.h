//===- Transforms.h - Config-built, geometry-consistent transforms --------===//
//
// Each transform takes a plain options struct whose fields are HAT's config
// kwargs, so the config registry's adapter is a field-by-field copy. Every
// geometric transform moves boxes and lane points with the pixels. Size tuples
// are (height, width), as in HAT configs.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DATA_TRANSFORMS_H
#define HAT_DATA_TRANSFORMS_H

#include "hat/Data/Rng.h"
#include "hat/Data/Sample.h"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hat::data {

/// A sample transform. apply() must be safe to call from several loader
/// threads at once: all randomness comes from the per-sample `rng`.
class Transform {
public:
  virtual ~Transform();
  virtual void apply(Sample &sample, SampleRng &rng) const = 0;
  virtual const char *name() const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

/// "nearest", "bilinear" (default), "area" or "bicubic" -> cv::INTER_*.
int interpolationFlag(const std::string &name);

struct ResizeOptions {
  std::array<int, 2> img_scale{512, 512}; // (h, w)
  std::optional<std::array<double, 2>> ratio_range;
  bool keep_ratio = true;
  std::string interpolation = "bilinear";
  /// Multi-scale training (config: img_scale as a list of (h, w) scales):
  /// when not empty it replaces img_scale, and each sample draws its scale.
  std::vector<std::array<int, 2>> img_scales;
  /// "range": with keep_ratio, the long and the short edge are each drawn
  /// uniformly (integers) between the smallest and largest long / short
  /// edge of the two img_scales (mmdet's rule); without keep_ratio, h and w
  /// between the scales' h and w. "value": one of img_scales at random.
  std::string multiscale_mode = "range";
};
/// Scales to img_scale (times a ratio drawn from ratio_range), or to a scale
/// drawn from img_scales. With keep_ratio the image is scaled as large as
/// fits: long side <= long side of the scale and short side <= its short
/// side (mmdet's rule).
class Resize : public Transform {
public:
  explicit Resize(ResizeOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "Resize"; }

private:
  ResizeOptions options_;
};

struct RandomCropOptions {
  std::array<int, 2> size{512, 512}; // (h, w)
  /// When false, a crop that loses every box of a sample that had boxes is
  /// redrawn (up to 10 times).
  bool allow_negative_crop = false;
};
/// Crops a random window of `size` (or the whole side when the image is
/// smaller); boxes are shifted and clipped, and dropped when nothing is left.
class RandomCrop : public Transform {
public:
  explicit RandomCrop(RandomCropOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "RandomCrop"; }

private:
  RandomCropOptions options_;
};

struct PadOptions {
  std::optional<std::array<int, 2>> size; // (h, w)
  std::optional<int> divisor;
  double pad_val = 0;
};
/// Pads bottom and right to `size` or to multiples of `divisor`.
class Pad : public Transform {
public:
  explicit Pad(PadOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "Pad"; }

private:
  PadOptions options_;
};

struct RandomFlipOptions {
  double px = 0.5; // probability of a horizontal flip
  double py = 0.0; // probability of a vertical flip
};
class RandomFlip : public Transform {
public:
  explicit RandomFlip(RandomFlipOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "RandomFlip"; }

private:
  RandomFlipOptions options_;
};

struct AugmentHSVOptions {
  double hgain = 0.5, sgain = 0.5, vgain = 0.5;
  double p = 1.0;
};
/// YOLO-style HSV jitter through lookup tables: each channel is multiplied by
/// 1 + uniform(-gain, gain). Grey images get the value gain only.
class AugmentHSV : public Transform {
public:
  explicit AugmentHSV(AugmentHSVOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "AugmentHSV"; }

private:
  AugmentHSVOptions options_;
};

struct BgrToYuv444Options {
  bool rgb_input = false;
};
/// Converts to the YUV444 the NPU sees: BGR -> YUV420 (I420, BT.601 video
/// range as in OpenCV) -> chroma replicated over each 2x2 block, so training
/// matches the camera pipeline's NV12 input.
class BgrToYuv444 : public Transform {
public:
  explicit BgrToYuv444(BgrToYuv444Options options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "BgrToYuv444"; }

private:
  BgrToYuv444Options options_;
};
/// The conversion BgrToYuv444 and ToTensor(to_yuv) apply to a CV_8UC3 image.
cv::Mat bgrToYuv444(const cv::Mat &bgr);

struct ToTensorOptions {
  bool to_yuv = false;
};
/// Turns the image into float (values unchanged, 0..255), optionally after
/// BgrToYuv444. The loader's collate lays it out as CHW.
class ToTensor : public Transform {
public:
  explicit ToTensor(ToTensorOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "ToTensor"; }

private:
  ToTensorOptions options_;
};

struct NormalizeOptions {
  std::vector<double> mean{0.0}; // one value, or one per channel
  std::vector<double> std{1.0};
};
/// (x - mean) / std per channel, on the float image (converting if needed).
class Normalize : public Transform {
public:
  explicit Normalize(NormalizeOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "Normalize"; }

private:
  NormalizeOptions options_;
};

struct RandomResizedCropOptions {
  std::array<int, 2> size{224, 224}; // (h, w)
  std::array<double, 2> scale{0.08, 1.0};
  std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
  std::string interpolation = "bilinear";
};
/// torchvision's RandomResizedCrop (10 tries, then a centre crop with the
/// ratio clamped); boxes and lanes are cropped, then scaled.
class RandomResizedCrop : public Transform {
public:
  explicit RandomResizedCrop(RandomResizedCropOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "RandomResizedCrop"; }

private:
  RandomResizedCropOptions options_;
};

struct ColorJitterOptions {
  double brightness = 0, contrast = 0, saturation = 0;
  double p = 1.0;
};
/// Brightness, contrast and saturation factors drawn from
/// [max(0, 1 - v), 1 + v], applied in that fixed order (torchvision blends).
class ColorJitter : public Transform {
public:
  explicit ColorJitter(ColorJitterOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "ColorJitter"; }

private:
  ColorJitterOptions options_;
};

/// Runs `transforms` in order on `sample`.
void applyTransforms(const std::vector<TransformPtr> &transforms,
                     Sample &sample, SampleRng &rng);

} // namespace hat::data

#endif // HAT_DATA_TRANSFORMS_H
