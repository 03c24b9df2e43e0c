//===- Compile.h - hat-compile as a library ---------------------*- C++ -*-===//
//
// The pipeline hat-compile runs (and tests call directly): bpu-lower,
// bpu-fuse and tile search at -O3, bpu-pack-weights, bpu-plan-arena,
// bpu-estimate-perf; then the export of the compiled module to an HBM.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_BPU_COMPILE_H
#define HAT_BPU_COMPILE_H

#include "hat/HBM/Model.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace hat::bpu {

struct CompileOptions {
  std::string march = "nash-e";
  int optLevel = 3; // 0: no fusion, no tile search; 3: both
  std::string inputSource = "ddr";
  std::string function;
  /// SRAM bytes for activations kept on chip (-1: the march table's).
  int64_t activationSramBytes = -1;
};

/// The textual pass pipeline for `options` (what hat-opt would run).
std::string pipelineFor(const CompileOptions &options);

/// Adds the pipeline to `pm` (a ModuleOp pass manager).
mlir::LogicalResult buildPipeline(mlir::PassManager &pm,
                                  const CompileOptions &options);

/// Reads a compiled module (after the whole pipeline) into an HBM model.
/// Errors are reported as diagnostics on the offending op.
mlir::FailureOr<hbm::Model> exportHbm(mlir::ModuleOp module);

} // namespace hat::bpu

#endif // HAT_BPU_COMPILE_H
