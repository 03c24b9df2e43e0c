//===- IntegerTest.cpp - Integer ops bit-exact against HatEval ------------===//
//
// Every integer op (and the layout ops on integers) built into a one-op
// function and run by the executor and by the reference interpreter: the
// results must be identical, dtype included. Cases reach the edges of
// docs/quantization.md: int32 accumulator clamps, ReLU, saturation, ties of
// the rounding rule, int16 bilinear accumulators beyond 2^31, and random
// integer models from the whole pipeline.
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestUtil.h"

namespace hat::exec::test {
namespace {

class IntegerTest : public ExecutorTest {
protected:
  /// Runs `func` through both and compares every result bit for bit.
  void checkExact(mlir::func::FuncOp func,
                  const std::vector<at::Tensor> &inputs) {
    auto executor = makeExecutor(func);
    if (!executor)
      return;
    std::vector<at::Tensor> ours = executor->forward(inputs);
    std::vector<at::Tensor> ref = runEval(func, inputs);
    ASSERT_EQ(ours.size(), ref.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_TRUE(bitEqual(ours[i], ref[i])) << "result " << i;
      // Guard against vacuous cases (all zeros or all saturated).
      EXPECT_GT(std::get<0>(at::_unique(ours[i])).numel(), 1) << "result " << i;
    }
  }

  /// Random multipliers in [2^30, 2^31) and shifts in [lo, hi].
  std::pair<std::vector<int32_t>, std::vector<int32_t>>
  requant(size_t n, int32_t shiftLo, int32_t shiftHi) {
    std::uniform_int_distribution<int32_t> m(1 << 30, 2147483647);
    std::uniform_int_distribution<int32_t> s(shiftLo, shiftHi);
    std::vector<int32_t> ms(n), ss(n);
    for (size_t k = 0; k < n; ++k) {
      ms[k] = m(rng);
      ss[k] = s(rng);
    }
    return {ms, ss};
  }

  static int64_t lo(int bits) { return -(int64_t(1) << (bits - 1)); }
  static int64_t hi(int bits) { return (int64_t(1) << (bits - 1)) - 1; }
  at::Tensor full(int bits, at::IntArrayRef shape) {
    return randint(lo(bits), hi(bits), shape, bits);
  }

  std::mt19937 rng{42};
};

TEST_F(IntegerTest, QConv2d) {
  struct Case {
    int inBits, outBits;
    int64_t cin, cout, groups;
    std::vector<int64_t> stride, pad, dilation;
    bool bias, relu, perChannel;
    int32_t shiftLo, shiftHi;
  };
  const std::vector<Case> cases = {
      {8, 8, 4, 6, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, true, false, true, 36, 42},
      {8, 8, 4, 6, 2, {2, 2}, {0, 0, 0, 0}, {1, 1}, false, true, false, 36, 40},
      {16, 8, 3, 4, 1, {1, 2}, {0, 1, 2, 0}, {2, 1}, true, true, true, 44, 50},
      {16,
       16,
       4,
       4,
       4,
       {1, 1},
       {1, 1, 1, 1},
       {1, 1},
       true,
       false,
       true,
       30,
       38},
      // K = 64 * 9 = 576 > 512 with extreme int16 values: the int32 clamp.
      // M ~ 2^-17 keeps the clamped result (~16384) below saturation.
      {16,
       16,
       64,
       2,
       1,
       {1, 1},
       {0, 0, 0, 0},
       {1, 1},
       true,
       false,
       true,
       47,
       48},
  };
  for (const Case &c : cases) {
    FunctionBuilder fb(context, 5);
    auto args = fb.begin({fb.tensor({2, c.cin, 7, 6}, fb.i(c.inBits))});
    mlir::Value w = fb.intParam("w", {c.cout, c.cin / c.groups, 3, 3}, 8,
                                c.cin == 64 ? 120 : -128, 127);
    mlir::Value b = c.bias ? fb.intParam("b", {c.cout}, 32, -100000, 100000)
                           : mlir::Value();
    auto [m, s] =
        requant(c.perChannel ? size_t(c.cout) : 1, c.shiftLo, c.shiftHi);
    int64_t oh =
        (7 + c.pad[0] + c.pad[2] - c.dilation[0] * 2 - 1) / c.stride[0] + 1;
    int64_t ow =
        (6 + c.pad[1] + c.pad[3] - c.dilation[1] * 2 - 1) / c.stride[1] + 1;
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QConv2dOp>(
        fb.loc(), fb.tensor({2, c.cout, oh, ow}, fb.i(c.outBits)), args[0], w,
        b, fb.i64s(c.stride), fb.i64s(c.pad), fb.i64s(c.dilation),
        bld.getI64IntegerAttr(c.groups), fb.i32s(m), fb.i32s(s),
        c.relu ? bld.getUnitAttr() : mlir::UnitAttr());
    at::Tensor input = c.cin == 64 ? at::full({2, 64, 7, 6}, 32767, at::kShort)
                                   : full(c.inBits, {2, c.cin, 7, 6});
    checkExact(fb.finish({y}), {input});
  }
}

TEST_F(IntegerTest, QLinear) {
  for (auto [rank3, bias, relu, perChannel] :
       std::vector<std::tuple<bool, bool, bool, bool>>{
           {false, true, false, true},
           {true, false, true, false},
           {true, true, true, true}}) {
    FunctionBuilder fb(context, 6);
    std::vector<int64_t> inShape =
        rank3 ? std::vector<int64_t>{2, 3, 10} : std::vector<int64_t>{4, 10};
    std::vector<int64_t> outShape = inShape;
    outShape.back() = 5;
    auto args = fb.begin({fb.tensor(inShape, fb.i(8))});
    mlir::Value w = fb.intParam("w", {5, 10}, 8, -128, 127);
    mlir::Value b =
        bias ? fb.intParam("b", {5}, 32, -20000, 20000) : mlir::Value();
    auto [m, s] = requant(perChannel ? 5 : 1, 36, 40);
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QLinearOp>(
        fb.loc(), fb.tensor(outShape, fb.i(8)), args[0], w, b, fb.i32s(m),
        fb.i32s(s), relu ? bld.getUnitAttr() : mlir::UnitAttr());
    checkExact(fb.finish({y}), {full(8, inShape)});
  }
}

TEST_F(IntegerTest, QAddAndQMul) {
  for (bool relu : {false, true}) {
    FunctionBuilder fb(context, 7);
    auto args = fb.begin(
        {fb.tensor({2, 3, 4, 4}, fb.i(8)), fb.tensor({1, 3, 1, 1}, fb.i(16))});
    auto &bld = fb.builder;
    // The worked example of docs/quantization.md section 11 (shift 31).
    mlir::Value sum = bld.create<QAddOp>(
        fb.loc(), fb.tensor({2, 3, 4, 4}, fb.i(8)), args[0], args[1],
        bld.getI32IntegerAttr(1717986918),
        bld.getI32IntegerAttr(1288490189 / 300), bld.getI32IntegerAttr(31),
        relu ? bld.getUnitAttr() : mlir::UnitAttr());
    mlir::Value prod = bld.create<QMulOp>(
        fb.loc(), fb.tensor({2, 3, 4, 4}, fb.i(16)), args[0], args[1],
        bld.getI32IntegerAttr(1099511680 / 1024), bld.getI32IntegerAttr(28));
    checkExact(fb.finish({sum, prod}),
               {full(8, {2, 3, 4, 4}), full(16, {1, 3, 1, 1})});
  }
  // Ties of the rounding rule: ratio 0.5 = (2^30, 31) rounds half up.
  FunctionBuilder fb(context, 8);
  auto args = fb.begin({fb.tensor({11}, fb.i(8)), fb.tensor({11}, fb.i(8))});
  auto &bld = fb.builder;
  mlir::Value y = bld.create<QAddOp>(
      fb.loc(), fb.tensor({11}, fb.i(8)), args[0], args[1],
      bld.getI32IntegerAttr(1 << 30), bld.getI32IntegerAttr(1 << 30),
      bld.getI32IntegerAttr(31), mlir::UnitAttr());
  auto func = fb.finish({y});
  at::Tensor a = at::arange(-5, 6, at::kLong).to(at::kChar);
  at::Tensor b = at::zeros({11}, at::kChar);
  checkExact(func, {a, b});
  auto executor = makeExecutor(func);
  at::Tensor out = executor->forward({a, b})[0].to(at::kLong);
  // -5 -> -2, -3 -> -1, 3 -> 2, 5 -> 3 (section 11).
  EXPECT_EQ(out[0].item<int64_t>(), -2);
  EXPECT_EQ(out[2].item<int64_t>(), -1);
  EXPECT_EQ(out[8].item<int64_t>(), 2);
  EXPECT_EQ(out[10].item<int64_t>(), 3);
}

// qmatmul: the executor's exact float64 products equal HatEval's int64 sums
// (int8 x int16, broadcast batch, K large enough that int16 sums pass 2^24),
// and a hand-computed case: [[1, 2], [3, 4]] x [[5, 6], [7, 8]] =
// [[19, 22], [43, 50]], requantized by 0.5 (2^30, 31): 9.5 -> 10 (half up),
// 11, 21.5 -> 22, 25.
TEST_F(IntegerTest, QMatmul) {
  {
    FunctionBuilder fb(context, 9);
    auto args = fb.begin(
        {fb.tensor({2, 3, 64}, fb.i(8)), fb.tensor({1, 64, 5}, fb.i(16))});
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QMatmulOp>(
        fb.loc(), fb.tensor({2, 3, 5}, fb.i(16)), args[0], args[1],
        bld.getI32IntegerAttr(1374389535), bld.getI32IntegerAttr(40));
    checkExact(fb.finish({y}), {full(8, {2, 3, 64}), full(16, {1, 64, 5})});
  }
  FunctionBuilder fb(context, 10);
  auto args =
      fb.begin({fb.tensor({2, 2}, fb.i(8)), fb.tensor({2, 2}, fb.i(8))});
  auto &bld = fb.builder;
  mlir::Value y = bld.create<QMatmulOp>(
      fb.loc(), fb.tensor({2, 2}, fb.i(8)), args[0], args[1],
      bld.getI32IntegerAttr(1 << 30), bld.getI32IntegerAttr(31));
  auto func = fb.finish({y});
  at::Tensor a = at::tensor({1, 2, 3, 4}, at::kChar).reshape({2, 2});
  at::Tensor b = at::tensor({5, 6, 7, 8}, at::kChar).reshape({2, 2});
  checkExact(func, {a, b});
  at::Tensor out = makeExecutor(func)->forward({a, b})[0].to(at::kLong);
  const std::vector<int64_t> want{10, 11, 22, 25};
  for (int64_t k = 0; k < 4; ++k)
    EXPECT_EQ(out.flatten()[k].item<int64_t>(), want[size_t(k)]) << k;
}

// A constant integer operand (a quantized position embedding, GaNet's
// attention) in qadd / qmul / qmatmul: the executor reads the int8 constant
// as HatEval does.
// qlayer_norm: the executor's step (quant::layerNormRow on the CPU) equals
// HatEval, int16 -> int8 and int8 -> int16, with signed multipliers (gamma
// of both signs), eps_q 0 and large.
TEST_F(IntegerTest, QLayerNorm) {
  for (auto [inBits, outBits, epsQ] :
       std::vector<std::tuple<int, int, int64_t>>{{16, 8, 0},
                                                  {8, 16, 123456789}}) {
    FunctionBuilder fb(context, 12);
    auto args = fb.begin({fb.tensor({2, 5, 24}, fb.i(inBits))});
    mlir::Value b = fb.intParam("norm.bias", {24}, 32, -40000, 40000);
    auto [m, s] = requant(24, 26, 30);
    for (size_t k = 0; k < m.size(); k += 3)
      m[k] = -m[k];
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QLayerNormOp>(
        fb.loc(), fb.tensor({2, 5, 24}, fb.i(outBits)), args[0], b,
        bld.getI64IntegerAttr(epsQ), fb.i32s(m), fb.i32s(s));
    checkExact(fb.finish({y}), {full(inBits, {2, 5, 24})});
  }
}

// qms_deform_attn: the executor's step (the reference kernel on the CPU)
// equals HatEval, int8 and int16 values, locations spread over and beyond
// the maps.
TEST_F(IntegerTest, QMsDeformAttn) {
  // (value bits, images, batch of the locations and weights): the last
  // shares batch 1 locations and weights among 3 images.
  for (auto [valueBits, images, locBatch] :
       std::vector<std::tuple<int, int64_t, int64_t>>{
           {8, 1, 1}, {16, 1, 1}, {8, 3, 1}}) {
    FunctionBuilder fb(context, 13);
    auto args = fb.begin({fb.tensor({images, 23, 2, 4}, fb.i(valueBits)),
                          fb.tensor({locBatch, 6, 2, 2, 2, 2}, fb.i(16)),
                          fb.tensor({locBatch, 6, 2, 2, 2}, fb.i(8))});
    auto &bld = fb.builder;
    // Location ratios s_loc * size * 256 with s_loc = 1 / 32767: a
    // multiplier of about 2^30.5 and shift 30 - log2(size * 256 / 32767).
    mlir::Value y = bld.create<QMsDeformAttnOp>(
        fb.loc(), fb.tensor({images, 6, 8}, fb.i(8)), args[0], args[1], args[2],
        bld.getDenseI64ArrayAttr({4, 5, 1, 3}),
        fb.i32s({1600000000, 1280000000, 1920000000, 1280000000}),
        fb.i32s({37, 37, 38, 39}), bld.getI32IntegerAttr(1500000000),
        bld.getI32IntegerAttr(valueBits == 8 ? 40 : 48));
    checkExact(fb.finish({y}), {full(valueBits, {images, 23, 2, 4}),
                                full(16, {locBatch, 6, 2, 2, 2, 2}),
                                full(8, {locBatch, 6, 2, 2, 2})});
  }
}

TEST_F(IntegerTest, ConstantOperands) {
  FunctionBuilder fb(context, 11);
  auto args = fb.begin({fb.tensor({2, 3, 4, 4}, fb.i(8))});
  auto &bld = fb.builder;
  mlir::Value pos = fb.intParam("pos_embed", {1, 3, 4, 4}, 8, -128, 127);
  mlir::Value gamma = fb.intParam("gamma", {1}, 8, -100, -20);
  mlir::Value key = fb.intParam("key", {1, 3, 4, 5}, 8, -128, 127);
  mlir::Value sum = bld.create<QAddOp>(
      fb.loc(), fb.tensor({2, 3, 4, 4}, fb.i(8)), args[0], pos,
      bld.getI32IntegerAttr(1 << 30), bld.getI32IntegerAttr(1 << 29),
      bld.getI32IntegerAttr(31), mlir::UnitAttr());
  mlir::Value prod = bld.create<QMulOp>(
      fb.loc(), fb.tensor({2, 3, 4, 4}, fb.i(8)), gamma, sum,
      bld.getI32IntegerAttr(1 << 30), bld.getI32IntegerAttr(36));
  mlir::Value mm = bld.create<QMatmulOp>(
      fb.loc(), fb.tensor({2, 3, 4, 5}, fb.i(16)), sum, key,
      bld.getI32IntegerAttr(1 << 30), bld.getI32IntegerAttr(34));
  checkExact(fb.finish({sum, prod, mm}), {full(8, {2, 3, 4, 4})});
}

TEST_F(IntegerTest, QConcat) {
  FunctionBuilder fb(context, 9);
  // int16 inputs into an int8 result (the verifier wants equal input types,
  // although docs/quantization.md 8.5 allows mixing them).
  auto args = fb.begin(
      {fb.tensor({2, 3, 4, 4}, fb.i(16)), fb.tensor({2, 2, 4, 4}, fb.i(16))});
  auto &bld = fb.builder;
  mlir::Value y = bld.create<QConcatOp>(
      fb.loc(), fb.tensor({2, 5, 4, 4}, fb.i(8)),
      mlir::ValueRange{args[0], args[1]}, bld.getI64IntegerAttr(1),
      fb.i32s({1 << 30, 1500000000}), fb.i32s({30, 38}));
  checkExact(fb.finish({y}), {full(16, {2, 3, 4, 4}), full(16, {2, 2, 4, 4})});
}

TEST_F(IntegerTest, QPools) {
  for (auto [kernel, stride, pad] :
       std::vector<std::tuple<std::vector<int64_t>, std::vector<int64_t>,
                              std::vector<int64_t>>>{
           {{3, 3}, {1, 1}, {1, 1, 1, 1}},
           {{2, 2}, {2, 2}, {0, 0, 0, 0}},
           {{3, 2}, {2, 1}, {1, 0, 1, 1}}}) {
    FunctionBuilder fb(context, 10);
    auto args = fb.begin({fb.tensor({2, 3, 7, 6}, fb.i(16))});
    int64_t oh = (7 + pad[0] + pad[2] - kernel[0]) / stride[0] + 1;
    int64_t ow = (6 + pad[1] + pad[3] - kernel[1]) / stride[1] + 1;
    auto &bld = fb.builder;
    mlir::Value y = bld.create<QAvgPool2dOp>(
        fb.loc(), fb.tensor({2, 3, oh, ow}, fb.i(8)), args[0], fb.i64s(kernel),
        fb.i64s(stride), fb.i64s(pad), bld.getI32IntegerAttr(1431655765),
        bld.getI32IntegerAttr(40));
    checkExact(fb.finish({y}), {full(16, {2, 3, 7, 6})});
  }
  // A global pool over more than 65536 int16 values saturates the int32
  // accumulator.
  FunctionBuilder fb(context, 11);
  auto args = fb.begin({fb.tensor({1, 2, 300, 300}, fb.i(16))});
  auto &bld = fb.builder;
  mlir::Value y = bld.create<QGlobalAvgPoolOp>(
      fb.loc(), fb.tensor({1, 2, 1, 1}, fb.i(16)), args[0],
      bld.getI32IntegerAttr(1527099483), bld.getI32IntegerAttr(47));
  at::Tensor input = at::full({1, 2, 300, 300}, 32767, at::kShort);
  input[0][1] = full(16, {300, 300});
  checkExact(fb.finish({y}), {input});
}

TEST_F(IntegerTest, QResize) {
  struct Case {
    hat::ResizeMode mode;
    int bits;
    bool alignCorners;
    int64_t outH, outW;
    int32_t multiplier, shift;
  };
  for (const Case &c : std::vector<Case>{
           {hat::ResizeMode::nearest, 8, false, 9, 13, 0, 0},
           {hat::ResizeMode::bilinear, 8, false, 10, 12, 1 << 30, 50},
           {hat::ResizeMode::bilinear, 8, true, 9, 7, 1300000000, 51},
           // int16: |acc| up to 2^35, the exact wide product.
           {hat::ResizeMode::bilinear, 16, false, 10, 12, 1 << 30, 50},
           {hat::ResizeMode::bilinear, 16, true, 7, 11, 2000000000, 52},
           // A shift below 16 (never produced by the compiler) still follows
           // the rule exactly.
           {hat::ResizeMode::bilinear, 16, false, 10, 12, 1 << 30, 12}}) {
    FunctionBuilder fb(context, 12);
    auto args = fb.begin({fb.tensor({2, 3, 5, 6}, fb.i(c.bits))});
    auto &bld = fb.builder;
    bool nearest = c.mode == hat::ResizeMode::nearest;
    mlir::Value y = bld.create<QResizeOp>(
        fb.loc(), fb.tensor({2, 3, c.outH, c.outW}, fb.i(c.bits)), args[0],
        ResizeModeAttr::get(&context, c.mode), fb.i64s({c.outH, c.outW}),
        bld.getBoolAttr(c.alignCorners),
        nearest ? mlir::IntegerAttr() : bld.getI32IntegerAttr(c.multiplier),
        nearest ? mlir::IntegerAttr() : bld.getI32IntegerAttr(c.shift));
    at::Tensor input = full(c.bits, {2, 3, 5, 6});
    input[0][0] = hi(c.bits); // extreme values reach the largest accumulator
    input[0][1] = lo(c.bits);
    checkExact(fb.finish({y}), {input});
  }
}

TEST_F(IntegerTest, RequantizeAndLut) {
  {
    FunctionBuilder fb(context, 13);
    auto args = fb.begin(
        {fb.tensor({2, 4, 3, 3}, fb.i(32)), fb.tensor({5, 6}, fb.i(16))});
    auto &bld = fb.builder;
    auto [m, s] = requant(4, 38, 44);
    mlir::Value a = bld.create<RequantizeOp>(
        fb.loc(), fb.tensor({2, 4, 3, 3}, fb.i(16)), args[0], fb.i32s(m),
        fb.i32s(s), mlir::UnitAttr());
    mlir::Value b = bld.create<RequantizeOp>(
        fb.loc(), fb.tensor({5, 6}, fb.i(8)), args[1], fb.i32s({1234567890}),
        fb.i32s({37}), bld.getUnitAttr());
    at::Tensor wide = at::randint(-2147483648LL, 2147483647LL, {2, 4, 3, 3},
                                  at::TensorOptions(at::kLong))
                          .to(at::kInt);
    checkExact(fb.finish({a, b}), {wide, full(16, {5, 6})});
  }
  for (int inBits : {8, 16}) {
    FunctionBuilder fb(context, 14);
    auto args = fb.begin({fb.tensor({2, 3, 4, 4}, fb.i(inBits))});
    std::vector<int32_t> table(size_t(1) << inBits);
    std::uniform_int_distribution<int32_t> dist(-128, 127);
    for (int32_t &v : table)
      v = dist(rng);
    mlir::Value y = fb.builder.create<QLutOp>(
        fb.loc(), fb.tensor({2, 3, 4, 4}, fb.i(8)), args[0], fb.i32s(table));
    at::Tensor input = full(inBits, {2, 3, 4, 4});
    input[0][0][0][0] = lo(inBits);
    input[0][0][0][1] = hi(inBits);
    checkExact(fb.finish({y}), {input});
  }
}

TEST_F(IntegerTest, QuantizeDequantizeAndLayoutOps) {
  FunctionBuilder fb(context, 15);
  auto args = fb.begin(
      {fb.tensor({2, 4, 6, 6}, fb.f32()), fb.tensor({2, 3, 6, 6}, fb.i(32))});
  auto &bld = fb.builder;
  mlir::Value q8 =
      bld.create<QuantizeOp>(fb.loc(), fb.tensor({2, 4, 6, 6}, fb.i(8)),
                             args[0], bld.getF32FloatAttr(0.0123f));
  mlir::Value q16 =
      bld.create<QuantizeOp>(fb.loc(), fb.tensor({2, 4, 6, 6}, fb.i(16)),
                             args[0], bld.getF32FloatAttr(1.7e-4f));
  mlir::Value pooled = bld.create<MaxPool2dOp>(
      fb.loc(), q8, fb.i64s({3, 3}), fb.i64s({2, 2}), fb.i64s({1, 0, 1, 1}));
  mlir::Value pooled16 = bld.create<MaxPool2dOp>(
      fb.loc(), q16, fb.i64s({2, 2}), fb.i64s({2, 2}), fb.i64s({0, 0, 0, 0}));
  mlir::Value t =
      bld.create<TransposeOp>(fb.loc(), pooled, fb.i64s({0, 2, 3, 1}));
  mlir::Value r = bld.create<ReshapeOp>(fb.loc(), t, fb.i64s({2, -1, 4}));
  mlir::Value f = bld.create<FlattenOp>(fb.loc(), r, bld.getI64IntegerAttr(1));
  mlir::Value cat = bld.create<ConcatOp>(fb.loc(), mlir::ValueRange{q8, q8},
                                         bld.getI64IntegerAttr(1));
  mlir::Value deq = bld.create<DequantizeOp>(
      fb.loc(), fb.tensor({2, 4, 6, 6}, fb.f32()), q8,
      bld.getDenseF32ArrayAttr({0.0123f}), mlir::IntegerAttr());
  mlir::Value deqAxis = bld.create<DequantizeOp>(
      fb.loc(), fb.tensor({2, 3, 6, 6}, fb.f32()), args[1],
      bld.getDenseF32ArrayAttr({0.5f, 3e-5f, 7.25f}), bld.getI64IntegerAttr(1));
  at::Tensor x = randn({2, 4, 6, 6}) * 3;
  x[0][0][0][0] = NAN;
  x[0][0][0][1] = INFINITY;
  x[0][0][0][2] = 0.0123f * 2.5f;
  at::Tensor wide = at::randint(-2147483648LL, 2147483647LL, {2, 3, 6, 6},
                                at::TensorOptions(at::kLong))
                        .to(at::kInt);
  checkExact(fb.finish({q8, q16, pooled16, f, cat, deq, deqAxis}), {x, wide});
}

// The float softmax of an integer model (dequantize -> softmax, then
// quantize): the executor's float result is the reference evaluator's bit
// for bit (std::exp, double sum), so the quantized attention weights agree
// with the HBM's even on rounding boundaries (with at::softmax, whose
// vectorized exp differs in the last bit, the two float results here
// differ).
TEST_F(IntegerTest, SoftmaxBetweenDequantizeAndQuantize) {
  FunctionBuilder fb(context, 16);
  auto args = fb.begin({fb.tensor({2, 7, 3, 24}, fb.i(8))});
  auto &bld = fb.builder;
  mlir::Value deq = bld.create<DequantizeOp>(
      fb.loc(), fb.tensor({2, 7, 3, 24}, fb.f32()), args[0],
      bld.getDenseF32ArrayAttr({0.0731f}), mlir::IntegerAttr());
  mlir::Value sm =
      bld.create<SoftmaxOp>(fb.loc(), deq, bld.getI64IntegerAttr(3));
  mlir::Value smInner =
      bld.create<SoftmaxOp>(fb.loc(), deq, bld.getI64IntegerAttr(1));
  mlir::Value q =
      bld.create<QuantizeOp>(fb.loc(), fb.tensor({2, 7, 3, 24}, fb.i(8)), sm,
                             bld.getF32FloatAttr(1.f / 127));
  checkExact(fb.finish({sm, smInner, q}), {full(8, {2, 7, 3, 24})});
}

TEST_F(IntegerTest, RandomIntegerModelsMatchHatEval) {
  // The whole pipeline on random networks (int8 and int16 activations,
  // nearest and bilinear resize): the executor is the reference's twin.
  for (unsigned seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto module = buildRandomNet(context, 20 + seed, 4);
    std::vector<at::Tensor> batches = {randn({4, 3, 12, 12}),
                                       randn({4, 3, 12, 12})};
    const char *dtype = seed >= 2 ? "qint16" : "qint8";
    runPipeline(*module,
                std::string("func.func(hat-fuse-bn,hat-float2qat{"
                            "activation-dtype=") +
                    dtype + "}),hat-calibrate{inputs=" + writeBatches(batches) +
                    "},func.func(hat-qat2quantize)");
    int integerOps = 0;
    module->walk([&](mlir::Operation *op) {
      integerOps += llvm::isa<QConv2dOp, QLinearOp, QAddOp, QResizeOp,
                              QAvgPool2dOp, QGlobalAvgPoolOp, QConcatOp>(op);
    });
    EXPECT_GE(integerOps, 8);
    auto executor = makeExecutor(entry(*module));
    for (int k = 0; k < 2; ++k) {
      at::Tensor input = randn({4, 3, 12, 12}) * (1.0 + k);
      at::Tensor ours = executor->forwardOne(input);
      EXPECT_TRUE(bitEqual(ours, runEval(entry(*module), {input})[0]));
    }
  }
}

} // namespace
} // namespace hat::exec::test
