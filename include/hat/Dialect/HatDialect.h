//===- HatDialect.h - The hat dialect ---------------------------*- C++ -*-===//
//
// Declares the `hat` dialect, its enums and attributes. Ops are declared in
// HatOps.h.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DIALECT_HATDIALECT_H
#define HAT_DIALECT_HATDIALECT_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"

#include "hat/Dialect/HatDialect.h.inc"
#include "hat/Dialect/HatEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "hat/Dialect/HatAttrs.h.inc"

#endif // HAT_DIALECT_HATDIALECT_H
