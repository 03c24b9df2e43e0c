//===- ExecutorTestUtil.h - Building hat functions for executor tests -----===//
//
// A small builder for one-op and random functions, tensor conversions between
// at::Tensor and eval::Tensor, and a fixture owning the MLIR context. Kept
// free of `using namespace mlir` (ATen is included too).
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TEST_UNIT_EXECUTOR_EXECUTORTESTUTIL_H
#define HAT_TEST_UNIT_EXECUTOR_EXECUTORTESTUTIL_H

#include "hat/Dialect/HatOps.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Eval/Npy.h"
#include "hat/Executor/ModuleExecutor.h"
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

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace hat::exec::test {

inline std::vector<int64_t> shapeOf(const at::Tensor &t) {
  return {t.sizes().begin(), t.sizes().end()};
}

/// at::Tensor -> eval::Tensor (float32 or an integer dtype of the given bits).
inline eval::Tensor toEval(const at::Tensor &t) {
  at::Tensor c = t.detach().to(at::kCPU).contiguous();
  eval::Tensor e;
  e.shape = shapeOf(c);
  if (c.is_floating_point()) {
    c = c.to(at::kFloat);
    e.dtype = eval::DType::F32;
    e.f.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return e;
  }
  switch (c.scalar_type()) {
  case at::kChar:
    e.dtype = eval::DType::I8;
    break;
  case at::kShort:
    e.dtype = eval::DType::I16;
    break;
  default:
    e.dtype = eval::DType::I32;
    break;
  }
  c = c.to(at::kInt);
  e.i.assign(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
  return e;
}

/// eval::Tensor -> at::Tensor (float32 or int32-valued in the matching type).
inline at::Tensor fromEval(const eval::Tensor &e) {
  if (e.dtype == eval::DType::F32)
    return at::tensor(e.f, at::TensorOptions(at::kFloat)).reshape(e.shape);
  at::Tensor t = at::tensor(e.i, at::TensorOptions(at::kInt)).reshape(e.shape);
  switch (e.dtype) {
  case eval::DType::I8:
    return t.to(at::kChar);
  case eval::DType::I16:
    return t.to(at::kShort);
  default:
    return t;
  }
}

/// Exact equality of values and dtypes, with a readable failure.
inline ::testing::AssertionResult bitEqual(const at::Tensor &a,
                                           const at::Tensor &b) {
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shapes differ";
  if (a.scalar_type() != b.scalar_type())
    return ::testing::AssertionFailure()
           << "dtypes differ: " << a.scalar_type() << " vs " << b.scalar_type();
  at::Tensor x = a.detach().contiguous(), y = b.detach().contiguous();
  if (x.is_floating_point()) {
    // Bitwise, so NaN == NaN and -0 != +0 are caught.
    x = x.view(at::kInt);
    y = y.view(at::kInt);
  }
  at::Tensor diff = x.ne(y);
  const int64_t n = diff.sum().item<int64_t>();
  if (n == 0)
    return ::testing::AssertionSuccess();
  const int64_t first = diff.reshape({-1}).nonzero()[0][0].item<int64_t>();
  return ::testing::AssertionFailure()
         << n << " of " << diff.numel() << " elements differ; first at "
         << first << ": " << a.detach().reshape({-1})[first].item<double>()
         << " vs " << b.detach().reshape({-1})[first].item<double>();
}

inline ::testing::AssertionResult allClose(const at::Tensor &a,
                                           const at::Tensor &b,
                                           double rtol = 1e-5,
                                           double atol = 1e-6) {
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shapes differ";
  if (at::allclose(a.detach().to(at::kDouble), b.detach().to(at::kDouble), rtol,
                   atol))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max abs difference "
         << (a.detach().to(at::kDouble) - b.detach().to(at::kDouble))
                .abs()
                .max()
                .item<double>();
}

/// Owns a context and a module and builds one function in it.
class FunctionBuilder {
public:
  explicit FunctionBuilder(mlir::MLIRContext &ctx, unsigned seed = 1)
      : builder(&ctx), rng(seed) {
    module = mlir::ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module->getBody());
  }

  mlir::Type f32() { return builder.getF32Type(); }
  mlir::Type i(unsigned bits) { return builder.getIntegerType(bits); }
  mlir::RankedTensorType tensor(llvm::ArrayRef<int64_t> shape,
                                mlir::Type element) {
    return mlir::RankedTensorType::get(shape, element);
  }
  mlir::DenseI64ArrayAttr i64s(llvm::ArrayRef<int64_t> v) {
    return builder.getDenseI64ArrayAttr(v);
  }
  mlir::DenseI32ArrayAttr i32s(llvm::ArrayRef<int32_t> v) {
    return builder.getDenseI32ArrayAttr(v);
  }
  mlir::Location loc() { return builder.getUnknownLoc(); }

  /// Starts `name(args...)`; returns the block arguments.
  std::vector<mlir::Value> begin(const std::vector<mlir::Type> &args,
                                 llvm::StringRef name = "f") {
    func = builder.create<mlir::func::FuncOp>(
        loc(), name, builder.getFunctionType(args, {}));
    mlir::Block *body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);
    return {body->getArguments().begin(), body->getArguments().end()};
  }

  /// Returns `results` and fixes the function type.
  mlir::func::FuncOp finish(const std::vector<mlir::Value> &results) {
    builder.create<mlir::func::ReturnOp>(loc(), results);
    std::vector<mlir::Type> types;
    for (mlir::Value v : results)
      types.push_back(v.getType());
    func.setFunctionType(
        builder.getFunctionType(func.getArgumentTypes(), types));
    EXPECT_TRUE(mlir::succeeded(mlir::verify(*module)));
    return func;
  }

  mlir::Value param(const std::string &name, llvm::ArrayRef<int64_t> shape,
                    float range, float offset = 0.f) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::uniform_real_distribution<float> dist(-range, range);
    std::vector<float> data(static_cast<size_t>(n));
    for (float &v : data)
      v = offset + dist(rng);
    return createFloatParam(builder, loc(), name, shape, data);
  }

  mlir::Value intParam(const std::string &name, llvm::ArrayRef<int64_t> shape,
                       unsigned bits, int32_t lo, int32_t hi) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::uniform_int_distribution<int32_t> dist(lo, hi);
    std::vector<int32_t> data(static_cast<size_t>(n));
    for (int32_t &v : data)
      v = dist(rng);
    return createIntParam(builder, loc(), name, shape, bits, data);
  }

  mlir::OpBuilder builder;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp func;
  std::mt19937 rng;
};

/// Random conv/bn/relu nets with residual adds, pools, concat, resize and a
/// linear head (the shape of PipelineTest's nets, plus resize).
inline mlir::OwningOpRef<mlir::ModuleOp> buildRandomNet(mlir::MLIRContext &ctx,
                                                        unsigned seed,
                                                        int64_t batch,
                                                        int64_t size = 12) {
  FunctionBuilder fb(ctx, seed);
  int counter = 0;
  auto name = [&](const std::string &base) {
    return base + "." + std::to_string(counter++);
  };
  auto convBnRelu = [&](mlir::Value x, int64_t cout, int64_t k, bool relu) {
    int64_t cin = llvm::cast<mlir::RankedTensorType>(x.getType()).getDimSize(1);
    float bound = std::sqrt(6.f / float(cin * k * k));
    mlir::Value w = fb.param(name("conv.weight"), {cout, cin, k, k}, bound);
    int64_t pad = k / 2;
    mlir::Value c = fb.builder.create<Conv2dOp>(
        fb.loc(), x, w, mlir::Value(), fb.i64s({1, 1}),
        fb.i64s({pad, pad, pad, pad}), fb.i64s({1, 1}),
        fb.builder.getI64IntegerAttr(1));
    // One statement each: argument evaluation order would number them
    // differently per compiler.
    mlir::Value gamma = fb.param(name("bn.weight"), {cout}, 0.4f, 1.f);
    mlir::Value beta = fb.param(name("bn.bias"), {cout}, 0.2f);
    mlir::Value mean = fb.param(name("bn.mean"), {cout}, 0.2f);
    mlir::Value var = fb.param(name("bn.var"), {cout}, 0.4f, 1.f);
    mlir::Value bn = fb.builder.create<BatchNormOp>(
        fb.loc(), c, gamma, beta, mean, var, fb.builder.getF32FloatAttr(1e-5f),
        fb.builder.getF32FloatAttr(0.1f));
    return relu ? fb.builder.create<ReluOp>(fb.loc(), bn).getResult() : bn;
  };
  auto args = fb.begin({fb.tensor({batch, 3, size, size}, fb.f32())}, "net");
  auto &b = fb.builder;
  mlir::Value x = convBnRelu(args[0], 8, 3, true);
  mlir::Value y = convBnRelu(x, 8, 3, false);
  mlir::Value sum = b.create<ReluOp>(fb.loc(), b.create<AddOp>(fb.loc(), x, y));
  mlir::Value pooled = b.create<MaxPool2dOp>(
      fb.loc(), sum, fb.i64s({2, 2}), fb.i64s({2, 2}), fb.i64s({0, 0, 0, 0}));
  mlir::Value branchA = convBnRelu(pooled, 6, 1, true);
  mlir::Value branchB = b.create<AvgPool2dOp>(
      fb.loc(), convBnRelu(pooled, 4, 3, true), fb.i64s({3, 3}),
      fb.i64s({1, 1}), fb.i64s({1, 1, 1, 1}));
  mlir::Value cat = b.create<ConcatOp>(
      fb.loc(), mlir::ValueRange{branchA, branchB}, b.getI64IntegerAttr(1));
  mlir::Value up = b.create<ResizeOp>(
      fb.loc(), cat,
      ResizeModeAttr::get(&ctx, seed % 2 ? hat::ResizeMode::bilinear
                                         : hat::ResizeMode::nearest),
      fb.i64s({size, size}), b.getBoolAttr(false));
  mlir::Value gap = b.create<GlobalAvgPoolOp>(fb.loc(), up);
  mlir::Value flat = b.create<FlattenOp>(fb.loc(), gap, b.getI64IntegerAttr(1));
  mlir::Value w = fb.param(name("head.weight"), {5, 10}, 0.4f);
  mlir::Value bias = fb.param(name("head.bias"), {5}, 0.1f);
  mlir::Value logits = b.create<LinearOp>(fb.loc(), flat, w, bias);
  fb.finish({logits});
  return std::move(fb.module);
}

class ExecutorTest : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<HatDialect, mlir::func::FuncDialect>();
    registerHatPasses();
    at::manual_seed(0);
  }

  static at::Tensor randn(at::IntArrayRef shape, bool requiresGrad = false) {
    at::Tensor t = at::randn(shape, at::TensorOptions(at::kFloat));
    if (requiresGrad)
      t.set_requires_grad(true);
    return t;
  }

  /// Random integers in [lo, hi] of the given bit width's dtype.
  static at::Tensor randint(int64_t lo, int64_t hi, at::IntArrayRef shape,
                            int bits) {
    at::ScalarType type =
        bits == 8 ? at::kChar : (bits == 16 ? at::kShort : at::kInt);
    return at::randint(lo, hi + 1, shape, at::TensorOptions(at::kLong))
        .to(type);
  }

  std::unique_ptr<ModuleExecutor> makeExecutor(mlir::func::FuncOp func,
                                               const ExecutorOptions &o = {}) {
    auto created = ModuleExecutor::create(func, o);
    EXPECT_TRUE(created.executor) << created.error;
    return std::move(created.executor);
  }

  /// Runs the reference interpreter.
  std::vector<at::Tensor> runEval(mlir::func::FuncOp func,
                                  const std::vector<at::Tensor> &inputs,
                                  const eval::EvalOptions &options = {}) {
    std::vector<eval::Tensor> ins;
    for (const at::Tensor &t : inputs)
      ins.push_back(toEval(t));
    eval::FunctionEvaluator evaluator(func);
    auto out = evaluator.run(ins, options);
    EXPECT_TRUE(mlir::succeeded(out));
    std::vector<at::Tensor> results;
    if (mlir::succeeded(out))
      for (const eval::Tensor &t : *out)
        results.push_back(fromEval(t));
    return results;
  }

  void runPipeline(mlir::ModuleOp module, llvm::StringRef pipeline) {
    mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
    std::string errors;
    llvm::raw_string_ostream os(errors);
    ASSERT_TRUE(mlir::succeeded(mlir::parsePassPipeline(pipeline, pm, os)))
        << errors;
    ASSERT_TRUE(mlir::succeeded(pm.run(module))) << pipeline.str();
    ASSERT_TRUE(mlir::succeeded(mlir::verify(module)));
  }

  /// Writes `batches` as .npy files and returns the hat-calibrate `inputs=`.
  std::string writeBatches(const std::vector<at::Tensor> &batches) {
    if (dir.empty()) {
      llvm::SmallString<128> path;
      EXPECT_FALSE(
          llvm::sys::fs::createUniqueDirectory("hat-executor-test", path));
      dir = path.str().str();
    }
    std::string list;
    for (const at::Tensor &t : batches) {
      std::string path =
          dir + "/batch_" + std::to_string(fileCounter++) + ".npy";
      std::string error;
      EXPECT_TRUE(eval::writeNpy(path, toEval(t), error)) << error;
      list += (list.empty() ? "" : ",") + path;
    }
    return list;
  }

  void TearDown() override {
    if (!dir.empty())
      llvm::sys::fs::remove_directories(dir);
  }

  mlir::func::FuncOp entry(mlir::ModuleOp module) {
    return eval::findEntryFunction(module, "");
  }

  mlir::MLIRContext context;
  std::string dir;
  int fileCounter = 0;
};

} // namespace hat::exec::test

#endif // HAT_TEST_UNIT_EXECUTOR_EXECUTORTESTUTIL_H
