//===- Observer.h - Calibration observers -----------------------*- C++ -*-===//
//
// Per-tensor symmetric activation observers (min-max, percentile, MSE) and
// per-channel weight scales. Offline calibration in the compiler and
// calibration inside training use this same code, so observe() is a single
// pass over the data with no allocation after the first batch.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_QUANT_OBSERVER_H
#define HAT_QUANT_OBSERVER_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hat::quant {

enum class ObserverKind { MinMax, Percentile, MSE };

/// "minmax" | "percentile" | "mse"; anything else -> std::nullopt.
std::optional<ObserverKind> parseObserverKind(const std::string &name);
/// Inverse of parseObserverKind.
const char *observerKindName(ObserverKind kind);

/// Per-tensor symmetric observer. Non-finite values (NaN, +-inf) are ignored
/// entirely: they are not counted and never move min/max or the histogram,
/// so one overflowing batch cannot poison a calibration run.
class ActivationObserver {
public:
  virtual ~ActivationObserver();

  /// `bits` is 8 or 16. `percentile` (in (0, 100], clamped) is used by
  /// ObserverKind::Percentile only.
  static std::unique_ptr<ActivationObserver> create(ObserverKind kind, int bits,
                                                    double percentile = 99.99);

  /// Accumulates a batch; may be called any number of times.
  virtual void observe(const float *data, int64_t n) = 0;
  /// Scale from everything observed so far (scaleFromAbsMax(0)'s fallback
  /// when nothing finite and non-zero was seen).
  virtual float scale() const = 0;

  /// Running min / max of the finite values seen (0 before any).
  float min() const { return count_ ? min_ : 0.0f; }
  float max() const { return count_ ? max_ : 0.0f; }
  /// Number of finite values seen.
  int64_t count() const { return count_; }
  /// Number of values passed to observe(), finite or not. seen() > 0 with
  /// count() == 0 means every input was NaN/Inf: scale() would be a
  /// made-up fallback, and callers refuse to use it.
  int64_t seen() const { return seen_; }
  int bits() const { return bits_; }

protected:
  explicit ActivationObserver(int bits) : bits_(bits) {}
  /// Folds a batch's finite min/max/count into the running state.
  void updateRange(float batchMin, float batchMax, int64_t batchCount);

  int bits_;
  float min_ = 0.0f, max_ = 0.0f;
  int64_t count_ = 0;
  int64_t seen_ = 0;
};

/// Symmetric per-channel scales along `axis` (negative counts from the end) of
/// a row-major tensor of `shape`: scaleFromAbsMax(max |w| over the channel).
/// Returns an empty vector when `axis` is out of range or a dimension is
/// negative.
std::vector<float> perChannelWeightScales(const float *w,
                                          const std::vector<int64_t> &shape,
                                          int axis, int bits);

} // namespace hat::quant

#endif // HAT_QUANT_OBSERVER_H
