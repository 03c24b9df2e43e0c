//===- FcosDecode.h - FCOS post-processing on the CPU ----------*- C++ -*-===//
//
// Turns the raw multi-stride outputs of an FCOS head into per-image boxes,
// scores and labels, with the semantics of HAT's FCOSMultiStrideFilter
// (kwargs strides, threshold, score_threshold, iou_threshold, max_shape)
// followed by HAT's FCOS decoder for filter outputs (FCOSDecoderForFilter
// with its defaults). It is the same code after the int_infer executor,
// in hat-infer and after the HBM runtime in hat-run: what the BPU part of
// the model outputs is the input contract below.
//
// Input contract, per level l (stride s = strides[l]), batch-major NCHW
// float32 in contiguous memory:
//   cls        [N, C, H, W]  class logits (before sigmoid), C = numClasses
//   bbox       [N, 4, H, W]  distances left, top, right, bottom from the
//                            point, in units of the stride (the decoder
//                            multiplies by s; upscale_bbox_pred=True heads
//                            output pixels: bboxUnits = Pixels); negative
//                            values are clamped to 0, as HAT's bbox_relu
//                            does
//   centerness [N, 1, H, W]  centerness logits (before sigmoid)
// The point of cell (x, y) is (x*s + s/2, y*s + s/2) with s/2 rounded down
// (HAT's coord * stride + stride // 2).
//
// Per image:
//   1. Filter (the BPU's filter op): a cell is kept when the largest class
//      logit is > `threshold` (a logit: -2.944 = logit(0.05)).
//   2. For every class c of a kept cell with p = sigmoid(cls[c]) >
//      `scoreThreshold` (strict), a candidate with
//        score = sqrt(p * sigmoid(centerness))
//      (HAT's FCOSDecoder defaults nms_use_centerness=True, nms_sqrt=True,
//      filter_score_mul_centerness=False: the threshold applies to p alone,
//      the square root to the product; mmdetection's FCOS uses the product
//      without the root, `sqrtScore = false` gives that score),
//      box = (px - l*s, py - t*s, px + r*s, py + b*s), clamped to
//      [0, maxShape.width] x [0, maxShape.height] when maxShape is set.
//   3. Per-class NMS (batched_nms) at `iouThreshold` (IoU > threshold
//      suppresses), then the `maxPerImage` highest scores (<= 0: all).
// Candidates are visited level by level, row-major, class-minor; score ties
// keep that order, so the result is deterministic.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DETECTION_FCOSDECODE_H
#define HAT_DETECTION_FCOSDECODE_H

#include "hat/Detection/BoxOps.h"
#include "hat/Detection/CocoEval.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hat::detection {

/// Detections of one image: parallel arrays, highest score first. Labels are
/// 0-based class indices (channel of the cls output).
struct ImageDetections {
  std::vector<Box> boxes;
  std::vector<float> scores;
  std::vector<int> labels;
  std::size_t size() const { return boxes.size(); }
};

/// One level's three maps (see the contract above); not owned.
struct FcosLevel {
  const float *cls = nullptr;
  const float *bbox = nullptr;
  const float *centerness = nullptr;
  int height = 0, width = 0;
};

struct FcosDecodeOptions {
  std::vector<int> strides = {8, 16, 32, 64, 128};
  /// The filter's logit threshold; -infinity keeps every cell.
  float threshold = -std::numeric_limits<float>::infinity();
  float scoreThreshold = 0.05f;
  float iouThreshold = 0.6f;
  /// Boxes are clamped to [0, width] x [0, height] when set (max_shape is
  /// (height, width) in HAT's configs).
  struct Shape {
    float height, width;
  };
  std::optional<Shape> maxShape;
  int maxPerImage = 100;
  bool sqrtScore = true;
  enum class BboxUnits { Stride, Pixels };
  BboxUnits bboxUnits = BboxUnits::Stride;
};

/// The options a lowered FCOS model records in its `hat.post_process`
/// attribute (and an HBM in its post_process field): a JSON object with
/// "type": "FCOSMultiStrideFilter", "strides", optional "threshold",
/// "score_threshold" (0.05), "iou_threshold" (0.6), "max_shape" [h, w],
/// "max_per_img" (100), "bbox_units" ("stride" | "pixels") and
/// "num_classes" (returned through `numClasses` when given). Unknown keys
/// (e.g. "outputs", "for_compile") are left to the caller. Throws
/// FcosDecodeError naming the key on a malformed value.
FcosDecodeOptions fcosDecodeOptionsFromJson(const std::string &json,
                                            int *numClasses = nullptr);

/// Invalid shapes or options (level count vs strides, non-positive stride).
class FcosDecodeError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// Decodes image `batchIndex` of a batch of `batchSize`.
ImageDetections decodeFcosImage(const std::vector<FcosLevel> &levels,
                                int batchSize, int batchIndex, int numClasses,
                                const FcosDecodeOptions &options);

/// Decodes every image of the batch.
std::vector<ImageDetections> decodeFcos(const std::vector<FcosLevel> &levels,
                                        int batchSize, int numClasses,
                                        const FcosDecodeOptions &options);

/// Maps boxes from network-input pixels back to the original image: divides
/// x by scaleX and y by scaleY (the resize factors the val transforms
/// applied, after removing any padding offset `padLeft`/`padTop`), then
/// clamps to [0, imageWidth] x [0, imageHeight] when those are > 0.
void rescaleDetections(ImageDetections &detections, float scaleX, float scaleY,
                       float imageWidth = 0, float imageHeight = 0,
                       float padLeft = 0, float padTop = 0);

/// COCO results of one image: label l becomes categoryIdOfLabel[l]; boxes
/// become [x, y, w, h]. Throws std::out_of_range for a label without id.
std::vector<DetectionBox>
toCocoDetections(const ImageDetections &detections, int64_t imageId,
                 const std::vector<int64_t> &categoryIdOfLabel);

} // namespace hat::detection

#endif // HAT_DETECTION_FCOSDECODE_H
