//===- ExecutorBench.cpp - Executor overhead over hand-written ATen -------===//
//
// A ResNet-like network (stem, three stages of two basic blocks with BN,
// global pool, linear head) built as hat IR and run by the executor, against
// the same ATen calls written by hand on copies of the same parameters.
// Prints the median time per batch of both and the overhead, for training
// (forward + backward) and inference (forward, no grad), batch 16 and 1, at
// 1 and 2 intra-op threads. The two are measured interleaved so machine load
// affects both alike. Asserts nothing.
//
//   hat-executor-bench [iterations=30]
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Executor/ModuleExecutor.h"
#include "hat/Transforms/ParamUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "hat/Support/ParseNumber.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <cstdlib>
#include <optional>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <random>

namespace {

using hat::exec::ModuleExecutor;

/// Emits the network as hat IR; every parameter name records the layer so
/// the hand-written twin can find it.
class ResNetBuilder {
public:
  ResNetBuilder(mlir::MLIRContext &ctx, int64_t batch) : b(&ctx) {
    module = mlir::ModuleOp::create(b.getUnknownLoc());
    b.setInsertionPointToEnd(module->getBody());
    auto input =
        mlir::RankedTensorType::get({batch, 3, 32, 32}, b.getF32Type());
    func = b.create<mlir::func::FuncOp>(loc(), "resnet",
                                        b.getFunctionType({input}, {}));
    b.setInsertionPointToStart(func.addEntryBlock());
    mlir::Value x = convBn(func.getArgument(0), "stem", 16, 1, true);
    int64_t channels = 16;
    int stage = 0;
    for (int64_t width : {16, 32, 64}) {
      for (int block = 0; block < 2; ++block) {
        std::string name =
            "layer" + std::to_string(stage) + "." + std::to_string(block);
        int64_t stride = (block == 0 && width != 16) ? 2 : 1;
        mlir::Value y = convBn(x, name + ".conv1", width, stride, true);
        y = convBn(y, name + ".conv2", width, 1, false);
        mlir::Value shortcut = x;
        if (stride != 1 || width != channels)
          shortcut = convBn(x, name + ".down", width, stride, false, 1);
        x = b.create<hat::ReluOp>(loc(),
                                  b.create<hat::AddOp>(loc(), y, shortcut));
        channels = width;
      }
      ++stage;
    }
    mlir::Value gap = b.create<hat::GlobalAvgPoolOp>(loc(), x);
    mlir::Value flat =
        b.create<hat::FlattenOp>(loc(), gap, b.getI64IntegerAttr(1));
    mlir::Value w = param("fc.weight", {10, 64}, 0.1f);
    mlir::Value bias = param("fc.bias", {10}, 0.1f);
    mlir::Value logits = b.create<hat::LinearOp>(loc(), flat, w, bias);
    b.create<mlir::func::ReturnOp>(loc(), logits);
    func.setFunctionType(b.getFunctionType({input}, {logits.getType()}));
  }

  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp func;

private:
  mlir::Location loc() { return b.getUnknownLoc(); }
  mlir::Value param(const std::string &name, std::vector<int64_t> shape,
                    float range, float offset = 0.f) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::uniform_real_distribution<float> dist(-range, range);
    std::vector<float> data(static_cast<size_t>(n));
    for (float &v : data)
      v = offset + dist(rng);
    return hat::createFloatParam(b, loc(), name, shape, data);
  }
  mlir::Value convBn(mlir::Value x, const std::string &name, int64_t cout,
                     int64_t stride, bool relu, int64_t k = 3) {
    int64_t cin = llvm::cast<mlir::RankedTensorType>(x.getType()).getDimSize(1);
    mlir::Value w = param(name + ".weight", {cout, cin, k, k},
                          std::sqrt(6.f / float(cin * k * k)));
    int64_t pad = k / 2;
    mlir::Value c = b.create<hat::Conv2dOp>(
        loc(), x, w, mlir::Value(), b.getDenseI64ArrayAttr({stride, stride}),
        b.getDenseI64ArrayAttr({pad, pad, pad, pad}),
        b.getDenseI64ArrayAttr({1, 1}), b.getI64IntegerAttr(1));
    mlir::Value gamma = param(name + ".bn.weight", {cout}, 0.1f, 1.f);
    mlir::Value beta = param(name + ".bn.bias", {cout}, 0.1f);
    mlir::Value mean = param(name + ".bn.running_mean", {cout}, 0.1f);
    mlir::Value var = param(name + ".bn.running_var", {cout}, 0.1f, 1.f);
    mlir::Value y = b.create<hat::BatchNormOp>(loc(), c, gamma, beta, mean, var,
                                               b.getF32FloatAttr(1e-5f),
                                               b.getF32FloatAttr(0.1f));
    return relu ? b.create<hat::ReluOp>(loc(), y).getResult() : y;
  }

  mlir::OpBuilder b;
  std::mt19937 rng{7};
};

/// The same network as direct ATen calls on its own copies of the weights.
class HandWritten {
public:
  explicit HandWritten(ModuleExecutor &executor) {
    for (auto &[name, t] : executor.namedParameters())
      tensors[name] = t.detach().clone().set_requires_grad(true);
    for (auto &[name, t] : executor.namedBuffers())
      tensors[name] = t.detach().clone();
    for (auto &[name, t] : executor.namedParameters())
      params.push_back(tensors[name]);
  }

  at::Tensor forward(const at::Tensor &input) {
    at::Tensor x = convBn(input, "stem", 1, true);
    int64_t channels = 16;
    int stage = 0;
    for (int64_t width : {16, 32, 64}) {
      for (int block = 0; block < 2; ++block) {
        std::string name =
            "layer" + std::to_string(stage) + "." + std::to_string(block);
        int64_t stride = (block == 0 && width != 16) ? 2 : 1;
        at::Tensor y = convBn(x, name + ".conv1", stride, true);
        y = convBn(y, name + ".conv2", 1, false);
        at::Tensor shortcut = x;
        if (stride != 1 || width != channels)
          shortcut = convBn(x, name + ".down", stride, false, 0);
        x = at::relu(y + shortcut);
        channels = width;
      }
      ++stage;
    }
    at::Tensor flat = at::mean(x, {2, 3}, true).reshape({-1, 64});
    return at::linear(flat, tensors["fc.weight"], tensors["fc.bias"]);
  }

  bool training = true;
  std::vector<at::Tensor> params;

private:
  at::Tensor convBn(const at::Tensor &x, const std::string &name,
                    int64_t stride, bool relu, int64_t pad = 1) {
    at::Tensor y = at::conv2d(x, tensors[name + ".weight"], {},
                              {stride, stride}, {pad, pad}, {1, 1}, 1);
    y = at::batch_norm(
        y, tensors[name + ".bn.weight"], tensors[name + ".bn.bias"],
        tensors[name + ".bn.running_mean"], tensors[name + ".bn.running_var"],
        training, double(0.1f), double(1e-5f),
        at::globalContext().userEnabledCuDNN());
    return relu ? at::relu(y) : y;
  }

  std::map<std::string, at::Tensor> tensors;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Interleaved timing of two closures; medians in milliseconds.
std::pair<double, double> timeBoth(const std::function<void()> &a,
                                   const std::function<void()> &b,
                                   int iterations) {
  for (int i = 0; i < 3; ++i) {
    a();
    b();
  }
  std::vector<double> ta, tb;
  auto time = [](const std::function<void()> &fn) {
    auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  };
  for (int i = 0; i < iterations; ++i) {
    if (i % 2) {
      ta.push_back(time(a));
      tb.push_back(time(b));
    } else {
      tb.push_back(time(b));
      ta.push_back(time(a));
    }
  }
  return {median(ta), median(tb)};
}

void clearGrads(const std::vector<at::Tensor> &params) {
  for (const at::Tensor &p : params)
    if (p.grad().defined())
      p.mutable_grad().reset();
}

} // namespace

/// A numeric option through the shared checked parser; exits 2 otherwise.
static int64_t intOption(const char *name, const char *text, int64_t lo,
                         int64_t hi) {
  std::optional<int64_t> n = hat::parseInteger(text, lo, hi);
  if (!n) {
    std::fprintf(stderr, "%s\n",
                 hat::badIntegerMessage(name, text, lo, hi).c_str());
    std::exit(2);
  }
  return *n;
}

int main(int argc, char **argv) {
  const int iterations =
      argc > 1 ? int(intOption("iterations", argv[1], 1, 1'000'000)) : 30;
  mlir::MLIRContext context;
  context.loadDialect<hat::HatDialect, mlir::func::FuncDialect>();
  std::printf("ResNet-like net (3 stages x 2 basic blocks, 32x32 input): "
              "executor vs the same ATen calls by hand, median of %d\n",
              iterations);
  std::printf("%-9s %5s %7s %14s %14s %9s\n", "mode", "batch", "threads",
              "hand (ms)", "executor (ms)", "overhead");
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (int64_t batch : {16, 1}) {
      ResNetBuilder net(context, batch);
      if (mlir::failed(mlir::verify(*net.module))) {
        std::fprintf(stderr, "the benchmark network does not verify\n");
        return 1;
      }
      auto created = ModuleExecutor::create(net.func);
      if (!created.executor) {
        std::fprintf(stderr, "%s\n", created.error.c_str());
        return 1;
      }
      ModuleExecutor &executor = *created.executor;
      HandWritten hand(executor);
      at::manual_seed(0);
      at::Tensor input = at::randn({batch, 3, 32, 32});
      at::Tensor target = at::randint(0, 10, {batch}, at::kLong);
      std::vector<at::Tensor> execParams = executor.parameters();

      for (bool training : {true, false}) {
        executor.train(training);
        hand.training = training;
        std::function<void()> runExec, runHand;
        if (training) {
          runExec = [&] {
            clearGrads(execParams);
            at::cross_entropy_loss(executor.forwardOne(input), target)
                .backward();
          };
          runHand = [&] {
            clearGrads(hand.params);
            at::cross_entropy_loss(hand.forward(input), target).backward();
          };
        } else {
          runExec = [&] {
            at::NoGradGuard noGrad;
            executor.forwardOne(input);
          };
          runHand = [&] {
            at::NoGradGuard noGrad;
            hand.forward(input);
          };
        }
        auto [execMs, handMs] = timeBoth(runExec, runHand, iterations);
        std::printf("%-9s %5lld %7d %14.3f %14.3f %8.1f%%\n",
                    training ? "fwd+bwd" : "fwd-eval", (long long)batch,
                    threads, handMs, execMs, 100.0 * (execMs / handMs - 1.0));
      }
    }
  }
  return 0;
}
