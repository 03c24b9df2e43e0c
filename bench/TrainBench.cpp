//===- TrainBench.cpp - Training throughput of the executor ---------------===//
//
// Trains TinyResNet (the Fashion-MNIST model of configs/classification) on
// random 28x28 batches, or ResNet18 (configs/classification/resnet18_
// imagenet.py's backbone, 1000 classes) on random 224x224 RGB batches,
// through the LibTorch executor, as hat-train does: forward, cross entropy,
// backward, SGD step. bench/pytorch_tinyresnet.py runs the same networks
// written in PyTorch eager (torchvision's resnet18 for ResNet18);
// bench/compare-pytorch.sh prints both. Prints figures, asserts nothing.
//
//   hat-train-bench [--threads N] [--batch B] [--steps S] [--channels 16,32,64]
//                   [--model tinyresnet|resnet18]
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Executor/CachingCpuAllocator.h"
#include "hat/Executor/ModuleExecutor.h"
#include "hat/Models/Module.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/sgd.h>

#include "hat/Support/ParseNumber.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

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
  int threads = 1, batch = 128, steps = 30;
  std::string channels = "16, 32, 64", modelName = "tinyresnet";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--threads")
      threads = int(intOption("--threads", argv[i + 1], 1, 1024));
    else if (a == "--batch")
      batch = int(intOption("--batch", argv[i + 1], 1, 1 << 16));
    else if (a == "--steps")
      steps = int(intOption("--steps", argv[i + 1], 1, 1 << 20));
    else if (a == "--channels")
      channels = argv[i + 1];
    else if (a == "--model")
      modelName = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  at::set_num_threads(threads);
  // As hat-train runs the executor.
  hat::executor::installCachingCpuAllocator();
  if (modelName != "tinyresnet" && modelName != "resnet18") {
    std::fprintf(stderr, "--model must be tinyresnet or resnet18, got '%s'\n",
                 modelName.c_str());
    return 2;
  }
  const bool resnet18 = modelName == "resnet18";
  const int64_t inChannels = resnet18 ? 3 : 1, size = resnet18 ? 224 : 28,
                classes = resnet18 ? 1000 : 10;
  auto config = hat::config::loadConfigSource(
      resnet18 ? std::string("model = dict(type='Classifier', backbone=dict("
                             "type='ResNet18', num_classes=1000))\n")
               : "model = dict(type='Classifier', backbone=dict(type='"
                 "TinyResNet', channels=[" +
                     channels + "], num_classes=10))\n",
      "bench.py");
  auto model = hat::models::buildModule(*(*config)->get("model"), "model");
  if (!model) {
    std::fprintf(stderr, "%s\n", model.error().str().c_str());
    return 1;
  }
  mlir::MLIRContext context;
  auto ir = hat::models::lowerModel(context, *model,
                                    {{"img", {1, inChannels, size, size}}});
  if (!ir) {
    std::fprintf(stderr, "%s\n", ir.error().str().c_str());
    return 1;
  }
  auto func = *(*ir)->getOps<mlir::func::FuncOp>().begin();
  hat::exec::ExecutorOptions options;
  options.fakeQuantMode = hat::exec::FakeQuantMode::Float;
  auto created = hat::exec::ModuleExecutor::create(func, options);
  if (!created.executor) {
    std::fprintf(stderr, "%s\n", created.error.c_str());
    return 1;
  }
  hat::exec::ModuleExecutor &exec = *created.executor;
  exec.train(true);
  torch::optim::SGD sgd(exec.parameters(),
                        torch::optim::SGDOptions(0.05).momentum(0.9));
  at::manual_seed(0);
  at::Tensor images = at::randn({batch, inChannels, size, size});
  at::Tensor labels = at::randint(0, classes, {batch}, at::kLong);
  auto step = [&] {
    sgd.zero_grad();
    at::Tensor loss = at::cross_entropy_loss(exec.forwardOne(images), labels);
    loss.backward();
    sgd.step();
  };
  for (int i = 0; i < 3; ++i)
    step();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i)
    step();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  const std::string name =
      resnet18 ? "ResNet18 224x224" : "TinyResNet[" + channels + "]";
  std::printf("hat executor  %s batch %d threads %d: %.1f images/s (%.1f "
              "ms/step)\n",
              name.c_str(), batch, threads, steps * batch / seconds,
              1000 * seconds / steps);
  return 0;
}
