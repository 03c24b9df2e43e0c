//===- CocoAccumulator.cpp - Detections of a run, scored once -------------===//

#include "hat/Detection/CocoAccumulator.h"

#include "hat/Detection/CocoJson.h"

#include <algorithm>
#include <cmath>

namespace hat::detection {

CocoAccumulator::CocoAccumulator(const std::string &annFile)
    : name_(annFile), groundTruth_(loadCocoGroundTruth(annFile)) {
  index();
}

CocoAccumulator::CocoAccumulator(CocoGroundTruth groundTruth, std::string name)
    : name_(std::move(name)), groundTruth_(std::move(groundTruth)) {
  index();
}

void CocoAccumulator::index() {
  for (const CocoCategory &c : groundTruth_.categories)
    categoryIdOfLabel_.push_back(c.id);
  std::sort(categoryIdOfLabel_.begin(), categoryIdOfLabel_.end());
  for (const CocoImage &image : groundTruth_.images)
    known_.insert(image.id);
}

void CocoAccumulator::clear() {
  seen_.clear();
  imageIds_.clear();
  results_.clear();
  perImage_.clear();
}

bool CocoAccumulator::add(int64_t imageId, ImageDetections detections) {
  if (!known_.count(imageId))
    throw CocoEvalError("image id " + std::to_string(imageId) + " is not in " +
                        name_ + " (was the validation set packed from it?)");
  if (seen_.count(imageId))
    return false;
  for (size_t k = 0; k < detections.size(); ++k) {
    if (!std::isfinite(detections.scores[k]))
      throw CocoEvalError("image " + std::to_string(imageId) + ", detection " +
                          std::to_string(k) + ": score " +
                          std::to_string(detections.scores[k]));
    const int label = detections.labels[k];
    if (label < 0 || label >= static_cast<int>(categoryIdOfLabel_.size()))
      throw CocoEvalError("image " + std::to_string(imageId) + ", detection " +
                          std::to_string(k) + ": label " +
                          std::to_string(label) + " but " + name_ + " has " +
                          std::to_string(categoryIdOfLabel_.size()) +
                          " categories");
  }
  std::vector<DetectionBox> coco =
      toCocoDetections(detections, imageId, categoryIdOfLabel_);
  results_.insert(results_.end(), coco.begin(), coco.end());
  seen_.insert(imageId);
  imageIds_.push_back(imageId);
  perImage_.emplace_back(imageId, std::move(detections));
  return true;
}

void CocoAccumulator::addResults(const std::vector<int64_t> &imageIds,
                                 const std::vector<DetectionBox> &results) {
  std::unordered_set<int64_t> fresh;
  for (int64_t id : imageIds) {
    if (!known_.count(id))
      throw CocoEvalError("image id " + std::to_string(id) + " is not in " +
                          name_);
    if (!seen_.count(id) && fresh.insert(id).second)
      imageIds_.push_back(id);
  }
  for (const DetectionBox &d : results) {
    if (!fresh.count(d.imageId))
      continue;
    results_.push_back(d);
  }
  seen_.insert(fresh.begin(), fresh.end());
}

CocoEvalResult CocoAccumulator::evaluate() const {
  CocoGroundTruth subset;
  subset.categories = groundTruth_.categories;
  for (const CocoImage &image : groundTruth_.images)
    if (seen_.count(image.id))
      subset.images.push_back(image);
  for (const GroundTruthBox &a : groundTruth_.annotations)
    if (seen_.count(a.imageId))
      subset.annotations.push_back(a);
  return evaluateCoco(subset, results_);
}

std::vector<std::pair<std::string, double>> CocoAccumulator::metrics() const {
  if (imageIds_.empty())
    return {};
  CocoEvalResult result = evaluate();
  std::vector<std::pair<std::string, double>> out;
  out.emplace_back("mAP", result.stats[0]);
  for (size_t i = 1; i < result.stats.size(); ++i)
    out.emplace_back(kCocoStatNames[i], result.stats[i]);
  return out;
}

} // namespace hat::detection
