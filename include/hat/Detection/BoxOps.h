//===- BoxOps.h - Box IoU and non-maximum suppression -----------*- C++ -*-===//
//
// Two IoU conventions live here on purpose:
//  * cocoBoxIou: COCO's (common/maskApi.c bbIou) over [x, y, w, h] in double,
//    with the crowd rule (union = the detection's area), used by the
//    evaluator so its numbers equal pycocotools'.
//  * boxIou / nms: torchvision's over corner boxes (x1, y1, x2, y2) in float,
//    no +1 on widths, used by post-processing as HAT's batched_nms does.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DETECTION_BOXOPS_H
#define HAT_DETECTION_BOXOPS_H

#include <cstdint>
#include <vector>

namespace hat::detection {

/// A corner box in pixels: x1 <= x2 and y1 <= y2 for a proper box.
struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
};

/// COCO bbox IoU of a detection `dt` and an object `gt`, both [x, y, w, h].
/// 0 when they do not overlap (also for boxes with w or h <= 0); against a
/// crowd object the union is the detection's area (intersection over the
/// detection), as in pycocotools.
double cocoBoxIou(const double dt[4], const double gt[4], bool gtIsCrowd);

/// IoU of corner boxes; 0 when the union is empty.
float boxIou(const Box &a, const Box &b);

/// Greedy NMS: visits boxes by descending score (ties: lower index first)
/// and drops every later box whose IoU with a kept box is > iouThreshold.
/// Returns the kept indices, highest score first.
std::vector<int> nms(const std::vector<Box> &boxes,
                     const std::vector<float> &scores, float iouThreshold);

/// NMS within each label only (torchvision's batched_nms): boxes of
/// different labels never suppress each other. Returns the kept indices of
/// all labels merged, highest score first (ties: lower index first).
std::vector<int> batchedNms(const std::vector<Box> &boxes,
                            const std::vector<float> &scores,
                            const std::vector<int> &labels, float iouThreshold);

/// The same result computed with torchvision's coordinate-offset trick (each
/// label's boxes shifted by label * (max coordinate + 1) so that labels
/// cannot overlap, then one plain NMS). Kept as a cross-check of batchedNms
/// and for callers that mirror the offset formulation.
std::vector<int> batchedNmsByOffset(const std::vector<Box> &boxes,
                                    const std::vector<float> &scores,
                                    const std::vector<int> &labels,
                                    float iouThreshold);

} // namespace hat::detection

#endif // HAT_DETECTION_BOXOPS_H
