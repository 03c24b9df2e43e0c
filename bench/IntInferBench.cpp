//===- IntInferBench.cpp - int_infer: integer kernels vs float64 ATen -----===//
//
// Runs an integer model (the int_infer IR: hat.quantize, hat.qconv2d, ...)
// through the LibTorch executor twice: on HatRuntime's integer kernels (the
// default) and on the former exact float64 ATen convolutions
// (ExecutorOptions::atenIntegerOps). Feeds `images` random inputs in
// batches of `batch` (float inputs N(0, 1), integer inputs uniform), checks
// that every output of every batch is bit-equal between the two, and prints
// the minimum over `repeats` of the time per pass, images/s and the speedup.
// Passes of the two paths alternate so machine load affects both alike.
// Asserts nothing beyond the equality (a mismatch exits 1).
//
//   hat-int-infer-bench MODEL.mlir [--images N] [--batch B] [--repeats R]
//                       [--intra-op-threads T] [--function NAME]
//
// bench/int-infer-bench.sh builds the models (Fashion-MNIST TinyResNet and
// FCOS-EfficientNetB0 at 256x256) and runs this on them.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatDialect.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Executor/ModuleExecutor.h"
#include "hat/Support/ParseMlir.h"
#include "hat/Support/ParseNumber.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/CommandLine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace cl = llvm::cl;

static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<integer model .mlir>"));
static cl::opt<int64_t> numImages("images", cl::init(10000),
                                  cl::desc("images per pass"));
static cl::opt<int64_t> batchSize("batch", cl::init(0),
                                  cl::desc("batch size (0: the function's)"));
static cl::opt<int> repeats("repeats", cl::init(3),
                            cl::desc("passes per path; the minimum counts"));
static cl::opt<int> threads("intra-op-threads", cl::init(0),
                            cl::desc("intra-op threads (0: ATen's default)"));
static cl::opt<std::string> functionName("function", cl::init(""),
                                         cl::desc("entry function"));
static cl::opt<bool> kernelsOnly(
    "kernels-only", cl::init(false),
    cl::desc("time only the integer kernels (for profiling; no comparison)"));

namespace {

/// Wall and process CPU (user + system, all threads) seconds: on a shared
/// machine the CPU time is the steadier figure.
struct Clock {
  static double cpuSeconds() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = cpuSeconds();
  std::pair<double, double> elapsed() const {
    return {
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall)
            .count(),
        cpuSeconds() - cpu};
  }
};

bool bitEqual(const at::Tensor &a, const at::Tensor &b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         at::equal(a, b);
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv,
                              "int_infer executor: integer kernels vs the "
                              "float64 path\n");
  if (numImages < 1 || repeats < 1 || batchSize < 0 || threads < 0) {
    std::fprintf(stderr,
                 "hat-int-infer-bench: --images and --repeats must be "
                 "positive, --batch and --intra-op-threads non-negative\n");
    return 2;
  }
  if (threads > 0)
    at::set_num_threads(threads);
  mlir::MLIRContext context;
  context.loadDialect<hat::HatDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = hat::parseMlirFile(modelPath, sourceMgr, &context);
  if (!module)
    return 1;
  mlir::func::FuncOp func = hat::eval::findEntryFunction(*module, functionName);
  if (!func) {
    std::fprintf(stderr, "hat-int-infer-bench: %s has no function '%s'\n",
                 modelPath.c_str(), functionName.c_str());
    return 1;
  }

  hat::exec::ExecutorOptions kernelsOptions, float64Options;
  float64Options.atenIntegerOps = true;
  auto kernels = hat::exec::ModuleExecutor::create(func, kernelsOptions);
  auto float64 = hat::exec::ModuleExecutor::create(func, float64Options);
  if (!kernels.executor || !float64.executor) {
    std::fprintf(stderr, "hat-int-infer-bench: %s\n",
                 (kernels.executor ? float64.error : kernels.error).c_str());
    return 1;
  }
  kernels.executor->eval();
  float64.executor->eval();

  // Inputs of the function's shapes with dim 0 = the batch.
  at::manual_seed(0);
  std::vector<std::vector<at::Tensor>> batches;
  int64_t batch = batchSize;
  for (int64_t done = 0; done < numImages;) {
    std::vector<at::Tensor> inputs;
    for (mlir::Type t : func.getArgumentTypes()) {
      auto type = llvm::cast<mlir::RankedTensorType>(t);
      std::vector<int64_t> shape(type.getShape().begin(),
                                 type.getShape().end());
      if (batch == 0)
        batch = shape.at(0);
      shape[0] = std::min(batch, numImages - done);
      mlir::Type e = type.getElementType();
      if (e.isF32())
        inputs.push_back(at::randn(shape));
      else {
        const unsigned bits = e.getIntOrFloatBitWidth();
        const int64_t hi = (int64_t(1) << (bits - 1)) - 1;
        inputs.push_back(
            at::randint(-hi - 1, hi + 1, shape, at::TensorOptions(at::kLong))
                .to(bits == 8 ? at::kChar : at::kShort));
      }
    }
    done += inputs.at(0).size(0);
    batches.push_back(std::move(inputs));
  }

  int integerLayers = 0;
  func.walk([&](mlir::Operation *op) {
    integerLayers += llvm::isa<hat::QConv2dOp, hat::QLinearOp>(op);
  });
  std::printf("model %s: %d qconv2d/qlinear, %lld images in batches of %lld, "
              "%d intra-op threads\n",
              modelPath.c_str(), integerLayers, (long long)numImages,
              (long long)batch, at::get_num_threads());

  at::NoGradGuard noGrad;
  double wallKernels = 1e30, wallFloat64 = 1e30;
  double cpuKernels = 1e30, cpuFloat64 = 1e30;
  for (int r = 0; r < repeats; ++r) {
    std::vector<std::vector<at::Tensor>> outKernels, outFloat64;
    Clock kernelsClock;
    for (const auto &inputs : batches)
      outKernels.push_back(kernels.executor->forward(inputs));
    const auto [wk, ck] = kernelsClock.elapsed();
    wallKernels = std::min(wallKernels, wk);
    cpuKernels = std::min(cpuKernels, ck);
    if (kernelsOnly) {
      std::printf("pass %d: integer kernels %.3f s (CPU %.3f s)\n", r + 1, wk,
                  ck);
      continue;
    }
    Clock float64Clock;
    for (const auto &inputs : batches)
      outFloat64.push_back(float64.executor->forward(inputs));
    const auto [wf, cf] = float64Clock.elapsed();
    wallFloat64 = std::min(wallFloat64, wf);
    cpuFloat64 = std::min(cpuFloat64, cf);
    int64_t mismatches = 0;
    for (size_t b = 0; b < batches.size(); ++b)
      for (size_t i = 0; i < outFloat64[b].size(); ++i)
        mismatches += !bitEqual(outFloat64[b][i], outKernels[b][i]);
    if (mismatches) {
      std::fprintf(stderr,
                   "hat-int-infer-bench: %lld outputs differ between the "
                   "integer kernels and the float64 path\n",
                   (long long)mismatches);
      return 1;
    }
    std::printf("pass %d: integer kernels %.3f s (CPU %.3f s), float64 %.3f s "
                "(CPU %.3f s)\n",
                r + 1, wk, ck, wf, cf);
  }
  const double n = double(numImages);
  if (kernelsOnly) {
    std::printf("min of %d: integer kernels %.3f s (%.0f images/s), CPU "
                "%.3f s\n",
                int(repeats), wallKernels, n / wallKernels, cpuKernels);
    return 0;
  }
  std::printf("min of %d: integer kernels %.3f s (%.0f images/s, CPU %.3f s), "
              "float64 %.3f s (%.0f images/s, CPU %.3f s); speedup %.1fx "
              "wall, %.1fx CPU; outputs bit-equal\n",
              int(repeats), wallKernels, n / wallKernels, cpuKernels,
              wallFloat64, n / wallFloat64, cpuFloat64,
              wallFloat64 / wallKernels, cpuFloat64 / cpuKernels);
  return 0;
}
