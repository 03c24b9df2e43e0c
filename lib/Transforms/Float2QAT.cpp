//===- Float2QAT.cpp - Insert fake_quant nodes ----------------------------===//
//
// Marks every place an integer model rounds: function inputs, weights
// (per output channel), and the output of every layer whose result scale is
// new. A conv2d/linear/add followed by its only user relu/relu6 is one unit
// (the ReLU is fused into the integer op), so the rounding happens after the
// activation, as QAT toolkits fuse conv+bn+relu. Scale-preserving ops
// (max pool, reshape, flatten, transpose, nearest resize) get none.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/LayerName.h"
#include "hat/Transforms/ParamUtils.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

namespace hat {
#define GEN_PASS_DEF_HATFLOAT2QAT
#include "hat/Dialect/HatPasses.h.inc"
} // namespace hat

using namespace mlir;
using namespace hat;

namespace {

std::optional<QDType> parseQDType(StringRef s) { return symbolizeQDType(s); }

/// The positive scalar constant (a one-element hat.param) `mul` multiplies
/// by, if any: FCOSHead's `upscale_bbox_pred` stride. The integer model folds
/// it into the scale, so it rounds nothing and needs no fake_quant.
bool isConstantScale(Operation *op) {
  if (!isa<MulOp>(op))
    return false;
  for (Value v : op->getOperands())
    if (auto data = readFloatParam(getParamDefiningOp(v)))
      if (data->size() == 1 && (*data)[0] > 0.f)
        return true;
  return false;
}

/// Ops after which an activation needs its own fake_quant.
bool producesNewScale(Operation *op) {
  if (isConstantScale(op))
    return false;
  if (auto resize = dyn_cast<ResizeOp>(op))
    return resize.getMode() == ResizeMode::bilinear;
  return isa<Conv2dOp, LinearOp, AddOp, WeightedSumOp, MulOp, MatmulOp,
             ConcatOp, AvgPool2dOp, GlobalAvgPoolOp, ReluOp, Relu6Op, SigmoidOp,
             SiluOp, HardswishOp, SoftmaxOp, LayerNormOp, MsDeformAttnOp>(op);
}

/// Ops a following relu/relu6 is fused into.
bool fusesActivation(Operation *op) {
  return isa<Conv2dOp, LinearOp, AddOp, WeightedSumOp>(op);
}

struct Float2QATPass : hat::impl::HatFloat2QATBase<Float2QATPass> {
  using HatFloat2QATBase::HatFloat2QATBase;

  /// `layer-dtypes`: sets hat.qdtype on the op each name designates.
  LogicalResult applyLayerDTypes(func::FuncOp func) {
    if (layerDTypes.empty())
      return success();
    llvm::StringMap<Operation *> byName;
    func.walk([&](Operation *op) {
      if (isa<ParamOp, FakeQuantOp>(op) || op->getNumResults() != 1)
        return;
      if (auto name = layerNameOf(op->getLoc()))
        byName.try_emplace(*name, op);
    });
    for (const std::string &entry : layerDTypes) {
      size_t colon = entry.rfind(':');
      std::optional<QDType> dtype;
      if (colon != std::string::npos)
        dtype = parseQDType(StringRef(entry).substr(colon + 1));
      if (!dtype)
        return func.emitError("layer-dtypes entry '")
               << entry << "' must be NAME:qint8 or NAME:qint16";
      std::string name = entry.substr(0, colon);
      auto it = byName.find(name);
      if (it == byName.end()) {
        std::string known;
        int shown = 0;
        for (auto &kv : byName)
          if (isa<Conv2dOp, LinearOp, AddOp, MulOp, MatmulOp, ConcatOp,
                  AvgPool2dOp, GlobalAvgPoolOp, SigmoidOp, SiluOp, HardswishOp,
                  SoftmaxOp, LayerNormOp, MsDeformAttnOp, ResizeOp>(
                  kv.second) &&
              shown++ < 8)
            known += (known.empty() ? "" : ", ") + kv.first().str();
        return func.emitError("layer-dtypes names layer '")
               << name << "', but the model has no op of that name (layers "
               << "include: " << known << ")";
      }
      Operation *op = it->second;
      if (!producesNewScale(op))
        return op->emitError("layer '")
               << name << "' keeps its input's scale and has no output "
               << "quantization of its own; set the dtype of the layer "
                  "producing its input";
      op->setAttr("hat.qdtype", QDTypeAttr::get(op->getContext(), *dtype));
    }
    return success();
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto actType = parseQDType(activationDType);
    auto weightType = parseQDType(weightDType);
    auto outType = outputDType.empty() ? actType : parseQDType(outputDType);
    auto observerKind = symbolizeObserver(observer);
    if (!actType || !outType || !weightType) {
      func.emitError("unknown dtype in hat-float2qat options (expected qint8 "
                     "or qint16): activation-dtype=")
          << activationDType << " weight-dtype=" << weightDType
          << " output-dtype=" << outputDType;
      return signalPassFailure();
    }
    if (*weightType != QDType::qint8) {
      func.emitError("weight-dtype must be qint8: integer layers take int8 "
                     "weights");
      return signalPassFailure();
    }
    if (!observerKind) {
      func.emitError("unknown observer '")
          << observer << "' (expected minmax, percentile or mse)";
      return signalPassFailure();
    }

    if (failed(applyLayerDTypes(func)))
      return signalPassFailure();

    // QAT folds BN before inserting weight fake_quant: the folded weight is
    // what the integer model stores.
    SmallVector<BatchNormOp> bns;
    func.walk([&](BatchNormOp bn) { bns.push_back(bn); });
    for (BatchNormOp bn : bns) {
      std::string reason;
      if (failed(foldBatchNorm(bn, reason))) {
        bn.emitError("cannot be quantized: batch_norm must fold into a "
                     "conv2d/linear, but ")
            << reason;
        return signalPassFailure();
      }
    }
    eraseDeadParams(func);

    MLIRContext *ctx = &getContext();
    OpBuilder builder(ctx);
    auto returnOp = cast<func::ReturnOp>(func.getBody().back().getTerminator());

    auto dtypeFor = [&](Operation *op, Value result) {
      if (auto attr = op->getAttrOfType<QDTypeAttr>("hat.qdtype"))
        return attr.getValue();
      for (Operation *user : result.getUsers())
        if (user == returnOp)
          return *outType;
      return *actType;
    };
    auto alreadyQuantized = [](Value v) {
      return v.hasOneUse() && isa<FakeQuantOp>(*v.getUsers().begin());
    };
    auto insertActivationFQ = [&](Value v, QDType dtype, Location loc) {
      if (alreadyQuantized(v))
        return;
      builder.setInsertionPointAfterValue(v);
      auto fq = builder.create<FakeQuantOp>(
          loc, v.getType(), v, QDTypeAttr::get(ctx, dtype), IntegerAttr(),
          DenseF32ArrayAttr(), ObserverAttr::get(ctx, *observerKind),
          DenseF32ArrayAttr(), DenseF32ArrayAttr(), UnitAttr());
      v.replaceAllUsesExcept(fq.getResult(), fq);
    };

    for (BlockArgument arg : func.getArguments())
      if (llvm::isa<RankedTensorType>(arg.getType()) &&
          llvm::cast<RankedTensorType>(arg.getType())
              .getElementType()
              .isF32()) {
        // Named after the input (`input.img`), so per-layer reports list it.
        auto name =
            func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "hat.name");
        std::string label =
            "input." + (name ? name.str() : std::to_string(arg.getArgNumber()));
        insertActivationFQ(
            arg, *actType,
            NameLoc::get(StringAttr::get(ctx, label), func.getLoc()));
      }

    // One weight fake_quant per weight, shared by every layer using it
    // (FCOS's shared head predictors): one weight has one set of scales.
    llvm::DenseMap<Value, Value> weightFQs;
    SmallVector<Operation *> ops;
    func.walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : ops) {
      if (isa<FakeQuantOp>(op))
        continue;
      // Per-channel weight fake_quant on conv2d/linear.
      if (isa<Conv2dOp, LinearOp>(op)) {
        Value weight = op->getOperand(1);
        if (auto it = weightFQs.find(weight); it != weightFQs.end()) {
          op->setOperand(1, it->second);
        } else if (!weight.getDefiningOp<FakeQuantOp>()) {
          // The first user comes first in the block, so the fake_quant
          // dominates every later user of a shared weight.
          builder.setInsertionPoint(op);
          auto fq = builder.create<FakeQuantOp>(
              op->getLoc(), weight.getType(), weight,
              QDTypeAttr::get(ctx, *weightType), builder.getI64IntegerAttr(0),
              DenseF32ArrayAttr(), ObserverAttr::get(ctx, Observer::minmax),
              DenseF32ArrayAttr(), DenseF32ArrayAttr(), UnitAttr());
          op->setOperand(1, fq.getResult());
          weightFQs[weight] = fq.getResult();
        }
      }
      if (!producesNewScale(op))
        continue;
      // A relu/relu6 fused into its producer is quantized with it.
      if (isa<ReluOp, Relu6Op>(op)) {
        Operation *producer = op->getOperand(0).getDefiningOp();
        if (producer && fusesActivation(producer) && producer->hasOneUse())
          continue;
      }
      Operation *unit = op;
      Value out = op->getResult(0);
      if (fusesActivation(op) && out.hasOneUse() &&
          isa<ReluOp, Relu6Op>(*out.getUsers().begin())) {
        unit = *out.getUsers().begin();
        out = unit->getResult(0);
      }
      QDType dtype = dtypeFor(op, out);
      if (auto attr = unit->getAttrOfType<QDTypeAttr>("hat.qdtype"))
        dtype = attr.getValue();
      // The unit is named after its first op (conv1 for conv1+bn1+relu).
      insertActivationFQ(out, dtype, op->getLoc());
    }

    // A float constant or trained scalar that enters an activation op (a
    // position embedding added to a feature, GaNet's attention gamma) is
    // quantized like an input: HAT's QuantStub on it. A positive scalar a
    // hat.mul scales by needs none (it folds into the scale).
    SmallVector<ParamOp> params;
    func.walk([&](ParamOp p) { params.push_back(p); });
    for (ParamOp p : params) {
      auto type = dyn_cast<RankedTensorType>(p.getType());
      if (!type || !type.getElementType().isF32())
        continue;
      SmallVector<OpOperand *> activationUses;
      for (OpOperand &use : p.getResult().getUses()) {
        Operation *user = use.getOwner();
        // The data input of a conv/linear too: a transformer decoder's
        // learned queries (`tgt`) enter its projections directly.
        if (isa<AddOp, MatmulOp, ConcatOp>(user) ||
            (isa<MulOp>(user) && !isConstantScale(user)) ||
            (isa<Conv2dOp, LinearOp>(user) && use.getOperandNumber() == 0))
          activationUses.push_back(&use);
      }
      if (activationUses.empty())
        continue;
      builder.setInsertionPointAfter(p);
      auto fq = builder.create<FakeQuantOp>(
          NameLoc::get(StringAttr::get(ctx, p.getName()), p.getLoc()), type,
          p.getResult(), QDTypeAttr::get(ctx, *actType), IntegerAttr(),
          DenseF32ArrayAttr(), ObserverAttr::get(ctx, *observerKind),
          DenseF32ArrayAttr(), DenseF32ArrayAttr(), UnitAttr());
      for (OpOperand *use : activationUses)
        use->set(fq.getResult());
    }
  }
};
} // namespace
