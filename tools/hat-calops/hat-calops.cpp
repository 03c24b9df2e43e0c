//===- hat-calops.cpp - FLOPs and parameters per layer --------------------===//
//
//   hat-calops model.mlir [--input-shape 1,3,224,224] [--function NAME]
//                         [--quiet]
//   hat-calops CONFIG.py [--model deploy_model] [--input-shape ...]
//                        [--set path=value]...
//
// Prints per layer and in total MACs, FLOPs (= 2 x MACs) and parameters,
// with the convention of hat/BPU/CalOps.h. --input-shape re-types the first
// argument and re-infers every shape (hat-infer-shapes) before counting.
//
// A config file is lowered as `hat-config lower` does (its deploy_model, or
// model, for the shape of deploy_inputs) and counted the same way.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/CalOps.h"
#include "hat/Config/Config.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Models/Module.h"
#include "hat/Transforms/Passes.h"

#include "hat/Support/CommandLine.h"
#include "hat/Support/ParseMlir.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory kToolOptions("hat-calops options");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<model.mlir | config.py>"),
                                      cl::Required, cl::cat(kToolOptions));
static cl::opt<std::string>
    inputShape("input-shape",
               cl::desc("shape of the first input, e.g. 1,3,224,224"),
               cl::init(""), cl::cat(kToolOptions));
static cl::opt<std::string> function("function", cl::desc("function"),
                                     cl::init(""), cl::cat(kToolOptions));
static cl::opt<std::string>
    modelVariable("model",
                  cl::desc("config variable holding the model (default: "
                           "deploy_model, else model)"),
                  cl::init(""), cl::cat(kToolOptions));
static cl::list<std::string> overrides("set",
                                       cl::desc("config override path=value"),
                                       cl::cat(kToolOptions));
static cl::opt<bool> quiet("quiet", cl::desc("totals only"), cl::init(false),
                           cl::cat(kToolOptions));

static std::string human(int64_t v) {
  const double d = double(v);
  if (d >= 1e9)
    return llvm::formatv("{0:F3} G", d / 1e9).str();
  if (d >= 1e6)
    return llvm::formatv("{0:F3} M", d / 1e6).str();
  if (d >= 1e3)
    return llvm::formatv("{0:F3} K", d / 1e3).str();
  return std::to_string(v);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  hat::showOnlyToolOptions(kToolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "hat-calops: FLOPs and parameters per layer\n");
  MLIRContext context;
  context.loadDialect<hat::HatDialect, func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(inputFile).ends_with(".py")) {
    auto config = hat::config::loadConfig(inputFile,
                                          {overrides.begin(), overrides.end()});
    if (!config) {
      llvm::errs() << config.error().str();
      return 1;
    }
    std::string variable = modelVariable;
    if (variable.empty())
      variable = (*config)->get("deploy_model") ? "deploy_model" : "model";
    const hat::config::Value *modelConfig = (*config)->get(variable);
    const hat::config::Value *deployInputs = (*config)->get("deploy_inputs");
    if (!modelConfig || !deployInputs) {
      llvm::errs() << inputFile << ": error: the config needs '" << variable
                   << "' and deploy_inputs\n";
      return 1;
    }
    auto inputs = hat::models::parseDeployInputs(*deployInputs);
    auto model = hat::models::buildModule(*modelConfig, "model");
    if (!inputs || !model) {
      llvm::errs() << (!inputs ? inputs.error() : model.error()).str();
      return 1;
    }
    auto lowered = hat::models::lowerModel(context, *model, *inputs);
    if (!lowered) {
      llvm::errs() << inputFile << ": " << lowered.error().str();
      return 1;
    }
    module = std::move(*lowered);
  } else {
    module = hat::parseMlirFile(inputFile, sourceMgr, &context);
  }
  if (!module || failed(module->verify()))
    return 1;
  func::FuncOp func = hat::eval::findEntryFunction(*module, function);
  if (!func)
    return 1;
  if (!inputShape.empty()) {
    SmallVector<int64_t> shape;
    for (llvm::StringRef part : llvm::split(llvm::StringRef(inputShape), ',')) {
      int64_t d;
      if (part.trim().getAsInteger(10, d) || d < 1) {
        llvm::errs() << "hat-calops: bad --input-shape '" << inputShape
                     << "'\n";
        return 2;
      }
      shape.push_back(d);
    }
    if (func.getNumArguments() == 0) {
      llvm::errs() << "hat-calops: the function has no input\n";
      return 2;
    }
    auto old = cast<RankedTensorType>(func.getArgument(0).getType());
    func.getArgument(0).setType(
        RankedTensorType::get(shape, old.getElementType()));
    hat::registerHatPasses();
    PassManager pm(&context, ModuleOp::getOperationName());
    pm.addNestedPass<func::FuncOp>(hat::createHatInferShapes());
    if (failed(pm.run(*module)) || failed(module->verify())) {
      llvm::errs() << "hat-calops: the model does not accept input shape "
                   << inputShape << "\n";
      return 1;
    }
  }
  hat::bpu::OpsReport r = hat::bpu::countOps(func);
  if (!r.overflow.empty()) {
    llvm::errs() << "hat-calops: " << inputFile << ": " << r.overflow << "\n";
    return 1;
  }
  if (!quiet) {
    llvm::outs() << llvm::formatv("{0,-32} {1,-18} {2,16} {3,16} {4,12}\n",
                                  "layer", "op", "MACs", "FLOPs", "params");
    for (const hat::bpu::LayerOps &l : r.layers)
      llvm::outs() << llvm::format(
          "%-32s %-18s %16lld %16lld %12lld\n", l.name.c_str(), l.op.c_str(),
          (long long)l.macs, (long long)l.flops, (long long)l.params);
  }
  llvm::outs() << "total: MACs " << r.macs << " (" << human(r.macs)
               << "), FLOPs " << r.flops << " (" << human(r.flops)
               << "), params " << r.params << " (" << human(r.params) << ")\n";
  llvm::outs() << "convention: FLOPs = 2 x MACs for conv/linear (2*N*K^2*"
                  "Cin/g*Cout*Hout*Wout); the commonly published 'GFLOPs' "
                  "(ResNet18: 1.81) are MACs\n";
  return 0;
}
