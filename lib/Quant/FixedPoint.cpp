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

int64_t layerNormEps(double eps, double inputScale, int64_t channels) {
  const double c = double(channels);
  const double v = std::nearbyint(eps * c * c / (inputScale * inputScale));
  if (!(v > 0.0)) // also NaN
    return 0;
  const double limit = std::ldexp(1.0, 62);
  return v >= limit ? int64_t(1) << 62 : int64_t(v);
}

int32_t layerNormBias(double beta, double outputScale) {
  return quantizeBias(beta, outputScale / (1 << kLayerNormBiasFractionBits));
}

namespace {

/// floor(sqrt(v)) for v < 2^63, exact: the double square root is only a
/// starting point, corrected by integer comparisons.
uint64_t floorSqrt(uint64_t v) {
  uint64_t r = uint64_t(std::sqrt(double(v)));
  while (r > 0 && (unsigned __int128)r * r > v)
    --r;
  while ((unsigned __int128)(r + 1) * (r + 1) <= v)
    ++r;
  return r;
}

int bitLength(unsigned __int128 v) {
  int bits = 0;
  for (; v; v >>= 1)
    ++bits;
  return bits;
}

} // namespace

void layerNormRow(const int32_t *in, int64_t count, int64_t epsQ,
                  const int32_t *multiplier, const int32_t *shift,
                  const int32_t *bias, int bits, int32_t *out) {
  // With S = sum(q) and D_c = C * q_c - S (exact: |C * q_c| <= 2^30), the
  // real deviation is x_c - mean = s_in * D_c / C and
  //   T = sum(D^2) / C + epsQ = C^2 (var + eps) / s_in^2,
  // so (x_c - mean) / sqrt(var + eps) = D_c / sqrt(T): s_in cancels.
  // sum(D^2) / C = C * sum(q^2) - S^2 is an integer: no rounding so far.
  int64_t sum = 0, squares = 0; // |S| <= 2^30, sum(q^2) <= 2^45
  for (int64_t c = 0; c < count; ++c) {
    sum += in[c];
    squares += int64_t(in[c]) * in[c];
  }
  const unsigned __int128 t =
      (unsigned __int128)(__int128(count) * squares - __int128(sum) * sum) +
      (unsigned __int128)epsQ; // <= 2^60 + 2^63
  // R = floor(sqrt(2^2K / T)) ~ 2^K / sqrt(T), with K chosen per row so that
  // R lies in [2^30, 2^31]: 30 significant bits whatever the variance.
  // T < 2^64, so 2K <= 60 + bitLength(T) + 1 <= 125.
  uint64_t r = 0;
  int k = 30;
  if (t > 0) {
    const int b = bitLength(t);
    k = 30 + (b + 1) / 2;
    r = floorSqrt(uint64_t(((unsigned __int128)1 << (2 * k)) / t));
  }
  const __int128 lo = qmin(bits), hi = qmax(bits);
  for (int64_t c = 0; c < count; ++c) {
    const int64_t d = count * int64_t(in[c]) - sum;
    // n = D * R / 2^K is the normalised value; times multiplier / 2^shift it
    // is in output steps. |D * R * multiplier| <= 2^31 * 2^31 * 2^31.
    const __int128 a = __int128(d) * __int128(r) * multiplier[c];
    const int f = k + shift[c] - kLayerNormBiasFractionBits; // >= 22
    // floor(a / 2^f) then + bias + 1/2 and floor(/ 256) is the single
    // rounding floor(a / 2^(k + shift) + bias / 256 + 1/2): the bits
    // dropped first are below one unit of the second division.
    const __int128 fine =
        (a >> f) + bias[c] + (__int128(1) << (kLayerNormBiasFractionBits - 1));
    const __int128 v = fine >> kLayerNormBiasFractionBits;
    out[c] = int32_t(v < lo ? lo : (v > hi ? hi : v));
  }
}

} // namespace hat::quant
