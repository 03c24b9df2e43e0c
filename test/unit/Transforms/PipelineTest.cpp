//===- PipelineTest.cpp - Passes preserve meaning on random models --------===//
//
// Builds small random networks with the MLIR builder API, runs the passes
// and compares the reference evaluator's outputs before and after:
// fuse-bn must not change the function (1e-4 relative), and the integer
// model must agree with its fake-quant model within one output step.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Eval/Kernels.h"
#include "hat/Eval/Npy.h"
#include "hat/Transforms/ParamUtils.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace mlir;
using namespace hat;

namespace {

/// Builds random conv/bn/relu networks with residual adds, pools, concat
/// and a linear head.
class RandomNet {
public:
  RandomNet(MLIRContext &ctx, unsigned seed) : rng(seed), builder(&ctx) {
    module = ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module->getBody());
  }

  OwningOpRef<ModuleOp> build(int64_t batch) {
    Location loc = builder.getUnknownLoc();
    auto inputType = RankedTensorType::get({batch, 3, 12, 12}, f32());
    int64_t classes = 5;
    auto outType = RankedTensorType::get({batch, classes}, f32());
    auto func = builder.create<func::FuncOp>(
        loc, "net", builder.getFunctionType({inputType}, {outType}));
    Block *body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);

    Value x = convBnRelu(body->getArgument(0), 8, 3, 1, /*relu=*/true);
    Value y = convBnRelu(x, 8, 3, 1, /*relu=*/false);
    Value sum = builder.create<AddOp>(loc, x, y);
    sum = builder.create<ReluOp>(loc, sum);
    Value pooled = builder.create<MaxPool2dOp>(
        loc, sum, i64s({2, 2}), i64s({2, 2}), i64s({0, 0, 0, 0}));
    Value branchA = convBnRelu(pooled, 6, 1, 1, true);
    Value branchB = builder.create<AvgPool2dOp>(
        loc, convBnRelu(pooled, 4, 3, 1, true), i64s({3, 3}), i64s({1, 1}),
        i64s({1, 1, 1, 1}));
    Value cat = builder.create<ConcatOp>(loc, ValueRange{branchA, branchB},
                                         builder.getI64IntegerAttr(1));
    Value gap = builder.create<GlobalAvgPoolOp>(loc, cat);
    Value flat =
        builder.create<FlattenOp>(loc, gap, builder.getI64IntegerAttr(1));
    Value w = param("head.weight", {classes, 10}, 0.4f);
    Value b = param("head.bias", {classes}, 0.1f);
    Value logits = builder.create<LinearOp>(loc, flat, w, b);
    builder.create<func::ReturnOp>(loc, logits);
    return std::move(module);
  }

  /// BiFPN-like fusions with two results: a 2-input weighted sum + ReLU and
  /// a 3-input one, each followed by a conv; `weights3` are the raw fusion
  /// weights of the 3-input node.
  OwningOpRef<ModuleOp> buildFusion(int64_t batch,
                                    std::vector<float> weights3) {
    Location loc = builder.getUnknownLoc();
    auto inputType = RankedTensorType::get({batch, 3, 8, 8}, f32());
    auto func = builder.create<func::FuncOp>(
        loc, "fusion", builder.getFunctionType({inputType}, {}));
    Block *body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);
    Value in = body->getArgument(0);
    Value a = convBnRelu(in, 6, 3, 1, true);
    Value b = convBnRelu(in, 6, 1, 1, false);
    Value c = convBnRelu(a, 6, 3, 1, true);
    Value w2 = param("fusion2.weight", {2}, 0.5f, 1.f);
    Value f2 = builder.create<WeightedSumOp>(loc, ValueRange{a, b}, w2,
                                             builder.getF32FloatAttr(1e-4f));
    f2 = builder.create<ReluOp>(loc, f2);
    Value w3 = createFloatParam(builder, loc, "fusion3.weight", {3}, weights3);
    Value f3 = builder.create<WeightedSumOp>(loc, ValueRange{a, b, c}, w3,
                                             builder.getF32FloatAttr(1e-4f));
    Value out0 = convBnRelu(f2, 4, 3, 1, false);
    Value out1 = convBnRelu(f3, 2, 1, 1, false);
    builder.create<func::ReturnOp>(loc, ValueRange{out0, out1});
    func.setFunctionType(
        builder.getFunctionType({inputType}, {out0.getType(), out1.getType()}));
    return std::move(module);
  }

  /// A transformer encoder layer on [batch, 12, 16] tokens (post-norm, as
  /// Deformable DETR's): x + linear(x) -> layer_norm -> x + ffn(x) ->
  /// layer_norm, with random gamma (some negative) and beta.
  OwningOpRef<ModuleOp> buildEncoder(int64_t batch) {
    Location loc = builder.getUnknownLoc();
    const int64_t tokens = 12, c = 16, hidden = 32;
    auto inputType = RankedTensorType::get({batch, tokens, c}, f32());
    auto func = builder.create<func::FuncOp>(
        loc, "encoder", builder.getFunctionType({inputType}, {inputType}));
    Block *body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);
    auto linear = [&](Value x, int64_t in, int64_t out) -> Value {
      Value w = param("linear.weight", {out, in}, std::sqrt(3.f / in));
      Value b = param("linear.bias", {out}, 0.1f);
      return builder.create<LinearOp>(loc, x, w, b);
    };
    auto norm = [&](Value x) -> Value {
      return builder.create<LayerNormOp>(
          loc, x, param("norm.weight", {c}, 0.8f, 0.6f),
          param("norm.bias", {c}, 0.3f), builder.getF32FloatAttr(1e-5f));
    };
    Value x = body->getArgument(0);
    Value a = norm(builder.create<AddOp>(loc, x, linear(x, c, c)));
    Value h = builder.create<ReluOp>(loc, linear(a, c, hidden));
    Value y = norm(builder.create<AddOp>(loc, a, linear(h, hidden, c)));
    builder.create<func::ReturnOp>(loc, y);
    return std::move(module);
  }

  /// Deformable DETR's sampling block on [batch, 6, 16] queries and a
  /// [batch, 20, 16] two-level feature (4x4 and 2x2): value projection,
  /// sigmoid locations, softmax weights, ms_deform_attn, output projection.
  OwningOpRef<ModuleOp> buildDeformable(int64_t batch) {
    Location loc = builder.getUnknownLoc();
    const int64_t lq = 6, c = 16, s = 20, m = 2, levels = 2, points = 2, d = 8;
    auto queryType = RankedTensorType::get({batch, lq, c}, f32());
    auto featType = RankedTensorType::get({batch, s, c}, f32());
    auto func = builder.create<func::FuncOp>(
        loc, "deformable",
        builder.getFunctionType({queryType, featType}, {queryType}));
    Block *body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);
    auto linear = [&](Value x, int64_t in, int64_t out, float range) -> Value {
      Value w = param("linear.weight", {out, in}, range);
      Value b = param("linear.bias", {out}, 0.2f);
      return builder.create<LinearOp>(loc, x, w, b);
    };
    auto reshape = [&](Value x, ArrayRef<int64_t> shape) -> Value {
      return builder.create<ReshapeOp>(loc, x, i64s(shape));
    };
    Value query = body->getArgument(0), feat = body->getArgument(1);
    Value value = reshape(linear(feat, c, m * d, 0.4f), {batch, s, m, d});
    Value offsets = linear(query, c, m * levels * points * 2, 1.f);
    Value sig = builder.create<SigmoidOp>(
        NameLoc::get(builder.getStringAttr("loc_sigmoid"), loc), offsets);
    Value locations = reshape(sig, {batch, lq, m, levels, points, 2});
    Value logits = reshape(linear(query, c, m * levels * points, 0.4f),
                           {batch, lq, m, levels * points});
    Value soft =
        builder.create<SoftmaxOp>(loc, logits, builder.getI64IntegerAttr(3));
    Value weights = reshape(soft, {batch, lq, m, levels, points});
    Value sampled = builder.create<MsDeformAttnOp>(
        loc, value, locations, weights,
        builder.getDenseI64ArrayAttr({4, 4, 2, 2}));
    Value out = linear(sampled, m * d, c, 0.4f);
    builder.create<func::ReturnOp>(loc, out);
    return std::move(module);
  }

private:
  Type f32() { return builder.getF32Type(); }
  DenseI64ArrayAttr i64s(ArrayRef<int64_t> v) {
    return builder.getDenseI64ArrayAttr(v);
  }
  Value param(StringRef name, ArrayRef<int64_t> shape, float range,
              float offset = 0.f) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::uniform_real_distribution<float> dist(-range, range);
    std::vector<float> data(n);
    for (float &v : data)
      v = offset + dist(rng);
    return createFloatParam(builder, builder.getUnknownLoc(),
                            (name + "." + std::to_string(counter++)).str(),
                            shape, data);
  }
  Value convBnRelu(Value x, int64_t cout, int64_t k, int64_t stride,
                   bool relu) {
    Location loc = builder.getUnknownLoc();
    int64_t cin = llvm::cast<RankedTensorType>(x.getType()).getDimSize(1);
    float bound = std::sqrt(6.f / (cin * k * k));
    Value w = param("conv.weight", {cout, cin, k, k}, bound);
    int64_t pad = k / 2;
    Value c = builder.create<Conv2dOp>(
        loc, x, w, Value(), i64s({stride, stride}), i64s({pad, pad, pad, pad}),
        i64s({1, 1}), builder.getI64IntegerAttr(1));
    Value bn = builder.create<BatchNormOp>(
        loc, c, param("bn.weight", {cout}, 0.4f, 1.f),
        param("bn.bias", {cout}, 0.2f), param("bn.mean", {cout}, 0.2f),
        param("bn.var", {cout}, 0.4f, 1.f), builder.getF32FloatAttr(1e-5f),
        builder.getF32FloatAttr(0.1f));
    return relu ? builder.create<ReluOp>(loc, bn).getResult() : bn;
  }

  std::mt19937 rng;
  OpBuilder builder;
  OwningOpRef<ModuleOp> module;
  int counter = 0;
};

class PipelineTest : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<HatDialect, func::FuncDialect>();
    registerHatPasses();
  }

  eval::Tensor randomInput(ArrayRef<int64_t> shape, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 1.f);
    eval::Tensor t = eval::Tensor::f32({shape.begin(), shape.end()});
    for (float &v : t.f)
      v = dist(rng);
    return t;
  }

  eval::Tensor run(ModuleOp module, const eval::Tensor &input) {
    func::FuncOp func = eval::findEntryFunction(module, "");
    eval::FunctionEvaluator evaluator(func);
    auto out = evaluator.run({input});
    EXPECT_TRUE(succeeded(out));
    return succeeded(out) ? (*out)[0] : eval::Tensor();
  }

  void runPipeline(ModuleOp module, StringRef pipeline) {
    PassManager pm(&context, ModuleOp::getOperationName());
    std::string errors;
    llvm::raw_string_ostream os(errors);
    ASSERT_TRUE(succeeded(parsePassPipeline(pipeline, pm, os))) << errors;
    ASSERT_TRUE(succeeded(pm.run(module))) << pipeline.str();
    ASSERT_TRUE(succeeded(verify(module)));
  }

  /// At least 99% of the integer model's outputs lie within one output
  /// step of the fake-quant model's.
  void expectWithinOneStep(const eval::Tensor &fakeQuant,
                           const eval::Tensor &integer, float step,
                           const std::string &what) {
    ASSERT_EQ(fakeQuant.f.size(), integer.f.size()) << what;
    size_t within = 0;
    for (size_t i = 0; i < integer.f.size(); ++i)
      within += std::fabs(integer.f[i] - fakeQuant.f[i]) <= step * 1.0001f;
    EXPECT_GE(within, (size_t)std::ceil(0.99 * integer.f.size()))
        << what << ": " << within << " of " << integer.f.size()
        << " outputs within one step (" << step << ")";
  }

  std::string tempDir() {
    SmallString<128> dir;
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("hat-pipeline", dir));
    return dir.str().str();
  }

  MLIRContext context;
};

TEST_F(PipelineTest, FuseBNPreservesOutputs) {
  for (unsigned seed = 0; seed < 5; ++seed) {
    auto module = RandomNet(context, seed).build(2);
    ASSERT_TRUE(succeeded(verify(*module)));
    eval::Tensor input = randomInput({2, 3, 12, 12}, 100 + seed);
    eval::Tensor before = run(*module, input);
    runPipeline(*module, "func.func(hat-fuse-bn)");
    int bnCount = 0;
    module->walk([&](BatchNormOp) { ++bnCount; });
    EXPECT_EQ(bnCount, 0);
    eval::Tensor after = run(*module, input);
    ASSERT_EQ(before.f.size(), after.f.size());
    float scale = 0.f;
    for (float v : before.f)
      scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < before.f.size(); ++i)
      EXPECT_NEAR(before.f[i], after.f[i], 1e-4f * std::max(1.f, scale))
          << "seed " << seed << " element " << i;
  }
}

TEST_F(PipelineTest, IntegerModelMatchesFakeQuantModel) {
  std::string dir = tempDir();
  for (unsigned seed = 0; seed < 4; ++seed) {
    auto module = RandomNet(context, 10 + seed).build(4);
    // Calibration batches and a separate evaluation batch.
    std::string inputs;
    for (int i = 0; i < 3; ++i) {
      std::string path = dir + "/calib_" + std::to_string(seed) + "_" +
                         std::to_string(i) + ".npy";
      std::string error;
      ASSERT_TRUE(eval::writeNpy(
          path, randomInput({4, 3, 12, 12}, seed * 10 + i), error))
          << error;
      inputs += (i ? "," : "") + path;
    }
    runPipeline(*module,
                "func.func(hat-fuse-bn,hat-float2qat),hat-calibrate{inputs=" +
                    inputs + "}");
    eval::Tensor input = randomInput({4, 3, 12, 12}, 999 + seed);
    eval::Tensor fakeQuant = run(*module, input);

    // The output step is the scale of the fake_quant feeding the return.
    func::FuncOp func = eval::findEntryFunction(*module, "");
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    auto outFQ = ret.getOperand(0).getDefiningOp<FakeQuantOp>();
    ASSERT_TRUE(outFQ && outFQ.getScale());
    float step = (*outFQ.getScale())[0];

    runPipeline(*module, "func.func(hat-qat2quantize)");
    int floatLayers = 0;
    module->walk([&](Operation *op) {
      floatLayers += isa<Conv2dOp, LinearOp, AddOp, FakeQuantOp>(op);
    });
    EXPECT_EQ(floatLayers, 0);
    eval::Tensor integer = run(*module, input);
    expectWithinOneStep(fakeQuant, integer, step,
                        "seed " + std::to_string(seed));
  }
  llvm::sys::fs::remove_directories(dir);
}

TEST_F(PipelineTest, WeightedSumIntegerMatchesFakeQuant) {
  // BiFPN fusion nodes and a function with two results: every result of the
  // integer model (qadd chains with the fusion weights folded in) stays
  // within one output step of the fake-quant model on >= 99% of elements.
  std::string dir = tempDir();
  const std::vector<std::vector<float>> weights3{
      {1.f, 1.f, 1.f}, {0.2f, 1.5f, 0.7f}, {0.9f, -0.3f, 0.4f}};
  for (unsigned seed = 0; seed < weights3.size(); ++seed) {
    auto module = RandomNet(context, 40 + seed).buildFusion(4, weights3[seed]);
    ASSERT_TRUE(succeeded(verify(*module)));
    std::string inputs;
    for (int i = 0; i < 3; ++i) {
      std::string path = dir + "/fusion_" + std::to_string(seed) + "_" +
                         std::to_string(i) + ".npy";
      std::string error;
      ASSERT_TRUE(
          eval::writeNpy(path, randomInput({4, 3, 8, 8}, seed * 10 + i), error))
          << error;
      inputs += (i ? "," : "") + path;
    }
    runPipeline(*module,
                "func.func(hat-fuse-bn,hat-float2qat),hat-calibrate{inputs=" +
                    inputs + "}");
    func::FuncOp func = eval::findEntryFunction(*module, "");
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    std::vector<float> steps;
    for (Value v : ret.getOperands()) {
      auto fq = v.getDefiningOp<FakeQuantOp>();
      ASSERT_TRUE(fq && fq.getScale());
      steps.push_back((*fq.getScale())[0]);
    }
    eval::Tensor input = randomInput({4, 3, 8, 8}, 777 + seed);
    auto fakeQuant = eval::FunctionEvaluator(func).run({input});
    ASSERT_TRUE(succeeded(fakeQuant));
    runPipeline(*module, "func.func(hat-qat2quantize)");
    int floatOps = 0;
    module->walk([&](Operation *op) {
      floatOps += isa<WeightedSumOp, Conv2dOp, FakeQuantOp>(op);
    });
    EXPECT_EQ(floatOps, 0);
    func = eval::findEntryFunction(*module, "");
    auto integer = eval::FunctionEvaluator(func).run({input});
    ASSERT_TRUE(succeeded(integer));
    ASSERT_EQ(integer->size(), 2u);
    for (size_t r = 0; r < 2; ++r)
      expectWithinOneStep((*fakeQuant)[r], (*integer)[r], steps[r],
                          "seed " + std::to_string(seed) + " result " +
                              std::to_string(r));
  }
  llvm::sys::fs::remove_directories(dir);
}

TEST_F(PipelineTest, LayerNormIntegerMatchesFakeQuant) {
  // The integer layer norm (exact sums, fixed-point 1/sqrt, signed
  // per-channel requantization) stays within one output step of the float
  // layer norm between fake_quants on >= 99% of the elements, with int8 and
  // with int16 activations.
  std::string dir = tempDir();
  for (std::string dtype : {"qint8", "qint16"}) {
    auto module = RandomNet(context, 60).buildEncoder(4);
    ASSERT_TRUE(succeeded(verify(*module)));
    std::string inputs;
    for (int i = 0; i < 3; ++i) {
      std::string path = dir + "/encoder_" + dtype + std::to_string(i) + ".npy";
      std::string error;
      ASSERT_TRUE(eval::writeNpy(path, randomInput({4, 12, 16}, 70 + i), error))
          << error;
      inputs += (i ? "," : "") + path;
    }
    runPipeline(*module, "func.func(hat-float2qat{activation-dtype=" + dtype +
                             "}),hat-calibrate{inputs=" + inputs + "}");
    func::FuncOp func = eval::findEntryFunction(*module, "");
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    auto outFQ = ret.getOperand(0).getDefiningOp<FakeQuantOp>();
    ASSERT_TRUE(outFQ && outFQ.getScale());
    const float step = (*outFQ.getScale())[0];
    eval::Tensor input = randomInput({4, 12, 16}, 79);
    eval::Tensor fakeQuant = run(*module, input);
    runPipeline(*module, "func.func(hat-qat2quantize)");
    int norms = 0, floatOps = 0;
    module->walk([&](Operation *op) {
      norms += isa<QLayerNormOp>(op);
      floatOps += isa<LayerNormOp, LinearOp, FakeQuantOp>(op);
    });
    EXPECT_EQ(norms, 2);
    EXPECT_EQ(floatOps, 0);
    eval::Tensor integer = run(*module, input);
    expectWithinOneStep(fakeQuant, integer, step, dtype);
  }
  llvm::sys::fs::remove_directories(dir);
}

TEST_F(PipelineTest, MsDeformAttnIntegerMatchesFakeQuant) {
  // The integer deformable sampling (positions in 1/256 pixel from int16
  // locations, 8-bit bilinear fractions, int64 sums, one requantization)
  // keeps the block's output within one step of the fake-quant model on
  // >= 99% of the elements.
  std::string dir = tempDir();
  auto module = RandomNet(context, 80).buildDeformable(2);
  ASSERT_TRUE(succeeded(verify(*module)));
  std::string inputs;
  for (int i = 0; i < 3; ++i) {
    std::string q = dir + "/query" + std::to_string(i) + ".npy",
                f = dir + "/feat" + std::to_string(i) + ".npy", error;
    ASSERT_TRUE(eval::writeNpy(q, randomInput({2, 6, 16}, 90 + i), error))
        << error;
    ASSERT_TRUE(eval::writeNpy(f, randomInput({2, 20, 16}, 95 + i), error))
        << error;
    inputs += (i ? "," : "") + q + "+" + f;
  }
  runPipeline(*module, "func.func(hat-float2qat{layer-dtypes=loc_sigmoid:"
                       "qint16}),hat-calibrate{inputs=" +
                           inputs + "}");
  func::FuncOp func = eval::findEntryFunction(*module, "");
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  auto outFQ = ret.getOperand(0).getDefiningOp<FakeQuantOp>();
  ASSERT_TRUE(outFQ && outFQ.getScale());
  const float step = (*outFQ.getScale())[0];
  const std::vector<eval::Tensor> in{randomInput({2, 6, 16}, 99),
                                     randomInput({2, 20, 16}, 98)};
  auto fakeQuant = eval::FunctionEvaluator(func).run(in);
  ASSERT_TRUE(succeeded(fakeQuant));
  runPipeline(*module, "func.func(hat-qat2quantize)");
  int sampling = 0;
  module->walk([&](QMsDeformAttnOp) { ++sampling; });
  EXPECT_EQ(sampling, 1);
  func = eval::findEntryFunction(*module, "");
  auto integer = eval::FunctionEvaluator(func).run(in);
  ASSERT_TRUE(succeeded(integer));
  expectWithinOneStep((*fakeQuant)[0], (*integer)[0], step, "deformable");
  llvm::sys::fs::remove_directories(dir);
}

TEST_F(PipelineTest, EvaluatorRejectsWrongInputShape) {
  auto module = RandomNet(context, 1).build(2);
  func::FuncOp func = eval::findEntryFunction(*module, "");
  eval::FunctionEvaluator evaluator(func);
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto out = evaluator.run({randomInput({1, 3, 12, 12}, 1)});
  EXPECT_TRUE(failed(out));
  EXPECT_NE(message.find("input #0 is f32 [1, 3, 12, 12]"), std::string::npos)
      << message;
}

TEST_F(PipelineTest, EvaluatorMatchesDirectKernelCall) {
  // The evaluator runs exactly the reference kernels, in program order.
  auto module = RandomNet(context, 3).build(1);
  runPipeline(*module, "func.func(hat-fuse-bn)");
  func::FuncOp func = eval::findEntryFunction(*module, "");
  eval::Tensor input = randomInput({1, 3, 12, 12}, 5);
  auto conv = *func.getOps<Conv2dOp>().begin();
  eval::FunctionEvaluator evaluator(func);
  eval::Tensor w, b;
  {
    auto wData = readFloatParam(getParamDefiningOp(conv.getWeight()));
    auto bData = readFloatParam(getParamDefiningOp(conv.getBias()));
    ASSERT_TRUE(wData && bData);
    w = eval::Tensor::f32({8, 3, 3, 3});
    w.f = *wData;
    b = eval::Tensor::f32({8});
    b.f = *bData;
  }
  eval::Tensor expected =
      eval::unary(eval::conv2d(input, w, &b, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
                  eval::Unary::Relu);
  // Cut the function after the first relu by returning it.
  auto relu = cast<ReluOp>(*conv->getUsers().begin());
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  ret->setOperands(relu.getResult());
  func.setFunctionType(
      FunctionType::get(&context, func.getArgumentTypes(), {relu.getType()}));
  auto out = evaluator.run({input});
  ASSERT_TRUE(succeeded(out));
  ASSERT_EQ((*out)[0].f.size(), expected.f.size());
  for (size_t i = 0; i < expected.f.size(); ++i)
    EXPECT_EQ((*out)[0].f[i], expected.f[i]);
}

} // namespace
