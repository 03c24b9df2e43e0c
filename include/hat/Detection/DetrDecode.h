//===- DetrDecode.h - DETR-style set prediction to detections ---*- C++ -*-===//
//
// Deformable DETR's PostProcess on the CPU, over plain float buffers, shared
// by the trainer's predict path (int_infer included), hat-infer and hat-run.
//
// Input contract, batch-major, contiguous float32:
//   logits [N, Q, C]  class logits of the Q queries (before sigmoid)
//   boxes  [N, Q, 4]  (cx, cy, w, h), normalised to the network input
//                     (the model applies the sigmoid)
//
// Per image, as Deformable DETR's PostProcess:
//   1. p = sigmoid(logit) for every (query, class) pair, Q * C candidates;
//   2. the `numSelect` highest p (all of them when Q * C is smaller), in
//      descending score; equal scores keep the lower flat index
//      (query * C + class) first, so the result is deterministic;
//   3. candidate k takes query k / C's box and label k % C; the box becomes
//      (cx - w/2, cy - h/2, cx + w/2, cy + h/2) times the input width and
//      height (network-input pixels; DetectionPostProcessor::toOriginalImage
//      maps them back to the stored image).
// There is no NMS and no score threshold: COCO's maxDets=100 reads the
// ranked list, as in Deformable DETR's evaluation.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DETECTION_DETRDECODE_H
#define HAT_DETECTION_DETRDECODE_H

#include "hat/Detection/FcosDecode.h"

#include <cstdint>
#include <string>
#include <vector>

namespace hat::detection {

struct DetrDecodeOptions {
  /// Candidates kept per image (Deformable DETR's num_select).
  int numSelect = 100;
  /// The network input's size in pixels: boxes are normalised to it.
  float inputHeight = 0, inputWidth = 0;
};

/// The options a lowered DETR model records in `hat.post_process`:
/// "type": "DeformableDETRPostProcess", "num_select" (100), "input_size"
/// [h, w] (required), "num_classes" (returned through `numClasses`).
/// Throws FcosDecodeError naming the key on a malformed value.
DetrDecodeOptions detrDecodeOptionsFromJson(const std::string &json,
                                            int *numClasses = nullptr);

/// Decodes every image of a batch of `batchSize` images of `queries` queries
/// and `numClasses` classes.
std::vector<ImageDetections> decodeDetr(const float *logits, const float *boxes,
                                        int batchSize, int queries,
                                        int numClasses,
                                        const DetrDecodeOptions &options);

} // namespace hat::detection

#endif // HAT_DETECTION_DETRDECODE_H
