//===- CalOps.cpp - FLOPs and parameters of a hat model -------------------===//

#include "hat/BPU/CalOps.h"

#include "hat/Dialect/HatOps.h"

#include "llvm/ADT/StringMap.h"

using namespace mlir;

namespace hat::bpu {

namespace {
int64_t numel(Value v) {
  return v ? cast<RankedTensorType>(v.getType()).getNumElements() : 0;
}
std::string nameOf(Value weight, StringRef fallback) {
  if (auto p = weight.getDefiningOp<ParamOp>()) {
    StringRef n = p.getName();
    n.consume_back(".weight");
    return n.str();
  }
  return fallback.str();
}
} // namespace

OpsReport countOps(func::FuncOp func) {
  OpsReport r;
  llvm::StringMap<int> counters;
  func.walk([&](Operation *op) {
    LayerOps l;
    l.op = op->getName().getStringRef().str();
    auto fallback = [&] {
      StringRef kind = op->getName().stripDialect();
      return (kind + "_" + std::to_string(counters[kind]++)).str();
    };
    if (isa<Conv2dOp, QConv2dOp>(op)) {
      auto w = cast<RankedTensorType>(op->getOperand(1).getType());
      auto out = cast<RankedTensorType>(op->getResult(0).getType());
      // w is [Cout, Cin/g, KH, KW]: its size is already K^2 * Cin/g * Cout.
      l.macs = w.getNumElements() * out.getDimSize(0) * out.getDimSize(2) *
               out.getDimSize(3);
      Value bias = isa<Conv2dOp>(op) ? cast<Conv2dOp>(op).getBias()
                                     : cast<QConv2dOp>(op).getBias();
      l.params = w.getNumElements() + numel(bias);
      l.name = nameOf(op->getOperand(1), fallback());
    } else if (isa<LinearOp, QLinearOp>(op)) {
      auto w = cast<RankedTensorType>(op->getOperand(1).getType());
      auto in = cast<RankedTensorType>(op->getOperand(0).getType());
      const int64_t rows = in.getNumElements() / w.getDimSize(1);
      l.macs = rows * w.getNumElements();
      Value bias = isa<LinearOp>(op) ? cast<LinearOp>(op).getBias()
                                     : cast<QLinearOp>(op).getBias();
      l.params = w.getNumElements() + numel(bias);
      l.name = nameOf(op->getOperand(1), fallback());
    } else if (auto ws = dyn_cast<WeightedSumOp>(op)) {
      // One multiply-add per input element.
      l.macs = numel(ws.getResult()) * (int64_t)ws.getInputs().size();
      l.params = numel(ws.getWeights());
      l.name = nameOf(ws.getWeights(), fallback());
    } else if (auto bn = dyn_cast<BatchNormOp>(op)) {
      l.params = numel(bn.getWeight()) + numel(bn.getBias());
      l.name = nameOf(bn.getWeight(), fallback());
    } else {
      return;
    }
    l.flops = 2 * l.macs;
    r.macs += l.macs;
    r.flops += l.flops;
    r.params += l.params;
    r.layers.push_back(std::move(l));
  });
  return r;
}

} // namespace hat::bpu
