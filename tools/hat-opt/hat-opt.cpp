//===- hat-opt.cpp - mlir-opt with the hat dialect and passes -------------===//
//
// Accepts every standard mlir-opt flag and pass; adds the hat dialect and the
// hat-* passes (see `hat-opt --help`). The input is read here, not by
// MlirOptMain, so that its nesting is bounded before the (recursive) parser
// sees it (hat/Support/ParseMlir.h).
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Support/ParseMlir.h"
#include "hat/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerAllPasses();
  hat::registerHatPasses();
  hat::bpu::registerBpuPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<hat::HatDialect, hat::bpu::BpuDialect>();

  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "HAT optimizer driver: the hat dialect and its passes\n",
      registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  // --show-dialects reads no input: mlir-opt's own driver
  // handles them (and parses the already-parsed options again, harmlessly).
  if (config.shouldShowDialects())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return 1;
  }
  {
    // A copy of the buffer for the check keeps the diagnostics' file name.
    llvm::SourceMgr sourceMgr;
    const unsigned id = sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBuffer(input->getBuffer(),
                                         input->getBufferIdentifier(),
                                         /*RequiresNullTerminator=*/false),
        llvm::SMLoc());
    if (!hat::checkMlirNesting(sourceMgr, id))
      return 1;
  }
  auto output = mlir::openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (mlir::failed(
          mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
