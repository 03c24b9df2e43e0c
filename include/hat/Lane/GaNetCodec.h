//===- GaNetCodec.h - GaNet's keypoint maps: targets and decoder -*- C++ -*-=//
//
// GaNet (Wang et al., "A Keypoint-based Global Association Network for Lane
// Detection", CVPR 2022) describes a lane by keypoints on a map at 1/d of the
// input (d = `downscale`, 8 in HAT's config):
//   heatmap       [H, W]     keypoint confidence (a Gaussian of radius
//                            `radius` around each keypoint's cell, 1 on it);
//   point offset  [2, H, W]  the keypoint's sub-cell position: (x/d, y/d)
//                            minus its cell (x, y) = floor;
//   start offset  [2, H, W]  from the keypoint's cell to its lane's start
//                            point (the lowest keypoint, at the image
//                            bottom), in map cells.
// Offsets are defined (mask 1) only on keypoint cells. Both directions live
// here, torch-free, so the trainer's targets and the CPU decoder after the
// network (int_infer and hat-run) are one code:
//
// Encoding (targets) of a lane given as a polyline in input pixels: one
// keypoint per map row r the lane spans, at y = (r + 0.5) * d, x by linear
// interpolation of the polyline at that y (rows outside the polyline's
// y-range or x outside [0, W*d) are skipped; a lane needs 2 keypoints). The
// original GANet fits a cubic and samples 360/d points; one keypoint per
// row gives the same density at d = 8 on CuLane's 320-px-high input and an
// exact round trip: decode(encode(lanes)) returns the keypoints exactly.
//
// Decoding (GANet's "fast" grouping):
//   1. keypoints: cells whose heat is the maximum of its 1x3 horizontal
//      neighbourhood and > kpt_thr (heat given as probability, or as logits
//      with `heatmapIsLogit`: the threshold applies to sigmoid(logit));
//   2. start points: keypoints whose start offset y < root_thr;
//   3. start points within cluster_thr cells of an earlier start point's
//      group join it (greedy, row-major order); each group's centre is the
//      mean of its members (truncated to whole cells, as GANet's int mean);
//   4. each keypoint votes for the first centre within cluster_thr of its
//      cell + start offset, and joins that lane (no centre: dropped);
//   5. a lane is its keypoints at (cell + point offset) * d, sorted by y
//      (top first); lanes with fewer than `minPoints` points are dropped;
//      lanes are ordered by the x of their start-point centre, left to
//      right.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_LANE_GANETCODEC_H
#define HAT_LANE_GANETCODEC_H

#include "hat/Lane/CulaneMetric.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace hat::lane {

struct GaNetTargetOptions {
  int downscale = 8;
  /// CornerNet's Gaussian: diameter 2r+1, sigma = diameter / 6.
  int radius = 2;
};

/// Targets of one image, row-major maps of `height` x `width`.
struct GaNetTargets {
  int height = 0, width = 0;
  std::vector<float> heatmap;     ///< [H*W]
  std::vector<float> pointOffset; ///< [2*H*W] x plane then y plane
  std::vector<float> startOffset; ///< [2*H*W]
  std::vector<float> offsetMask;  ///< [H*W] 1 on keypoint cells
  std::vector<std::vector<LanePoint>> keypoints; ///< per kept lane, map units
};

/// Throws std::invalid_argument for a non-positive downscale, radius < 0 or
/// an input smaller than one cell.
GaNetTargets encodeGaNet(const std::vector<Lane> &lanes, int inputHeight,
                         int inputWidth, const GaNetTargetOptions &options);

struct GaNetDecodeOptions {
  int downscale = 8;
  float kptThr = 0.4f;
  float rootThr = 1.0f;
  float clusterThr = 4.0f;
  int minPoints = 2;
  bool heatmapIsLogit = false;
};

/// One image's maps (not owned), in the layouts above.
struct GaNetMaps {
  const float *heatmap = nullptr;
  const float *pointOffset = nullptr;
  const float *startOffset = nullptr;
  int height = 0, width = 0;
};

/// Lanes in input pixels.
std::vector<Lane> decodeGaNet(const GaNetMaps &maps,
                              const GaNetDecodeOptions &options);

/// Input pixels to the stored image: x' = (x - offsetX) / scaleX + cropX,
/// y' = (y - offsetY) / scaleY + cropY (undoing Resize by the scale factors
/// and a FixedCrop at (cropX, cropY)).
void lanesToOriginalImage(std::vector<Lane> &lanes, float scaleX, float scaleY,
                          float cropX = 0, float cropY = 0);

} // namespace hat::lane

#endif // HAT_LANE_GANETCODEC_H
