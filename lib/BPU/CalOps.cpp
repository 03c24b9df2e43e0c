//===- CalOps.cpp - FLOPs and parameters of a hat model -------------------===//

#include "hat/BPU/CalOps.h"

#include "hat/Dialect/HatOps.h"

#include "llvm/ADT/StringMap.h"

using namespace mlir;

namespace hat::bpu {

namespace {
/// Multiplies with an int64 overflow check; a sticky `ok` lets a whole
/// formula be checked once.
int64_t mul(int64_t a, int64_t b, bool &ok) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    ok = false;
    return 0;
  }
  return r;
}
int64_t add(int64_t a, int64_t b, bool &ok) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    ok = false;
    return 0;
  }
  return r;
}
/// The element count of a ranked tensor type (MLIR's getNumElements
/// multiplies unchecked).
int64_t numel(RankedTensorType t, bool &ok) {
  int64_t n = 1;
  for (int64_t d : t.getShape())
    n = mul(n, d, ok);
  return n;
}
int64_t numel(Value v, bool &ok) {
  return v ? numel(cast<RankedTensorType>(v.getType()), ok) : 0;
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
  func.walk([&](Operation *op) -> WalkResult {
    bool ok = true;
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
      l.macs = mul(
          mul(mul(numel(w, ok), out.getDimSize(0), ok), out.getDimSize(2), ok),
          out.getDimSize(3), ok);
      Value bias = isa<Conv2dOp>(op) ? cast<Conv2dOp>(op).getBias()
                                     : cast<QConv2dOp>(op).getBias();
      l.params = add(numel(w, ok), numel(bias, ok), ok);
      l.name = nameOf(op->getOperand(1), fallback());
    } else if (isa<LinearOp, QLinearOp>(op)) {
      auto w = cast<RankedTensorType>(op->getOperand(1).getType());
      auto in = cast<RankedTensorType>(op->getOperand(0).getType());
      const int64_t rows =
          numel(in, ok) / std::max<int64_t>(1, w.getDimSize(1));
      l.macs = mul(rows, numel(w, ok), ok);
      Value bias = isa<LinearOp>(op) ? cast<LinearOp>(op).getBias()
                                     : cast<QLinearOp>(op).getBias();
      l.params = add(numel(w, ok), numel(bias, ok), ok);
      l.name = nameOf(op->getOperand(1), fallback());
    } else if (isa<MsDeformAttnOp, QMsDeformAttnOp>(op)) {
      // Per output value, levels x points samples of 4 bilinear taps plus
      // the attention weight: 5 multiply-adds each; no parameters.
      auto loc = cast<RankedTensorType>(op->getOperand(1).getType());
      l.macs = mul(mul(numel(op->getResult(0), ok),
                       loc.getDimSize(3) * loc.getDimSize(4), ok),
                   5, ok);
      auto layerName = op->getAttrOfType<StringAttr>("hat.layer_name");
      l.name = layerName ? layerName.str() : fallback();
    } else if (isa<LayerNormOp, QLayerNormOp>(op)) {
      // gamma and beta (the integer form keeps beta as its bias, gamma in
      // the multipliers): 2 C parameters; no multiply-accumulate.
      const int64_t c =
          cast<RankedTensorType>(op->getResult(0).getType()).getShape().back();
      l.params = 2 * c;
      auto layerName = op->getAttrOfType<StringAttr>("hat.layer_name");
      l.name = layerName ? layerName.str() : fallback();
    } else if (isa<MatmulOp, QMatmulOp>(op)) {
      // [..., M, K] x [..., K, N]: K multiply-adds per result element; no
      // parameters (both operands are activations).
      auto lhs = cast<RankedTensorType>(op->getOperand(0).getType());
      l.macs = mul(numel(op->getResult(0), ok), lhs.getShape().back(), ok);
      auto layerName = op->getAttrOfType<StringAttr>("hat.layer_name");
      l.name = layerName ? layerName.str() : fallback();
    } else if (auto ws = dyn_cast<WeightedSumOp>(op)) {
      // One multiply-add per input element.
      l.macs =
          mul(numel(ws.getResult(), ok), (int64_t)ws.getInputs().size(), ok);
      l.params = numel(ws.getWeights(), ok);
      l.name = nameOf(ws.getWeights(), fallback());
    } else if (auto bn = dyn_cast<BatchNormOp>(op)) {
      l.params = add(numel(bn.getWeight(), ok), numel(bn.getBias(), ok), ok);
      l.name = nameOf(bn.getWeight(), fallback());
    } else {
      return WalkResult::advance();
    }
    l.flops = mul(2, l.macs, ok);
    r.macs = add(r.macs, l.macs, ok);
    r.flops = add(r.flops, l.flops, ok);
    r.params = add(r.params, l.params, ok);
    if (!ok) {
      r.overflow = "layer '" + l.name + "' (" + l.op +
                   "): its MACs, FLOPs or parameters (or the running total) "
                   "exceed the int64 range";
      return WalkResult::interrupt();
    }
    r.layers.push_back(std::move(l));
    return WalkResult::advance();
  });
  return r;
}

} // namespace hat::bpu
