//===- HatDialect.cpp - The hat dialect -----------------------------------===//

#include "hat/Dialect/HatDialect.h"
#include "hat/Dialect/HatOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace hat;

#include "hat/Dialect/HatDialect.cpp.inc"
#include "hat/Dialect/HatEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "hat/Dialect/HatAttrs.cpp.inc"

void HatDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "hat/Dialect/HatOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "hat/Dialect/HatAttrs.cpp.inc"
      >();
}
