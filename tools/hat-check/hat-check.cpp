//===- hat-check.cpp - Can a march run this model? ------------------------===//
//
//   hat-check model.mlir --march=nash-e [--function NAME] [--quiet]
//
// One line per layer: supported or not, and why (op, dtype, kernel / stride
// / dilation / channel limits, scale form). Exit status 0 when the model can
// be compiled for the march, 1 when it cannot, 2 on usage errors.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/BpuOps.h"
#include "hat/BPU/Check.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Eval/Evaluator.h"

#include "hat/Support/CommandLine.h"
#include "hat/Support/ParseMlir.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory kToolOptions("hat-check options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required, cl::cat(kToolOptions));
static cl::opt<std::string>
    marchName("march", cl::desc("bernoulli2, bayes, nash-e, nash-m or nash-p"),
              cl::init("nash-e"), cl::cat(kToolOptions));
static cl::opt<std::string> function("function", cl::desc("function to check"),
                                     cl::init(""), cl::cat(kToolOptions));
static cl::opt<bool> quiet("quiet", cl::desc("print only unsupported layers"),
                           cl::init(false), cl::cat(kToolOptions));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  hat::showOnlyToolOptions(kToolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "hat-check: can a BPU march run this model?\n");
  const hat::bpu::March *march = hat::bpu::findMarch(marchName);
  if (!march) {
    llvm::errs() << "hat-check: unknown march '" << marchName
                 << "' (known: " << hat::bpu::marchNames() << ")\n";
    return 2;
  }
  MLIRContext context;
  context
      .loadDialect<hat::HatDialect, hat::bpu::BpuDialect, func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = hat::parseMlirFile(inputFile, sourceMgr, &context);
  if (!module || failed(module->verify()))
    return 2;
  func::FuncOp func = hat::eval::findEntryFunction(*module, function);
  if (!func)
    return 2;
  auto checks = hat::bpu::checkModule(*module, func, *march);
  int unsupported = 0;
  for (const hat::bpu::LayerCheck &c : checks) {
    unsupported += !c.supported;
    if (quiet && c.supported)
      continue;
    llvm::outs() << llvm::format("%-28s %-22s %s", c.name.c_str(), c.op.c_str(),
                                 c.supported ? "ok" : "unsupported");
    for (size_t i = 0; i < c.reasons.size(); ++i)
      llvm::outs() << (i ? "; " : ": ") << c.reasons[i];
    llvm::outs() << "\n";
  }
  llvm::outs() << checks.size() - unsupported << " of " << checks.size()
               << " layers supported on " << march->name << " (" << march->soc
               << "): " << (unsupported ? "cannot compile" : "can compile")
               << "\n";
  return unsupported ? 1 : 0;
}
