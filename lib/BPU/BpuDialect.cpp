//===- BpuDialect.cpp - The bpu dialect, verifiers, weight packing --------===//

#include "hat/BPU/BpuOps.h"
#include "hat/HBM/Model.h"

#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace hat::bpu;

#include "hat/BPU/BpuDialect.cpp.inc"

void BpuDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "hat/BPU/BpuOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "hat/BPU/BpuOps.cpp.inc"

LogicalResult PackedWeightOp::verify() {
  if (getLayout() != "o16k2")
    return emitOpError("unknown weight layout '") << getLayout() << "'";
  ArrayRef<int64_t> shape = getShape();
  if (shape.size() != 2 && shape.size() != 4)
    return emitOpError("logical shape must be [O, C, KH, KW] or [M, K]");
  int64_t k = 1;
  for (size_t d = 1; d < shape.size(); ++d)
    k *= shape[d];
  if (getGroups() < 1 || shape[0] % getGroups())
    return emitOpError("groups must divide the output channels");
  const int64_t bytes = hat::hbm::packedWeightSize(shape[0], k, getGroups());
  auto type = getResult().getType();
  if (type.getRank() != 1 || type.getDimSize(0) != bytes ||
      getData().getNumElements() != bytes)
    return emitOpError("packed data must hold ") << bytes << " bytes";
  return success();
}

LogicalResult ConvOp::verify() {
  auto in = getInput().getType(), out = getResult().getType();
  if (in.getRank() != 4 || out.getRank() != 4)
    return emitOpError("input and result must be NCHW");
  if (getKernel().size() != 2 || getStride().size() != 2 ||
      getDilation().size() != 2 || getPadding().size() != 4)
    return emitOpError("kernel/stride/dilation need 2 entries, padding 4");
  const int64_t channels = out.getDimSize(1);
  if (getMultiplier().size() != getShift().size() ||
      (getMultiplier().size() != 1 &&
       int64_t(getMultiplier().size()) != channels))
    return emitOpError("need one multiplier/shift or one per output channel");
  const bool fused = bool(getResidual());
  if (fused != (getAddConvMultiplier() && getAddResidualMultiplier() &&
                getAddShift() && getConvType()))
    return emitOpError("a residual needs conv_type, add_conv_multiplier, "
                       "add_residual_multiplier and add_shift, and they need "
                       "a residual");
  if (fused && getResidual().getType().getShape() != out.getShape())
    return emitOpError("residual must have the result's shape");
  return success();
}

LogicalResult PoolOp::verify() {
  StringRef kind = getKind();
  if (kind != "max" && kind != "avg" && kind != "global_avg")
    return emitOpError("kind must be max, avg or global_avg");
  if (kind != "global_avg" && (!getKernel() || !getStride() || !getPadding()))
    return emitOpError("window pools need kernel, stride and padding");
  if (kind != "max" && (!getMultiplier() || !getShift()))
    return emitOpError("average pools need multiplier and shift");
  return success();
}
