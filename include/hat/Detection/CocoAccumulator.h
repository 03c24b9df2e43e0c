//===- CocoAccumulator.h - Detections of a run, scored once -----*- C++ -*-===//
//
// What a validation run collects for the COCO metric: per image the decoded
// detections (original-image pixels, 0-based labels), turned into COCO
// results with the annotation file's category ids. Torch-free, so the
// trainer's COCODetectionMetric, hat-infer and hat-run (after the HBM)
// score the same way:
//  * label l is the l-th category of the annotation file in id order (the
//    contiguous labels hat-pack gives);
//  * only the images added are evaluated, so a partial run is scored on
//    what it ran; an image added twice (a padded distributed shard) keeps
//    its first detections.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DETECTION_COCOACCUMULATOR_H
#define HAT_DETECTION_COCOACCUMULATOR_H

#include "hat/Detection/CocoEval.h"
#include "hat/Detection/FcosDecode.h"

#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hat::detection {

class CocoAccumulator {
public:
  /// Loads `annFile` (CocoFormatError naming it when malformed).
  explicit CocoAccumulator(const std::string &annFile);
  CocoAccumulator(CocoGroundTruth groundTruth, std::string name);

  /// Adds an image's detections. Throws CocoEvalError for an image id the
  /// annotation file lacks, a label without category or a non-finite score
  /// (naming the image and detection). Returns false (and adds nothing) for
  /// an image already added.
  bool add(int64_t imageId, ImageDetections detections);
  /// Adds COCO results of images (another rank's share); detections of
  /// images added before are dropped, as add() does.
  void addResults(const std::vector<int64_t> &imageIds,
                  const std::vector<DetectionBox> &results);
  void clear();

  bool empty() const { return imageIds_.empty(); }
  /// COCOeval over the added images.
  CocoEvalResult evaluate() const;
  /// "mAP" (AP@[.5:.95]) then AP50 ... ARl.
  std::vector<std::pair<std::string, double>> metrics() const;

  const std::vector<int64_t> &imageIds() const { return imageIds_; }
  const std::vector<DetectionBox> &results() const { return results_; }
  const std::vector<std::pair<int64_t, ImageDetections>> &
  imageDetections() const {
    return perImage_;
  }
  const CocoGroundTruth &groundTruth() const { return groundTruth_; }
  const std::string &name() const { return name_; }
  const std::vector<int64_t> &categoryIdOfLabel() const {
    return categoryIdOfLabel_;
  }
  bool knowsImage(int64_t id) const { return known_.count(id) != 0; }

private:
  void index();
  std::string name_;
  CocoGroundTruth groundTruth_;
  std::vector<int64_t> categoryIdOfLabel_;
  std::unordered_set<int64_t> known_, seen_;
  std::vector<int64_t> imageIds_;
  std::vector<DetectionBox> results_;
  std::vector<std::pair<int64_t, ImageDetections>> perImage_;
};

} // namespace hat::detection

#endif // HAT_DETECTION_COCOACCUMULATOR_H
