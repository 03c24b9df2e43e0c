//===- Sample.h - One decoded sample travelling through transforms --------===//
#ifndef HAT_DATA_SAMPLE_H
#define HAT_DATA_SAMPLE_H

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hat::data {

/// A box as x1, y1, x2, y2 in pixels of the current image (continuous
/// coordinates: a box covering pixel columns 3..5 has x1 = 3, x2 = 6).
using Box = std::array<float, 4>;

struct Sample {
  /// HWC image: CV_8UC1 / CV_8UC3 (BGR, RGB or YUV444) before ToTensor,
  /// CV_32F with the same channel count after it.
  cv::Mat image;
  /// "bgr", "rgb" (CuLaneDataset(to_rgb=True)), "gray" or "yuv444" (after
  /// BgrToYuv444: what the BPU takes); colour transforms check it, and it
  /// reaches the batch (Batch::colorSpaces).
  std::string colorSpace = "bgr";
  /// Set by ToTensor: image holds floats and colour transforms no longer apply.
  bool isTensor = false;

  int label = -1;
  int64_t imageId = -1;
  std::vector<Box> boxes;
  std::vector<int> boxLabels;
  std::vector<int> boxCategoryIds;
  std::vector<uint8_t> boxIsCrowd;
  /// A lane dataset's sample (CuLaneFromLMDB): its lanes are ground truth,
  /// even when there are none.
  bool hasLanes = false;
  /// Lane polylines as points in current-image pixels.
  std::vector<std::vector<cv::Point2f>> lanes;
  /// The lanes as stored, before any transform: the ground truth a lane
  /// metric compares predictions with (HAT's `ori_gt_lines`).
  std::vector<std::vector<cv::Point2f>> originalLanes;

  /// Size as stored, and the accumulated resize factors (for mapping
  /// predictions back in evaluation).
  cv::Size originalSize;
  double scaleX = 1.0, scaleY = 1.0;
  /// Where the current image's origin lies in the stored image, so that
  /// stored = current / scale + origin for crop-and-resize pipelines
  /// (FixedCrop / RandomCrop add their offset, Resize scales): HAT's
  /// `crop_offset`. Flips and rotations do not keep it meaningful.
  double originX = 0.0, originY = 0.0;
  /// The part of the current image that holds image content (x1, y1, x2,
  /// y2), once padding has been added; unset means the whole image.
  /// Geometric transforms move it with the pixels, Pad sets it.
  std::optional<Box> validRegion;

  std::size_t index = 0;
  std::string key;
  /// The stored image's path as packed (a CuLane list entry such as
  /// driver_23_30frame/05161223_0545.MP4/00000.jpg); empty when unknown.
  std::string fileName;
};

} // namespace hat::data

#endif // HAT_DATA_SAMPLE_H
