//===- FixedPointTest.cpp - HatQuant fixed-point arithmetic ---------------===//

#include "hat/Quant/FixedPoint.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

using namespace hat::quant;

namespace {

/// Exact round-half-up of acc * m / 2^s, computed by an explicit floor
/// division and remainder test instead of the shift trick under test.
int64_t referenceRequant(int64_t acc, int32_t m, int32_t s) {
  const __int128 num = __int128(acc) * m;
  const __int128 den = __int128(1) << s;
  __int128 q = num / den; // truncates towards zero
  __int128 r = num - q * den;
  if (r < 0) {
    q -= 1;
    r += den;
  }
  // r in [0, den): round half up means ties go to q + 1.
  if (2 * r >= den)
    q += 1;
  return int64_t(q);
}

/// multiplier * 2^-shift as a long double (exact for shift <= 62).
long double valueOf(const Requant &r) {
  return std::ldexp((long double)r.multiplier, -r.shift);
}

} // namespace

TEST(FixedPoint, Ranges) {
  EXPECT_EQ(bitsOf(QType::Int8), 8);
  EXPECT_EQ(bitsOf(QType::Int16), 16);
  EXPECT_EQ(qmin(8), -128);
  EXPECT_EQ(qmax(8), 127);
  EXPECT_EQ(qmin(16), -32768);
  EXPECT_EQ(qmax(16), 32767);
  EXPECT_EQ(saturate(128, 8), 127);
  EXPECT_EQ(saturate(-129, 8), -128);
  EXPECT_EQ(saturate(-128, 8), -128);
  EXPECT_EQ(saturate(40000, 16), 32767);
  EXPECT_EQ(saturate(-40000, 16), -32768);
  EXPECT_EQ(saturate(-5, 16), -5);
}

TEST(FixedPoint, ComputeRequantPowersOfTwo) {
  // 1.0 = 2^30 * 2^-30; 0.5 = 2^30 * 2^-31; 2^30 is the largest with shift 0.
  auto one = computeRequant(1.0);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->multiplier, 1 << 30);
  EXPECT_EQ(one->shift, 30);
  auto half = computeRequant(0.5);
  ASSERT_TRUE(half);
  EXPECT_EQ(half->multiplier, 1 << 30);
  EXPECT_EQ(half->shift, 31);
  auto big = computeRequant(std::ldexp(1.0, 30));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->multiplier, 1 << 30);
  EXPECT_EQ(big->shift, 0);
  auto p = computeRequant(std::ldexp(1.0, -32));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->multiplier, 1 << 30);
  EXPECT_EQ(p->shift, 62);
}

TEST(FixedPoint, ComputeRequantAroundPowersOfTwo) {
  // Just below 1: mantissa 1 - 2^-53 rounds up to 2^31 and renormalises.
  auto below = computeRequant(std::nextafter(1.0, 0.0));
  ASSERT_TRUE(below);
  EXPECT_EQ(below->multiplier, 1 << 30);
  EXPECT_EQ(below->shift, 30);
  // Just above 1: still 2^30 at the same shift (the 2^-52 is lost).
  auto above = computeRequant(std::nextafter(1.0, 2.0));
  ASSERT_TRUE(above);
  EXPECT_EQ(above->multiplier, 1 << 30);
  EXPECT_EQ(above->shift, 30);
  // The largest mantissa that does not round up: (2^31 - 1) / 2^31 * 0.5 ...
  auto m = computeRequant(std::ldexp(2147483647.0, -31));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->multiplier, 2147483647);
  EXPECT_EQ(m->shift, 31);
  // ... and a mantissa exactly halfway rounds up (to nearest, ties up).
  auto tie = computeRequant(std::ldexp(2147483646.5, -31));
  ASSERT_TRUE(tie);
  EXPECT_EQ(tie->multiplier, 2147483647);
  auto tieUp = computeRequant(std::ldexp(2147483647.5, -31));
  ASSERT_TRUE(tieUp);
  EXPECT_EQ(tieUp->multiplier, 1 << 30);
  EXPECT_EQ(tieUp->shift, 30);
  // Just below 2^31 rounds up to 2^31, which needs shift -1: unrepresentable.
  EXPECT_FALSE(computeRequant(std::nextafter(std::ldexp(1.0, 31), 0.0)));
  EXPECT_TRUE(computeRequant(std::ldexp(2147483647.0, -1) * 2.0 - 1.0));
}

TEST(FixedPoint, ComputeRequantFailuresAndCap) {
  EXPECT_FALSE(computeRequant(0.0));
  EXPECT_FALSE(computeRequant(-0.0));
  EXPECT_FALSE(computeRequant(-1.0));
  EXPECT_FALSE(computeRequant(std::nan("")));
  EXPECT_FALSE(computeRequant(INFINITY));
  EXPECT_FALSE(computeRequant(std::ldexp(1.0, 31)));
  EXPECT_FALSE(computeRequant(1e300));
  // Tiny: shift capped at 62, multiplier = round(1e-12 * 2^62) = 4611686.
  auto tiny = computeRequant(1e-12);
  ASSERT_TRUE(tiny);
  EXPECT_EQ(tiny->shift, 62);
  EXPECT_EQ(tiny->multiplier, std::llround(std::ldexp(1e-12, 62)));
  EXPECT_EQ(tiny->multiplier, 4611686);
  // So small that the multiplier rounds to zero.
  auto zero = computeRequant(1e-30);
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->shift, 62);
  EXPECT_EQ(zero->multiplier, 0);
  // Just below the cap still normalises (exact shift 62 exists).
  auto edge = computeRequant(std::ldexp(1.5, -32));
  ASSERT_TRUE(edge);
  EXPECT_EQ(edge->shift, 62);
  EXPECT_EQ(edge->multiplier, 3 << 29);
  auto capped = computeRequant(std::ldexp(1.5, -33));
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->shift, 62);
  EXPECT_EQ(capped->multiplier, 3 << 28);
}

TEST(FixedPoint, ComputeRequantRelativeErrorRandom) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> expo(-30.0, 30.0);
  for (int i = 0; i < 20000; ++i) {
    const double ratio = std::pow(2.0, expo(rng));
    auto r = computeRequant(ratio);
    ASSERT_TRUE(r) << ratio;
    EXPECT_GE(r->multiplier, 1 << 30);
    EXPECT_GE(r->shift, 0);
    EXPECT_LE(r->shift, 62);
    // Round to nearest of a 31-bit mantissa: error <= half an ulp of 2^-31
    // relative to the multiplier.
    const long double err = std::fabs(valueOf(*r) - (long double)ratio);
    EXPECT_LE(err, std::ldexp((long double)0.5, -r->shift) * 1.0000001L)
        << ratio;
  }
}

TEST(FixedPoint, ApplyRequantMatchesExactReference) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int64_t> accDist(
      std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  std::uniform_real_distribution<double> expo(-40.0, 0.0);
  for (int i = 0; i < 200000; ++i) {
    auto r = computeRequant(std::pow(2.0, expo(rng)));
    ASSERT_TRUE(r);
    int64_t acc = accDist(rng);
    if (i % 4 == 1)
      acc %= 1000; // small values, both signs
    EXPECT_EQ(applyRequant(acc, r->multiplier, r->shift),
              referenceRequant(acc, r->multiplier, r->shift))
        << acc << " " << r->multiplier << " " << r->shift;
    EXPECT_EQ(applyRequantWide(acc, r->multiplier, r->shift),
              referenceRequant(acc, r->multiplier, r->shift));
  }
}

TEST(FixedPoint, ApplyRequantTiesRoundHalfUp) {
  // multiplier 2^30, shift 31 is exactly * 0.5: odd accumulators are ties.
  const int32_t m = 1 << 30, s = 31;
  EXPECT_EQ(applyRequant(1, m, s), 1);   // 0.5 -> 1
  EXPECT_EQ(applyRequant(3, m, s), 2);   // 1.5 -> 2
  EXPECT_EQ(applyRequant(5, m, s), 3);   // 2.5 -> 3 (not to even)
  EXPECT_EQ(applyRequant(-1, m, s), 0);  // -0.5 -> 0 (towards +inf)
  EXPECT_EQ(applyRequant(-3, m, s), -1); // -1.5 -> -1
  EXPECT_EQ(applyRequant(-5, m, s), -2); // -2.5 -> -2
  EXPECT_EQ(applyRequant(-4, m, s), -2);
  // Just either side of a tie.
  const int32_t m3 = 3 << 28;              // 0.75 with shift 30
  EXPECT_EQ(applyRequant(2, m3, 30), 2);   // 1.5 -> 2
  EXPECT_EQ(applyRequant(-2, m3, 30), -1); // -1.5 -> -1
  EXPECT_EQ(applyRequant(-3, m3, 30), -2); // -2.25 -> -2
  // Shift 0 is a plain product.
  EXPECT_EQ(applyRequant(-7, 1 << 30, 0), -7LL * (1 << 30));
  // Boundary of every tie for random shifts: acc * m = (2k+1) * 2^(s-1).
  for (int s2 = 1; s2 <= 40; ++s2) {
    const int64_t k = 12345;
    const int64_t acc = (2 * k + 1) << (s2 - 1); // multiplier 1
    EXPECT_EQ(applyRequant(acc, 1, s2), k + 1);
    EXPECT_EQ(applyRequant(-acc, 1, s2), -k);
    EXPECT_EQ(referenceRequant(-acc, 1, s2), -k);
  }
}

TEST(FixedPoint, ApplyRequantExtremeAccumulators) {
  const int64_t accs[] = {std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max(), -1, 0, 1};
  for (int64_t acc : accs)
    for (int32_t s = 0; s <= 62; ++s) {
      EXPECT_EQ(applyRequant(acc, 2147483647, s),
                referenceRequant(acc, 2147483647, s));
      EXPECT_EQ(applyRequant(acc, 1 << 30, s),
                referenceRequant(acc, 1 << 30, s));
    }
  // The wide variant handles the int16 bilinear range (|acc| up to 2^35).
  const int64_t wideAcc = -(int64_t(32768) << 20);
  EXPECT_EQ(applyRequantWide(wideAcc, 2147483647, 51),
            referenceRequant(wideAcc, 2147483647, 51));
  EXPECT_EQ(applyRequantWide(wideAcc, 1 << 30, 50), -32768);
}

TEST(FixedPoint, SaturationAfterRequant) {
  auto r = computeRequant(0.01);
  ASSERT_TRUE(r);
  EXPECT_EQ(saturate(applyRequant(20000, r->multiplier, r->shift), 8), 127);
  EXPECT_EQ(saturate(applyRequant(-20000, r->multiplier, r->shift), 8), -128);
  EXPECT_EQ(saturate(applyRequant(12749, r->multiplier, r->shift), 8), 127);
  EXPECT_EQ(saturate(applyRequant(-12760, r->multiplier, r->shift), 8), -128);
  EXPECT_EQ(saturate(applyRequant(4000000, r->multiplier, r->shift), 16),
            32767);
  EXPECT_EQ(saturate(applyRequant(-4000000, r->multiplier, r->shift), 16),
            -32768);
  EXPECT_EQ(saturate(applyRequant(3000000, r->multiplier, r->shift), 16),
            30000);
}

TEST(FixedPoint, SharedRequant) {
  auto s = computeSharedRequant({0.25, 0.75});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->shift, 31); // from 0.75 = 3*2^29 * 2^-31
  ASSERT_EQ(s->multipliers.size(), 2u);
  EXPECT_EQ(s->multipliers[0], 1 << 29);
  EXPECT_EQ(s->multipliers[1], 3 << 29);
  // Largest keeps the computeRequant multiplier, smaller ones lose bits.
  auto t = computeSharedRequant({0.3, 1e-3});
  ASSERT_TRUE(t);
  auto base = computeRequant(0.3);
  EXPECT_EQ(t->shift, base->shift);
  EXPECT_EQ(t->multipliers[0], base->multiplier);
  EXPECT_EQ(t->multipliers[1], std::llround(std::ldexp(1e-3, t->shift)));
  EXPECT_FALSE(computeSharedRequant({}));
  EXPECT_FALSE(computeSharedRequant({0.5, 0.0}));
  EXPECT_FALSE(computeSharedRequant({0.5, -1.0}));
  EXPECT_FALSE(computeSharedRequant({std::ldexp(1.0, 31), 1.0}));
  EXPECT_FALSE(computeSharedRequant({1.0, std::nan("")}));
}

TEST(FixedPoint, QuantizeValueTiesAndSaturation) {
  // x / scale exactly k + 0.5 -> even k.
  EXPECT_EQ(quantizeValue(0.5f, 1.0f, 8), 0);
  EXPECT_EQ(quantizeValue(1.5f, 1.0f, 8), 2);
  EXPECT_EQ(quantizeValue(2.5f, 1.0f, 8), 2);
  EXPECT_EQ(quantizeValue(-2.5f, 1.0f, 8), -2);
  EXPECT_EQ(quantizeValue(-3.5f, 1.0f, 8), -4);
  EXPECT_EQ(quantizeValue(1.25f, 0.5f, 8), 2);   // 2.5 -> 2
  EXPECT_EQ(quantizeValue(0.875f, 0.25f, 8), 4); // 3.5 -> 4
  EXPECT_EQ(quantizeValue(2.5000002f, 1.0f, 8), 3);
  // Saturation.
  EXPECT_EQ(quantizeValue(127.49f, 1.0f, 8), 127);
  EXPECT_EQ(quantizeValue(127.5f, 1.0f, 8), 127);
  EXPECT_EQ(quantizeValue(1e30f, 1.0f, 8), 127);
  EXPECT_EQ(quantizeValue(-1e30f, 1.0f, 8), -128);
  EXPECT_EQ(quantizeValue(-128.4f, 1.0f, 8), -128);
  EXPECT_EQ(quantizeValue(INFINITY, 1.0f, 16), 32767);
  EXPECT_EQ(quantizeValue(-INFINITY, 1.0f, 16), -32768);
  EXPECT_EQ(quantizeValue(std::nanf(""), 1.0f, 8), 0);
  EXPECT_EQ(quantizeValue(40000.f, 1.0f, 16), 32767);
  // float32 reciprocal: 0.1 / 0.1 via 1/0.1f is exactly 1 in float.
  EXPECT_EQ(quantizeValue(0.1f, 0.1f, 8), 1);
  // The product is float32: (1/3.f) * 3 * 50.5 style cases agree with float.
  const float scale = 0.0123f;
  for (int k = -300; k <= 300; ++k) {
    const float x = k * 0.00731f;
    const float expect = std::nearbyint(x * (1.0f / scale));
    EXPECT_EQ(quantizeValue(x, scale, 8),
              std::max(-128.f, std::min(127.f, expect)));
  }
  EXPECT_FLOAT_EQ(fakeQuantValue(0.26f, 0.1f, 8), 3 * 0.1f);
  EXPECT_FLOAT_EQ(fakeQuantValue(100.f, 0.1f, 8), 127 * 0.1f);
}

TEST(FixedPoint, ScaleFromAbsMax) {
  EXPECT_FLOAT_EQ(scaleFromAbsMax(127.5f, 8), 1.0f);
  EXPECT_EQ(scaleFromAbsMax(1.0f, 8), 1.0f / 127.5f);
  EXPECT_EQ(scaleFromAbsMax(32767.5f, 16), 1.0f);
  EXPECT_EQ(scaleFromAbsMax(3.0f, 16), 3.0f / 32767.5f);
  // Fallback: 1 / qmax for zero and non-finite amax.
  EXPECT_EQ(scaleFromAbsMax(0.0f, 8), 1.0f / 127.0f);
  EXPECT_EQ(scaleFromAbsMax(-1.0f, 8), 1.0f / 127.0f);
  EXPECT_EQ(scaleFromAbsMax(std::nanf(""), 16), 1.0f / 32767.0f);
  EXPECT_EQ(scaleFromAbsMax(INFINITY, 8), 1.0f / 127.0f);
  // Never below FLT_MIN, so 1/scale stays finite.
  EXPECT_EQ(scaleFromAbsMax(1e-44f, 8), FLT_MIN);
  EXPECT_TRUE(std::isfinite(1.0f / scaleFromAbsMax(1e-44f, 8)));
  // amax maps onto qmax * scale ~= amax * 127 / 127.5.
  EXPECT_EQ(quantizeValue(6.0f, scaleFromAbsMax(6.0f, 8), 8), 127);
  EXPECT_EQ(quantizeValue(-6.1f, scaleFromAbsMax(6.0f, 8), 8), -128);
}

TEST(FixedPoint, QuantizeBias) {
  EXPECT_EQ(quantizeBias(1.0, 0.001), 1000);
  EXPECT_EQ(quantizeBias(-0.625, 0.25), -2); // -2.5 -> -2 (half even)
  EXPECT_EQ(quantizeBias(0.875, 0.25), 4);   // 3.5 -> 4
  EXPECT_EQ(quantizeBias(0.5, 1.0), 0);
  EXPECT_EQ(quantizeBias(1.5, 1.0), 2);
  EXPECT_EQ(quantizeBias(1e12, 1e-3), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(quantizeBias(-1e12, 1e-3), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(quantizeBias(std::nan(""), 1.0), 0);
  EXPECT_EQ(quantizeBias(0.0, 0.0), 0);
  EXPECT_EQ(quantizeBias(1.0, 0.0), std::numeric_limits<int32_t>::max());
}
