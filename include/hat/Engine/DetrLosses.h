//===- DetrLosses.h - Hungarian matcher and set criterion -------*- C++ -*-===//
//
// Deformable DETR's training targets (issue 11), on LibTorch tensors:
//
//   HungarianMatcher   per image, the minimum-cost one-to-one assignment of
//                      queries to objects (hat::detection::
//                      linearSumAssignment), over the cost
//                        cost_class * C_cls + cost_bbox * L1 + cost_giou *
//                        -GIoU
//                      with Deformable DETR's focal class cost
//                        C_cls = alpha (1-p)^g (-log(p+1e-8))
//                                - (1-alpha) p^g (-log(1-p+1e-8))
//                      at the object's class (p = sigmoid of the query's
//                      logit), L1 on normalised (cx, cy, w, h) boxes and the
//                      GIoU of the corner boxes.
//   SetCriterion       the losses of the matched set, Deformable DETR's
//                      definitions: loss_ce = sigmoid focal loss over every
//                      query and class (one-hot targets of the matched
//                      queries) summed / num_boxes; loss_bbox = L1 of the
//                      matched boxes / num_boxes; loss_giou = (1 - GIoU) of
//                      the matched boxes / num_boxes; num_boxes = max(objects
//                      in the batch, 1). Each is multiplied by its
//                      coefficient. With auxiliary decoder outputs the same
//                      three are added per layer as loss_ce_<i>, ...
//
// Boxes are normalised (cx, cy, w, h) in [0, 1], as DETR predicts them.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_ENGINE_DETRLOSSES_H
#define HAT_ENGINE_DETRLOSSES_H

#include "hat/Config/Diagnostic.h"
#include "hat/Config/Value.h"

#include <ATen/core/Tensor.h>

#include <memory>

#include <string>
#include <utility>
#include <vector>

namespace hat::engine {

/// Per image: labels [M] int64 in [0, C) and boxes [M, 4] cxcywh.
struct SetTargets {
  std::vector<at::Tensor> labels, boxes;
};

/// (cx, cy, w, h) -> (x1, y1, x2, y2).
at::Tensor boxCxcywhToXyxy(const at::Tensor &boxes);
/// Pairwise GIoU [A, B] of corner boxes [A, 4] and [B, 4] (DETR's
/// generalized_box_iou: no epsilon; degenerate boxes give NaN).
at::Tensor pairwiseGIoU(const at::Tensor &a, const at::Tensor &b);

struct HungarianMatcherOptions {
  double costClass = 2.0, costBbox = 5.0, costGiou = 2.0;
  double focalAlpha = 0.25, focalGamma = 2.0;
};

class HungarianMatcher {
public:
  /// Throws std::invalid_argument when every cost weight is 0.
  explicit HungarianMatcher(HungarianMatcherOptions options);
  /// logits [N, Q, C], boxes [N, Q, 4]; per image the (query, object) index
  /// pairs, two int64 tensors [min(Q, M)] ordered by query. No gradient.
  std::vector<std::pair<at::Tensor, at::Tensor>>
  match(const at::Tensor &logits, const at::Tensor &boxes,
        const SetTargets &targets) const;
  /// The cost matrix [Q, M] of image `n` (for tests and debugging).
  at::Tensor costMatrix(const at::Tensor &logits, const at::Tensor &boxes,
                        const SetTargets &targets, int64_t n) const;

private:
  HungarianMatcherOptions options_;
};

struct SetCriterionOptions {
  double lossCe = 2.0, lossBbox = 5.0, lossGiou = 2.0;
  double focalAlpha = 0.25, focalGamma = 2.0;
};

class SetCriterion {
public:
  SetCriterion(HungarianMatcher matcher, SetCriterionOptions options);
  /// Decoder layers' outputs, last layer last: each (logits [N, Q, C],
  /// boxes [N, Q, 4]). Returns loss_ce, loss_bbox, loss_giou of the last
  /// layer, then the same with suffix _<i> for layer i of the others.
  std::vector<std::pair<std::string, at::Tensor>>
  operator()(const std::vector<std::pair<at::Tensor, at::Tensor>> &layers,
             const SetTargets &targets) const;

private:
  HungarianMatcher matcher_;
  SetCriterionOptions options_;
};

/// The set criterion of a DeformableDETR model config: its `criterion`
/// kwarg, `dict(type="SetCriterion", matcher=dict(type="HungarianMatcher",
/// cost_class=2.0, cost_bbox=5.0, cost_giou=2.0), loss_ce=2.0,
/// loss_bbox=5.0, loss_giou=2.0, focal_alpha=0.25, focal_gamma=2.0)` (the
/// values shown are the defaults). An error names the config line.
config::Expected<std::shared_ptr<const SetCriterion>>
buildSetCriterion(const config::Value &detrModelConfig);

/// The set targets of a collated detection batch for a network input of
/// `height` x `width`: boxes (x1, y1, x2, y2 in input pixels) become
/// normalised (cx, cy, w, h); objects with a negative label (crowd, ignore)
/// are left out, as DETR trains on non-crowd objects only.
SetTargets setTargetsFromBoxes(const std::vector<at::Tensor> &boxes,
                               const std::vector<at::Tensor> &labels,
                               int64_t height, int64_t width);

} // namespace hat::engine

#endif // HAT_ENGINE_DETRLOSSES_H
