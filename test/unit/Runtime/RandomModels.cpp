//===- RandomModels.cpp - Random integer models for BPU/runtime tests -----===//

#include "RandomModels.h"

#include "hat/BPU/BpuOps.h"
#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Eval/Npy.h"
#include "hat/Transforms/ParamUtils.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace mlir;

namespace hat::test {

void setUpContext(MLIRContext &context) {
  context.loadDialect<HatDialect, bpu::BpuDialect, func::FuncDialect>();
  static bool registered = [] {
    registerHatPasses();
    bpu::registerBpuPasses();
    return true;
  }();
  (void)registered;
}

eval::Tensor randomInput(const std::vector<int64_t> &shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  eval::Tensor t = eval::Tensor::f32(shape);
  for (float &v : t.f)
    v = dist(rng);
  return t;
}

namespace {

class Builder {
public:
  Builder(MLIRContext &ctx, unsigned seed) : rng(seed), b(&ctx) {}

  OwningOpRef<ModuleOp> build(unsigned seed, std::vector<int64_t> &inShape) {
    Location loc = b.getUnknownLoc();
    auto module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module.getBody());
    const int64_t batch = 1 + seed % 2, hw = 10 + int64_t(seed % 4);
    inShape = {batch, 3, hw, hw};
    const int64_t classes = 4 + seed % 5;
    const bool softmaxHead = seed % 5 == 4;
    auto inType = RankedTensorType::get(inShape, b.getF32Type());
    auto outType = RankedTensorType::get({batch, classes}, b.getF32Type());
    auto func = b.create<func::FuncOp>(loc, "net",
                                       b.getFunctionType({inType}, {outType}));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToStart(body);

    const int64_t width = 8 + int64_t(seed % 3) * 6; // 8, 14, 20 channels
    Value x = conv(body->getArgument(0), width, 3, 1 + seed % 2, 1, 1, true,
                   seed % 3 == 0);
    // Residual block: the second conv + add (+ relu) is what -O3 fuses.
    Value y = conv(x, width, 3, 1, 1, 1, true, false);
    y = conv(y, width, 3, 1, 1, 1, false, false);
    Value sum = b.create<AddOp>(loc, y, x);
    x = b.create<ReluOp>(loc, sum);
    if (seed % 2 == 0) { // depthwise + pointwise
      // 3x3 or 5x5, stride 1 or 2, int8 or int16 input or output: the
      // runtime's direct depthwise kernel (and, at seed 6, a depthwise conv
      // with the residual add -O3 fuses into it).
      const int64_t k = seed % 4 == 0 ? 5 : 3, stride = seed % 6 == 0 ? 2 : 1;
      if (seed == 6) {
        Value dw = conv(x, width, 3, 1, 1, width, false, false);
        x = b.create<ReluOp>(b.getUnknownLoc(),
                             b.create<AddOp>(b.getUnknownLoc(), dw, x));
      }
      if (seed % 8 == 2) // an int16 input into the depthwise conv
        x = conv(x, width, 1, 1, 1, 1, true, true);
      x = conv(conv(x, width, k, stride, 1, width, true, seed % 8 == 4),
               width + 4, 1, 1, 1, 1, true, false);
    }
    if (seed % 3 == 1) // dilated and grouped
      x = conv(x, 12, 3, 1, 2, 2 - int64_t(width % 4 != 0), true, false);
    Value pooled = b.create<MaxPool2dOp>(loc, x, i64s({2, 2}), i64s({2, 2}),
                                         i64s({0, 0, 0, 0}));
    Value a = conv(pooled, 6, 1, 1, 1, 1, true, false);
    Value c =
        b.create<AvgPool2dOp>(loc, conv(pooled, 5, 3, 1, 1, 1, true, false),
                              i64s({3, 3}), i64s({1, 1}), i64s({1, 1, 1, 1}));
    if (seed % 4 == 1)
      c = b.create<SigmoidOp>(loc, c);
    Value cat =
        b.create<ConcatOp>(loc, ValueRange{a, c}, b.getI64IntegerAttr(1));
    if (seed % 4 == 2) {
      // Bilinear up, max-pool down, times itself: resize and mul.
      auto t = cast<RankedTensorType>(cat.getType());
      Value up = b.create<ResizeOp>(
          loc, cat, ResizeModeAttr::get(b.getContext(), ResizeMode::bilinear),
          i64s({t.getDimSize(2) * 2, t.getDimSize(3) * 2}),
          b.getBoolAttr(false));
      Value down = b.create<MaxPool2dOp>(loc, up, i64s({2, 2}), i64s({2, 2}),
                                         i64s({0, 0, 0, 0}));
      cat = b.create<MulOp>(loc, down, cat);
    }
    if (seed % 3 == 0) // int16 input with K = 64 * 9 > 511: reference path
      cat = conv(conv(cat, 64, 1, 1, 1, 1, true, true), 7, 3, 1, 1, 1, true,
                 false);
    Value gap = b.create<GlobalAvgPoolOp>(loc, cat);
    Value flat = b.create<FlattenOp>(loc, gap, b.getI64IntegerAttr(1));
    const int64_t features =
        cast<RankedTensorType>(flat.getType()).getDimSize(1);
    Value logits = b.create<LinearOp>(
        loc, flat, param("head.weight", {classes, features}, 0.4f),
        param("head.bias", {classes}, 0.1f));
    if (softmaxHead)
      logits = b.create<SoftmaxOp>(loc, logits, b.getI64IntegerAttr(1));
    b.create<func::ReturnOp>(loc, logits);
    return module;
  }

private:
  DenseI64ArrayAttr i64s(ArrayRef<int64_t> v) {
    return b.getDenseI64ArrayAttr(v);
  }
  Value param(StringRef name, ArrayRef<int64_t> shape, float range,
              float offset = 0.f) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::uniform_real_distribution<float> dist(-range, range);
    std::vector<float> data(static_cast<size_t>(n));
    for (float &v : data)
      v = offset + dist(rng);
    return createFloatParam(b, b.getUnknownLoc(),
                            (name + "." + std::to_string(counter++)).str(),
                            shape, data);
  }
  Value conv(Value x, int64_t cout, int64_t k, int64_t stride, int64_t dilation,
             int64_t groups, bool relu, bool int16) {
    Location loc = b.getUnknownLoc();
    const int64_t cin = cast<RankedTensorType>(x.getType()).getDimSize(1);
    if (groups > 1 && (cin % groups || cout % groups))
      groups = 1;
    const float bound = std::sqrt(6.f / float(cin / groups * k * k));
    Value w = param("conv.weight", {cout, cin / groups, k, k}, bound);
    const int64_t pad = dilation * (k / 2);
    Operation *c = b.create<Conv2dOp>(
        loc, x, w, Value(), i64s({stride, stride}), i64s({pad, pad, pad, pad}),
        i64s({dilation, dilation}), b.getI64IntegerAttr(groups));
    Value bn = b.create<BatchNormOp>(
        loc, c->getResult(0), param("bn.weight", {cout}, 0.3f, 1.f),
        param("bn.bias", {cout}, 0.2f), param("bn.mean", {cout}, 0.2f),
        param("bn.var", {cout}, 0.3f, 1.f), b.getF32FloatAttr(1e-5f),
        b.getF32FloatAttr(0.1f));
    Value out = bn;
    Operation *last = bn.getDefiningOp();
    if (relu) {
      last = b.create<ReluOp>(loc, bn);
      out = last->getResult(0);
    }
    if (int16) {
      auto attr = QDTypeAttr::get(b.getContext(), QDType::qint16);
      c->setAttr("hat.qdtype", attr);
      last->setAttr("hat.qdtype", attr);
    }
    return out;
  }

  std::mt19937 rng;
  OpBuilder b;
  int counter = 0;
};

bool runPipeline(MLIRContext &context, ModuleOp module, StringRef pipeline) {
  PassManager pm(&context, ModuleOp::getOperationName());
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(pipeline, pm, os))) {
    ADD_FAILURE() << errors;
    return false;
  }
  if (failed(pm.run(module))) {
    ADD_FAILURE() << "pipeline failed: " << pipeline.str();
    return false;
  }
  return true;
}

} // namespace

RandomModel makeRandomIntegerModel(MLIRContext &context, unsigned seed,
                                   const std::string &tempDir) {
  setUpContext(context);
  RandomModel r;
  r.module = Builder(context, seed).build(seed, r.inputShape);
  if (failed(verify(*r.module))) {
    ADD_FAILURE() << "random model " << seed << " does not verify";
    return {};
  }
  std::string inputs;
  for (int i = 0; i < 2; ++i) {
    std::string path = tempDir + "/calib_" + std::to_string(seed) + "_" +
                       std::to_string(i) + ".npy";
    std::string error;
    if (!eval::writeNpy(path, randomInput(r.inputShape, seed * 7 + i), error)) {
      ADD_FAILURE() << error;
      return {};
    }
    inputs += (i ? "," : "") + path;
  }
  if (!runPipeline(
          context, *r.module,
          "func.func(hat-fuse-bn,hat-float2qat),hat-calibrate{inputs=" +
              inputs + "},func.func(hat-qat2quantize)"))
    return {};
  return r;
}

std::vector<eval::Tensor> evaluate(ModuleOp module,
                                   const std::vector<eval::Tensor> &inputs) {
  func::FuncOp func = eval::findEntryFunction(module, "");
  eval::FunctionEvaluator evaluator(func);
  auto out = evaluator.run(inputs);
  EXPECT_TRUE(succeeded(out));
  return succeeded(out) ? *out : std::vector<eval::Tensor>();
}

} // namespace hat::test
