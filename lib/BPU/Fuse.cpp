//===- Fuse.cpp - conv + residual add (+ relu) fusion ---------------------===//
//
// The add's operands are the conv's requantized, saturated output and the
// residual; the fused conv computes exactly that (its own requantization into
// conv_type, then the add's). Only the intermediate's trip through DDR goes
// away, which is the point.
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatOps.h"

namespace hat::bpu {
#define GEN_PASS_DEF_BPUFUSE
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using namespace hat::bpu;

namespace {

/// A conv the add can absorb: no residual yet, the add is its only user and
/// the other operand has the add's shape (no broadcasting in the epilogue).
bool fusible(Value convSide, Value other, AddOp add) {
  auto conv = convSide.getDefiningOp<ConvOp>();
  if (!conv || conv.getResidual() || !convSide.hasOneUse() || other == convSide)
    return false;
  // A constant operand (a position embedding) is no residual the conv's
  // epilogue can read from the arena.
  if (other.getDefiningOp<hat::ParamOp>())
    return false;
  auto o = cast<RankedTensorType>(other.getType());
  return o.getShape() == add.getResult().getType().getShape();
}

struct FusePass : hat::bpu::impl::BpuFuseBase<FusePass> {
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      bool convIsLhs = fusible(add.getLhs(), add.getRhs(), add);
      if (!convIsLhs && !fusible(add.getRhs(), add.getLhs(), add))
        continue;
      Value convValue = convIsLhs ? add.getLhs() : add.getRhs();
      Value residual = convIsLhs ? add.getRhs() : add.getLhs();
      auto conv = convValue.getDefiningOp<ConvOp>();
      OpBuilder b(add);
      SmallVector<NamedAttribute> attrs;
      for (NamedAttribute a : conv->getAttrs())
        if (a.getName() != "operandSegmentSizes")
          attrs.push_back(a);
      auto i32 = [&](int32_t v) { return b.getI32IntegerAttr(v); };
      attrs.push_back(b.getNamedAttr(
          "conv_type",
          TypeAttr::get(conv.getResult().getType().getElementType())));
      attrs.push_back(b.getNamedAttr(
          "add_conv_multiplier",
          i32(convIsLhs ? add.getLhsMultiplier() : add.getRhsMultiplier())));
      attrs.push_back(b.getNamedAttr(
          "add_residual_multiplier",
          i32(convIsLhs ? add.getRhsMultiplier() : add.getLhsMultiplier())));
      attrs.push_back(b.getNamedAttr("add_shift", i32(add.getShift())));
      if (add.getRelu())
        attrs.push_back(b.getNamedAttr("add_relu", b.getUnitAttr()));
      if (!convIsLhs)
        attrs.push_back(b.getNamedAttr("residual_is_lhs", b.getUnitAttr()));
      SmallVector<Value> operands{conv.getInput(), conv.getWeight()};
      if (conv.getBias())
        operands.push_back(conv.getBias());
      operands.push_back(residual);
      attrs.push_back(b.getNamedAttr(
          "operandSegmentSizes",
          b.getDenseI32ArrayAttr({1, 1, conv.getBias() ? 1 : 0, 1})));
      // The fused layer keeps the conv's name: "<conv>+add".
      if (auto name = conv->getAttrOfType<StringAttr>("name"))
        for (NamedAttribute &a : attrs)
          if (a.getName() == "name")
            a.setValue(b.getStringAttr(name.getValue() + "+add"));
      Operation *fused = createOp(b, add.getLoc(), ConvOp::getOperationName(),
                                  operands, add.getResult().getType(), attrs);
      add.getResult().replaceAllUsesWith(fused->getResult(0));
      add.erase();
      conv.erase();
    }
  }
};

} // namespace
