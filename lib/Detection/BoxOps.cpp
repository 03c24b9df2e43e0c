//===- BoxOps.cpp - Box IoU and non-maximum suppression -------------------===//

#include "hat/Detection/BoxOps.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace hat::detection {

double cocoBoxIou(const double dt[4], const double gt[4], bool gtIsCrowd) {
  // Same operations in the same order as maskApi.c's bbIou so that results
  // are bit-identical (they are compared against IoU thresholds).
  const double gtArea = gt[2] * gt[3], dtArea = dt[2] * dt[3];
  const double w =
      std::fmin(dt[2] + dt[0], gt[2] + gt[0]) - std::fmax(dt[0], gt[0]);
  if (w <= 0)
    return 0;
  const double h =
      std::fmin(dt[3] + dt[1], gt[3] + gt[1]) - std::fmax(dt[1], gt[1]);
  if (h <= 0)
    return 0;
  const double inter = w * h;
  const double uni = gtIsCrowd ? dtArea : dtArea + gtArea - inter;
  return inter / uni;
}

float boxIou(const Box &a, const Box &b) {
  const float w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (w <= 0 || h <= 0)
    return 0;
  const float inter = w * h;
  const float uni = a.width() * a.height() + b.width() * b.height() - inter;
  return uni > 0 ? inter / uni : 0;
}

namespace {

std::vector<int> byScore(const std::vector<float> &scores) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scores[a] > scores[b]; });
  return order;
}

// Greedy suppression over `order` (already by descending score).
std::vector<int> suppress(const std::vector<Box> &boxes,
                          const std::vector<int> &order, float iouThreshold) {
  std::vector<int> kept;
  std::vector<char> removed(order.size(), 0);
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (removed[i])
      continue;
    kept.push_back(order[i]);
    const Box &box = boxes[order[i]];
    for (std::size_t j = i + 1; j < order.size(); ++j)
      if (!removed[j] && boxIou(box, boxes[order[j]]) > iouThreshold)
        removed[j] = 1;
  }
  return kept;
}

} // namespace

std::vector<int> nms(const std::vector<Box> &boxes,
                     const std::vector<float> &scores, float iouThreshold) {
  return suppress(boxes, byScore(scores), iouThreshold);
}

std::vector<int> batchedNms(const std::vector<Box> &boxes,
                            const std::vector<float> &scores,
                            const std::vector<int> &labels,
                            float iouThreshold) {
  // Per label, suppress among that label's boxes only; the kept sets are
  // merged back in the global score order.
  const std::vector<int> order = byScore(scores);
  std::map<int, std::vector<int>> orderOfLabel;
  for (int i : order)
    orderOfLabel[labels[i]].push_back(i);
  std::vector<char> keep(boxes.size(), 0);
  for (const auto &[label, labelOrder] : orderOfLabel)
    for (int i : suppress(boxes, labelOrder, iouThreshold))
      keep[i] = 1;
  std::vector<int> kept;
  for (int i : order)
    if (keep[i])
      kept.push_back(i);
  return kept;
}

std::vector<int> batchedNmsByOffset(const std::vector<Box> &boxes,
                                    const std::vector<float> &scores,
                                    const std::vector<int> &labels,
                                    float iouThreshold) {
  if (boxes.empty())
    return {};
  float maxCoordinate = 0;
  for (const Box &box : boxes)
    maxCoordinate = std::max({maxCoordinate, box.x1, box.y1, box.x2, box.y2});
  std::vector<Box> shifted(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const float offset = static_cast<float>(labels[i]) * (maxCoordinate + 1);
    shifted[i] = {boxes[i].x1 + offset, boxes[i].y1 + offset,
                  boxes[i].x2 + offset, boxes[i].y2 + offset};
  }
  return nms(shifted, scores, iouThreshold);
}

} // namespace hat::detection
