//===- Passes.h - hat-compile's lowering passes -----------------*- C++ -*-===//

#ifndef HAT_BPU_PASSES_H
#define HAT_BPU_PASSES_H

#include "hat/BPU/BpuOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace hat::bpu {

#define GEN_PASS_DECL
#include "hat/BPU/BpuPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "hat/BPU/BpuPasses.h.inc"

} // namespace hat::bpu

#endif // HAT_BPU_PASSES_H
