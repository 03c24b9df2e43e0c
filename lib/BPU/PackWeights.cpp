//===- PackWeights.cpp - o16k2 weight layout ------------------------------===//
//
// The MAC array (and the CPU runtime's int16 multiply-add kernels) consume
// 16 output channels by 2 reduction steps per load, so weights are stored
// in exactly that order and never reshuffled at run time.
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatOps.h"
#include "hat/HBM/Model.h"
#include "hat/Transforms/ParamUtils.h"

namespace hat::bpu {
#define GEN_PASS_DEF_BPUPACKWEIGHTS
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using hat::eraseDeadParams;
using hat::ParamOp;
using namespace hat::bpu;

namespace {

struct PackWeightsPass : hat::bpu::impl::BpuPackWeightsBase<PackWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp func = getCompiledFunction(module);
    if (!func)
      return signalPassFailure();
    bool failedAny = false;
    func.walk([&](Operation *op) {
      if (!isa<ConvOp, LinearOp>(op))
        return;
      Value weight = op->getOperand(1);
      if (weight.getDefiningOp<PackedWeightOp>())
        return;
      auto param = weight.getDefiningOp<ParamOp>();
      if (!param) {
        op->emitError("weight is not a hat.param");
        failedAny = true;
        return;
      }
      auto values = param.getValue().tryGetValues<APInt>();
      auto type = cast<RankedTensorType>(param.getType());
      if (!values) {
        op->emitError("cannot read the int8 weight data");
        failedAny = true;
        return;
      }
      std::vector<int8_t> raw;
      raw.reserve(type.getNumElements());
      for (const APInt &v : *values)
        raw.push_back(int8_t(v.getSExtValue()));
      const int64_t groups =
          isa<ConvOp>(op) ? cast<ConvOp>(op).getGroups() : int64_t(1);
      const int64_t o = type.getDimSize(0);
      const int64_t k = type.getNumElements() / std::max<int64_t>(o, 1);
      std::vector<int8_t> packed =
          hat::hbm::packWeightsO16K2(raw, o, k, groups);
      OpBuilder b(op);
      auto packedType =
          RankedTensorType::get({int64_t(packed.size())}, b.getIntegerType(8));
      auto data = DenseIntElementsAttr::get(packedType, ArrayRef(packed));
      auto pw = b.create<PackedWeightOp>(
          param.getLoc(), packedType, b.getStringAttr(param.getName()), data,
          b.getStringAttr("o16k2"), b.getDenseI64ArrayAttr(type.getShape()),
          b.getI64IntegerAttr(groups));
      op->setOperand(1, pw.getResult());
    });
    eraseDeadParams(func);
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
