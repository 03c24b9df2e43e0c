//===- Lower.cpp - Integer hat ops to bpu layer ops -----------------------===//
//
// A one-to-one rewrite: each integer hat op becomes the bpu op the backend
// schedules, with what the backend needs made explicit (the conv kernel
// size, the pool kind). Numerics are untouched: every attribute that decides
// a rounding is copied as is.
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Eval/Evaluator.h"

#include "llvm/ADT/TypeSwitch.h"

namespace hat::bpu {
#define GEN_PASS_DEF_BPULOWER
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using namespace hat;
namespace bpu = hat::bpu;
using bpu::createOp;
using bpu::findMarch;
using bpu::kFunctionAttr;
using bpu::kMarchAttr;
using bpu::marchNames;

namespace {

struct LowerPass : hat::bpu::impl::BpuLowerBase<LowerPass> {
  using BpuLowerBase::BpuLowerBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!findMarch(march)) {
      module.emitError("unknown march '")
          << march << "' (known: " << marchNames() << ")";
      return signalPassFailure();
    }
    func::FuncOp func = eval::findEntryFunction(module, function);
    if (!func)
      return signalPassFailure();
    MLIRContext *ctx = module.getContext();
    module->setAttr(kMarchAttr, StringAttr::get(ctx, march));
    module->setAttr(kFunctionAttr, StringAttr::get(ctx, func.getSymName()));

    SmallVector<Operation *> ops;
    for (Operation &op : func.getBody().front())
      ops.push_back(&op);
    for (Operation *op : ops)
      if (failed(lower(op)))
        return signalPassFailure();
  }

  LogicalResult lower(Operation *op) {
    if (isa<hat::ParamOp, func::ReturnOp>(op))
      return success();
    OpBuilder b(op);
    Location loc = op->getLoc();
    Type resultType = op->getNumResults() ? op->getResult(0).getType() : Type();
    auto attr = [&](StringRef name, Attribute value) {
      return b.getNamedAttr(name, value);
    };
    auto copy = [&](StringRef name) -> std::optional<NamedAttribute> {
      if (Attribute a = op->getAttr(name))
        return b.getNamedAttr(name, a);
      return std::nullopt;
    };
    auto copied = [&](std::initializer_list<StringRef> names) {
      SmallVector<NamedAttribute> attrs;
      for (StringRef n : names)
        if (auto a = copy(n))
          attrs.push_back(*a);
      return attrs;
    };
    Operation *repl = nullptr;
    bool unsupported = false;
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](hat::QuantizeOp) {
          repl = createOp(b, loc, bpu::QuantizeOp::getOperationName(),
                          op->getOperands(), resultType, copied({"scale"}));
        })
        .Case([&](hat::DequantizeOp) {
          repl = createOp(b, loc, bpu::DequantizeOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"scale", "axis"}));
        })
        .Case([&](hat::QConv2dOp c) {
          auto w = cast<RankedTensorType>(c.getWeight().getType());
          SmallVector<NamedAttribute> attrs =
              copied({"stride", "padding", "dilation", "groups", "multiplier",
                      "shift", "relu"});
          attrs.push_back(
              attr("kernel",
                   b.getDenseI64ArrayAttr({w.getDimSize(2), w.getDimSize(3)})));
          SmallVector<Value> operands{c.getInput(), c.getWeight()};
          if (c.getBias())
            operands.push_back(c.getBias());
          attrs.push_back(
              attr("operandSegmentSizes",
                   b.getDenseI32ArrayAttr({1, 1, c.getBias() ? 1 : 0, 0})));
          repl = createOp(b, loc, bpu::ConvOp::getOperationName(), operands,
                          resultType, attrs);
        })
        .Case([&](hat::QLinearOp) {
          repl = createOp(b, loc, bpu::LinearOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"multiplier", "shift", "relu"}));
        })
        .Case([&](hat::QAddOp) {
          repl = createOp(
              b, loc, bpu::AddOp::getOperationName(), op->getOperands(),
              resultType,
              copied({"lhs_multiplier", "rhs_multiplier", "shift", "relu"}));
        })
        .Case([&](hat::QMatmulOp) {
          repl = createOp(b, loc, bpu::MatmulOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"multiplier", "shift"}));
        })
        .Case([&](hat::QMsDeformAttnOp) {
          repl = createOp(b, loc, bpu::MsDeformAttnOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"spatial_shapes", "loc_multiplier",
                                  "loc_shift", "multiplier", "shift"}));
        })
        .Case([&](hat::QLayerNormOp) {
          repl = createOp(b, loc, bpu::LayerNormOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"eps_q", "multiplier", "shift"}));
        })
        .Case([&](hat::QMulOp) {
          repl = createOp(b, loc, bpu::MulOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"multiplier", "shift"}));
        })
        .Case([&](hat::MaxPool2dOp p) {
          if (!isIntegerValue(p.getInput())) {
            unsupported = true;
            return;
          }
          SmallVector<NamedAttribute> attrs =
              copied({"kernel", "stride", "padding"});
          attrs.push_back(attr("kind", b.getStringAttr("max")));
          repl = createOp(b, loc, bpu::PoolOp::getOperationName(),
                          op->getOperands(), resultType, attrs);
        })
        .Case([&](hat::QAvgPool2dOp) {
          SmallVector<NamedAttribute> attrs =
              copied({"kernel", "stride", "padding", "multiplier", "shift"});
          attrs.push_back(attr("kind", b.getStringAttr("avg")));
          repl = createOp(b, loc, bpu::PoolOp::getOperationName(),
                          op->getOperands(), resultType, attrs);
        })
        .Case([&](hat::QGlobalAvgPoolOp) {
          SmallVector<NamedAttribute> attrs = copied({"multiplier", "shift"});
          attrs.push_back(attr("kind", b.getStringAttr("global_avg")));
          repl = createOp(b, loc, bpu::PoolOp::getOperationName(),
                          op->getOperands(), resultType, attrs);
        })
        .Case([&](hat::QConcatOp) {
          repl = createOp(b, loc, bpu::ConcatOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"axis", "multiplier", "shift"}));
        })
        .Case([&](hat::ConcatOp c) {
          if (!isIntegerValue(c.getResult())) {
            unsupported = true;
            return;
          }
          repl = createOp(b, loc, bpu::ConcatOp::getOperationName(),
                          op->getOperands(), resultType, copied({"axis"}));
        })
        .Case([&](hat::QResizeOp r) {
          SmallVector<NamedAttribute> attrs =
              copied({"size", "align_corners", "multiplier", "shift"});
          attrs.push_back(attr(
              "mode", b.getStringAttr(r.getMode() == hat::ResizeMode::nearest
                                          ? "nearest"
                                          : "bilinear")));
          repl = createOp(b, loc, bpu::ResizeOp::getOperationName(),
                          op->getOperands(), resultType, attrs);
        })
        .Case([&](hat::RequantizeOp) {
          repl = createOp(b, loc, bpu::RequantizeOp::getOperationName(),
                          op->getOperands(), resultType,
                          copied({"multiplier", "shift", "relu"}));
        })
        .Case([&](hat::QLutOp) {
          repl = createOp(b, loc, bpu::LutOp::getOperationName(),
                          op->getOperands(), resultType, copied({"table"}));
        })
        .Case<hat::ReshapeOp, hat::FlattenOp>([&](auto) {
          repl = createOp(b, loc, bpu::ReshapeOp::getOperationName(),
                          op->getOperand(0), resultType, {});
        })
        .Case([&](hat::TransposeOp) {
          repl = createOp(b, loc, bpu::TransposeOp::getOperationName(),
                          op->getOperands(), resultType, copied({"perm"}));
        })
        .Case([&](hat::SoftmaxOp) {
          repl = createOp(b, loc, bpu::SoftmaxOp::getOperationName(),
                          op->getOperands(), resultType, copied({"axis"}));
        })
        .Default([&](Operation *) { unsupported = true; });
    if (unsupported)
      return op->emitError("cannot lower '")
             << op->getName()
             << "' to the BPU: not an integer op (run hat-qat2quantize first)";
    // Passes may name a layer (hat-qat2quantize names BiFPN fusions, model
    // builders name pools and resizes); hat-check names layers the same way.
    std::string name;
    if (auto given = op->getAttrOfType<StringAttr>("hat.layer_name")) {
      int &uses = weightUses[given.getValue()];
      name = uses++ == 0 ? given.str()
                         : given.str() + "." + std::to_string(uses - 1);
    } else {
      name = layerName(repl);
    }
    repl->setAttr("name", StringAttr::get(op->getContext(), name));
    op->getResult(0).replaceAllUsesWith(repl->getResult(0));
    op->erase();
    return success();
  }

  /// conv/linear take their weight's name ("stem.conv.weight" ->
  /// "stem.conv"); other layers are "<op>_<n>" in program order.
  std::string layerName(Operation *repl) {
    if (isa<bpu::ConvOp, bpu::LinearOp>(repl))
      if (auto param = repl->getOperand(1).getDefiningOp<hat::ParamOp>()) {
        StringRef n = param.getName();
        n.consume_back(".weight");
        // A weight shared by several layers (FCOS's head predictors, one
        // layer per pyramid level in program order): "<name>", "<name>.1",
        // "<name>.2", ...
        int &uses = weightUses[n];
        return uses++ == 0 ? n.str()
                           : (n + "." + std::to_string(uses - 1)).str();
      }
    StringRef kind = repl->getName().stripDialect();
    return (kind + "_" + std::to_string(counters[kind]++)).str();
  }
  llvm::StringMap<int> counters;
  llvm::StringMap<int> weightUses;

  static bool isIntegerValue(Value v) {
    return isa<IntegerType>(
        cast<RankedTensorType>(v.getType()).getElementType());
  }
};

} // namespace
