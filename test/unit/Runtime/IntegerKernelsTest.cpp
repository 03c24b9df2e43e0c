//===- IntegerKernelsTest.cpp - IntegerConv equals hat::eval's qconv2d ----===//
//
// The integer conv / linear kernels the executor's int_infer runs on, against
// the reference kernels (hat::eval::qconv2d / qlinear) on random layers: odd
// sizes, strides, asymmetric padding, dilation, groups and depthwise
// (multiplier 1 and 2), int8 and int16 inputs (one int32 sum, and the
// high/low byte split beyond K = 511), int8 and int16 outputs, ReLU,
// per-tensor and per-channel requantization, batches > 1, with every
// instruction set this CPU has and serial or parallel tasks. Extreme inputs
// reach the int32 clamp of the accumulator.
//
//===----------------------------------------------------------------------===//

#include "hat/Runtime/IntegerKernels.h"

#include "hat/Eval/Kernels.h"
#include "hat/Quant/FixedPoint.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <thread>

using namespace hat;

namespace {

std::vector<runtime::Isa> isasToTest() {
  std::vector<runtime::Isa> isas{runtime::Isa::Scalar};
  const runtime::Isa best = runtime::detectIsa();
  if (int(best) >= int(runtime::Isa::Avx2))
    isas.push_back(runtime::Isa::Avx2);
  if (best == runtime::Isa::Avx512Vnni)
    isas.push_back(runtime::Isa::Avx512Vnni);
  return isas;
}

/// Tasks on two real threads, in an interleaved order, so a kernel that
/// shared scratch between tasks or depended on the order would fail.
void twoThreads(int64_t tasks, const std::function<void(int64_t)> &body) {
  std::thread other([&] {
    for (int64_t t = tasks - 1; t >= 0; t -= 2)
      body(t);
  });
  for (int64_t t = tasks - 2; t >= 0; t -= 2)
    body(t);
  other.join();
}

struct Layer {
  runtime::ConvShape shape;
  int inBits = 8, outBits = 8;
  int64_t batch = 1;
  bool bias = true, relu = false, perChannel = true;
  int32_t shiftLo = 36, shiftHi = 42;
  /// Inputs at the type's extremes (reach the int32 clamp with large K).
  bool extreme = false;
  const char *method = "gemm";
};

class IntegerKernelsTest : public ::testing::Test {
protected:
  std::mt19937 rng{7};

  int32_t uniform(int64_t lo, int64_t hi) {
    return int32_t(std::uniform_int_distribution<int64_t>(lo, hi)(rng));
  }

  /// Builds the layer, runs it every way and compares with the reference.
  void check(const Layer &l) {
    const runtime::ConvShape &s = l.shape;
    const int64_t cg = s.channels / s.groups;
    const int64_t inLimit = l.inBits == 8 ? 127 : 32767;
    eval::Tensor in =
        eval::Tensor::ints(l.inBits == 8 ? eval::DType::I8 : eval::DType::I16,
                           {l.batch, s.channels, s.height, s.width});
    for (int32_t &v : in.i)
      v = l.extreme ? int32_t(inLimit) : uniform(-inLimit - 1, inLimit);
    eval::Tensor w = eval::Tensor::ints(
        eval::DType::I8, {s.outChannels, cg, s.kernelH, s.kernelW});
    for (int32_t &v : w.i)
      v = l.extreme ? uniform(120, 127) : uniform(-128, 127);
    eval::Tensor b = eval::Tensor::ints(eval::DType::I32, {s.outChannels});
    for (int32_t &v : b.i)
      v = uniform(-100000, 100000);
    eval::Requantization rq;
    rq.relu = l.relu;
    rq.out = l.outBits == 8 ? eval::DType::I8 : eval::DType::I16;
    const size_t n = l.perChannel ? size_t(s.outChannels) : 1;
    for (size_t k = 0; k < n; ++k) {
      rq.multiplier.push_back(uniform(1 << 30, 2147483647));
      rq.shift.push_back(uniform(l.shiftLo, l.shiftHi));
    }
    const eval::Tensor ref =
        eval::qconv2d(in, w, l.bias ? &b : nullptr, {s.strideH, s.strideW},
                      {s.padTop, s.padLeft, s.padBottom, s.padRight},
                      {s.dilationH, s.dilationW}, s.groups, rq);
    ASSERT_EQ(ref.shape, (std::vector<int64_t>{l.batch, s.outChannels,
                                               s.outHeight(), s.outWidth()}));
    // Guard against vacuous cases (everything saturated or zero).
    std::vector<int32_t> distinct = ref.i;
    std::sort(distinct.begin(), distinct.end());
    EXPECT_GT(std::unique(distinct.begin(), distinct.end()) - distinct.begin(),
              l.extreme ? 1 : 8);

    std::vector<int8_t> x8, w8(w.i.begin(), w.i.end());
    std::vector<int16_t> x16;
    const void *x = nullptr;
    if (l.inBits == 8) {
      x8.assign(in.i.begin(), in.i.end());
      x = x8.data();
    } else {
      x16.assign(in.i.begin(), in.i.end());
      x = x16.data();
    }
    const runtime::OutputRequant outRq{rq.multiplier, rq.shift, l.relu,
                                       l.outBits};
    for (runtime::Isa isa : isasToTest()) {
      auto conv = runtime::IntegerConv::create(
          s, l.inBits, w8.data(), l.bias ? b.i.data() : nullptr, outRq, isa);
      ASSERT_TRUE(conv) << runtime::IntegerConv::unsupported(s, l.inBits,
                                                             outRq);
      EXPECT_STREQ(conv->method(), l.method);
      EXPECT_EQ(conv->isa(), isa);
      const int64_t inPixels = s.height * s.width,
                    outPixels = s.outHeight() * s.outWidth();
      // The input in both memory orders (NHWC: channels innermost).
      std::vector<int8_t> x8t = nhwc(x8, l.batch, s.channels, inPixels);
      std::vector<int16_t> x16t = nhwc(x16, l.batch, s.channels, inPixels);
      for (int layout = 0; layout < 4; ++layout)
        for (bool parallel : {false, true}) {
          const runtime::ConvLayouts layouts{(layout & 1) != 0,
                                             (layout & 2) != 0};
          SCOPED_TRACE(std::string(runtime::isaName(isa)) +
                       (parallel ? ", two threads" : ", serial") +
                       (layouts.inputNhwc ? ", NHWC in" : "") +
                       (layouts.outputNhwc ? ", NHWC out" : ""));
          const void *xin =
              !layouts.inputNhwc
                  ? x
                  : (l.inBits == 8 ? static_cast<const void *>(x8t.data())
                                   : static_cast<const void *>(x16t.data()));
          const runtime::ParallelFor threads =
              parallel ? runtime::ParallelFor(twoThreads)
                       : runtime::ParallelFor();
          std::vector<int32_t> got(ref.i.size());
          if (l.outBits == 8) {
            std::vector<int8_t> y(ref.i.size(), 99);
            conv->run(xin, l.batch, y.data(), threads, layouts);
            got.assign(y.begin(), y.end());
          } else {
            std::vector<int16_t> y(ref.i.size(), 999);
            conv->run(xin, l.batch, y.data(), threads, layouts);
            got.assign(y.begin(), y.end());
          }
          if (layouts.outputNhwc)
            got = nchw(got, l.batch, s.outChannels, outPixels);
          size_t firstDiff = 0;
          while (firstDiff < got.size() && got[firstDiff] == ref.i[firstDiff])
            ++firstDiff;
          EXPECT_EQ(firstDiff, got.size())
              << "first difference at element " << firstDiff << ": "
              << got[firstDiff] << " vs reference " << ref.i[firstDiff];
        }
    }
  }

  /// `batch` images of `channels` x `pixels` from NCHW to NHWC and back.
  template <typename T>
  static std::vector<T> nhwc(const std::vector<T> &v, int64_t batch,
                             int64_t channels, int64_t pixels) {
    std::vector<T> out(v.size());
    for (int64_t n = 0; n < batch && !v.empty(); ++n)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t p = 0; p < pixels; ++p)
          out[size_t((n * pixels + p) * channels + c)] =
              v[size_t((n * channels + c) * pixels + p)];
    return out;
  }
  template <typename T>
  static std::vector<T> nchw(const std::vector<T> &v, int64_t batch,
                             int64_t channels, int64_t pixels) {
    std::vector<T> out(v.size());
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t p = 0; p < pixels; ++p)
          out[size_t((n * channels + c) * pixels + p)] =
              v[size_t((n * pixels + p) * channels + c)];
    return out;
  }

  static runtime::ConvShape conv(int64_t c, int64_t h, int64_t w, int64_t o,
                                 int64_t k, int64_t stride, int64_t pad,
                                 int64_t groups = 1) {
    runtime::ConvShape s;
    s.channels = c;
    s.height = h;
    s.width = w;
    s.outChannels = o;
    s.kernelH = s.kernelW = k;
    s.strideH = s.strideW = stride;
    s.padTop = s.padLeft = s.padBottom = s.padRight = pad;
    s.groups = groups;
    return s;
  }
};

TEST_F(IntegerKernelsTest, DenseConvolutions) {
  Layer l;
  l.shape = conv(5, 9, 7, 19, 3, 1, 1); // odd channels, 2 blocks (19 > 16)
  l.batch = 3;
  check(l);

  l = Layer();
  l.shape = conv(3, 11, 13, 8, 3, 2, 1); // stride 2, odd image
  l.relu = true;
  l.perChannel = false;
  l.bias = false;
  check(l);

  l = Layer();
  // An image stem: 3 channels (the 9-byte kernel rows im2col moves as one
  // 16-byte copy), two full blocks of outputs, a batch whose last tile is
  // partial.
  l.shape = conv(3, 23, 21, 32, 3, 2, 1);
  l.batch = 3;
  check(l);

  l = Layer();
  l.shape = conv(7, 10, 9, 33, 1, 1, 0); // pointwise, 3 blocks
  l.batch = 2;
  l.outBits = 16;
  l.shiftLo = 32;
  l.shiftHi = 36;
  check(l);

  l = Layer();
  l.shape = conv(4, 12, 11, 6, 5, 3, 0); // 5x5 stride 3
  l.shape.padTop = 2;                    // asymmetric padding
  l.shape.padLeft = 0;
  l.shape.padBottom = 1;
  l.shape.padRight = 3;
  check(l);

  l = Layer();
  l.shape = conv(6, 13, 12, 10, 3, 1, 2); // dilation 2 x 3, stride 1 x 2
  l.shape.dilationH = 2;
  l.shape.dilationW = 3;
  l.shape.strideW = 2;
  l.batch = 2;
  l.relu = true;
  check(l);

  l = Layer();
  l.shape = conv(1, 28, 28, 16, 3, 1, 1); // one input channel (a stem)
  l.batch = 4;
  check(l);
}

TEST_F(IntegerKernelsTest, GroupedAndDepthwise) {
  Layer l;
  l.shape = conv(8, 9, 9, 12, 3, 1, 1, 4); // 2 in / 3 out per group
  l.batch = 2;
  check(l);

  l = Layer();
  l.shape = conv(6, 11, 10, 6, 3, 2, 1, 6); // depthwise, stride 2
  l.method = "depthwise";
  l.batch = 3;
  l.relu = true;
  check(l);

  l = Layer();
  l.shape = conv(5, 15, 13, 10, 5, 1, 2, 5); // depthwise multiplier 2, 5x5
  l.method = "depthwise";
  l.perChannel = false;
  check(l);

  l = Layer();
  l.shape = conv(4, 9, 8, 4, 3, 1, 0, 4); // depthwise, dilated, asymmetric
  l.shape.dilationH = 2;
  l.shape.padTop = 1;
  l.shape.padRight = 2;
  l.method = "depthwise";
  l.inBits = 16;
  l.outBits = 16;
  l.shiftLo = 36;
  l.shiftHi = 40;
  check(l);
}

/// Output rows of 8 and more: the depthwise store's vector lanes (8 per
/// step with AVX-512) and their scalar tail, for every stride phase split.
TEST_F(IntegerKernelsTest, WideDepthwiseRows) {
  for (int64_t stride : {1, 2, 3}) {
    SCOPED_TRACE("stride " + std::to_string(stride));
    Layer l;
    l.shape = conv(3, 12, 61, 3, 3, stride, 1, 3); // 61, 31 or 21 wide
    l.shape.padRight = 2;
    l.method = "depthwise";
    l.batch = 2;
    l.relu = stride == 2;
    check(l);

    l.outBits = 16;
    l.shiftLo = 33;
    l.shiftHi = 36;
    l.shape.kernelW = 5;
    l.shape.dilationW = 2;
    check(l);
  }
}

/// int8 depthwise layers with whole 16-channel blocks, NHWC in and out: on
/// AVX-512 VNNI the row kernel reads the input in place (no padded copy)
/// and requantizes in registers. Covers the left and right border pixels
/// (whose taps in the padding read zeros) at every stride phase, rows with
/// no interior pixel (width below the kernel), top and bottom padding,
/// dilation, asymmetric padding, 3x3 and 5x5 kernels (an odd last tap
/// pair), a 7x7 kernel (25 pairs: beyond the in-place kernel's limit, the
/// padded copy), int16 outputs and ReLU.
TEST_F(IntegerKernelsTest, DepthwiseInt8InPlace) {
  struct Case {
    int64_t c, h, w, k, stride, pad;
  };
  for (const Case &c : {Case{32, 9, 13, 3, 1, 1}, Case{48, 11, 12, 3, 2, 1},
                        Case{16, 7, 7, 5, 1, 2}, Case{32, 9, 10, 5, 2, 2},
                        Case{16, 5, 3, 5, 1, 2}, Case{16, 6, 2, 3, 1, 1},
                        Case{32, 8, 9, 3, 3, 0}, Case{16, 9, 9, 7, 1, 3},
                        // Rows long enough for several whole chunks of the
                        // sign-extending kernel (8 pixels at stride 1, 4 at
                        // stride 2) and a remainder, with and without a
                        // left border.
                        Case{16, 5, 21, 5, 1, 2}, Case{32, 6, 23, 5, 2, 2},
                        Case{16, 5, 30, 3, 2, 1}, Case{16, 6, 20, 3, 1, 0},
                        Case{16, 4, 19, 3, 2, 0}}) {
    SCOPED_TRACE(std::to_string(c.c) + " channels, " + std::to_string(c.h) +
                 "x" + std::to_string(c.w) + ", kernel " + std::to_string(c.k) +
                 ", stride " + std::to_string(c.stride) + ", pad " +
                 std::to_string(c.pad));
    Layer l;
    l.shape = conv(c.c, c.h, c.w, c.c, c.k, c.stride, c.pad, c.c);
    l.method = "depthwise";
    l.batch = 2;
    l.relu = c.stride == 2;
    check(l);
  }
  // Shifts on both sides of 32 within a block: the in-register store's
  // int64 clamp (shift < 32) and its saturating narrow (all >= 32).
  for (bool relu : {false, true}) {
    Layer l;
    l.shape = conv(32, 6, 7, 32, 3, 1, 1, 32);
    l.method = "depthwise";
    l.relu = relu;
    l.shiftLo = 30;
    l.shiftHi = 40;
    check(l);
  }
  Layer l;
  l.shape = conv(32, 10, 11, 32, 3, 1, 0, 32); // dilated, asymmetric
  l.shape.dilationH = 2;
  l.shape.dilationW = 3;
  l.shape.padTop = 2;
  l.shape.padLeft = 3;
  l.shape.padRight = 1;
  l.method = "depthwise";
  l.outBits = 16;
  l.shiftLo = 33;
  l.shiftHi = 36;
  check(l);
}

/// 1x1 stride-1 unpadded convs with an even channel count read the padded
/// copy in place for full tiles and copy a partial last tile; an odd count
/// always copies.
TEST_F(IntegerKernelsTest, PointwiseTiles) {
  Layer l;
  l.shape = conv(24, 12, 12, 20, 1, 1, 0); // 144 pixels: whole tiles
  l.batch = 2;
  check(l);
  l.shape = conv(24, 13, 11, 37, 1, 1, 0); // 2 x 143: a partial last tile
  l.relu = true;
  check(l);
  l.shape = conv(23, 13, 11, 16, 1, 1, 0); // odd C
  check(l);
  // Two full blocks into NHWC output requantize in registers: shifts on
  // both sides of 32, int8 and int16 outputs.
  l.shape = conv(24, 9, 9, 48, 1, 1, 0);
  l.relu = false;
  l.shiftLo = 30;
  l.shiftHi = 40;
  check(l);
  l.outBits = 16;
  l.shiftLo = 28;
  l.shiftHi = 36;
  check(l);
}

/// int8 inputs at the int8 dot product's exact bound (inputs + 128 times
/// weights: K <= 65,793), at the type extremes so that the sums come close
/// to 2^31, and just beyond it (the int16 kernels then).
TEST_F(IntegerKernelsTest, Int8DotProductBound) {
  Layer l;
  l.shape = conv(7310, 3, 3, 4, 3, 1, 0); // K = 65,790: one output pixel
  l.extreme = true;
  l.outBits = 16;
  l.shiftLo = 46;
  l.shiftHi = 47;
  check(l);
  l.shape = conv(7311, 3, 3, 4, 3, 1, 0); // K = 65,799
  check(l);
}

TEST_F(IntegerKernelsTest, Int16Inputs) {
  Layer l;
  l.shape = conv(9, 8, 7, 17, 3, 1, 1); // K = 81: one int32 sum
  l.inBits = 16;
  l.shiftLo = 44;
  l.shiftHi = 50;
  l.batch = 2;
  check(l);

  l = Layer();
  l.shape = conv(64, 6, 5, 18, 3, 1, 1); // K = 576: high / low bytes
  l.inBits = 16;
  l.outBits = 16;
  l.shiftLo = 40;
  l.shiftHi = 46;
  l.method = "gemm-split16";
  l.batch = 2;
  check(l);

  l = Layer();
  l.shape = conv(600, 3, 3, 5, 1, 1, 0); // K = 600 pointwise, odd O
  l.inBits = 16;
  l.shiftLo = 48;
  l.shiftHi = 50;
  l.method = "gemm-split16";
  check(l);

  // K = 576 with the largest int16 inputs and weights near 127: sums of
  // ~2.4e9 clamp to 2^31 - 1 before requantization (as the reference does).
  l = Layer();
  l.shape = conv(64, 5, 6, 2, 3, 1, 0);
  l.inBits = 16;
  l.outBits = 16;
  l.shiftLo = 47;
  l.shiftHi = 48;
  l.extreme = true;
  l.method = "gemm-split16";
  check(l);

  l = Layer();
  l.shape = conv(8, 7, 7, 8, 9, 1, 4, 8); // depthwise int16, 9x9
  l.inBits = 16;
  l.shiftLo = 46;
  l.shiftHi = 48;
  l.method = "depthwise";
  check(l);
}

TEST_F(IntegerKernelsTest, LinearAsOneByOne) {
  for (auto [in, out, rows, inBits] :
       std::vector<std::tuple<int64_t, int64_t, int64_t, int>>{
           {10, 5, 4, 8}, {257, 19, 3, 8}, {700, 7, 5, 16}}) {
    const runtime::ConvShape s = runtime::ConvShape::linear(in, out);
    Layer l;
    l.shape = s;
    l.batch = rows;
    l.inBits = inBits;
    l.method =
        inBits == 16 && in > runtime::kMaxKInt16 ? "gemm-split16" : "gemm";
    if (inBits == 16) {
      l.shiftLo = 48;
      l.shiftHi = 50;
    }
    check(l);
  }
}

TEST(IntegerKernelsLimits, Unsupported) {
  runtime::ConvShape s = runtime::ConvShape::linear(16, 4);
  runtime::OutputRequant rq{{1 << 30}, {36}, false, 8};
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 8, rq), "");
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 32, rq), "input of 32 bits");
  rq.shift = {63};
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 8, rq),
            "a shift of 63 (outside [0, 62])");
  rq.shift = {36, 36};
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 8, rq),
            "requantization vectors of 1 and 2 entries for 4 channels");
  rq.shift = {36};
  s = runtime::ConvShape::linear(runtime::kMaxKInt16Split + 1, 4);
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 16, rq),
            "K = 65794 beyond the int16 limit");
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 8, rq), "");
  EXPECT_FALSE(runtime::IntegerConv::create(s, 16, nullptr, nullptr, rq));
  s = runtime::ConvShape::linear(6, 4);
  s.groups = 4;
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 8, rq),
            "channels not divisible by the groups");
  s = runtime::ConvShape::linear(6, 4);
  s.kernelH = 3;
  EXPECT_EQ(runtime::IntegerConv::unsupported(s, 8, rq), "an empty output");
}

} // namespace

/// quantizeFloats equals quantizeValue element for element: halfway values
/// (round half to even), NaN, infinities, huge values, both signs, int8 and
/// int16, a count that is not a multiple of the vector width.
TEST(QuantizeFloats, EqualsQuantizeValue) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-300.f, 300.f);
  const float scale = 0.37f;
  std::vector<float> x;
  for (int k = -400; k <= 400; ++k) // exact and nearly exact halves
    for (float d : {0.5f, -0.5f, 0.4999999f, 0.5000001f})
      x.push_back((float(k) + d) * scale);
  for (int i = 0; i < 5000; ++i)
    x.push_back(uniform(rng));
  for (float v : {std::numeric_limits<float>::quiet_NaN(),
                  std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), 1e30f, -1e30f, -0.0f,
                  0.0f, 3e-39f})
    x.push_back(v);
  x.push_back(1.f); // 8049 values: a scalar tail after the vectors
  for (int bits : {8, 16}) {
    const float s = bits == 8 ? scale : scale / 200;
    std::vector<int32_t> want(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      want[i] = int32_t(quant::quantizeValue(x[i], s, bits));
    for (runtime::Isa isa : isasToTest())
      for (bool parallel : {false, true}) {
        SCOPED_TRACE(std::string(runtime::isaName(isa)) + " bits " +
                     std::to_string(bits));
        std::vector<int32_t> got(x.size());
        const runtime::ParallelFor threads =
            parallel ? runtime::ParallelFor(twoThreads)
                     : runtime::ParallelFor();
        if (bits == 8) {
          std::vector<int8_t> y(x.size());
          ASSERT_TRUE(runtime::quantizeFloats(x.data(), int64_t(x.size()), s, 8,
                                              y.data(), isa, threads));
          got.assign(y.begin(), y.end());
        } else {
          std::vector<int16_t> y(x.size());
          ASSERT_TRUE(runtime::quantizeFloats(x.data(), int64_t(x.size()), s,
                                              16, y.data(), isa, threads));
          got.assign(y.begin(), y.end());
        }
        for (size_t i = 0; i < x.size(); ++i)
          ASSERT_EQ(got[i], want[i]) << "x = " << x[i];
      }
  }
  std::vector<int32_t> y(4);
  EXPECT_FALSE(runtime::quantizeFloats(x.data(), 4, scale, 32, y.data()));
}
