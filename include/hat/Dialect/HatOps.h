//===- HatOps.h - Operations of the hat dialect -----------------*- C++ -*-===//

#ifndef HAT_DIALECT_HATOPS_H
#define HAT_DIALECT_HATOPS_H

#include "hat/Dialect/HatDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "hat/Dialect/HatOps.h.inc"

namespace hat {

/// Number of bits of an integer tensor element type (8, 16 or 32).
unsigned getIntBits(mlir::Type elementType);

/// Bits of a quantized dtype enum (8 or 16).
unsigned getQDTypeBits(QDType dtype);

} // namespace hat

#endif // HAT_DIALECT_HATOPS_H
