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
  /// True for transforms that need 8-bit pixels (colour jitter, blurs,
  /// JPEG): a config placing one after ToTensor/Normalize is refused.
  virtual bool needs8BitImage() const { return false; }
  /// True for transforms that may run on a collated batch
  /// (batch_processor's batch_transforms): deterministic, per-pixel, no
  /// geometry, valid on float images. See applyBatchTransforms.
  virtual bool worksOnBatches() const { return false; }
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
/// Boxes use continuous coordinates (x -> W - x); lane points are pixel
/// positions, mirrored as HAT mirrors them (x -> W - 1 - x: on a 100 px wide
/// image x = 10 becomes 89, the column cv::flip moves pixel 10 to).
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
  bool needs8BitImage() const override { return true; }

private:
  AugmentHSVOptions options_;
};

struct BgrToYuv444Options {
  /// The image is RGB (e.g. CuLaneDataset(to_rgb=True)). Must agree with
  /// the sample's colorSpace when that says "bgr" or "rgb".
  bool rgb_input = false;
};
/// Converts to the YUV444 the BPU's image pyramid delivers: BGR -> NV12 ->
/// YUV444 with BT.601 full-swing coefficients (see bgrToYuv444). Works on
/// 8-bit images and on float images holding 0..255 values (after ToTensor,
/// or on a batch); the colorSpace becomes "yuv444". Grey images pass.
class BgrToYuv444 : public Transform {
public:
  explicit BgrToYuv444(BgrToYuv444Options options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "BgrToYuv444"; }
  bool worksOnBatches() const override { return true; }

private:
  BgrToYuv444Options options_;
};
/// The conversion BgrToYuv444 and ToTensor(to_yuv) apply to a CV_8UC3 BGR
/// image, in Horizon's integer form of BT.601 full swing (the BPU's YUV):
///   Y = (77 R + 150 G + 29 B + 128) >> 8
///   U = ((-43 R - 84 G + 127 B + 128) >> 8) + 128
///   V = ((127 R - 106 G - 21 B + 128) >> 8) + 128
/// Y per pixel; U and V from the mean R, G, B of each 2x2 block (NV12's
/// chroma subsampling; an odd last row/column is its own block), replicated
/// back over the block (YUV444). >> is a floor division by 256.
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
  bool worksOnBatches() const override { return true; }

private:
  NormalizeOptions options_;
};

struct RandomResizedCropOptions {
  std::array<int, 2> size{224, 224}; // (h, w); config: size or height+width
  std::array<double, 2> scale{0.08, 1.0};
  std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
  std::string interpolation = "bilinear";
  double p = 1.0; // probability of applying it; otherwise nothing changes
};
/// torchvision's / albumentations' RandomResizedCrop (10 tries, then a
/// centre crop with the ratio clamped); boxes and lanes are cropped (lane
/// points outside the window dropped, lanes left with < 2 points removed),
/// then scaled. A `scale` above 1 (HAT's GaNet config: (0.8, 1.2)) only
/// makes the tries that do not fit the image fail.
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
  bool needs8BitImage() const override { return true; }

private:
  ColorJitterOptions options_;
};

//===----------------------------------------------------------------------===//
// Lane detection pipeline (HAT's GaNet / CuLane config)
//===----------------------------------------------------------------------===//

struct FixedCropOptions {
  /// HAT's `size`: (x1, y1, w, h), or (w, h) for a window at (0, 0).
  std::array<int, 4> size{0, 0, 0, 0};
};
/// Crops a fixed window. Boxes are shifted and clipped (dropped without
/// area), lane points outside the window dropped and lanes left with fewer
/// than two points removed. An image that does not contain the window is a
/// DataError naming the sample's key.
class FixedCrop : public Transform {
public:
  explicit FixedCrop(FixedCropOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "FixedCrop"; }

private:
  FixedCropOptions options_;
};

struct RandomSelectOneOptions {
  std::vector<TransformPtr> transforms;
  double p = 0.5;              // probability of applying one of them
  std::vector<double> p_trans; // relative weights; empty: all equal
};
/// HAT's RandomSelectOne: with probability `p`, one of `transforms`, picked
/// with weights `p_trans`, is applied.
class RandomSelectOne : public Transform {
public:
  explicit RandomSelectOne(RandomSelectOneOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "RandomSelectOne"; }
  bool needs8BitImage() const override;
  const std::vector<TransformPtr> &transforms() const {
    return options_.transforms;
  }

private:
  RandomSelectOneOptions options_;
  std::vector<double> cumulative_; // normalised running sums of p_trans
};

struct RGBShiftOptions {
  std::array<double, 2> r_shift_limit{-20, 20};
  std::array<double, 2> g_shift_limit{-20, 20};
  std::array<double, 2> b_shift_limit{-20, 20};
  double p = 0.5;
};
/// albumentations' RGBShift: each of R, G, B is shifted by its own value
/// drawn from its limit (channels found through the sample's colorSpace),
/// rounded and saturated to 0..255.
class RGBShift : public Transform {
public:
  explicit RGBShift(RGBShiftOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "RGBShift"; }
  bool needs8BitImage() const override { return true; }

private:
  RGBShiftOptions options_;
};

struct HueSaturationValueOptions {
  std::array<double, 2> hue_range{-20, 20}; // OpenCV hue units (0..179)
  std::array<double, 2> sat_range{-30, 30};
  std::array<double, 2> val_range{-20, 20};
  double p = 0.5;
};
/// albumentations' HueSaturationValue shifts: hue + h modulo 180, S + s and
/// V + v saturated, each drawn from its range.
class HueSaturationValue : public Transform {
public:
  explicit HueSaturationValue(HueSaturationValueOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "HueSaturationValue"; }
  bool needs8BitImage() const override { return true; }

private:
  HueSaturationValueOptions options_;
};

struct JPEGCompressOptions {
  double p = 0.5;
  /// The quality is an integer drawn uniformly between the two (inclusive).
  /// Their order does not matter: HAT's GaNet config writes
  /// max_quality=85, min_quality=95.
  int max_quality = 95;
  int min_quality = 85;
};
/// Encodes the image as JPEG at a random quality and decodes it again.
class JPEGCompress : public Transform {
public:
  explicit JPEGCompress(JPEGCompressOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "JPEGCompress"; }
  bool needs8BitImage() const override { return true; }

private:
  JPEGCompressOptions options_;
};

struct BlurOptions {
  int ksize = 3;
  double p = 0.5;
};
/// A ksize x ksize box filter (cv::blur, reflected border).
class MeanBlur : public Transform {
public:
  explicit MeanBlur(BlurOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "MeanBlur"; }
  bool needs8BitImage() const override { return true; }

private:
  BlurOptions options_;
};
/// A ksize x ksize median filter (cv::medianBlur); ksize odd.
class MedianBlur : public Transform {
public:
  explicit MedianBlur(BlurOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "MedianBlur"; }
  bool needs8BitImage() const override { return true; }

private:
  BlurOptions options_;
};

struct RandomBrightnessContrastOptions {
  std::array<double, 2> brightness_limit{-0.2, 0.2};
  std::array<double, 2> contrast_limit{-0.2, 0.2};
  bool brightness_by_max = true;
  double p = 0.5;
};
/// albumentations' RandomBrightnessContrast: x * (1 + c) + b * 255 (or
/// b * the image mean when brightness_by_max is false), c and b drawn from
/// the limits, rounded and saturated to 0..255.
class RandomBrightnessContrast : public Transform {
public:
  explicit RandomBrightnessContrast(RandomBrightnessContrastOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "RandomBrightnessContrast"; }
  bool needs8BitImage() const override { return true; }

private:
  RandomBrightnessContrastOptions options_;
};

struct ShiftScaleRotateOptions {
  std::array<double, 2> shift_limit{-0.0625, 0.0625}; // fraction of w / h
  /// The range of the scale factor itself (HAT's GaNet config: (0.8, 1.2)).
  std::array<double, 2> scale_limit{0.9, 1.1};
  std::array<double, 2> rotate_limit{-45, 45}; // degrees, counter-clockwise
  int interpolation = 1; // OpenCV flag: 0 nearest, 1 linear, 2 cubic, ...
  int border_mode = 4; // OpenCV flag: 0 constant, 1 replicate, ... 4 reflect101
  std::vector<double> value{0.0}; // fill of border_mode 0 (one or per channel)
  double p = 0.5;
};
/// albumentations' ShiftScaleRotate: one affine matrix (rotation by the
/// angle and scaling about the image centre, then a shift of dx * w,
/// dy * h) warps the image and maps lane points (pixel positions) and box
/// corners. Lane points leaving the image are dropped and lanes left with
/// fewer than two points removed; boxes become the clipped bounding box of
/// their moved corners (dropped without area).
class ShiftScaleRotate : public Transform {
public:
  explicit ShiftScaleRotate(ShiftScaleRotateOptions options);
  void apply(Sample &sample, SampleRng &rng) const override;
  const char *name() const override { return "ShiftScaleRotate"; }
  /// The 2x3 matrix for an image of `size` and drawn parameters.
  static cv::Matx23d matrix(cv::Size size, double angleDegrees, double scale,
                            double dx, double dy);
  /// Warps `sample` (pixels and geometry) by the 2x3 `matrix`.
  void warp(Sample &sample, const cv::Matx23d &matrix) const;

private:
  ShiftScaleRotateOptions options_;
};

/// Runs `transforms` in order on `sample`.
void applyTransforms(const std::vector<TransformPtr> &transforms,
                     Sample &sample, SampleRng &rng);

struct Batch;
/// batch_processor's batch_transforms: runs `transforms` on every image of
/// a collated batch (float NCHW), in place, updating its colorSpaces. Only
/// transforms with worksOnBatches() (BgrToYuv444, Normalize) are accepted;
/// anything else is std::invalid_argument (geometric transforms would leave
/// the batch's boxes, lanes and valid regions behind, random ones have no
/// per-sample stream here).
void applyBatchTransforms(const std::vector<TransformPtr> &transforms,
                          Batch &batch);

} // namespace hat::data

#endif // HAT_DATA_TRANSFORMS_H
