//===- CulaneMetric.cpp - Per-image counts and the accumulated F1 ---------===//

#include "hat/Lane/CulaneMetric.h"

#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace hat::lane {

void validateCulaneOptions(const CulaneOptions &options) {
  // cv::line refuses thickness above 32767; canvases beyond it are no image.
  auto check = [](int value, const char *name) {
    if (value < 1 || value > 32767)
      throw std::invalid_argument(std::string(name) +
                                  " must be in 1..32767, not " +
                                  std::to_string(value));
  };
  check(options.imageWidth, "image width");
  check(options.imageHeight, "image height");
  check(options.laneWidth, "lane width");
  if (!std::isfinite(options.iouThreshold))
    throw std::invalid_argument("IoU threshold must be finite");
}

double culaneLaneIoU(const Lane &a, const Lane &b,
                     const CulaneOptions &options) {
  if (a.size() < 2 || b.size() < 2)
    return 0;
  const LaneMask maskA = rasterizeCulaneLane(a, options);
  const LaneMask maskB = rasterizeCulaneLane(b, options);
  const double both = static_cast<double>(laneMaskIntersection(maskA, maskB));
  // The official order of operations: (sum1 + sum2) - intersection.
  const double either = static_cast<double>(maskA.count) +
                        static_cast<double>(maskB.count) - both;
  return both / either;
}

CulaneImageResult evaluateCulaneImage(const std::vector<Lane> &gt,
                                      const std::vector<Lane> &pred,
                                      const CulaneOptions &options) {
  CulaneImageResult result;
  result.gtMatch.assign(gt.size(), -1);
  for (const Lane &lane : gt)
    result.degenerateGt += lane.size() < 2;
  for (const Lane &lane : pred)
    result.degeneratePred += lane.size() < 2;
  if (gt.empty() || pred.empty()) {
    result.fp = static_cast<int64_t>(pred.size());
    result.fn = static_cast<int64_t>(gt.size());
    return result;
  }

  // Each lane is drawn once; the pairs only intersect the drawings.
  std::vector<LaneMask> gtMasks, predMasks;
  gtMasks.reserve(gt.size());
  predMasks.reserve(pred.size());
  for (const Lane &lane : gt)
    gtMasks.push_back(rasterizeCulaneLane(lane, options));
  for (const Lane &lane : pred)
    predMasks.push_back(rasterizeCulaneLane(lane, options));

  std::vector<std::vector<double>> iou(gt.size(),
                                       std::vector<double>(pred.size(), 0.0));
  for (std::size_t i = 0; i < gt.size(); ++i) {
    if (gt[i].size() < 2)
      continue;
    for (std::size_t j = 0; j < pred.size(); ++j) {
      if (pred[j].size() < 2)
        continue;
      const double both =
          static_cast<double>(laneMaskIntersection(gtMasks[i], predMasks[j]));
      const double either = static_cast<double>(gtMasks[i].count) +
                            static_cast<double>(predMasks[j].count) - both;
      iou[i][j] = both / either;
    }
  }

  const std::vector<int> match = culaneAssignment(iou);
  for (std::size_t i = 0; i < gt.size(); ++i) {
    if (match[i] >= 0 && iou[i][match[i]] > options.iouThreshold) {
      result.gtMatch[i] = match[i];
      ++result.tp;
    }
  }
  result.fn = static_cast<int64_t>(gt.size()) - result.tp;
  result.fp = static_cast<int64_t>(pred.size()) - result.tp;
  return result;
}

void CulaneCounts::add(const CulaneImageResult &image) {
  tp += image.tp;
  fp += image.fp;
  fn += image.fn;
  degenerateGt += image.degenerateGt;
  degeneratePred += image.degeneratePred;
  ++images;
}

void CulaneCounts::add(const CulaneCounts &other) {
  tp += other.tp;
  fp += other.fp;
  fn += other.fn;
  images += other.images;
  degenerateGt += other.degenerateGt;
  degeneratePred += other.degeneratePred;
}

std::optional<double> CulaneCounts::precision() const {
  if (tp + fp == 0)
    return std::nullopt;
  return static_cast<double>(tp) / static_cast<double>(tp + fp);
}

std::optional<double> CulaneCounts::recall() const {
  if (tp + fn == 0)
    return std::nullopt;
  return static_cast<double>(tp) / static_cast<double>(tp + fn);
}

std::optional<double> CulaneCounts::f1() const {
  const std::optional<double> p = precision(), r = recall();
  if (!p || !r)
    return std::nullopt;
  if (*p + *r == 0)
    return 0.0;
  return 2 * *p * *r / (*p + *r);
}

CulaneF1Score::CulaneF1Score(CulaneOptions options,
                             std::vector<std::string> categories)
    : options_(options), categories_(std::move(categories)),
      perCategory_(categories_.size()) {
  validateCulaneOptions(options_);
}

namespace {

CulaneImageResult evaluateWithCanvas(const CulaneImage &image,
                                     const CulaneOptions &defaults) {
  CulaneOptions options = defaults;
  if (image.imageWidth > 0 || image.imageHeight > 0) {
    if (image.imageWidth > 0)
      options.imageWidth = image.imageWidth;
    if (image.imageHeight > 0)
      options.imageHeight = image.imageHeight;
    validateCulaneOptions(options);
  }
  return evaluateCulaneImage(image.gt, image.pred, options);
}

} // namespace

CulaneImageResult CulaneF1Score::update(const CulaneImage &image) {
  if (image.category < -1 ||
      image.category >= static_cast<int>(categories_.size()))
    throw std::out_of_range("CulaneF1Score: category " +
                            std::to_string(image.category) +
                            " is not one of the " +
                            std::to_string(categories_.size()) + " categories");
  CulaneImageResult result = evaluateWithCanvas(image, options_);
  add(result, image.category);
  return result;
}

CulaneImageResult CulaneF1Score::update(const std::vector<Lane> &gt,
                                        const std::vector<Lane> &pred,
                                        int category) {
  CulaneImage image;
  image.gt = gt;
  image.pred = pred;
  image.category = category;
  return update(image);
}

void CulaneF1Score::updateAll(const std::vector<CulaneImage> &images,
                              unsigned threads) {
  for (const CulaneImage &image : images)
    if (image.category < -1 ||
        image.category >= static_cast<int>(categories_.size()))
      throw std::out_of_range(
          "CulaneF1Score: category " + std::to_string(image.category) +
          " is not one of the " + std::to_string(categories_.size()) +
          " categories");
  std::vector<CulaneImageResult> results(images.size());
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failureMutex;
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < images.size();) {
      try {
        results[i] = evaluateWithCanvas(images[i], options_);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failureMutex);
        if (!failure)
          failure = std::current_exception();
        next = images.size();
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < images.size(); ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &thread : pool)
    thread.join();
  if (failure)
    std::rethrow_exception(failure);
  // Accumulated in image order; the sums are integers, so the result is the
  // same for every thread count anyway.
  for (std::size_t i = 0; i < images.size(); ++i)
    add(results[i], images[i].category);
}

void CulaneF1Score::add(const CulaneImageResult &result, int category) {
  if (category < -1 || category >= static_cast<int>(categories_.size()))
    throw std::out_of_range("CulaneF1Score: category " +
                            std::to_string(category) + " is not one of the " +
                            std::to_string(categories_.size()) + " categories");
  total_.add(result);
  if (category >= 0)
    perCategory_[category].add(result);
}

void CulaneF1Score::reset() {
  total_ = CulaneCounts();
  perCategory_.assign(categories_.size(), CulaneCounts());
}

namespace {

constexpr std::size_t kStateFields = 6;

void appendState(const CulaneCounts &counts, std::vector<double> &state) {
  for (int64_t value : {counts.tp, counts.fp, counts.fn, counts.images,
                        counts.degenerateGt, counts.degeneratePred})
    state.push_back(static_cast<double>(value));
}

CulaneCounts readState(const double *values) {
  CulaneCounts counts;
  counts.tp = static_cast<int64_t>(values[0]);
  counts.fp = static_cast<int64_t>(values[1]);
  counts.fn = static_cast<int64_t>(values[2]);
  counts.images = static_cast<int64_t>(values[3]);
  counts.degenerateGt = static_cast<int64_t>(values[4]);
  counts.degeneratePred = static_cast<int64_t>(values[5]);
  return counts;
}

} // namespace

std::vector<double> CulaneF1Score::state() const {
  std::vector<double> state;
  state.reserve(kStateFields * (1 + perCategory_.size()));
  appendState(total_, state);
  for (const CulaneCounts &counts : perCategory_)
    appendState(counts, state);
  return state;
}

void CulaneF1Score::mergeState(const std::vector<double> &other) {
  const std::size_t expected = kStateFields * (1 + categories_.size());
  if (other.size() != expected)
    throw std::invalid_argument(
        "CulaneF1Score state has " + std::to_string(other.size()) +
        " values, expected " + std::to_string(expected) + " (6 counts for " +
        "the total and each of " + std::to_string(categories_.size()) +
        " categories)");
  for (std::size_t i = 0; i < other.size(); ++i) {
    const double value = other[i];
    if (!(value >= 0 && value <= 9007199254740992.0) ||
        value != std::floor(value))
      throw std::invalid_argument("CulaneF1Score state value " +
                                  std::to_string(i) +
                                  " is not a non-negative integer count");
  }
  total_.add(readState(other.data()));
  for (std::size_t k = 0; k < perCategory_.size(); ++k)
    perCategory_[k].add(readState(other.data() + kStateFields * (k + 1)));
}

const std::vector<std::string> &culaneTestCategories() {
  static const std::vector<std::string> names = {"normal", "crowd",  "hlight",
                                                 "shadow", "noline", "arrow",
                                                 "curve",  "cross",  "night"};
  return names;
}

} // namespace hat::lane
