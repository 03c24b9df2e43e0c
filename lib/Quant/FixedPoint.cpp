//===- FixedPoint.cpp - HAT's quantization arithmetic ---------------------===//

#include "hat/Quant/FixedPoint.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

namespace hat::quant {

int bitsOf(QType type) { return type == QType::Int16 ? 16 : 8; }

std::optional<Requant> computeRequant(double ratio) {
  if (!(ratio > 0.0) || !std::isfinite(ratio))
    return std::nullopt;
  // ratio = mantissa * 2^exponent with mantissa in [0.5, 1); scaling the
  // mantissa by 2^31 is exact, so the only rounding is the llround below.
  int exponent = 0;
  const double mantissa = std::frexp(ratio, &exponent);
  int64_t multiplier = std::llround(std::ldexp(mantissa, 31));
  int64_t shift = 31 - int64_t(exponent);
  if (multiplier == (int64_t(1) << 31)) {
    // Rounded up to the next power of two: renormalise into [2^30, 2^31).
    multiplier >>= 1;
    --shift;
  }
  if (shift < 0)
    return std::nullopt;
  if (shift > kMaxShift) {
    // Too small for a normalised multiplier: keep the largest shift and let
    // the multiplier lose precision (possibly down to 0). ratio < 2^-31 here,
    // so ratio * 2^62 < 2^31 fits.
    shift = kMaxShift;
    multiplier = std::llround(std::ldexp(ratio, kMaxShift));
  }
  return Requant{int32_t(multiplier), int32_t(shift)};
}

int64_t applyRequantWide(int64_t acc, int32_t multiplier, int32_t shift) {
  const __int128 round = shift > 0 ? (__int128(1) << (shift - 1)) : 0;
  const __int128 r = (__int128(acc) * multiplier + round) >> shift;
  if (r > std::numeric_limits<int64_t>::max())
    return std::numeric_limits<int64_t>::max();
  if (r < std::numeric_limits<int64_t>::min())
    return std::numeric_limits<int64_t>::min();
  return int64_t(r);
}

std::optional<SharedRequant>
computeSharedRequant(const std::vector<double> &ratios) {
  if (ratios.empty())
    return std::nullopt;
  double largest = 0.0;
  for (double r : ratios) {
    if (!(r > 0.0) || !std::isfinite(r))
      return std::nullopt;
    largest = std::max(largest, r);
  }
  std::optional<Requant> base = computeRequant(largest);
  if (!base)
    return std::nullopt;
  SharedRequant out;
  out.shift = base->shift;
  for (double r : ratios) {
    const double scaled = std::ldexp(r, out.shift);
    if (!(scaled < 2147483647.5))
      return std::nullopt;
    out.multipliers.push_back(int32_t(std::llround(scaled)));
  }
  return out;
}

int64_t quantizeValue(float x, float scale, int bits) {
  // Deliberately float32 throughout: torch computes inv_scale = 1.0f / scale
  // and nearbyint(x * inv_scale) in float, and QAT checkpoints must round the
  // same way here.
  const float invScale = 1.0f / scale;
  const float product = x * invScale;
  if (std::isnan(product))
    return 0;
  const float rounded = std::nearbyint(product);
  // Clamp in float before converting so huge values never hit UB.
  if (rounded <= float(qmin(bits)))
    return qmin(bits);
  if (rounded >= float(qmax(bits)))
    return qmax(bits);
  return int64_t(rounded);
}

float fakeQuantValue(float x, float scale, int bits) {
  return float(quantizeValue(x, scale, bits)) * scale;
}

float minScale() { return FLT_MIN; }

float scaleFromAbsMax(float amax, int bits) {
  if (!(amax > 0.0f) || !std::isfinite(amax))
    return 1.0f / float(qmax(bits));
  // (qmax - qmin) / 2 = 2^(bits-1) - 0.5 is exact in float for 8 and 16 bits.
  const float halfRange = float(qmax(bits) - qmin(bits)) / 2.0f;
  const float scale = amax / halfRange;
  return scale < minScale() ? minScale() : scale;
}

int32_t quantizeBias(double bias, double accScale) {
  const double q = std::nearbyint(bias / accScale);
  if (std::isnan(q))
    return 0;
  if (q <= double(std::numeric_limits<int32_t>::min()))
    return std::numeric_limits<int32_t>::min();
  if (q >= double(std::numeric_limits<int32_t>::max()))
    return std::numeric_limits<int32_t>::max();
  return int32_t(q);
}

} // namespace hat::quant
