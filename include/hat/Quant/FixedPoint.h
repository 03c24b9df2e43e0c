//===- FixedPoint.h - HAT's quantization arithmetic -------------*- C++ -*-===//
//
// The single definition of HAT's symmetric quantization numerics: scales,
// float->integer rounding, bias quantization and the fixed-point
// requantization every integer op uses. docs/quantization.md is the prose
// version of this header; the LibTorch int_infer stage and the HBM runtime
// match it bit for bit, so nothing here may depend on MLIR, LLVM or LibTorch.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_QUANT_FIXEDPOINT_H
#define HAT_QUANT_FIXEDPOINT_H

#include <cstdint>
#include <optional>
#include <vector>

namespace hat::quant {

enum class QType { Int8, Int16 };

/// 8 for Int8, 16 for Int16.
int bitsOf(QType type);

/// Symmetric two's-complement range of a `bits`-wide integer.
inline int64_t qmin(int bits) { return -(int64_t(1) << (bits - 1)); }
inline int64_t qmax(int bits) { return (int64_t(1) << (bits - 1)) - 1; }

/// Clamps `v` into [qmin(bits), qmax(bits)].
inline int64_t saturate(int64_t v, int bits) {
  const int64_t lo = qmin(bits), hi = qmax(bits);
  return v < lo ? lo : (v > hi ? hi : v);
}

/// A positive real ratio M represented as multiplier * 2^-shift.
struct Requant {
  int32_t multiplier;
  int32_t shift;
};

/// Largest shift any requantization uses; keeps 2^(shift-1) and the
/// intermediate sum inside int64.
constexpr int32_t kMaxShift = 62;

/// Fixed-point form of `ratio`: multiplier in [2^30, 2^31) obtained by
/// rounding the mantissa to nearest (renormalised to 2^30 with shift - 1 when
/// it rounds up to 2^31), shift in [0, 62]. When the exact shift would exceed
/// 62 (ratio below ~2^-32) the shift is capped at 62 and the multiplier becomes
/// round(ratio * 2^62), which may be 0. Returns std::nullopt for ratio <= 0,
/// NaN, infinity, or ratio too large for shift >= 0 (ratio >= 2^31, or just
/// below it when the mantissa rounds up).
std::optional<Requant> computeRequant(double ratio);

/// The one rounding rule of every integer path: multiply in int64, add half of
/// the divisor (round half up, i.e. towards +infinity on ties, also for
/// negative values) and shift arithmetically. Equivalent to
/// floor(acc * multiplier / 2^shift + 1/2). Requires |acc * multiplier| < 2^62
/// so the int64 sum cannot overflow (callers clamp conv/linear/pool sums to
/// int32 and multiplier < 2^31).
inline int64_t applyRequant(int64_t acc, int32_t multiplier, int32_t shift) {
  const int64_t round = shift > 0 ? (int64_t(1) << (shift - 1)) : 0;
  return (acc * int64_t(multiplier) + round) >> shift;
}

/// Same result as applyRequant for any int64 `acc` (the product is formed in
/// 128 bits). Used where |acc * multiplier| may reach 2^62, i.e. int16
/// bilinear resize whose Q20 accumulator reaches 2^35. The result is clamped
/// into int64, which never matters after the final saturation.
int64_t applyRequantWide(int64_t acc, int32_t multiplier, int32_t shift);

/// Several ratios sharing one shift (qadd and other sums of rescaled terms).
struct SharedRequant {
  std::vector<int32_t> multipliers;
  int32_t shift;
};

/// The shift comes from the largest ratio exactly as in computeRequant; every
/// multiplier is round(ratio_i * 2^shift) (half away from zero). Returns
/// std::nullopt when `ratios` is empty, any ratio is <= 0 or not finite, the
/// largest ratio has no computeRequant form, or a multiplier overflows int32.
std::optional<SharedRequant>
computeSharedRequant(const std::vector<double> &ratios);

/// Float -> integer: clamp(nearbyint(x * (1.0f / scale)), qmin, qmax) with the
/// reciprocal and the product in float32 and nearbyint in the default rounding
/// mode (round half to even); this is torch.fake_quantize_per_tensor_affine
/// with zero_point 0, bit for bit. NaN maps to 0, +-inf saturate.
int64_t quantizeValue(float x, float scale, int bits);

/// quantizeValue(x, scale, bits) * scale, the product in float32.
float fakeQuantValue(float x, float scale, int bits);

/// Smallest scale scaleFromAbsMax returns for a positive amax: FLT_MIN, so that
/// 1.0f / scale stays finite.
float minScale();

/// HAT's symmetric scale amax / ((qmax - qmin) / 2), in float32 (amax / 127.5
/// for int8, amax / 32767.5 for int16), never below minScale(). amax <= 0, NaN
/// or infinite -> fallback 1 / qmax(bits) (1/127, 1/32767): any positive value
/// would do for an all-zero tensor, and this one keeps integers equal to
/// qmax * scale = 1.0 representable.
float scaleFromAbsMax(float amax, int bits);

/// int32 bias of a layer whose accumulator scale is accScale = inputScale *
/// weightScale[c]: nearbyint(bias / accScale) in double (half to even),
/// saturated to int32. A NaN quotient (NaN input, or 0/0) gives 0.
int32_t quantizeBias(double bias, double accScale);

/// Integer layer norm (docs/quantization.md, "Layer norm"). The row's
/// mean and variance are exact integer sums; 1/sqrt(var + eps) is a 30-bit
/// fixed-point reciprocal square root; gamma / s_out is a signed per-channel
/// multiplier/shift and beta is added in 1/256 of an output step, so every
/// channel rounds once.
constexpr int kLayerNormBiasFractionBits = 8;
/// Longest normalised row: keeps C * q and the squared deviations inside the
/// widths layerNormRow computes them in.
constexpr int64_t kMaxLayerNormChannels = 32768;

/// eps in the units layerNormRow's variance term uses:
/// round(eps * C^2 / s_in^2), clamped to [0, 2^62].
int64_t layerNormEps(double eps, double inputScale, int64_t channels);

/// beta_c as layerNormRow adds it: quantizeBias(beta, s_out / 256).
int32_t layerNormBias(double beta, double outputScale);

/// Normalises `count` integers (1 <= count <= kMaxLayerNormChannels) and
/// writes saturate(round(gamma_c * (x_c - mean) / sqrt(var + eps) / s_out +
/// beta_c / s_out)) into `out` as `bits`-wide integers, where gamma_c / s_out
/// = multiplier[c] * 2^-shift[c] (the multiplier carries gamma's sign, shift
/// in [0, kMaxShift]) and bias[c] = layerNormBias(beta_c, s_out). The same
/// arithmetic for the reference evaluator, int_infer and the runtime.
void layerNormRow(const int32_t *in, int64_t count, int64_t epsQ,
                  const int32_t *multiplier, const int32_t *shift,
                  const int32_t *bias, int bits, int32_t *out);

} // namespace hat::quant

#endif // HAT_QUANT_FIXEDPOINT_H
