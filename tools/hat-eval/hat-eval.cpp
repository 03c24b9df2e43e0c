//===- hat-eval.cpp - Run a hat module with the reference evaluator -------===//
//
//   hat-eval model.mlir --input x.npy [--input y.npy] [-o outdir] [--print]
//   hat-eval model.mlir --write-random-inputs DIR --count N [--seed S]
//
// Results are written as out_<i>.npy; a summary line per result is printed.
// Random inputs are uniform in [-1, 1), shaped like the function arguments,
// so a pipeline can be calibrated and compared without a dataset.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatDialect.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Eval/Npy.h"

#include "hat/Support/CommandLine.h"
#include "hat/Support/ParseMlir.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <random>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory kToolOptions("hat-eval options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required, cl::cat(kToolOptions));
static cl::list<std::string> inputs("input",
                                    cl::desc("an .npy per function argument"),
                                    cl::cat(kToolOptions));
static cl::opt<std::string> function("function",
                                     cl::desc("function to run (default: the "
                                              "only public one)"),
                                     cl::init(""), cl::cat(kToolOptions));
static cl::opt<std::string> outDir("o", cl::desc("write results as .npy here"),
                                   cl::init(""), cl::cat(kToolOptions));
static cl::opt<bool> printValues("print", cl::desc("print every result value"),
                                 cl::init(false), cl::cat(kToolOptions));
static cl::opt<std::string>
    randomDir("write-random-inputs",
              cl::desc("write --count random input sets into this directory"),
              cl::init(""), cl::cat(kToolOptions));
static cl::opt<unsigned> count("count", cl::desc("number of random sets"),
                               cl::init(1), cl::cat(kToolOptions));
static cl::opt<unsigned> seed("seed", cl::desc("random seed"), cl::init(0),
                              cl::cat(kToolOptions));

/// 256 Mi floats (1 GiB) per random input.
constexpr int64_t kMaxRandomElements = int64_t(1) << 28;

static int writeRandomInputs(func::FuncOp func) {
  if (auto ec = llvm::sys::fs::create_directories(randomDir)) {
    llvm::errs() << "hat-eval: cannot create " << randomDir << ": "
                 << ec.message() << "\n";
    return 1;
  }
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (unsigned n = 0; n < count; ++n) {
    std::string line;
    for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
      auto type = llvm::dyn_cast<RankedTensorType>(arg.getType());
      if (!type || !type.getElementType().isF32()) {
        llvm::errs() << "hat-eval: argument #" << i << " is " << arg.getType()
                     << ", not a ranked f32 tensor; random inputs are float "
                        "tensors only\n";
        return 1;
      }
      if (!type.hasStaticShape()) {
        llvm::errs() << "hat-eval: argument #" << i << " has the dynamic shape "
                     << type
                     << "; random inputs need a static shape (retype "
                        "the function, e.g. with hat-calops --input-shape)\n";
        return 1;
      }
      // The element count, checked for overflow and against a bound: a
      // typo'd shape is an error, not an allocator abort.
      int64_t elements = 1;
      for (int64_t extent : type.getShape())
        if (extent != 0 && (elements > kMaxRandomElements / extent ||
                            (elements *= extent) > kMaxRandomElements)) {
          llvm::errs() << "hat-eval: argument #" << i << " (" << type
                       << ") has more than " << kMaxRandomElements
                       << " elements (" << kMaxRandomElements * 4 / (1 << 20)
                       << " MiB); random inputs are limited to that\n";
          return 1;
        }
      hat::eval::Tensor t = hat::eval::Tensor::f32(
          {type.getShape().begin(), type.getShape().end()});
      for (float &v : t.f)
        v = dist(rng);
      std::string path = randomDir + "/input_" + std::to_string(n) + "_" +
                         std::to_string(i) + ".npy";
      std::string error;
      if (!hat::eval::writeNpy(path, t, error)) {
        llvm::errs() << "hat-eval: " << error << "\n";
        return 1;
      }
      line += (i ? "+" : "") + path;
    }
    llvm::outs() << line << "\n";
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  hat::showOnlyToolOptions(kToolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "hat-eval: run a hat module on .npy inputs\n");
  MLIRContext context;
  context.loadDialect<hat::HatDialect, func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = hat::parseMlirFile(inputFile, sourceMgr, &context);
  if (!module)
    return 1;
  if (failed(module->verify()))
    return 1;
  func::FuncOp func = hat::eval::findEntryFunction(*module, function);
  if (!func)
    return 1;
  if (!randomDir.empty())
    return writeRandomInputs(func);

  std::vector<hat::eval::Tensor> args(inputs.size());
  for (auto [i, path] : llvm::enumerate(inputs)) {
    std::string error;
    if (!hat::eval::readNpy(path, args[i], error)) {
      llvm::errs() << "hat-eval: " << error << "\n";
      return 1;
    }
  }
  hat::eval::FunctionEvaluator evaluator(func);
  auto results = evaluator.run(args);
  if (failed(results))
    return 1;
  for (auto [i, t] : llvm::enumerate(*results)) {
    llvm::outs() << "result #" << i << ": " << hat::eval::dtypeName(t.dtype)
                 << " [";
    for (auto [d, extent] : llvm::enumerate(t.shape))
      llvm::outs() << (d ? ", " : "") << extent;
    llvm::outs() << "]";
    double sum = 0;
    for (int64_t k = 0; k < t.numel(); ++k)
      sum += t.dtype == hat::eval::DType::F32 ? t.f[k] : t.i[k];
    llvm::outs() << " sum=" << llvm::format("%.6g", sum) << "\n";
    if (printValues) {
      for (int64_t k = 0; k < t.numel(); ++k) {
        llvm::outs() << (k ? " " : "  ");
        if (t.dtype == hat::eval::DType::F32)
          llvm::outs() << llvm::format("%.6g", t.f[k]);
        else
          llvm::outs() << t.i[k];
      }
      llvm::outs() << "\n";
    }
    if (!outDir.empty()) {
      llvm::sys::fs::create_directories(outDir);
      std::string error;
      if (!hat::eval::writeNpy(outDir + "/out_" + std::to_string(i) + ".npy", t,
                               error)) {
        llvm::errs() << "hat-eval: " << error << "\n";
        return 1;
      }
    }
  }
  return 0;
}
