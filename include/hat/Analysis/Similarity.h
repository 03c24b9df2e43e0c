//===- Similarity.h - Comparing a layer output with a reference -*- C++ -*-===//
//
// The per-tensor comparison of quantization debugging (TPU-MLIR's compare
// tool reports the same figures), over plain float arrays so every tool can
// use it without LibTorch. Values accumulate over batches: the result is the
// figure of all elements seen, not an average of per-batch figures.
//
//   cosine   = sum(r*t) / sqrt(sum(r^2) * sum(t^2))   (1 when both are 0)
//   SQNR dB  = 10 log10(sum(r^2) / sum((r-t)^2))      (+inf when equal)
//   max/mean absolute error = max / mean of |r - t|
//
//===----------------------------------------------------------------------===//

#ifndef HAT_ANALYSIS_SIMILARITY_H
#define HAT_ANALYSIS_SIMILARITY_H

#include <cstddef>
#include <cstdint>

namespace hat::analysis {

struct Similarity {
  double cosine = 1;
  double sqnrDb = 0;
  double maxAbsError = 0;
  double meanAbsError = 0;
  int64_t count = 0;
};

class SimilarityAccumulator {
public:
  /// Adds `n` reference values and the values compared with them.
  void add(const float *reference, const float *test, size_t n);
  Similarity result() const;

private:
  double dot = 0, refSq = 0, testSq = 0, errSq = 0, absErr = 0, maxErr = 0;
  int64_t count = 0;
};

/// Values the symmetric quantizer of `scale` and `bits` clips: those whose
/// nearbyint(x * (1/scale)) (docs/quantization.md section 3) lies outside
/// [-2^(bits-1), 2^(bits-1) - 1].
int64_t countClipped(const float *values, size_t n, float scale, int bits);

/// Integer codes at either end of the `bits` range (saturated outputs).
int64_t countAtBounds(const int32_t *codes, size_t n, int bits);

} // namespace hat::analysis

#endif // HAT_ANALYSIS_SIMILARITY_H
