//===- BpuOps.h - The bpu dialect and its ops -------------------*- C++ -*-===//

#ifndef HAT_BPU_BPUOPS_H
#define HAT_BPU_BPUOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "hat/BPU/BpuDialect.h.inc"

#define GET_OP_CLASSES
#include "hat/BPU/BpuOps.h.inc"

namespace hat::bpu {

/// Module attribute names shared by the passes, hat-compile and the tests.
constexpr const char *kMarchAttr = "bpu.march";
constexpr const char *kOptLevelAttr = "bpu.opt_level";
constexpr const char *kArenaBytesAttr = "bpu.arena_bytes";
/// Bytes of DDR reserved for the intermediate activations (peak DDR): a
/// home, in the BPU's DDR layout, for every tensor that exists whole (all
/// but streamed tensors larger than the activation SRAM), planned with the
/// same liveness reuse (docs/bpu.md, "Peak DDR").
constexpr const char *kDdrArenaBytesAttr = "bpu.ddr_arena_bytes";
constexpr const char *kPerfAttr = "bpu.perf";
constexpr const char *kInputSourceAttr = "bpu.input_source";
constexpr const char *kFunctionAttr = "bpu.function";

} // namespace hat::bpu

#endif // HAT_BPU_BPUOPS_H
