//===- InferShapes.cpp - Recompute result types ---------------------------===//
//
// Changing an input shape (usually the batch size for deployment or
// calibration) only needs the arguments updated: every op that infers its
// type is re-inferred in program order, then the function type follows.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace hat {
#define GEN_PASS_DEF_HATINFERSHAPES
#include "hat/Dialect/HatPasses.h.inc"
} // namespace hat

using namespace mlir;
using namespace hat;

namespace {
struct InferShapesPass : hat::impl::HatInferShapesBase<InferShapesPass> {
  using HatInferShapesBase::HatInferShapesBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (batchSize < 0) {
      func.emitError("batch-size must be >= 0, got ")
          << static_cast<int64_t>(batchSize);
      return signalPassFailure();
    }
    if (batchSize > 0) {
      for (BlockArgument arg : func.getArguments()) {
        auto type = llvm::dyn_cast<RankedTensorType>(arg.getType());
        if (!type || type.getRank() == 0)
          continue;
        SmallVector<int64_t> shape(type.getShape());
        shape[0] = batchSize;
        arg.setType(RankedTensorType::get(shape, type.getElementType()));
      }
    }
    // One walk in program order so every op sees its operands' new types.
    WalkResult result = func.walk([&](Operation *op) {
      if (auto infer = dyn_cast<InferTypeOpInterface>(op)) {
        SmallVector<Type> types;
        if (failed(infer.inferReturnTypes(
                op->getContext(), op->getLoc(), op->getOperands(),
                op->getAttrDictionary(), op->getPropertiesStorage(),
                op->getRegions(), types)))
          return WalkResult::interrupt();
        for (auto [res, type] : llvm::zip(op->getResults(), types))
          res.setType(type);
        return WalkResult::advance();
      }
      // The other hat ops (elementwise, fake_quant, integer layers) keep
      // every dimension but the batch, which follows their first operand.
      if (!isa<HatDialect>(op->getDialect()) || op->getNumOperands() == 0 ||
          op->getNumResults() != 1)
        return WalkResult::advance();
      auto in = llvm::dyn_cast<RankedTensorType>(op->getOperand(0).getType());
      auto out = llvm::dyn_cast<RankedTensorType>(op->getResult(0).getType());
      if (!in || !out || in.getRank() == 0 || out.getRank() == 0)
        return WalkResult::advance();
      SmallVector<int64_t> shape(out.getShape());
      shape[0] = in.getDimSize(0);
      op->getResult(0).setType(
          RankedTensorType::get(shape, out.getElementType()));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    auto returnOp = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    func.setFunctionType(FunctionType::get(
        func.getContext(), func.getBody().front().getArgumentTypes(),
        returnOp.getOperandTypes()));
  }
};
} // namespace
