//===- IntegerKernelPathTest.cpp - integer kernels == the float64 path ----===//
//
// qconv2d / qlinear run on HatRuntime's integer kernels by default and on the
// former exact float64 ATen convolutions with the test-only
// ExecutorOptions::atenIntegerOps. Both must give the same tensors bit for
// bit, and equal HatEval's: random layers (odd sizes, strides, asymmetric
// padding, dilation, groups, depthwise, int8 / int16 in and out, K beyond
// the int16 single-sum limit, batches > 1 and another batch size than the
// function's), and random integer models from the whole pipeline.
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestUtil.h"

namespace hat::exec::test {
namespace {

class IntegerKernelPathTest : public ExecutorTest {
protected:
  /// Runs `func` on the integer kernels, on the float64 path and (unless
  /// the batch differs from the function's, which HatEval refuses) through
  /// HatEval; all must agree. `kernelSteps` is how many steps must have been
  /// compiled onto the integer kernels.
  void checkPaths(mlir::func::FuncOp func,
                  const std::vector<at::Tensor> &inputs, int kernelSteps,
                  bool withEval = true) {
    auto native = makeExecutor(func);
    ExecutorOptions old;
    old.atenIntegerOps = true;
    auto float64 = makeExecutor(func, old);
    if (!native || !float64)
      return;
    EXPECT_EQ(count(native->describe(), "HatRuntime integer"), kernelSteps)
        << native->describe();
    EXPECT_EQ(count(float64->describe(), "HatRuntime integer"), 0)
        << float64->describe();
    std::vector<at::Tensor> a = native->forward(inputs);
    std::vector<at::Tensor> b = float64->forward(inputs);
    std::vector<at::Tensor> ref = withEval ? runEval(func, inputs) : b;
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.size(), ref.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(bitEqual(a[i], b[i])) << "result " << i;
      if (withEval)
        EXPECT_TRUE(bitEqual(a[i], ref[i])) << "result " << i;
      EXPECT_GT(std::get<0>(at::_unique(a[i])).numel(), 1) << "result " << i;
    }
  }

  static int count(const std::string &text, const std::string &what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos;
         at = text.find(what, at + 1))
      ++n;
    return n;
  }

  int64_t pick(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }

  /// Random multipliers in [2^30, 2^31) and shifts in [lo, hi].
  std::pair<std::vector<int32_t>, std::vector<int32_t>>
  requant(size_t n, int32_t shiftLo, int32_t shiftHi) {
    std::vector<int32_t> ms(n), ss(n);
    for (size_t k = 0; k < n; ++k) {
      ms[k] = int32_t(pick(1 << 30, 2147483647));
      ss[k] = int32_t(pick(shiftLo, shiftHi));
    }
    return {ms, ss};
  }

  static int64_t lo(int bits) { return -(int64_t(1) << (bits - 1)); }
  static int64_t hi(int bits) { return (int64_t(1) << (bits - 1)) - 1; }

  std::mt19937 rng{2024};
};

TEST_F(IntegerKernelPathTest, RandomConvolutions) {
  for (int trial = 0; trial < 24; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const int inBits = trial % 3 == 2 ? 16 : 8;
    const int outBits = trial % 4 == 3 ? 16 : 8;
    // Every fourth trial depthwise, every fourth (offset) grouped.
    int64_t groups = 1, cin = pick(1, 9), cout = pick(1, 20);
    if (trial % 4 == 1) {
      groups = pick(2, 6);
      cin = groups;
      cout = groups * pick(1, 2);
    } else if (trial % 4 == 2) {
      groups = pick(2, 3);
      cin = groups * pick(1, 3);
      cout = groups * pick(1, 5);
    }
    // One int16 case beyond K = 511 (the high/low byte split).
    if (trial == 5) {
      cin = 60;
      cout = 7;
      groups = 1;
    }
    const int64_t kh = pick(1, 5), kw = pick(1, 5);
    const std::vector<int64_t> stride = {pick(1, 3), pick(1, 3)};
    const std::vector<int64_t> dilation = {pick(1, 2), pick(1, 2)};
    const std::vector<int64_t> pad = {pick(0, 2), pick(0, 2), pick(0, 2),
                                      pick(0, 2)};
    const int64_t batch = pick(1, 3), h = pick(5, 13), w = pick(5, 13);
    const int64_t oh =
        (h + pad[0] + pad[2] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
    const int64_t ow =
        (w + pad[1] + pad[3] - dilation[1] * (kw - 1) - 1) / stride[1] + 1;
    if (oh < 1 || ow < 1)
      continue;
    const bool bias = trial % 5 != 0, relu = trial % 3 == 1;
    // Shifts that keep most outputs inside the output range: the sums grow
    // with sqrt(K) and the input range.
    const int64_t k = cin / groups * kh * kw;
    const int32_t base = (inBits == 16 ? 44 : 36) + (outBits == 16 ? -8 : 0) +
                         int32_t(std::log2(double(k)) / 2);
    auto [m, s] = requant(trial % 2 ? size_t(cout) : 1, base, base + 3);

    FunctionBuilder fb(context, unsigned(100 + trial));
    auto args = fb.begin({fb.tensor({batch, cin, h, w}, fb.i(inBits))});
    mlir::Value weight =
        fb.intParam("w", {cout, cin / groups, kh, kw}, 8, -128, 127);
    mlir::Value b =
        bias ? fb.intParam("b", {cout}, 32, -20000, 20000) : mlir::Value();
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QConv2dOp>(
        fb.loc(), fb.tensor({batch, cout, oh, ow}, fb.i(outBits)), args[0],
        weight, b, fb.i64s(stride), fb.i64s(pad), fb.i64s(dilation),
        bld.getI64IntegerAttr(groups), fb.i32s(m), fb.i32s(s),
        relu ? bld.getUnitAttr() : mlir::UnitAttr());
    mlir::func::FuncOp func = fb.finish({y});
    checkPaths(
        func, {randint(lo(inBits), hi(inBits), {batch, cin, h, w}, inBits)}, 1);
    // Another batch size than the function's (dynamic batch; HatEval only
    // takes the function's).
    checkPaths(
        func, {randint(lo(inBits), hi(inBits), {batch + 2, cin, h, w}, inBits)},
        1, /*withEval=*/false);
  }
}

TEST_F(IntegerKernelPathTest, Int32ClampWithInt16) {
  // K = 64 * 9 = 576 > 511 with extreme int16 values and weights near 127:
  // the sums pass 2^31 and clamp before requantization, on both paths.
  FunctionBuilder fb(context, 5);
  auto args = fb.begin({fb.tensor({2, 64, 7, 6}, fb.i(16))});
  mlir::Value w = fb.intParam("w", {2, 64, 3, 3}, 8, 120, 127);
  mlir::Value b = fb.intParam("b", {2}, 32, -100000, 100000);
  auto [m, s] = requant(2, 47, 48);
  auto &bld = fb.builder;
  mlir::Value y = bld.create<QConv2dOp>(
      fb.loc(), fb.tensor({2, 2, 5, 4}, fb.i(16)), args[0], w, b,
      fb.i64s({1, 1}), fb.i64s({0, 0, 0, 0}), fb.i64s({1, 1}),
      bld.getI64IntegerAttr(1), fb.i32s(m), fb.i32s(s), mlir::UnitAttr());
  checkPaths(fb.finish({y}), {at::full({2, 64, 7, 6}, 32767, at::kShort)}, 1);
}

TEST_F(IntegerKernelPathTest, RandomLinear) {
  for (auto [rank3, inBits, outBits, k] :
       std::vector<std::tuple<bool, int, int, int64_t>>{{false, 8, 8, 10},
                                                        {true, 8, 16, 37},
                                                        {false, 16, 8, 100},
                                                        {true, 16, 16, 700}}) {
    SCOPED_TRACE("K " + std::to_string(k));
    FunctionBuilder fb(context, unsigned(k));
    std::vector<int64_t> inShape =
        rank3 ? std::vector<int64_t>{2, 3, k} : std::vector<int64_t>{5, k};
    std::vector<int64_t> outShape = inShape;
    outShape.back() = 9;
    auto args = fb.begin({fb.tensor(inShape, fb.i(inBits))});
    mlir::Value w = fb.intParam("w", {9, k}, 8, -128, 127);
    mlir::Value b = fb.intParam("b", {9}, 32, -20000, 20000);
    const int32_t base = (inBits == 16 ? 44 : 36) + (outBits == 16 ? -8 : 0) +
                         int32_t(std::log2(double(k)) / 2);
    auto [m, s] = requant(rank3 ? 9 : 1, base, base + 3);
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QLinearOp>(
        fb.loc(), fb.tensor(outShape, fb.i(outBits)), args[0], w, b, fb.i32s(m),
        fb.i32s(s), rank3 ? bld.getUnitAttr() : mlir::UnitAttr());
    checkPaths(fb.finish({y}),
               {randint(lo(inBits), hi(inBits), inShape, inBits)}, 1);
  }
}

TEST_F(IntegerKernelPathTest, QAdd) {
  // Same shapes on the fused kernel (int8 / int16 operands and results,
  // ReLU, more elements than one task's slice); a broadcasting add keeps
  // the int64 tensors but is still one step of the kernel path.
  for (auto [aBits, bBits, outBits, relu] :
       std::vector<std::tuple<int, int, int, bool>>{{8, 8, 8, false},
                                                    {8, 16, 8, true},
                                                    {16, 16, 16, false},
                                                    {16, 8, 16, true}}) {
    SCOPED_TRACE(std::to_string(aBits) + " + " + std::to_string(bBits) +
                 " -> " + std::to_string(outBits));
    FunctionBuilder fb(context, unsigned(aBits + bBits + outBits));
    const std::vector<int64_t> shape = {3, 5, 83, 91}; // 113,295 elements
    auto args =
        fb.begin({fb.tensor(shape, fb.i(aBits)), fb.tensor(shape, fb.i(bBits)),
                  fb.tensor({1, 5, 1, 1}, fb.i(bBits))});
    auto &bld = fb.builder;
    const int32_t shift = 30 + (aBits == 16 ? 8 : 0) - (outBits == 16 ? 8 : 0);
    auto add = [&](mlir::Value x, mlir::Value y) {
      return bld.create<QAddOp>(
          fb.loc(), fb.tensor(shape, fb.i(outBits)), x, y,
          bld.getI32IntegerAttr(int32_t(pick(1 << 28, 1 << 30))),
          bld.getI32IntegerAttr(int32_t(pick(1 << 28, 1 << 30))),
          bld.getI32IntegerAttr(shift),
          relu ? bld.getUnitAttr() : mlir::UnitAttr());
    };
    mlir::Value same = add(args[0], args[1]);
    mlir::Value broadcast = add(args[0], args[2]);
    checkPaths(fb.finish({same, broadcast}),
               {randint(lo(aBits), hi(aBits), shape, aBits),
                randint(lo(bBits), hi(bBits), shape, bBits),
                randint(lo(bBits), hi(bBits), {1, 5, 1, 1}, bBits)},
               2);
  }
}

TEST_F(IntegerKernelPathTest, RandomIntegerModels) {
  for (unsigned seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto module = buildRandomNet(context, 40 + seed, 4);
    std::vector<at::Tensor> batches = {randn({4, 3, 12, 12}),
                                       randn({4, 3, 12, 12})};
    const char *dtype = seed >= 2 ? "qint16" : "qint8";
    runPipeline(*module,
                std::string("func.func(hat-fuse-bn,hat-float2qat{"
                            "activation-dtype=") +
                    dtype + "}),hat-calibrate{inputs=" + writeBatches(batches) +
                    "},func.func(hat-qat2quantize)");
    int layers = 0;
    module->walk([&](mlir::Operation *op) {
      layers += llvm::isa<QConv2dOp, QLinearOp, QAddOp>(op);
    });
    EXPECT_GE(layers, 6);
    checkPaths(entry(*module), {randn({4, 3, 12, 12}) * 1.5}, layers);
  }
}

} // namespace
} // namespace hat::exec::test
