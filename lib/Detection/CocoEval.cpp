//===- CocoEval.cpp - COCO bbox evaluation
//---------------------------------===//
//
// Layout of the computation (why it is fast): annotations and detections are
// grouped once by (category, image); each category is one task for the
// worker threads. A task matches its (image, category) pairs for the 4 area
// ranges and 10 IoU thresholds, keeping per detection two 10-bit masks per
// area range (true positive, ignored), then sorts its detections once by
// score and sweeps them for each (area, maxDets, threshold). pycocotools
// does the same work with Python loops over dicts.
//
//===----------------------------------------------------------------------===//

#include "hat/Detection/CocoEval.h"
#include "hat/Detection/BoxOps.h"

#include "Parallel.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

namespace hat::detection {

const std::array<const char *, 12> kCocoStatNames = {
    "AP",  "AP50", "AP75",  "APs", "APm", "APl",
    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

const std::array<int, 3> kCocoMaxDets = {1, 10, 100};

const std::array<std::array<double, 2>, 4> kCocoAreaRanges = {{
    {0.0, 1e5 * 1e5},
    {0.0, 32.0 * 32.0},
    {32.0 * 32.0, 96.0 * 96.0},
    {96.0 * 96.0, 1e5 * 1e5},
}};

namespace {

constexpr int kT = 10, kR = 101, kA = 4, kM = 3;
constexpr int kMaxDet = 100;

// numpy.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start,
// the last element set to stop. Recall thresholds are compared with tp/npig
// exactly, so the same doubles as numpy's matter.
template <std::size_t N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> values{};
  const double step = (stop - start) / static_cast<double>(N - 1);
  for (std::size_t i = 0; i < N; ++i)
    values[i] = static_cast<double>(i) * step + start;
  values[N - 1] = stop;
  return values;
}

// One detection of a category after per-image sorting and the 100 cut.
struct ScoredDetection {
  double score;
  uint32_t image; // index into the sorted image ids
  uint16_t rank;  // position within its (image, category), by score
  // Per area range: bit t set when the detection is a true positive /
  // ignored at IoU threshold t. Neither bit set: a false positive.
  std::array<uint16_t, kA> truePositive{};
  std::array<uint16_t, kA> ignored{};
};

struct Indexed {
  std::unordered_map<int64_t, uint32_t> imageIndex, categoryIndex;
  std::vector<int64_t> imageIds, categoryIds;
};

Indexed indexIds(const CocoGroundTruth &gt) {
  Indexed index;
  for (const CocoImage &image : gt.images)
    index.imageIds.push_back(image.id);
  for (const CocoCategory &category : gt.categories)
    index.categoryIds.push_back(category.id);
  std::sort(index.imageIds.begin(), index.imageIds.end());
  std::sort(index.categoryIds.begin(), index.categoryIds.end());
  for (uint32_t i = 0; i < index.imageIds.size(); ++i)
    index.imageIndex.emplace(index.imageIds[i], i);
  for (uint32_t k = 0; k < index.categoryIds.size(); ++k)
    index.categoryIndex.emplace(index.categoryIds[k], k);
  return index;
}

// Stable grouping by (category, image): the returned order lists element
// indices category-major, then image, then input order.
template <typename T>
std::vector<uint32_t> groupOrder(const std::vector<T> &items,
                                 const Indexed &index) {
  const uint64_t numImages = index.imageIds.size();
  std::vector<uint64_t> keys(items.size());
  for (std::size_t j = 0; j < items.size(); ++j)
    keys[j] = index.categoryIndex.at(items[j].categoryId) * numImages +
              index.imageIndex.at(items[j].imageId);
  std::vector<uint32_t> order(items.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  return order;
}

std::string describeDetection(std::size_t j, const DetectionBox &det) {
  return "detection #" + std::to_string(j) + " (image_id " +
         std::to_string(det.imageId) + ", category_id " +
         std::to_string(det.categoryId) + ")";
}

std::string describeAnnotation(std::size_t j, const GroundTruthBox &box) {
  return "annotation #" + std::to_string(j) + " (id " + std::to_string(box.id) +
         ")";
}

// Matches the detections of one (image, category) in every area range and
// at every threshold, appending them to `out`; adds the non-ignored objects
// per area range to `npig`.
void evaluateImage(const std::vector<const GroundTruthBox *> &gts,
                   std::vector<const DetectionBox *> &dets, uint32_t image,
                   std::array<int64_t, kA> &npig,
                   std::vector<ScoredDetection> &out) {
  const std::array<double, kT> &iouThresholds = cocoIouThresholds();
  // Highest score first, ties in input order (numpy's stable mergesort of
  // -score), then the maxDets[-1] cut.
  std::stable_sort(dets.begin(), dets.end(),
                   [](const DetectionBox *a, const DetectionBox *b) {
                     return a->score > b->score;
                   });
  if (dets.size() > static_cast<std::size_t>(kMaxDet))
    dets.resize(kMaxDet);
  const std::size_t numDets = dets.size(), numGts = gts.size();

  std::vector<double> ious(numDets * numGts);
  for (std::size_t d = 0; d < numDets; ++d) {
    const double dt[4] = {dets[d]->x, dets[d]->y, dets[d]->width,
                          dets[d]->height};
    for (std::size_t g = 0; g < numGts; ++g) {
      const double box[4] = {gts[g]->x, gts[g]->y, gts[g]->width,
                             gts[g]->height};
      ious[d * numGts + g] = cocoBoxIou(dt, box, gts[g]->iscrowd);
    }
  }

  const std::size_t first = out.size();
  for (std::size_t d = 0; d < numDets; ++d) {
    ScoredDetection entry;
    entry.score = dets[d]->score;
    entry.image = image;
    entry.rank = static_cast<uint16_t>(d);
    out.push_back(entry);
  }

  std::vector<uint32_t> gtOrder(numGts);
  std::vector<char> gtIgnored(numGts), matched(numGts);
  for (int a = 0; a < kA; ++a) {
    const double lo = kCocoAreaRanges[a][0], hi = kCocoAreaRanges[a][1];
    // Non-ignored objects first, each group in input order (stable).
    std::size_t position = 0;
    for (int pass = 0; pass < 2; ++pass)
      for (uint32_t g = 0; g < numGts; ++g) {
        const GroundTruthBox &box = *gts[g];
        const bool ignore = box.iscrowd || box.area < lo || box.area > hi;
        if (ignore == (pass == 1)) {
          gtOrder[position] = g;
          gtIgnored[position] = ignore;
          ++position;
        }
      }
    for (std::size_t s = 0; s < numGts; ++s)
      npig[a] += !gtIgnored[s];

    for (int t = 0; t < kT; ++t) {
      std::fill(matched.begin(), matched.end(), 0);
      for (std::size_t d = 0; d < numDets; ++d) {
        double best = std::min(iouThresholds[t], 1 - 1e-10);
        long m = -1;
        for (std::size_t s = 0; s < numGts; ++s) {
          const GroundTruthBox &box = *gts[gtOrder[s]];
          if (matched[s] && !box.iscrowd)
            continue;
          // Once matched to a regular object, ignored ones cannot win.
          if (m > -1 && !gtIgnored[m] && gtIgnored[s])
            break;
          const double iou = ious[d * numGts + gtOrder[s]];
          if (iou < best)
            continue;
          best = iou;
          m = static_cast<long>(s);
        }
        bool isMatch = false, ignore = false;
        if (m > -1) {
          matched[m] = 1;
          ignore = gtIgnored[m];
          // pycocotools stores the object's id and tests it against 0.
          isMatch = gts[gtOrder[m]]->id != 0;
        }
        const double area = dets[d]->width * dets[d]->height;
        if (!isMatch && (area < lo || area > hi))
          ignore = true;
        ScoredDetection &entry = out[first + d];
        if (ignore)
          entry.ignored[a] |= uint16_t(1u << t);
        else if (isMatch)
          entry.truePositive[a] |= uint16_t(1u << t);
      }
    }
  }
}

// accumulate() for one category: fills its slices of precision and recall.
void accumulateCategory(std::vector<ScoredDetection> &dets,
                        const std::array<int64_t, kA> &npig, int k, int K,
                        std::vector<double> &precision,
                        std::vector<double> &recall) {
  const std::array<double, kR> &recallThresholds = cocoRecallThresholds();
  // Concatenated by image then rank, so a stable sort by score reproduces
  // pycocotools' mergesort of the concatenation for every maxDets cut.
  std::stable_sort(dets.begin(), dets.end(),
                   [](const ScoredDetection &a, const ScoredDetection &b) {
                     return a.score > b.score;
                   });
  std::vector<const ScoredDetection *> kept;
  std::vector<double> rc, pr;
  const double eps = 2.220446049250313e-16; // np.spacing(1)
  for (int a = 0; a < kA; ++a) {
    if (npig[a] == 0)
      continue; // -1: no object to recall
    const double numPositives = static_cast<double>(npig[a]);
    for (int m = 0; m < kM; ++m) {
      kept.clear();
      for (const ScoredDetection &det : dets)
        if (det.rank < kCocoMaxDets[m])
          kept.push_back(&det);
      const std::size_t nd = kept.size();
      rc.resize(nd);
      pr.resize(nd);
      for (int t = 0; t < kT; ++t) {
        const uint16_t bit = uint16_t(1u << t);
        int64_t tp = 0, fp = 0;
        for (std::size_t j = 0; j < nd; ++j) {
          if (kept[j]->truePositive[a] & bit)
            ++tp;
          else if (!(kept[j]->ignored[a] & bit))
            ++fp;
          const double tpd = static_cast<double>(tp);
          rc[j] = tpd / numPositives;
          pr[j] = tpd / (static_cast<double>(fp + tp) + eps);
        }
        recall[((std::size_t)t * K + k) * kA * kM + a * kM + m] =
            nd ? rc[nd - 1] : 0.0;
        for (std::size_t j = nd; j-- > 1;)
          if (pr[j] > pr[j - 1])
            pr[j - 1] = pr[j];
        // searchsorted(rc, recThrs, side='left'); past the end: 0.
        std::size_t j = 0;
        for (int r = 0; r < kR; ++r) {
          while (j < nd && rc[j] < recallThresholds[r])
            ++j;
          precision[(((std::size_t)t * kR + r) * K + k) * kA * kM + a * kM +
                    m] = j < nd ? pr[j] : 0.0;
        }
      }
    }
  }
}

// Mean of the entries > -1, or -1 when there are none (summarize()). The
// long double sum keeps the rounding below numpy's pairwise summation's.
template <typename Select> double meanDefined(Select &&forEach) {
  long double sum = 0;
  int64_t count = 0;
  forEach([&](double value) {
    if (value > -1) {
      sum += value;
      ++count;
    }
  });
  return count ? static_cast<double>(sum / count) : -1.0;
}

int thresholdIndex(double iou) {
  const auto &thresholds = cocoIouThresholds();
  for (int t = 0; t < kT; ++t)
    if (thresholds[t] == iou)
      return t;
  return -1;
}

} // namespace

const std::array<double, 10> &cocoIouThresholds() {
  static const std::array<double, 10> values = linspace<10>(0.5, 0.95);
  return values;
}

const std::array<double, 101> &cocoRecallThresholds() {
  static const std::array<double, 101> values = linspace<101>(0.0, 1.0);
  return values;
}

double CocoEvalResult::precisionAt(int t, int r, int k, int a, int m) const {
  const std::size_t K = categoryIds.size();
  return precision[(((std::size_t)t * kR + r) * K + k) * kA * kM + a * kM + m];
}

double CocoEvalResult::recallAt(int t, int k, int a, int m) const {
  const std::size_t K = categoryIds.size();
  return recall[((std::size_t)t * K + k) * kA * kM + a * kM + m];
}

void validateCocoInput(const CocoGroundTruth &gt,
                       const std::vector<DetectionBox> &detections) {
  std::unordered_set<int64_t> images, categories, annotations;
  for (const CocoImage &image : gt.images)
    if (!images.insert(image.id).second)
      throw CocoEvalError("duplicate image id " + std::to_string(image.id));
  for (const CocoCategory &category : gt.categories)
    if (!categories.insert(category.id).second)
      throw CocoEvalError("duplicate category id " +
                          std::to_string(category.id));
  for (std::size_t j = 0; j < gt.annotations.size(); ++j) {
    const GroundTruthBox &box = gt.annotations[j];
    if (!annotations.insert(box.id).second)
      throw CocoEvalError(describeAnnotation(j, box) + ": duplicate id");
    if (!images.count(box.imageId))
      throw CocoEvalError(describeAnnotation(j, box) + ": unknown image_id " +
                          std::to_string(box.imageId));
    if (!categories.count(box.categoryId))
      throw CocoEvalError(describeAnnotation(j, box) +
                          ": unknown category_id " +
                          std::to_string(box.categoryId));
    if (!std::isfinite(box.x) || !std::isfinite(box.y) ||
        !std::isfinite(box.width) || !std::isfinite(box.height) ||
        !std::isfinite(box.area))
      throw CocoEvalError(describeAnnotation(j, box) +
                          ": bbox or area is not finite");
  }
  for (std::size_t j = 0; j < detections.size(); ++j) {
    const DetectionBox &det = detections[j];
    if (!images.count(det.imageId))
      throw CocoEvalError(describeDetection(j, det) +
                          ": image_id is not an image of the ground truth");
    if (!categories.count(det.categoryId))
      throw CocoEvalError(describeDetection(j, det) +
                          ": category_id is not a category of the ground "
                          "truth");
    if (std::isnan(det.score))
      throw CocoEvalError(describeDetection(j, det) + ": score is NaN");
    if (!std::isfinite(det.x) || !std::isfinite(det.y) ||
        !std::isfinite(det.width) || !std::isfinite(det.height))
      throw CocoEvalError(describeDetection(j, det) + ": bbox is not finite");
  }
}

CocoEvalResult evaluateCoco(const CocoGroundTruth &gt,
                            const std::vector<DetectionBox> &detections,
                            const CocoEvalOptions &options) {
  validateCocoInput(gt, detections);
  const Indexed index = indexIds(gt);
  const int K = static_cast<int>(index.categoryIds.size());
  const std::vector<uint32_t> gtOrder = groupOrder(gt.annotations, index);
  const std::vector<uint32_t> detOrder = groupOrder(detections, index);

  // Where each category's run starts in the grouped orders.
  auto categoryStarts = [&](const auto &items,
                            const std::vector<uint32_t> &order) {
    std::vector<std::size_t> starts(K + 1, order.size());
    for (std::size_t p = order.size(); p-- > 0;)
      starts[index.categoryIndex.at(items[order[p]].categoryId)] = p;
    for (int k = K - 1; k >= 0; --k)
      starts[k] = std::min(starts[k], starts[k + 1]);
    return starts;
  };
  const std::vector<std::size_t> gtStart =
      categoryStarts(gt.annotations, gtOrder);
  const std::vector<std::size_t> detStart =
      categoryStarts(detections, detOrder);

  CocoEvalResult result;
  result.categoryIds = index.categoryIds;
  result.precision.assign((std::size_t)kT * kR * K * kA * kM, -1.0);
  result.recall.assign((std::size_t)kT * K * kA * kM, -1.0);

  detail::parallelFor(K, options.threads, [&](std::size_t k) {
    std::vector<ScoredDetection> scored;
    std::array<int64_t, kA> npig{};
    std::vector<const GroundTruthBox *> gts;
    std::vector<const DetectionBox *> dets;
    std::size_t g = gtStart[k], d = detStart[k];
    const std::size_t gEnd = gtStart[k + 1], dEnd = detStart[k + 1];
    while (g < gEnd || d < dEnd) {
      const uint32_t gImage =
          g < gEnd ? index.imageIndex.at(gt.annotations[gtOrder[g]].imageId)
                   : UINT32_MAX;
      const uint32_t dImage =
          d < dEnd ? index.imageIndex.at(detections[detOrder[d]].imageId)
                   : UINT32_MAX;
      const uint32_t image = std::min(gImage, dImage);
      gts.clear();
      dets.clear();
      for (; g < gEnd &&
             index.imageIndex.at(gt.annotations[gtOrder[g]].imageId) == image;
           ++g)
        gts.push_back(&gt.annotations[gtOrder[g]]);
      for (; d < dEnd &&
             index.imageIndex.at(detections[detOrder[d]].imageId) == image;
           ++d)
        dets.push_back(&detections[detOrder[d]]);
      evaluateImage(gts, dets, image, npig, scored);
    }
    accumulateCategory(scored, npig, static_cast<int>(k), K, result.precision,
                       result.recall);
  });

  // summarize()
  auto precisionMean = [&](int t, int a, int m, int k) {
    return meanDefined([&](auto &&visit) {
      for (int tt = 0; tt < kT; ++tt) {
        if (t >= 0 && tt != t)
          continue;
        for (int r = 0; r < kR; ++r)
          for (int kk = 0; kk < K; ++kk)
            if (k < 0 || kk == k)
              visit(result.precisionAt(tt, r, kk, a, m));
      }
    });
  };
  auto recallMean = [&](int a, int m) {
    return meanDefined([&](auto &&visit) {
      for (int t = 0; t < kT; ++t)
        for (int k = 0; k < K; ++k)
          visit(result.recallAt(t, k, a, m));
    });
  };
  // summarize() looks thresholds up by value; a missing one gives -1.
  const int t50 = thresholdIndex(0.5), t75 = thresholdIndex(0.75);
  std::array<double, 12> &s = result.stats;
  s[0] = precisionMean(-1, 0, 2, -1);
  s[1] = t50 < 0 ? -1 : precisionMean(t50, 0, 2, -1);
  s[2] = t75 < 0 ? -1 : precisionMean(t75, 0, 2, -1);
  s[3] = precisionMean(-1, 1, 2, -1);
  s[4] = precisionMean(-1, 2, 2, -1);
  s[5] = precisionMean(-1, 3, 2, -1);
  s[6] = recallMean(0, 0);
  s[7] = recallMean(0, 1);
  s[8] = recallMean(0, 2);
  s[9] = recallMean(1, 2);
  s[10] = recallMean(2, 2);
  s[11] = recallMean(3, 2);
  for (int k = 0; k < K; ++k) {
    result.categoryAP.push_back(precisionMean(-1, 0, 2, k));
    result.categoryAP50.push_back(t50 < 0 ? -1 : precisionMean(t50, 0, 2, k));
  }
  return result;
}

} // namespace hat::detection
