//===- Observer.cpp - Calibration observers -------------------------------===//

#include "hat/Quant/Observer.h"

#include "hat/Quant/FixedPoint.h"

#include <algorithm>
#include <cmath>

namespace hat::quant {

std::optional<ObserverKind> parseObserverKind(const std::string &name) {
  if (name == "minmax")
    return ObserverKind::MinMax;
  if (name == "percentile")
    return ObserverKind::Percentile;
  if (name == "mse")
    return ObserverKind::MSE;
  return std::nullopt;
}

const char *observerKindName(ObserverKind kind) {
  switch (kind) {
  case ObserverKind::MinMax:
    return "minmax";
  case ObserverKind::Percentile:
    return "percentile";
  case ObserverKind::MSE:
    return "mse";
  }
  return "minmax";
}

ActivationObserver::~ActivationObserver() = default;

void ActivationObserver::updateRange(float batchMin, float batchMax,
                                     int64_t batchCount) {
  if (batchCount == 0)
    return;
  if (count_ == 0) {
    min_ = batchMin;
    max_ = batchMax;
  } else {
    min_ = std::min(min_, batchMin);
    max_ = std::max(max_, batchMax);
  }
  count_ += batchCount;
}

namespace {

/// Finite min/max/count of a batch in one pass.
struct BatchRange {
  float min = 0.0f, max = 0.0f;
  int64_t count = 0;
};

BatchRange scanRange(const float *data, int64_t n) {
  BatchRange r;
  float lo = INFINITY, hi = -INFINITY;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = data[i];
    if (!std::isfinite(x))
      continue;
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
    ++count;
  }
  if (count) {
    r.min = lo;
    r.max = hi;
    r.count = count;
  }
  return r;
}

class MinMaxObserver final : public ActivationObserver {
public:
  explicit MinMaxObserver(int bits) : ActivationObserver(bits) {}
  void observe(const float *data, int64_t n) override {
    seen_ += n;
    BatchRange r = scanRange(data, n);
    updateRange(r.min, r.max, r.count);
  }
  float scale() const override {
    return scaleFromAbsMax(std::max(std::fabs(min()), std::fabs(max())), bits_);
  }
};

/// Histogram of |x| over [0, range_] where range_ is always the largest |x|
/// seen, so no candidate threshold can exceed the observed amax. When a batch
/// raises the amax, the old counts are spread proportionally onto the new,
/// wider bins (counts are therefore doubles).
class HistogramObserver final : public ActivationObserver {
public:
  static constexpr int kBins = 2048;

  HistogramObserver(int bits, bool mse, double percentile)
      : ActivationObserver(bits), mse_(mse),
        percentile_(std::clamp(percentile, 1e-9, 100.0)), hist_(kBins, 0.0) {}

  void observe(const float *data, int64_t n) override {
    seen_ += n;
    BatchRange r = scanRange(data, n);
    if (r.count == 0)
      return;
    updateRange(r.min, r.max, r.count);
    const float amax = std::max(std::fabs(min_), std::fabs(max_));
    if (amax > range_)
      rebin(amax);
    if (range_ == 0.0f) {
      // Everything so far is exactly zero.
      hist_[0] += double(r.count);
      return;
    }
    const float binsPerUnit = float(kBins) / range_;
    for (int64_t i = 0; i < n; ++i) {
      const float x = data[i];
      if (!std::isfinite(x))
        continue;
      const int bin = std::min(int(std::fabs(x) * binsPerUnit), kBins - 1);
      hist_[bin] += 1.0;
    }
  }

  float scale() const override {
    if (count_ == 0 || range_ == 0.0f)
      return scaleFromAbsMax(0.0f, bits_);
    const float threshold = mse_ ? mseThreshold() : percentileThreshold();
    return scaleFromAbsMax(std::min(threshold, range_), bits_);
  }

private:
  void rebin(float newRange) {
    if (range_ > 0.0f) {
      std::vector<double> next(kBins, 0.0);
      const double oldWidth = double(range_) / kBins;
      const double newWidth = double(newRange) / kBins;
      for (int i = 0; i < kBins; ++i) {
        if (hist_[i] == 0.0)
          continue;
        const double lo = i * oldWidth, hi = lo + oldWidth;
        // New bins are wider, so an old bin overlaps at most two of them.
        const int j = std::min(int(lo / newWidth), kBins - 1);
        const double split = (j + 1) * newWidth;
        if (hi <= split || j == kBins - 1) {
          next[j] += hist_[i];
        } else {
          const double frac = (split - lo) / oldWidth;
          next[j] += hist_[i] * frac;
          next[j + 1] += hist_[i] * (1.0 - frac);
        }
      }
      hist_.swap(next);
    }
    // With range_ == 0 all previous mass is at 0 and stays in bin 0.
    range_ = newRange;
  }

  double total() const {
    double t = 0.0;
    for (double h : hist_)
      t += h;
    return t;
  }

  /// The `percentile_`-th percentile of |x|, linearly interpolated inside the
  /// bin where the cumulative count crosses it.
  float percentileThreshold() const {
    const double width = double(range_) / kBins;
    const double target = percentile_ / 100.0 * total();
    double cum = 0.0;
    for (int k = 0; k < kBins; ++k) {
      if (hist_[k] > 0.0 && cum + hist_[k] >= target) {
        const double within = std::clamp((target - cum) / hist_[k], 0.0, 1.0);
        return float((k + within) * width);
      }
      cum += hist_[k];
    }
    return range_;
  }

  /// Clipping threshold t (a bin edge) minimising the estimated squared error
  /// of quantizing with scale(t): uniform rounding noise scale^2 / 12 for
  /// values inside the clipping level qmax * scale, (|x| - level)^2 for
  /// values beyond it, all values taken at their bin centres. Prefix sums make
  /// each candidate O(1).
  float mseThreshold() const {
    const double width = double(range_) / kBins;
    std::vector<double> n(kBins + 1, 0.0), s1(kBins + 1, 0.0),
        s2(kBins + 1, 0.0);
    for (int k = 0; k < kBins; ++k) {
      const double c = (k + 0.5) * width;
      n[k + 1] = n[k] + hist_[k];
      s1[k + 1] = s1[k] + hist_[k] * c;
      s2[k + 1] = s2[k] + hist_[k] * c * c;
    }
    const double halfRange = double(qmax(bits_) - qmin(bits_)) / 2.0;
    const double levelPerScale = double(qmax(bits_));
    double bestErr = INFINITY;
    int bestK = kBins - 1;
    // From the largest threshold down, so ties keep the least clipping.
    for (int k = kBins - 1; k >= 0; --k) {
      const double t = (k + 1) * width;
      const double step = t / halfRange;
      const double level = levelPerScale * step;
      // Bins whose centre lies at or below the clipping level are "inside".
      const int inside = std::min(kBins, int(std::floor(level / width + 0.5)));
      const double nOut = n[kBins] - n[inside];
      const double s1Out = s1[kBins] - s1[inside];
      const double s2Out = s2[kBins] - s2[inside];
      const double err = step * step / 12.0 * n[inside] + s2Out -
                         2.0 * level * s1Out + level * level * nOut;
      if (err < bestErr) {
        bestErr = err;
        bestK = k;
      }
    }
    return float((bestK + 1) * width);
  }

  bool mse_;
  double percentile_;
  std::vector<double> hist_;
  float range_ = 0.0f;
};

} // namespace

std::unique_ptr<ActivationObserver>
ActivationObserver::create(ObserverKind kind, int bits, double percentile) {
  switch (kind) {
  case ObserverKind::MinMax:
    return std::make_unique<MinMaxObserver>(bits);
  case ObserverKind::Percentile:
    return std::make_unique<HistogramObserver>(bits, false, percentile);
  case ObserverKind::MSE:
    return std::make_unique<HistogramObserver>(bits, true, percentile);
  }
  return std::make_unique<MinMaxObserver>(bits);
}

std::vector<float> perChannelWeightScales(const float *w,
                                          const std::vector<int64_t> &shape,
                                          int axis, int bits) {
  const int rank = int(shape.size());
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return {};
  for (int64_t d : shape)
    if (d < 0)
      return {};
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int d = axis + 1; d < rank; ++d)
    inner *= shape[d];
  const int64_t channels = shape[axis];
  std::vector<float> amax(channels, 0.0f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const float *p = w + (o * channels + c) * inner;
      float m = amax[c];
      for (int64_t i = 0; i < inner; ++i)
        m = std::max(m, std::fabs(p[i]));
      amax[c] = m;
    }
  std::vector<float> scales(channels);
  for (int64_t c = 0; c < channels; ++c)
    scales[c] = scaleFromAbsMax(amax[c], bits);
  return scales;
}

} // namespace hat::quant
