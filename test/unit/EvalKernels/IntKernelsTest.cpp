//===- IntKernelsTest.cpp - Reference integer kernels ---------------------===//
//
// Two kinds of checks: hand-computed cases that pin the exact rounding, and
// randomized agreement with the fake-quant float graph (the same integer
// inputs dequantized, the float op, fake-quantized to the output scale):
// every integer result must be within one output step of it, and nearly all
// must be equal.
//
//===----------------------------------------------------------------------===//

#include "hat/Eval/Kernels.h"
#include "hat/Quant/FixedPoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace hat::eval;
using namespace hat::quant;

namespace {

Tensor randInts(DType dt, std::vector<int64_t> shape, std::mt19937 &rng) {
  const int bits = dtypeBits(dt);
  std::uniform_int_distribution<int32_t> ud(int32_t(qmin(bits)),
                                            int32_t(qmax(bits)));
  Tensor t = Tensor::ints(dt, std::move(shape));
  for (int32_t &v : t.i)
    v = ud(rng);
  return t;
}

Requant rq(double ratio) {
  std::optional<Requant> r = computeRequant(ratio);
  EXPECT_TRUE(r) << ratio;
  return r.value_or(Requant{0, 0});
}

/// Compares integer results with the fake-quant float reference `ref`
/// (already quantized with quantizeValue to the same output scale).
void expectWithinOneStep(const Tensor &got, const std::vector<int64_t> &ref,
                         double minExactFraction = 0.9) {
  ASSERT_EQ(got.i.size(), ref.size());
  size_t exact = 0;
  for (size_t k = 0; k < ref.size(); ++k) {
    EXPECT_LE(std::llabs(int64_t(got.i[k]) - ref[k]), 1)
        << "element " << k << " got " << got.i[k] << " want " << ref[k];
    exact += got.i[k] == ref[k];
  }
  EXPECT_GE(double(exact), minExactFraction * double(ref.size()))
      << exact << " of " << ref.size() << " exact";
}

std::vector<int64_t> quantizeAll(const Tensor &f, float scale, int bits,
                                 bool relu = false) {
  std::vector<int64_t> q(f.f.size());
  for (size_t k = 0; k < q.size(); ++k)
    q[k] = quantizeValue(relu ? std::max(f.f[k], 0.0f) : f.f[k], scale, bits);
  return q;
}

/// Output scale that covers `f` with ~5% saturating.
float coverScale(const Tensor &f, int bits) {
  std::vector<float> mags;
  for (float x : f.f)
    mags.push_back(std::fabs(x));
  std::sort(mags.begin(), mags.end());
  return scaleFromAbsMax(mags[size_t(0.95 * double(mags.size() - 1))], bits);
}

} // namespace

//===----------------------------------------------------------------------===//
// Hand-computed rounding
//===----------------------------------------------------------------------===//

TEST(IntKernels, QConvExactRounding) {
  Tensor in = Tensor::ints(DType::I8, {1, 1, 1, 2});
  in.i = {3, -5};
  Tensor w = Tensor::ints(DType::I8, {3, 1, 1, 2});
  w.i = {2, 1, 2, 3, -2, -3};
  Tensor b = Tensor::ints(DType::I32, {3});
  b.i = {7, 0, 0};
  // acc = {8, -9, 9}; per-channel ratios 1/4, 1/2, 1/2 -> 2, -4.5 -> -4,
  // 4.5 -> 5 (round half up).
  Requantization r;
  r.multiplier = {1 << 30, 1 << 30, 1 << 30};
  r.shift = {32, 31, 31};
  Tensor out = qconv2d(in, w, &b, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_EQ(out.i, (std::vector<int32_t>{2, -4, 5}));
  // Fused ReLU clamps at 0 before saturation; a single multiplier applies to
  // every channel.
  r.relu = true;
  r.multiplier = {1 << 30};
  r.shift = {20}; // * 1024: saturates
  out = qconv2d(in, w, &b, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r);
  EXPECT_EQ(out.i, (std::vector<int32_t>{127, 0, 127}));
  r.out = DType::I16;
  out = qconv2d(in, w, &b, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r);
  EXPECT_EQ(out.dtype, DType::I16);
  EXPECT_EQ(out.i, (std::vector<int32_t>{8192, 0, 9216}));
}

TEST(IntKernels, QConvAccumulatorSaturatesAtInt32) {
  // 70000 products of 32767 * 127 overflow int32; the accumulator saturates.
  Tensor in = Tensor::ints(DType::I16, {1, 70000, 1, 1}, 32767);
  Tensor w = Tensor::ints(DType::I8, {1, 70000, 1, 1}, 127);
  Requantization r;
  r.multiplier = {1 << 30};
  r.shift = {30 + 16}; // / 65536
  r.out = DType::I16;
  Tensor out = qconv2d(in, w, nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r);
  // (2^31 - 1) / 2^16 = 32767.99998 -> 32768 -> saturates to 32767; without
  // the clamp the exact sum / 2^16 would be ~4.4e6 (also 32767), so check the
  // negative side where the clamp is visible: -2^31 / 2^16 = -32768 exactly.
  EXPECT_EQ(out.i[0], 32767);
  in.i.assign(70000, -32768);
  r.shift = {30 + 17};
  out = qconv2d(in, w, nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r);
  EXPECT_EQ(out.i[0], -16384); // -2^31 / 2^17, not -2^28 * 127 * ... / 2^17
}

TEST(IntKernels, QAddExactRounding) {
  Tensor a = Tensor::ints(DType::I8, {5});
  a.i = {3, 1, -1, -10, 127};
  Tensor b = Tensor::ints(DType::I8, {5});
  b.i = {5, 0, 0, 0, 127};
  // out = 0.5 a + 0.25 b with one rounding: 2.75 -> 3, 0.5 -> 1, -0.5 -> 0,
  // -5, 95.25 -> 95.
  Tensor out = qadd(a, b, 1 << 30, 1 << 29, 31, false, DType::I8);
  EXPECT_EQ(out.i, (std::vector<int32_t>{3, 1, 0, -5, 95}));
  out = qadd(a, b, 1 << 30, 1 << 29, 31, true, DType::I8);
  EXPECT_EQ(out.i, (std::vector<int32_t>{3, 1, 0, 0, 95}));
  // Identity rescale saturates 254 -> 127.
  out = qadd(a, b, 1 << 30, 1 << 30, 30, false, DType::I8);
  EXPECT_EQ(out.i, (std::vector<int32_t>{8, 1, -1, -10, 127}));
  out = qadd(a, b, 1 << 30, 1 << 30, 30, false, DType::I16);
  EXPECT_EQ(out.i[4], 254);
  // Broadcasting a scalar.
  Tensor s = Tensor::ints(DType::I8, {}, 2);
  out = qadd(a, s, 1 << 30, 1 << 30, 30, false, DType::I8);
  EXPECT_EQ(out.i, (std::vector<int32_t>{5, 3, 1, -8, 127}));
}

TEST(IntKernels, QMulConcatPoolResizeExact) {
  Tensor a = Tensor::ints(DType::I8, {3});
  a.i = {3, -3, 100};
  Tensor b = Tensor::ints(DType::I8, {3});
  b.i = {1, 1, 100};
  // * 0.5: 1.5 -> 2, -1.5 -> -1, 5000 -> 127.
  EXPECT_EQ(qmul(a, b, 1 << 30, 31, DType::I8).i,
            (std::vector<int32_t>{2, -1, 127}));

  // Identity multiplier/shift (2^30, 30) leaves an input untouched.
  Tensor c = Tensor::ints(DType::I8, {1, 2});
  c.i = {-128, 127};
  Tensor d = Tensor::ints(DType::I16, {1, 1});
  d.i = {301};
  Tensor cat = qconcat({&c, &d}, 1, {1 << 30, 1 << 30}, {30, 32}, DType::I8);
  EXPECT_EQ(cat.shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(cat.i, (std::vector<int32_t>{-128, 127, 75})); // 75.25 -> 75

  Tensor p = Tensor::ints(DType::I8, {1, 1, 2, 2});
  p.i = {1, 2, 3, 4};
  // Sum 10 times 1/4 = 2.5 -> 3.
  EXPECT_EQ(
      qavgPool2d(p, {2, 2}, {1, 1}, {0, 0, 0, 0}, 1 << 30, 32, DType::I8).i,
      (std::vector<int32_t>{3}));
  // Padded window: only 1 is inside, divisor still 4: 0.25 -> 0.
  EXPECT_EQ(
      qavgPool2d(p, {2, 2}, {1, 1}, {1, 1, 0, 0}, 1 << 30, 32, DType::I8).i,
      (std::vector<int32_t>{0, 1, 1, 3}));
  EXPECT_EQ(qglobalAvgPool(p, 1 << 30, 32, DType::I16).i,
            (std::vector<int32_t>{3}));

  Tensor r = Tensor::ints(DType::I8, {1, 1, 2, 2});
  r.i = {0, 100, 0, 100};
  // Ratio 1 folded with 2^-20: multiplier 2^30, shift 50.
  Tensor up =
      qresize(r, ResizeMode::Bilinear, 2, 4, false, 1 << 30, 50, DType::I8);
  EXPECT_EQ(up.i, (std::vector<int32_t>{0, 25, 75, 100, 0, 25, 75, 100}));
  Tensor nn = qresize(r, ResizeMode::Nearest, 1, 4, false, 0, 0, DType::I16);
  EXPECT_EQ(nn.dtype, DType::I8);
  EXPECT_EQ(nn.i, (std::vector<int32_t>{0, 0, 100, 100}));
}

TEST(IntKernels, RequantizeAndLutExact) {
  Tensor acc = Tensor::ints(DType::I32, {1, 2, 1, 2});
  acc.i = {1000000, -3, 5, -1000000};
  Requantization r;
  r.multiplier = {1 << 30, 1 << 30};
  r.shift = {31, 40}; // ch0 * 0.5, ch1 * 2^-10
  r.out = DType::I16;
  Tensor out = requantize(acc, r);
  EXPECT_EQ(out.i, (std::vector<int32_t>{32767, -1, 0, -977}));
  r.relu = true;
  EXPECT_EQ(requantize(acc, r).i, (std::vector<int32_t>{32767, 0, 0, 0}));

  std::vector<int32_t> table(256);
  for (int k = 0; k < 256; ++k)
    table[k] = k - 128 > 0 ? 300 : k - 128; // saturates to 127 in i8
  Tensor q = Tensor::ints(DType::I8, {4});
  q.i = {-128, -1, 0, 5};
  EXPECT_EQ(qlut(q, table, DType::I8).i,
            (std::vector<int32_t>{-128, -1, 0, 127}));
  EXPECT_EQ(qlut(q, table, DType::I16).i,
            (std::vector<int32_t>{-128, -1, 0, 300}));
}

//===----------------------------------------------------------------------===//
// Agreement with the fake-quant float graph
//===----------------------------------------------------------------------===//

class IntVsFakeQuant : public ::testing::TestWithParam<int> {};

TEST_P(IntVsFakeQuant, QConv2d) {
  std::mt19937 rng(GetParam());
  for (DType act : {DType::I8, DType::I16}) {
    const int bits = dtypeBits(act);
    for (bool relu : {false, true}) {
      Tensor in = randInts(act, {2, 4, 9, 7}, rng);
      Tensor w = randInts(DType::I8, {6, 2, 3, 3}, rng);
      Tensor b = Tensor::ints(DType::I32, {6});
      std::uniform_int_distribution<int32_t> bd(-3000, 3000);
      for (int32_t &v : b.i)
        v = bd(rng);
      const float sIn = bits == 8 ? 0.02f : 0.0001f;
      std::uniform_real_distribution<float> sd(0.001f, 0.01f);
      std::vector<float> sW(6);
      for (float &s : sW)
        s = sd(rng);
      Tensor bf = Tensor::f32({6});
      for (int c = 0; c < 6; ++c)
        bf.f[c] = float(b.i[c] * double(sIn) * sW[c]);
      const Pair stride{2, 1}, dil{1, 2};
      const Quad pad{1, 0, 2, 1};
      Tensor yf = conv2d(dequantize(in, {sIn}, -1), dequantize(w, sW, 0), &bf,
                         stride, pad, dil, 2);
      const float sOut = coverScale(yf, bits);
      Requantization r;
      r.relu = relu;
      r.out = act;
      for (int c = 0; c < 6; ++c) {
        Requant q = rq(double(sIn) * sW[c] / sOut);
        r.multiplier.push_back(q.multiplier);
        r.shift.push_back(q.shift);
      }
      Tensor yq = qconv2d(in, w, &b, stride, pad, dil, 2, r);
      EXPECT_EQ(yq.shape, yf.shape);
      EXPECT_EQ(yq.dtype, act);
      expectWithinOneStep(yq, quantizeAll(yf, sOut, bits, relu));
    }
  }
}

TEST_P(IntVsFakeQuant, QLinear) {
  std::mt19937 rng(GetParam() + 100);
  for (DType act : {DType::I8, DType::I16}) {
    const int bits = dtypeBits(act);
    Tensor in = randInts(act, {3, 4, 32}, rng);
    Tensor w = randInts(DType::I8, {5, 32}, rng);
    Tensor b = Tensor::ints(DType::I32, {5});
    for (int c = 0; c < 5; ++c)
      b.i[c] = (c - 2) * 777;
    const float sIn = bits == 8 ? 0.05f : 0.0002f;
    std::vector<float> sW = {0.002f, 0.004f, 0.0031f, 0.009f, 0.0057f};
    Tensor bf = Tensor::f32({5});
    for (int c = 0; c < 5; ++c)
      bf.f[c] = float(b.i[c] * double(sIn) * sW[c]);
    Tensor yf = linear(dequantize(in, {sIn}, -1), dequantize(w, sW, 0), &bf);
    const float sOut = coverScale(yf, bits);
    Requantization r;
    r.out = act;
    for (int c = 0; c < 5; ++c) {
      Requant q = rq(double(sIn) * sW[c] / sOut);
      r.multiplier.push_back(q.multiplier);
      r.shift.push_back(q.shift);
    }
    Tensor yq = qlinear(in, w, &b, r);
    EXPECT_EQ(yq.shape, (std::vector<int64_t>{3, 4, 5}));
    expectWithinOneStep(yq, quantizeAll(yf, sOut, bits));
  }
}

TEST_P(IntVsFakeQuant, QAddQMul) {
  std::mt19937 rng(GetParam() + 200);
  for (DType act : {DType::I8, DType::I16}) {
    const int bits = dtypeBits(act);
    const float unit = bits == 8 ? 1.0f : 1.0f / 256;
    Tensor a = randInts(act, {2, 3, 5, 4}, rng);
    Tensor b = randInts(act, {3, 1, 4}, rng); // broadcasts
    const float sA = 0.031f * unit, sB = 0.007f * unit;
    Tensor fa = dequantize(a, {sA}, -1), fb = dequantize(b, {sB}, -1);
    for (bool relu : {false, true}) {
      Tensor sum = add(fa, fb);
      const float sOut = coverScale(sum, bits);
      auto shared =
          computeSharedRequant({double(sA) / sOut, double(sB) / sOut});
      ASSERT_TRUE(shared);
      Tensor yq = qadd(a, b, shared->multipliers[0], shared->multipliers[1],
                       shared->shift, relu, act);
      EXPECT_EQ(yq.shape, sum.shape);
      expectWithinOneStep(yq, quantizeAll(sum, sOut, bits, relu));
    }
    Tensor prod = mul(fa, fb);
    const float sOut = coverScale(prod, bits);
    Requant q = rq(double(sA) * sB / sOut);
    Tensor yq = qmul(a, b, q.multiplier, q.shift, act);
    expectWithinOneStep(yq, quantizeAll(prod, sOut, bits));
  }
}

TEST_P(IntVsFakeQuant, QConcat) {
  std::mt19937 rng(GetParam() + 300);
  Tensor a = randInts(DType::I8, {2, 3, 4, 4}, rng);
  Tensor b = randInts(DType::I16, {2, 5, 4, 4}, rng);
  const float sA = 0.02f, sB = 0.00005f, sOut = 0.015f;
  Tensor fa = dequantize(a, {sA}, -1), fb = dequantize(b, {sB}, -1);
  Tensor ref = concat({&fa, &fb}, 1);
  Requant qa = rq(double(sA) / sOut), qb = rq(double(sB) / sOut);
  Tensor yq = qconcat({&a, &b}, 1, {qa.multiplier, qb.multiplier},
                      {qa.shift, qb.shift}, DType::I8);
  EXPECT_EQ(yq.shape, (std::vector<int64_t>{2, 8, 4, 4}));
  expectWithinOneStep(yq, quantizeAll(ref, sOut, 8));
}

TEST_P(IntVsFakeQuant, QAvgPoolAndGlobal) {
  std::mt19937 rng(GetParam() + 400);
  for (DType act : {DType::I8, DType::I16}) {
    const int bits = dtypeBits(act);
    const float sIn = bits == 8 ? 0.03f : 0.0001f;
    Tensor in = randInts(act, {2, 3, 9, 8}, rng);
    Tensor fin = dequantize(in, {sIn}, -1);
    const Pair k{3, 3}, s{2, 2};
    const Quad pad{1, 1, 1, 0};
    Tensor ref = avgPool2d(fin, k, s, pad);
    const float sOut = coverScale(ref, bits);
    Requant q = rq(double(sIn) / (9.0 * sOut));
    Tensor yq = qavgPool2d(in, k, s, pad, q.multiplier, q.shift, act);
    EXPECT_EQ(yq.shape, ref.shape);
    expectWithinOneStep(yq, quantizeAll(ref, sOut, bits));

    Tensor gin = randInts(act, {4, 16, 6, 5}, rng);
    Tensor gref = globalAvgPool(dequantize(gin, {sIn}, -1));
    const float gOut = coverScale(gref, bits);
    Requant g = rq(double(sIn) / (30.0 * gOut));
    Tensor gq = qglobalAvgPool(gin, g.multiplier, g.shift, act);
    EXPECT_EQ(gq.shape, (std::vector<int64_t>{4, 16, 1, 1}));
    expectWithinOneStep(gq, quantizeAll(gref, gOut, bits));
  }
}

TEST_P(IntVsFakeQuant, QResizeBilinear) {
  std::mt19937 rng(GetParam() + 500);
  for (bool align : {false, true})
    for (auto [oh, ow] : {std::pair<int64_t, int64_t>{11, 7}, {3, 13}}) {
      Tensor in = randInts(DType::I8, {1, 2, 5, 6}, rng);
      const float sIn = 0.04f, sOut = 0.05f;
      Tensor ref = resize(dequantize(in, {sIn}, -1), ResizeMode::Bilinear, oh,
                          ow, align);
      Requant q = rq(double(sIn) / sOut * std::ldexp(1.0, -20));
      Tensor yq = qresize(in, ResizeMode::Bilinear, oh, ow, align, q.multiplier,
                          q.shift, DType::I8);
      EXPECT_EQ(yq.shape, ref.shape);
      // Q10 weights move results by at most 255 * 2^-11 * 2 input steps,
      // still within one output step here.
      expectWithinOneStep(yq, quantizeAll(ref, sOut, 8), 0.8);
    }
  // int16: the Q10 weight error grows with the neighbour difference (up to
  // |dq| / 1024 steps); smooth data stays within one step, and the 2^35
  // accumulator exercises the wide requantization.
  Tensor in = Tensor::ints(DType::I16, {1, 1, 6, 6});
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x)
      in.i[y * 6 + x] = -32768 + 200 * (y * 6 + x) + (x % 2) * 300;
  in.i[35] = 32767;
  const float sIn = 0.001f, sOut = 0.001f;
  Tensor ref =
      resize(dequantize(in, {sIn}, -1), ResizeMode::Bilinear, 10, 9, false);
  Requant q = rq(double(sIn) / sOut * std::ldexp(1.0, -20));
  Tensor yq = qresize(in, ResizeMode::Bilinear, 10, 9, false, q.multiplier,
                      q.shift, DType::I16);
  std::vector<int64_t> want = quantizeAll(ref, sOut, 16);
  for (size_t k = 0; k < want.size(); ++k)
    EXPECT_LE(std::llabs(yq.i[k] - want[k]), 64) << k;
  EXPECT_EQ(yq.i[0], -32768);
  EXPECT_EQ(yq.i[want.size() - 1], 32767);
}

TEST_P(IntVsFakeQuant, Requantize) {
  std::mt19937 rng(GetParam() + 600);
  Tensor acc = Tensor::ints(DType::I32, {2, 4, 3, 3});
  std::uniform_int_distribution<int32_t> ad(-2000000, 2000000);
  for (int32_t &v : acc.i)
    v = ad(rng);
  const float sAcc = 1e-5f;
  Tensor f = dequantize(acc, {sAcc}, -1);
  for (bool relu : {false, true}) {
    // Per tensor.
    const float sOut = coverScale(f, 8);
    Requant q = rq(double(sAcc) / sOut);
    Requantization r{{q.multiplier}, {q.shift}, relu, DType::I8};
    expectWithinOneStep(requantize(acc, r), quantizeAll(f, sOut, 8, relu));
    // Per channel along axis 1, into int16.
    const std::vector<float> sOuts = {0.001f, 0.0005f, 0.002f, 0.0007f};
    Requantization pc;
    pc.relu = relu;
    pc.out = DType::I16;
    std::vector<int64_t> want(f.f.size());
    for (int c = 0; c < 4; ++c) {
      Requant qc = rq(double(sAcc) / sOuts[c]);
      pc.multiplier.push_back(qc.multiplier);
      pc.shift.push_back(qc.shift);
    }
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 4; ++c)
        for (int k = 0; k < 9; ++k) {
          const size_t e = size_t((n * 4 + c) * 9 + k);
          want[e] = quantizeValue(relu ? std::max(f.f[e], 0.0f) : f.f[e],
                                  sOuts[c], 16);
        }
    expectWithinOneStep(requantize(acc, pc), want);
  }
}

TEST_P(IntVsFakeQuant, QLutSigmoid) {
  std::mt19937 rng(GetParam() + 700);
  for (DType act : {DType::I8, DType::I16}) {
    const int bits = dtypeBits(act);
    const float sIn = 8.0f / float(qmax(bits)), sOut = 1.0f / float(qmax(bits));
    // The table is the fake-quant sigmoid of every input code.
    std::vector<int32_t> table(size_t(1) << bits);
    for (int64_t q = qmin(bits); q <= qmax(bits); ++q)
      table[size_t(q - qmin(bits))] = int32_t(quantizeValue(
          unaryValue(float(q) * sIn, Unary::Sigmoid), sOut, bits));
    Tensor in = randInts(act, {3, 50}, rng);
    Tensor ref = unary(dequantize(in, {sIn}, -1), Unary::Sigmoid);
    Tensor yq = qlut(in, table, act);
    expectWithinOneStep(yq, quantizeAll(ref, sOut, bits), 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, IntVsFakeQuant, ::testing::Values(1, 2, 3));

// Deformable sampling on a 2 x 2 map [[10, 20], [30, 40]] (one head, one
// channel) and a 1 x 2 second level [[100, 200]]:
// - (0.5, 0.5) lies between the four level-0 pixels: average 25;
// - (1.0, 0.5) is pixel (1.5, 0.5): half of column 1, half outside: 15;
// - level 1 at (0.25, 0.5) is pixel (0, 0): 100.
// Integer: locations q / 256 (s_loc = 2^-8), so the position ratio is
// s_loc * size * 256 = size; weights q / 64; one output step per unit.
TEST(MsDeformAttn, HandComputedFloatAndInteger) {
  const std::vector<int64_t> shapes{2, 2, 1, 2};
  Tensor value = Tensor::f32({1, 6, 1, 1});
  value.f = {10, 20, 30, 40, 100, 200};
  Tensor loc = Tensor::f32({1, 3, 1, 2, 1, 2});
  Tensor w = Tensor::f32({1, 3, 1, 2, 1});
  // Query 0: level 0 at the centre (weight 1), level 1 ignored (weight 0).
  // Query 1: level 0 at (1.0, 0.5). Query 2: level 1 at (0.25, 0.5), 0.5.
  loc.f = {0.5, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.5};
  w.f = {1, 0, 1, 0, 0, 0.5};
  Tensor out = msDeformAttn(value, loc, w, shapes);
  ASSERT_EQ(out.shape, (std::vector<int64_t>{1, 3, 1}));
  EXPECT_FLOAT_EQ(out.f[0], 25.f);
  EXPECT_FLOAT_EQ(out.f[1], 15.f);
  EXPECT_FLOAT_EQ(out.f[2], 50.f);

  Tensor qv = Tensor::ints(DType::I16, {1, 6, 1, 1});
  qv.i = {10, 20, 30, 40, 100, 200};
  Tensor ql = Tensor::ints(DType::I16, {1, 3, 1, 2, 1, 2});
  for (size_t k = 0; k < loc.f.size(); ++k)
    ql.i[k] = int32_t(loc.f[k] * 256);
  Tensor qw = Tensor::ints(DType::I8, {1, 3, 1, 2, 1});
  for (size_t k = 0; k < w.f.size(); ++k)
    qw.i[k] = int32_t(w.f[k] * 64);
  // x, y of level 0 (W = H = 2), then of level 1 (W = 2, H = 1).
  std::vector<int32_t> lm, ls;
  for (double ratio : {2.0, 2.0, 2.0, 1.0}) {
    lm.push_back(rq(ratio).multiplier);
    ls.push_back(rq(ratio).shift);
  }
  const Requant outRq = rq(1.0 / (64.0 * 65536.0));
  Tensor q = qmsDeformAttn(qv, ql, qw, shapes, lm, ls, outRq.multiplier,
                           outRq.shift, DType::I16);
  EXPECT_EQ(q.i, (std::vector<int32_t>{25, 15, 50}));
}

// Random int8 / int16 operands against the float op on the dequantized
// inputs. The locations sit on the 1/256-pixel grid the integer form rounds
// positions to (s_loc = 2^-12, integers multiples of 16: q * size * 256 *
// 2^-12 is whole), so the only differences are float rounding and the
// output's: within one step everywhere, equal on most. (Off the grid, the
// position rounding moves a sample by up to 1/512 pixel, which
// PipelineTest.MsDeformAttnIntegerMatchesFakeQuant bounds in a model.)
TEST(MsDeformAttn, IntegerFollowsTheFloatOp) {
  std::mt19937 rng(21);
  const std::vector<int64_t> shapes{4, 5, 2, 3};
  for (DType dt : {DType::I8, DType::I16}) {
    Tensor qv = randInts(dt, {2, 26, 2, 3}, rng);
    Tensor ql = Tensor::ints(DType::I16, {2, 7, 2, 2, 3, 2});
    // Locations in [-0.1, 1.2]: some points sample partly or wholly
    // outside the maps.
    std::uniform_int_distribution<int32_t> grid(-26, 307);
    for (int32_t &v : ql.i)
      v = 16 * grid(rng);
    Tensor qw = randInts(DType::I8, {2, 7, 2, 2, 3}, rng);
    const double sl = 1.0 / 4096, sw = 1.0 / 127;
    const double sv = dt == DType::I8 ? 0.05 : 0.0005;
    const double so = dt == DType::I8 ? 0.2 : 0.004;
    std::vector<int32_t> lm, ls;
    for (size_t l = 0; l < shapes.size(); l += 2)
      for (int64_t size : {shapes[l + 1], shapes[l]}) {
        lm.push_back(rq(sl * double(size) * 256).multiplier);
        ls.push_back(rq(sl * double(size) * 256).shift);
      }
    const Requant o = rq(sv * sw / (65536.0 * so));
    Tensor q =
        qmsDeformAttn(qv, ql, qw, shapes, lm, ls, o.multiplier, o.shift, dt);
    auto dequant = [](const Tensor &t, double scale) {
      Tensor f = Tensor::f32(t.shape);
      for (size_t k = 0; k < t.i.size(); ++k)
        f.f[k] = float(t.i[k] * scale);
      return f;
    };
    Tensor ref =
        msDeformAttn(dequant(qv, sv), dequant(ql, sl), dequant(qw, sw), shapes);
    size_t equal = 0, saturated = 0;
    const double hi = double(qmax(dtypeBits(dt))),
                 lo = double(qmin(dtypeBits(dt)));
    for (size_t k = 0; k < q.i.size(); ++k) {
      const double want = std::clamp(std::nearbyint(ref.f[k] / so), lo, hi);
      ASSERT_LE(std::fabs(q.i[k] - want), 1.0)
          << "bits " << dtypeBits(dt) << " element " << k << ": " << q.i[k]
          << " vs " << want << " (float " << ref.f[k] << ")";
      equal += q.i[k] == want;
      saturated += want == lo || want == hi;
    }
    EXPECT_GE(equal, q.i.size() * 8 / 10) << equal << " of " << q.i.size();
    EXPECT_LE(saturated, q.i.size() / 5) << "a vacuous comparison";
  }
}

// Locations and weights of batch 1 serve every image: the same as giving
// each image a copy, in float and in integers.
TEST(MsDeformAttn, BatchOneLocationsServeEveryImage) {
  std::mt19937 rng(8);
  const std::vector<int64_t> shapes{3, 4, 2, 2};
  Tensor qv = randInts(DType::I8, {3, 16, 2, 4}, rng);
  Tensor ql = randInts(DType::I16, {1, 5, 2, 2, 2, 2}, rng);
  Tensor qw = randInts(DType::I8, {1, 5, 2, 2, 2}, rng);
  auto repeat = [](const Tensor &t, int64_t times) {
    Tensor r = t;
    r.shape[0] = times;
    for (int64_t k = 1; k < times; ++k) {
      r.i.insert(r.i.end(), t.i.begin(), t.i.end());
      r.f.insert(r.f.end(), t.f.begin(), t.f.end());
    }
    return r;
  };
  const std::vector<int32_t> lm{1 << 30, 1 << 30, 1 << 30, 1 << 30},
      ls{43, 43, 44, 44};
  Tensor shared =
      qmsDeformAttn(qv, ql, qw, shapes, lm, ls, 1 << 30, 40, DType::I8);
  Tensor copied = qmsDeformAttn(qv, repeat(ql, 3), repeat(qw, 3), shapes, lm,
                                ls, 1 << 30, 40, DType::I8);
  EXPECT_EQ(shared.i, copied.i);
  EXPECT_EQ(shared.shape, (std::vector<int64_t>{3, 5, 8}));

  Tensor fv = Tensor::f32({3, 16, 2, 4}), fl = Tensor::f32({1, 5, 2, 2, 2, 2}),
         fw = Tensor::f32({1, 5, 2, 2, 2});
  std::uniform_real_distribution<float> u(-0.1f, 1.1f);
  for (float &v : fv.f)
    v = u(rng);
  for (float &v : fl.f)
    v = u(rng);
  for (float &v : fw.f)
    v = u(rng);
  EXPECT_EQ(msDeformAttn(fv, fl, fw, shapes).f,
            msDeformAttn(fv, repeat(fl, 3), repeat(fw, 3), shapes).f);
}
