//===- FloatKernelsTest.cpp - Reference float and layout kernels ----------===//

#include "hat/Eval/Kernels.h"
#include "hat/Quant/FixedPoint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>

using namespace hat::eval;

namespace {

Tensor make(std::vector<int64_t> shape, std::vector<float> data) {
  Tensor t = Tensor::f32(std::move(shape));
  EXPECT_EQ(int64_t(data.size()), t.numel());
  t.f = std::move(data);
  return t;
}

Tensor iota(std::vector<int64_t> shape, float start = 1.0f) {
  Tensor t = Tensor::f32(std::move(shape));
  for (size_t k = 0; k < t.f.size(); ++k)
    t.f[k] = start + float(k);
  return t;
}

Tensor random(std::vector<int64_t> shape, std::mt19937 &rng) {
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  Tensor t = Tensor::f32(std::move(shape));
  for (float &x : t.f)
    x = ud(rng);
  return t;
}

void expectNear(const Tensor &t, const std::vector<float> &want,
                float tol = 1e-5f) {
  ASSERT_EQ(t.f.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k)
    EXPECT_NEAR(t.f[k], want[k], tol) << "at " << k;
}

/// The textbook definition, one output element at a time.
Tensor naiveConv(const Tensor &in, const Tensor &w, const Tensor *bias, Pair s,
                 Quad p, Pair d, int64_t groups) {
  const int64_t n = in.shape[0], c = in.shape[1], h = in.shape[2],
                wd = in.shape[3];
  const int64_t o = w.shape[0], cg = w.shape[1], kh = w.shape[2],
                kw = w.shape[3];
  const int64_t oh = (h + p[0] + p[2] - d[0] * (kh - 1) - 1) / s[0] + 1;
  const int64_t ow = (wd + p[1] + p[3] - d[1] * (kw - 1) - 1) / s[1] + 1;
  Tensor out = Tensor::f32({n, o, oh, ow});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x) {
          double acc = bias ? bias->f[oc] : 0.0;
          const int64_t g = oc / (o / groups);
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = y * s[0] - p[0] + ky * d[0];
                const int64_t ix = x * s[1] - p[1] + kx * d[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                  continue;
                acc +=
                    double(in.f[((b * c + g * cg + ic) * h + iy) * wd + ix]) *
                    w.f[((oc * cg + ic) * kh + ky) * kw + kx];
              }
          out.f[((b * o + oc) * oh + y) * ow + x] = float(acc);
        }
  return out;
}

} // namespace

TEST(FloatKernels, Conv2dHandComputed) {
  const Tensor in = iota({1, 1, 3, 3}); // 1..9
  // Diagonal 2x2 kernel, stride 1, no padding, bias 0.5.
  const Tensor diag = make({1, 1, 2, 2}, {1, 0, 0, 1});
  const Tensor bias = make({1}, {0.5f});
  Tensor out = conv2d(in, diag, &bias, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  expectNear(out, {6.5f, 8.5f, 12.5f, 14.5f});
  // 3x3 ones, padding 1, stride 2: sums of the corner neighbourhoods.
  const Tensor ones = Tensor::f32({1, 1, 3, 3}, 1.0f);
  out = conv2d(in, ones, nullptr, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  expectNear(out, {12, 16, 24, 28});
  // Dilation 2 with a 2x2 kernel reads the four corners.
  const Tensor ones2 = Tensor::f32({1, 1, 2, 2}, 1.0f);
  out = conv2d(in, ones2, nullptr, {1, 1}, {0, 0, 0, 0}, {2, 2}, 1);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 1, 1, 1}));
  expectNear(out, {20});
  // Asymmetric padding {top 1, left 0, bottom 0, right 1}.
  const Tensor in2 = iota({1, 1, 2, 2});
  out = conv2d(in2, ones2, nullptr, {1, 1}, {1, 0, 0, 1}, {1, 1}, 1);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  expectNear(out, {3, 2, 10, 6});
  // Groups: each output channel sees only its own input channel.
  const Tensor two = make({1, 2, 1, 1}, {2, 3});
  out = conv2d(two, make({2, 1, 1, 1}, {10, 100}), nullptr, {1, 1},
               {0, 0, 0, 0}, {1, 1}, 2);
  expectNear(out, {20, 300});
  out = conv2d(two, make({2, 2, 1, 1}, {1, 1, 1, -1}), nullptr, {1, 1},
               {0, 0, 0, 0}, {1, 1}, 1);
  expectNear(out, {5, -1});
}

TEST(FloatKernels, Conv2dMatchesNaiveDefinition) {
  std::mt19937 rng(1);
  struct Cfg {
    int64_t c, o, groups, h, w, kh, kw;
    Pair s;
    Quad p;
    Pair d;
  };
  const Cfg cfgs[] = {
      {3, 4, 1, 7, 6, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {4, 6, 2, 9, 8, 3, 2, {2, 3}, {0, 2, 1, 0}, {1, 2}},
      {6, 6, 6, 5, 5, 3, 3, {2, 2}, {1, 1, 1, 1}, {2, 2}},
      {2, 3, 1, 4, 11, 1, 5, {1, 2}, {3, 3, 3, 3}, {1, 1}},
  };
  for (const Cfg &c : cfgs) {
    Tensor in = random({2, c.c, c.h, c.w}, rng);
    Tensor w = random({c.o, c.c / c.groups, c.kh, c.kw}, rng);
    Tensor b = random({c.o}, rng);
    Tensor got = conv2d(in, w, &b, c.s, c.p, c.d, c.groups);
    Tensor want = naiveConv(in, w, &b, c.s, c.p, c.d, c.groups);
    EXPECT_EQ(got.shape, want.shape);
    expectNear(got, want.f, 1e-4f);
  }
}

TEST(FloatKernels, LinearAndBatchNorm) {
  const Tensor in = make({2, 3}, {1, 2, 3, -1, 0, 1});
  const Tensor w = make({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f});
  const Tensor b = make({2}, {10, 0});
  Tensor out = linear(in, w, &b);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 2}));
  expectNear(out, {8, 3, 8, 0});
  // Leading dims are kept: [1, 2, 3] -> [1, 2, 2].
  Tensor in3 = reshape(in, {1, 2, 3});
  EXPECT_EQ(linear(in3, w, nullptr).shape, (std::vector<int64_t>{1, 2, 2}));
  expectNear(linear(in3, w, nullptr), {-2, 3, -2, 0});

  const Tensor x = make({1, 2, 1, 2}, {1, 3, 2, 4});
  Tensor y = batchNorm(x, make({2}, {2, 1}), make({2}, {0, 1}),
                       make({2}, {1, 0}), make({2}, {3, 0}), 1.0f);
  // ch0: (x - 1) / 2 * 2 + 0; ch1: (x - 0) / 1 * 1 + 1.
  expectNear(y, {0, 2, 3, 5});
}

TEST(FloatKernels, Unary) {
  const Tensor x = make({5}, {-4, -1, 0, 1, 7});
  expectNear(unary(x, Unary::Relu), {0, 0, 0, 1, 7});
  expectNear(unary(x, Unary::Relu6), {0, 0, 0, 1, 6});
  expectNear(unary(x, Unary::Sigmoid),
             {0.01798621f, 0.26894142f, 0.5f, 0.73105858f, 0.99908895f});
  expectNear(unary(x, Unary::Silu),
             {-0.07194484f, -0.26894142f, 0.0f, 0.73105858f, 6.99362265f});
  expectNear(unary(x, Unary::Hardswish), {0, -1.0f / 3, 0, 2.0f / 3, 7});
}

TEST(FloatKernels, BroadcastingAddMul) {
  const Tensor a = iota({2, 1, 3}, 0.0f);         // [[0 1 2]], [[3 4 5]]
  const Tensor b = make({4, 1}, {0, 10, 20, 30}); // column
  Tensor s = add(a, b);
  EXPECT_EQ(s.shape, (std::vector<int64_t>{2, 4, 3}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(s.f[(i * 4 + j) * 3 + k], float(i * 3 + k + j * 10));
  Tensor p = mul(a, make({3}, {1, -1, 2}));
  EXPECT_EQ(p.shape, (std::vector<int64_t>{2, 1, 3}));
  expectNear(p, {0, -1, 4, 3, -4, 10});
  Tensor sc = mul(make({}, {2}), a);
  EXPECT_EQ(sc.shape, a.shape);
  expectNear(sc, {0, 2, 4, 6, 8, 10});
}

TEST(FloatKernels, ConcatAnyDtype) {
  const Tensor a = iota({1, 2, 2}, 0.0f);
  const Tensor b = make({1, 1, 2}, {9, 9});
  Tensor c = concat({&a, &b}, 1);
  EXPECT_EQ(c.shape, (std::vector<int64_t>{1, 3, 2}));
  expectNear(c, {0, 1, 2, 3, 9, 9});
  Tensor d = concat({&a, &a}, -1);
  EXPECT_EQ(d.shape, (std::vector<int64_t>{1, 2, 4}));
  expectNear(d, {0, 1, 0, 1, 2, 3, 2, 3});
  Tensor i1 = Tensor::ints(DType::I16, {2, 1}, 5);
  Tensor i2 = Tensor::ints(DType::I16, {2, 2}, -7);
  Tensor ic = concat({&i1, &i2}, 1);
  EXPECT_EQ(ic.dtype, DType::I16);
  EXPECT_EQ(ic.i, (std::vector<int32_t>{5, -7, -7, 5, -7, -7}));
}

TEST(FloatKernels, MaxPoolPaddingNeverWins) {
  const Tensor x = make({1, 1, 2, 2}, {-1, -2, -3, -4});
  Tensor y = maxPool2d(x, {2, 2}, {1, 1}, {1, 1, 1, 1});
  EXPECT_EQ(y.shape, (std::vector<int64_t>{1, 1, 3, 3}));
  expectNear(y, {-1, -1, -2, -1, -1, -2, -3, -3, -4});
  Tensor xi = Tensor::ints(DType::I8, {1, 1, 2, 2});
  xi.i = {-128, -100, 5, -3};
  Tensor yi = maxPool2d(xi, {2, 2}, {2, 2}, {1, 1, 1, 1});
  EXPECT_EQ(yi.dtype, DType::I8);
  EXPECT_EQ(yi.i, (std::vector<int32_t>{-128, -100, 5, -3}));
  // Standard 2x2/2 pooling.
  Tensor z = maxPool2d(iota({1, 1, 4, 4}), {2, 2}, {2, 2}, {0, 0, 0, 0});
  expectNear(z, {6, 8, 14, 16});
}

TEST(FloatKernels, AvgPoolsCountPadding) {
  const Tensor x = iota({1, 1, 2, 2});
  Tensor y = avgPool2d(x, {2, 2}, {1, 1}, {1, 1, 0, 0});
  EXPECT_EQ(y.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  expectNear(y, {0.25f, 0.75f, 1.0f, 2.5f});
  Tensor z = avgPool2d(iota({1, 1, 4, 4}), {2, 2}, {2, 2}, {0, 0, 0, 0});
  expectNear(z, {3.5f, 5.5f, 11.5f, 13.5f});
  Tensor g = globalAvgPool(iota({2, 2, 1, 3}));
  EXPECT_EQ(g.shape, (std::vector<int64_t>{2, 2, 1, 1}));
  expectNear(g, {2, 5, 8, 11});
}

TEST(FloatKernels, ResizeNearest) {
  const Tensor x = iota({1, 1, 2, 2});
  Tensor up = resize(x, ResizeMode::Nearest, 4, 4, false);
  expectNear(up, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  EXPECT_EQ(nearestIndices(4, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(nearestIndices(3, 2), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(nearestIndices(2, 5), (std::vector<int64_t>{0, 0, 0, 1, 1}));
  Tensor down = resize(iota({1, 1, 1, 4}), ResizeMode::Nearest, 1, 3, false);
  expectNear(down, {1, 2, 3});
  Tensor xi = Tensor::ints(DType::I16, {1, 1, 1, 2});
  xi.i = {-5, 300};
  Tensor ui = resize(xi, ResizeMode::Nearest, 1, 3, false);
  EXPECT_EQ(ui.dtype, DType::I16);
  EXPECT_EQ(ui.i, (std::vector<int32_t>{-5, -5, 300}));
}

TEST(FloatKernels, ResizeBilinearBothAlignModes) {
  const Tensor x = make({1, 1, 2, 2}, {0, 1, 2, 3});
  // Half-pixel centres: axis positions 0 (clamped), .25, .75, 1.
  Tensor a = resize(x, ResizeMode::Bilinear, 4, 4, false);
  const float m[4] = {0, 0.25f, 0.75f, 1};
  std::vector<float> want;
  for (int y = 0; y < 4; ++y)
    for (int xx = 0; xx < 4; ++xx)
      want.push_back(2 * m[y] + m[xx]);
  expectNear(a, want);
  // Corners aligned: positions 0, 1/3, 2/3, 1.
  Tensor b = resize(x, ResizeMode::Bilinear, 4, 4, true);
  const float n[4] = {0, 1.0f / 3, 2.0f / 3, 1};
  want.clear();
  for (int y = 0; y < 4; ++y)
    for (int xx = 0; xx < 4; ++xx)
      want.push_back(2 * n[y] + n[xx]);
  expectNear(b, want);
  // Downscale 4 -> 2: centres at 0.5 and 2.5 (align off), 0 and 3 (on).
  const Tensor row = make({1, 1, 1, 4}, {0, 10, 20, 30});
  expectNear(resize(row, ResizeMode::Bilinear, 1, 2, false), {5, 25});
  expectNear(resize(row, ResizeMode::Bilinear, 1, 2, true), {0, 30});
  // Taps carry the Q10 weights the integer resize uses.
  std::vector<LinearTap> taps = bilinearTaps(2, 4, false);
  EXPECT_EQ(taps[1].i0, 0);
  EXPECT_EQ(taps[1].i1, 1);
  EXPECT_EQ(taps[1].w1, 256);
  EXPECT_EQ(taps[2].w1, 768);
  EXPECT_EQ(taps[3].i0, 1);
  EXPECT_EQ(taps[3].i1, 1);
  std::vector<LinearTap> ac = bilinearTaps(2, 4, true);
  EXPECT_EQ(ac[1].w1, 341); // nearbyint(1024 / 3)
  EXPECT_EQ(ac[2].w1, 683);
  std::vector<LinearTap> one = bilinearTaps(5, 1, true);
  EXPECT_EQ(one[0].i0, 0);
  EXPECT_EQ(one[0].w1, 0);
}

TEST(FloatKernels, ReshapeTranspose) {
  const Tensor x = iota({2, 3}, 0.0f);
  Tensor r = reshape(x, {3, 1, 2});
  EXPECT_EQ(r.shape, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(r.f, x.f);
  Tensor t = transpose(x, {1, 0});
  EXPECT_EQ(t.shape, (std::vector<int64_t>{3, 2}));
  expectNear(t, {0, 3, 1, 4, 2, 5});
  const Tensor y = iota({2, 3, 4}, 0.0f);
  Tensor u = transpose(y, {2, 0, 1});
  EXPECT_EQ(u.shape, (std::vector<int64_t>{4, 2, 3}));
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(u.f[(a * 2 + b) * 3 + c], float((b * 3 + c) * 4 + a));
  Tensor yi = Tensor::ints(DType::I8, {2, 2});
  yi.i = {1, 2, 3, 4};
  EXPECT_EQ(transpose(yi, {1, 0}).i, (std::vector<int32_t>{1, 3, 2, 4}));
}

TEST(FloatKernels, Softmax) {
  const Tensor x = make({2, 3}, {1, 2, 3, 0, 0, 1000});
  Tensor s = softmax(x, 1);
  const float e = std::exp(1.0f), d = 1 + e + e * e;
  expectNear(s, {1 / d, e / d, e * e / d, 0, 0, 1});
  Tensor c = softmax(make({2, 2}, {0, 1, 0, 3}), 0);
  expectNear(c,
             {0.5f, 1 / (1 + std::exp(2.0f)), 0.5f, 1 / (1 + std::exp(-2.0f))});
  Tensor n = softmax(make({2, 2}, {0, 1, 0, 3}), -2);
  EXPECT_EQ(n.f, c.f);
}

TEST(FloatKernels, QuantizationBoundaries) {
  const Tensor x = make({1, 2, 2}, {0.26f, -1.0f, 0.26f, -1.0f});
  // Per tensor, scale 0.1: 0.26 -> 3 * 0.1, -1.0 -> -10 * 0.1.
  expectNear(fakeQuant(x, 8, -1, {0.1f}), {0.3f, -1.0f, 0.3f, -1.0f});
  // Per channel along axis 1 with scales 0.1 and 0.005 (saturates at -128).
  Tensor fq = fakeQuant(x, 8, 1, {0.1f, 0.005f});
  expectNear(fq, {0.3f, -1.0f, 0.26f, -0.64f});
  Tensor q = quantize(x, 0.01f, DType::I8);
  EXPECT_EQ(q.dtype, DType::I8);
  EXPECT_EQ(q.i, (std::vector<int32_t>{26, -100, 26, -100}));
  Tensor q16 = quantize(x, 0.0001f, DType::I16);
  EXPECT_EQ(q16.i, (std::vector<int32_t>{2600, -10000, 2600, -10000}));
  Tensor dq = dequantize(q, {0.5f, 2.0f}, 1);
  expectNear(dq, {13, -50, 52, -200});
  expectNear(dequantize(q, {0.01f}, -1), {0.26f, -1.0f, 0.26f, -1.0f});
}

TEST(FloatKernels, SmallCnnOverABatchHasTheRightShape) {
  // A 28x28 MNIST-sized CNN over 100 images. Its time is recorded, not
  // asserted: a wall-clock bound failed in the sanitized build (2.5 s under
  // ASan at -O1) and speed goals belong in bench/.
  std::mt19937 rng(2);
  Tensor x = random({100, 1, 28, 28}, rng);
  Tensor w1 = random({16, 1, 3, 3}, rng), w2 = random({32, 16, 3, 3}, rng);
  Tensor w3 = random({10, 32 * 7 * 7}, rng);
  const auto start = std::chrono::steady_clock::now();
  Tensor h = unary(conv2d(x, w1, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
                   Unary::Relu);
  h = maxPool2d(h, {2, 2}, {2, 2}, {0, 0, 0, 0});
  EXPECT_EQ(h.shape, (std::vector<int64_t>{100, 16, 14, 14}));
  h = unary(conv2d(h, w2, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
            Unary::Relu);
  h = maxPool2d(h, {2, 2}, {2, 2}, {0, 0, 0, 0});
  EXPECT_EQ(h.shape, (std::vector<int64_t>{100, 32, 7, 7}));
  Tensor logits = linear(reshape(h, {100, 32 * 7 * 7}), w3, nullptr);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_EQ(logits.shape, (std::vector<int64_t>{100, 10}));
  RecordProperty("seconds", std::to_string(secs));
}
