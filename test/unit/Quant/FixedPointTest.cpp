//===- FixedPointTest.cpp - HatQuant fixed-point arithmetic ---------------===//

#include "hat/Quant/FixedPoint.h"

#include <gtest/gtest.h>

#include <algorithm>
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

namespace {

/// One row through layerNormRow with one ratio for every channel.
std::vector<int32_t> normRow(const std::vector<int32_t> &row, int64_t epsQ,
                             double ratio, int32_t bias, int bits) {
  const size_t c = row.size();
  Requant rq = *computeRequant(std::fabs(ratio));
  std::vector<int32_t> m(c, ratio < 0 ? -rq.multiplier : rq.multiplier),
      s(c, rq.shift), b(c, bias), out(c);
  layerNormRow(row.data(), int64_t(c), epsQ, m.data(), s.data(), b.data(), bits,
               out.data());
  return out;
}

} // namespace

// [1, 2, 3, 4]: mean 2.5, variance 1.25, normalised -1.342, -0.447, 0.447,
// 1.342. Times 10: -13.42 -> -13, -4.47 -> -4, 4.47 -> 4, 13.42 -> 13;
// plus half a step of bias (128 / 256): -12.92 -> -13, -3.97 -> -4,
// 4.97 -> 5, 13.92 -> 14; gamma negative mirrors them.
TEST(LayerNormRow, HandComputedRow) {
  const std::vector<int32_t> row{1, 2, 3, 4};
  EXPECT_EQ(normRow(row, 0, 1.0, 0, 8), (std::vector<int32_t>{-1, 0, 0, 1}));
  EXPECT_EQ(normRow(row, 0, 10.0, 0, 8),
            (std::vector<int32_t>{-13, -4, 4, 13}));
  EXPECT_EQ(normRow(row, 0, 10.0, 128, 8),
            (std::vector<int32_t>{-13, -4, 5, 14}));
  EXPECT_EQ(normRow(row, 0, -10.0, 0, 8),
            (std::vector<int32_t>{13, 4, -4, -13}));
  // eps: eps_q = eps * C^2 / s_in^2; with s_in = 1, eps = 1.25 doubles the
  // variance: -1.342 / sqrt(2) * 10 = -9.49 -> -9, -3.16 -> -3.
  EXPECT_EQ(layerNormEps(1.25, 1.0, 4), 20);
  EXPECT_EQ(normRow(row, 20, 10.0, 0, 8), (std::vector<int32_t>{-9, -3, 3, 9}));
  // Saturation into int8.
  EXPECT_EQ(normRow(row, 0, 1000.0, 0, 8),
            (std::vector<int32_t>{-128, -128, 127, 127}));
}

// A constant row has no deviation: the output is the bias alone (rounded
// from 1/256 steps: 384 / 256 = 1.5 -> 2), with and without eps.
TEST(LayerNormRow, ConstantRowGivesTheBias) {
  const std::vector<int32_t> row(7, -45);
  EXPECT_EQ(normRow(row, 0, 3.0, 384, 8), std::vector<int32_t>(7, 2));
  EXPECT_EQ(normRow(row, 9, 3.0, -384, 16), std::vector<int32_t>(7, -1));
  EXPECT_EQ(layerNormBias(0.1875, 0.125), 384);
}

// Random rows, int8 and int16, against the formula in long double: never
// more than one step apart, and equal to round-half-up of the exact value
// except where it lies within 1e-6 of a tie.
TEST(LayerNormRow, RandomRowsMatchTheRealFormula) {
  std::mt19937 rng(5);
  for (int bits : {8, 16}) {
    const int64_t hi = qmax(bits);
    std::uniform_int_distribution<int32_t> value(int32_t(qmin(bits)),
                                                 int32_t(hi));
    std::uniform_real_distribution<double> ratio(-40.0, 40.0);
    std::uniform_int_distribution<int32_t> biasDist(-5000, 5000);
    for (int trial = 0; trial < 300; ++trial) {
      const int64_t c = 1 + trial % 97;
      const size_t n = static_cast<size_t>(c);
      std::vector<int32_t> row(n), m(n), s(n), b(n), out(n);
      // Narrow rows too: the variance then spans a few steps.
      const int32_t spread = trial % 3 == 0 ? 3 : int32_t(hi);
      for (int32_t &v : row)
        v = std::clamp(value(rng), -spread, spread);
      std::vector<double> r(n);
      for (int64_t k = 0; k < c; ++k) {
        r[k] = ratio(rng);
        Requant rq = *computeRequant(std::fabs(r[k]));
        m[k] = r[k] < 0 ? -rq.multiplier : rq.multiplier;
        s[k] = rq.shift;
        r[k] = double((r[k] < 0 ? -1 : 1) * valueOf(rq));
        b[k] = biasDist(rng);
      }
      const int64_t epsQ = trial % 2 ? 0 : trial;
      layerNormRow(row.data(), c, epsQ, m.data(), s.data(), b.data(), bits,
                   out.data());
      long double mean = 0, var = 0;
      for (int32_t v : row)
        mean += v;
      mean /= c;
      for (int32_t v : row)
        var += (v - mean) * (v - mean);
      var /= c;
      const long double denom =
          std::sqrt(var + (long double)epsQ / ((long double)c * c));
      for (int64_t k = 0; k < c; ++k) {
        const long double normed = denom > 0 ? (row[k] - mean) / denom : 0;
        const long double exact = normed * r[k] + b[k] / 256.0L;
        const long double clamped = std::clamp(
            std::floor(exact + 0.5L), (long double)qmin(bits), (long double)hi);
        const long double frac = exact - std::floor(exact);
        ASSERT_LE(std::fabs(out[k] - clamped), 1.0L)
            << "bits " << bits << " trial " << trial << " channel " << k;
        if (std::fabs(frac - 0.5L) > 1e-6L)
          EXPECT_EQ(out[k], int32_t(clamped))
              << "bits " << bits << " trial " << trial << " channel " << k
              << " exact " << double(exact);
      }
    }
  }
}

// The widest rows and values the op admits: 32768 int16 values alternating
// between the extremes, the largest multiplier, the largest eps_q. Nothing
// overflows (the sanitized suite runs this under UBSan): the normalised
// values are +-1 and saturate at any large ratio.
TEST(LayerNormRow, ExtremeRowsDoNotOverflow) {
  const int64_t c = kMaxLayerNormChannels;
  const size_t n = static_cast<size_t>(c);
  std::vector<int32_t> row(n), m(n, 2147483647), s(n, 0),
      b(n, std::numeric_limits<int32_t>::max()), out(n);
  for (int64_t k = 0; k < c; ++k)
    row[size_t(k)] = k % 2 ? 32767 : -32768;
  layerNormRow(row.data(), c, 0, m.data(), s.data(), b.data(), 16, out.data());
  EXPECT_EQ(out[0], -32768); // about -2^31 + 2^31 / 256: saturates
  EXPECT_EQ(out[1], 32767);
  // eps_q at its largest swamps the variance: n ~ 0, the bias remains.
  std::fill(b.begin(), b.end(), 256 * 5);
  std::fill(m.begin(), m.end(), 1 << 30);
  std::fill(s.begin(), s.end(), 30);
  layerNormRow(row.data(), c, std::numeric_limits<int64_t>::max(), m.data(),
               s.data(), b.data(), 16, out.data());
  EXPECT_EQ(out[0], 5);
  EXPECT_EQ(out[1], 5);
  EXPECT_EQ(layerNormEps(1e30, 1e-30, c), int64_t(1) << 62);
  EXPECT_EQ(layerNormEps(0.0, 0.5, c), 0);
}
