//===- hat-opt.cpp - mlir-opt with the hat dialect and passes -------------===//
//
// Accepts every standard mlir-opt flag and pass; adds the hat dialect and the
// hat-* passes (see `hat-opt --help`).
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  hat::registerHatPasses();
  hat::bpu::registerBpuPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<hat::HatDialect, hat::bpu::BpuDialect>();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "HAT optimizer driver: the hat dialect and its passes\n",
      registry));
}
