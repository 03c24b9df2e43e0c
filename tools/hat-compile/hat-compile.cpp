//===- hat-compile.cpp - Compile an integer model for a BPU march ---------===//
//
//   hat-compile model_int.mlir --march=nash-e -O3 -o model.hbm
//       [--layer-details] [--input-source ddr|pyramid] [--function NAME]
//       [--emit-bpu FILE.mlir] [--no-report]
//
// Checks the model against the march (as hat-check), runs the bpu pipeline
// (hat-opt can run and print each pass on its own: see docs/bpu.md), writes
// the HBM and, beside it, <stem>.perf.json and <stem>.perf.html, and prints
// the perf summary.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/BpuOps.h"
#include "hat/BPU/Check.h"
#include "hat/BPU/Compile.h"
#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Eval/Evaluator.h"
#include "hat/HBM/Report.h"
#include "hat/Transforms/Passes.h"

#include "hat/Support/CommandLine.h"
#include "hat/Support/ParseMlir.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory kToolOptions("hat-compile options");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<model_int.mlir>"),
                                      cl::Required, cl::cat(kToolOptions));
static cl::opt<std::string> outputFile("o", cl::desc("output .hbm"),
                                       cl::value_desc("file"), cl::Required,
                                       cl::cat(kToolOptions));
static cl::opt<std::string>
    marchName("march", cl::desc("bernoulli2, bayes, nash-e, nash-m or nash-p"),
              cl::init("nash-e"), cl::cat(kToolOptions));
static cl::opt<unsigned>
    optLevel("O", cl::Prefix,
             cl::desc("-O0: no fusion, no tile search; -O3 (default): both"),
             cl::init(3), cl::cat(kToolOptions));
static cl::opt<bool> layerDetails("layer-details",
                                  cl::desc("print the per-layer estimate"),
                                  cl::init(false), cl::cat(kToolOptions));
static cl::opt<std::string>
    inputSource("input-source",
                cl::desc("ddr (default) or pyramid (camera path, no DDR "
                         "read for the input)"),
                cl::init("ddr"), cl::cat(kToolOptions));
static cl::opt<std::string> function("function",
                                     cl::desc("function to compile"),
                                     cl::init(""), cl::cat(kToolOptions));
static cl::opt<std::string>
    emitBpu("emit-bpu", cl::desc("also write the compiled bpu module here"),
            cl::init(""), cl::cat(kToolOptions));
static cl::opt<bool> noReport("no-report",
                              cl::desc("skip the .perf.json/.perf.html"),
                              cl::init(false), cl::cat(kToolOptions));

static std::string stemOf(const std::string &path) {
  std::string s = path;
  if (s.size() > 4 && s.substr(s.size() - 4) == ".hbm")
    s.resize(s.size() - 4);
  return s;
}

static bool writeText(const std::string &path, const std::string &text) {
  std::string error;
  if (!hat::hbm::writeFileAtomically(path, text.data(), text.size(), error)) {
    llvm::errs() << "hat-compile: " << error << "\n";
    return false;
  }
  return true;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  hat::showOnlyToolOptions(kToolOptions);
  cl::ParseCommandLineOptions(
      argc, argv, "hat-compile: compile an integer hat model into an HBM\n");
  const hat::bpu::March *march = hat::bpu::findMarch(marchName);
  if (!march) {
    llvm::errs() << "hat-compile: unknown march '" << marchName
                 << "' (known: " << hat::bpu::marchNames() << ")\n";
    return 2;
  }
  if (inputSource != "ddr" && inputSource != "pyramid") {
    llvm::errs() << "hat-compile: --input-source must be ddr or pyramid\n";
    return 2;
  }
  if (optLevel != 0 && optLevel != 3) {
    llvm::errs() << "hat-compile: -O" << optLevel
                 << " is not a level (use -O0 or -O3)\n";
    return 2;
  }
  {
    // Refuse unwritable outputs (a FIFO, a device, a directory) before any
    // work; hbm::writeFileAtomically checks again when it writes.
    std::vector<std::string> outputs = {outputFile};
    if (!noReport)
      outputs.insert(outputs.end(), {stemOf(outputFile) + ".perf.json",
                                     stemOf(outputFile) + ".perf.html"});
    if (!emitBpu.empty())
      outputs.push_back(emitBpu);
    for (const std::string &path : outputs) {
      std::string target, error;
      if (!hat::hbm::resolveOutputPath(path, target, error)) {
        llvm::errs() << "hat-compile: " << error << "\n";
        return 1;
      }
    }
  }
  hat::bpu::registerBpuPasses();
  MLIRContext context;
  context
      .loadDialect<hat::HatDialect, hat::bpu::BpuDialect, func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = hat::parseMlirFile(inputFile, sourceMgr, &context);
  if (!module || failed(module->verify()))
    return 1;
  func::FuncOp func = hat::eval::findEntryFunction(*module, function);
  if (!func)
    return 1;

  std::vector<hat::bpu::LayerCheck> checks =
      hat::bpu::checkModule(*module, func, *march);
  if (!hat::bpu::allSupported(checks)) {
    llvm::errs() << "hat-compile: " << inputFile << " cannot run on "
                 << march->name << ":\n";
    for (const hat::bpu::LayerCheck &c : checks)
      if (!c.supported)
        for (const std::string &r : c.reasons)
          llvm::errs() << "  " << c.name << " (" << c.op << "): " << r << "\n";
    llvm::errs() << "(hat-check " << inputFile << " --march=" << march->name
                 << " lists every layer)\n";
    return 1;
  }

  hat::bpu::CompileOptions options;
  options.march = march->name;
  options.optLevel = int(optLevel);
  options.inputSource = inputSource;
  options.function = func.getSymName().str();
  (*module)->setAttr(hat::bpu::kOptLevelAttr,
                     Builder(&context).getI32IntegerAttr(int(optLevel)));
  PassManager pm(&context, ModuleOp::getOperationName());
  if (failed(hat::bpu::buildPipeline(pm, options)) || failed(pm.run(*module)))
    return 1;
  if (!emitBpu.empty()) {
    std::string error;
    auto out = mlir::openOutputFile(emitBpu, &error);
    if (!out) {
      llvm::errs() << "hat-compile: " << error << "\n";
      return 1;
    }
    module->print(out->os(), OpPrintingFlags().elideLargeElementsAttrs(16));
    out->keep();
  }
  auto model = hat::bpu::exportHbm(*module);
  if (failed(model))
    return 1;
  std::string error;
  if (!hat::hbm::validate(*model, error)) {
    llvm::errs() << "hat-compile: internal error, the HBM does not validate: "
                 << error << "\n";
    return 1;
  }
  if (!hat::hbm::writeFile(outputFile, *model, error)) {
    llvm::errs() << "hat-compile: " << error << "\n";
    return 1;
  }
  if (!noReport) {
    const std::string stem = stemOf(outputFile);
    if (!writeText(stem + ".perf.json", hat::hbm::perfJson(*model)) ||
        !writeText(stem + ".perf.html", hat::hbm::perfHtml(*model)))
      return 1;
  }
  llvm::outs() << "wrote " << outputFile << " (" << model->layers.size()
               << " layers, " << model->constants.size() << " constants, arena "
               << model->arenaBytes << " bytes)\n";
  llvm::outs() << hat::hbm::perfSummaryText(*model);
  if (layerDetails)
    llvm::outs() << hat::hbm::perfLayerTable(*model);
  return 0;
}
