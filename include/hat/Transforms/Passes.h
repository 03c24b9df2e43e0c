//===- Passes.h - Passes over the hat dialect -------------------*- C++ -*-===//

#ifndef HAT_TRANSFORMS_PASSES_H
#define HAT_TRANSFORMS_PASSES_H

#include "hat/Dialect/HatDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace hat {

#define GEN_PASS_DECL
#include "hat/Dialect/HatPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "hat/Dialect/HatPasses.h.inc"

} // namespace hat

#endif // HAT_TRANSFORMS_PASSES_H
