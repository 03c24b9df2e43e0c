//===- Similarity.cpp - Comparing a layer output with a reference ---------===//

#include "hat/Analysis/Similarity.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hat::analysis {

void SimilarityAccumulator::add(const float *reference, const float *test,
                                size_t n) {
  for (size_t i = 0; i < n; ++i) {
    double r = reference[i], t = test[i], e = r - t;
    dot += r * t;
    refSq += r * r;
    testSq += t * t;
    errSq += e * e;
    absErr += std::abs(e);
    maxErr = std::max(maxErr, std::abs(e));
  }
  count += int64_t(n);
}

Similarity SimilarityAccumulator::result() const {
  Similarity s;
  s.count = count;
  if (refSq == 0 && testSq == 0)
    s.cosine = 1;
  else if (refSq == 0 || testSq == 0)
    s.cosine = 0;
  else
    s.cosine = dot / std::sqrt(refSq * testSq);
  if (errSq == 0)
    s.sqnrDb = std::numeric_limits<double>::infinity();
  else if (refSq == 0)
    s.sqnrDb = -std::numeric_limits<double>::infinity();
  else
    s.sqnrDb = 10 * std::log10(refSq / errSq);
  s.maxAbsError = maxErr;
  s.meanAbsError = count ? absErr / double(count) : 0;
  return s;
}

int64_t countClipped(const float *values, size_t n, float scale, int bits) {
  const float inv = 1.0f / scale;
  const float lo = -std::ldexp(1.0f, bits - 1), hi = -lo - 1;
  int64_t clipped = 0;
  for (size_t i = 0; i < n; ++i) {
    float q = std::nearbyint(values[i] * inv);
    clipped += (q < lo || q > hi) ? 1 : 0;
  }
  return clipped;
}

int64_t countAtBounds(const int32_t *codes, size_t n, int bits) {
  const int32_t lo = -(int32_t(1) << (bits - 1)), hi = -lo - 1;
  int64_t at = 0;
  for (size_t i = 0; i < n; ++i)
    at += (codes[i] <= lo || codes[i] >= hi) ? 1 : 0;
  return at;
}

} // namespace hat::analysis
