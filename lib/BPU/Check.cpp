//===- Check.cpp - Can a march run this model? ----------------------------===//
//
// Works on the integer hat model (before lowering) so that every message
// names the op and the weight the user wrote. The limits come from the march
// table only.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/Check.h"

#include "hat/Dialect/HatOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace hat::bpu {

namespace {

bool isPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

class Checker {
public:
  Checker(const March &m) : m(m) {}

  LayerCheck check(Operation *op) {
    LayerCheck c;
    c.op = op->getName().getStringRef().str();
    c.name = layerName(op);
    auto fail = [&](std::string why) {
      c.supported = false;
      c.reasons.push_back(std::move(why));
    };
    // dtypes: int16 anywhere needs a march with int16 support.
    SmallVector<Type> types(op->getOperandTypes());
    types.append(op->getResultTypes().begin(), op->getResultTypes().end());
    for (Type t : types)
      if (auto rt = dyn_cast<RankedTensorType>(t))
        if (rt.getElementType().isInteger(16) && !m.int16) {
          fail(std::string("int16 tensors are not supported on ") + m.name);
          break;
        }
    auto window = [&](ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                      ArrayRef<int64_t> dilation) {
      for (int64_t k : kernel)
        if (k > m.maxKernel)
          fail("kernel " + std::to_string(k) + " > " +
               std::to_string(m.maxKernel));
      for (int64_t s : stride)
        if (s > m.maxStride)
          fail("stride " + std::to_string(s) + " > " +
               std::to_string(m.maxStride));
      for (int64_t d : dilation)
        if (d > m.maxDilation)
          fail("dilation " + std::to_string(d) + " > " +
               std::to_string(m.maxDilation));
    };
    auto channels = [&](Value v, const char *what) {
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getRank() >= 2 && t.getDimSize(1) > m.maxChannels)
        fail(std::string(what) + " channels " +
             std::to_string(t.getDimSize(1)) + " > " +
             std::to_string(m.maxChannels));
    };
    auto scales = [&](ArrayRef<int32_t> multipliers) {
      if (!m.powerOfTwoScales)
        return;
      for (int32_t mul : multipliers)
        if (!isPowerOfTwo(mul)) {
          fail(std::string("scale ratio is not a power of two (multiplier ") +
               std::to_string(mul) + "): " + m.name +
               " requantizes by shifting only; quantize with power-of-two "
               "scales");
          return;
        }
    };
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](QConv2dOp conv) {
          auto w = cast<RankedTensorType>(conv.getWeight().getType());
          window({w.getDimSize(2), w.getDimSize(3)}, conv.getStride(),
                 conv.getDilation());
          channels(conv.getInput(), "input");
          channels(conv.getResult(), "output");
          scales(conv.getMultiplier());
        })
        .Case([&](QLinearOp l) {
          auto w = cast<RankedTensorType>(l.getWeight().getType());
          if (w.getDimSize(1) > m.maxChannels * 16 ||
              w.getDimSize(0) > m.maxChannels * 16)
            fail("linear " + std::to_string(w.getDimSize(1)) + "x" +
                 std::to_string(w.getDimSize(0)) +
                 " exceeds the channel limit");
          scales(l.getMultiplier());
        })
        .Case([&](QAddOp a) {
          scales({a.getLhsMultiplier(), a.getRhsMultiplier()});
        })
        .Case([&](QMatmulOp mm) {
          if (!m.matmul)
            fail(std::string("matrix multiply of two activations is not "
                             "supported on ") +
                 m.name);
          scales({mm.getMultiplier()});
        })
        .Case([&](QMsDeformAttnOp) {
          if (!m.gridSample)
            fail(std::string("deformable (grid-sample) attention is not "
                             "supported on ") +
                 m.name);
        })
        .Case([&](QLayerNormOp) {
          if (!m.layerNorm)
            fail(std::string("layer norm is not supported on ") + m.name);
        })
        .Case([&](QMulOp mu) {
          if (!m.elementwiseMul)
            fail(std::string("elementwise multiply is not supported on ") +
                 m.name);
          scales({mu.getMultiplier()});
        })
        .Case([&](MaxPool2dOp p) {
          if (!isa<IntegerType>(
                  cast<RankedTensorType>(p.getType()).getElementType()))
            fail("float max_pool2d: quantize the model first "
                 "(hat-qat2quantize)");
          window(p.getKernel(), p.getStride(), {});
        })
        .Case([&](QAvgPool2dOp p) {
          window(p.getKernel(), p.getStride(), {});
          scales({p.getMultiplier()});
        })
        .Case([&](QGlobalAvgPoolOp p) { scales({p.getMultiplier()}); })
        .Case([&](QConcatOp c) { scales(c.getMultiplier()); })
        .Case([&](QResizeOp r) {
          if (r.getMode() == hat::ResizeMode::bilinear && !m.bilinearResize)
            fail(std::string("bilinear resize is not supported on ") + m.name);
        })
        .Case([&](RequantizeOp r) { scales(r.getMultiplier()); })
        .Case([&](QLutOp) {
          if (!m.lut)
            fail(std::string("table-lookup activations are not supported on ") +
                 m.name);
        })
        .Case([&](SoftmaxOp) {
          c.reasons.push_back("runs on the CPU beside the BPU (float)");
        })
        .Case<QuantizeOp, DequantizeOp, ReshapeOp, FlattenOp, TransposeOp,
              ConcatOp>([&](auto) {})
        .Default([&](Operation *other) {
          fail("float op: quantize the model first (hat-float2qat, "
               "hat-calibrate, hat-qat2quantize)");
        });
    return c;
  }

private:
  /// The names bpu-lower gives: a pass-given `hat.layer_name`, the weight's
  /// name (`<name>.<k>` for the k-th further layer sharing it), or
  /// `<op>_<n>`.
  std::string layerName(Operation *op) {
    auto unique = [&](StringRef n) {
      int &uses = nameUses[n];
      return uses++ == 0 ? n.str() : (n + "." + std::to_string(uses - 1)).str();
    };
    if (auto given = op->getAttrOfType<StringAttr>("hat.layer_name"))
      return unique(given.getValue());
    if (isa<QConv2dOp, QLinearOp, Conv2dOp, LinearOp>(op))
      if (auto p = op->getOperand(1).getDefiningOp<ParamOp>()) {
        StringRef n = p.getName();
        n.consume_back(".weight");
        return unique(n);
      }
    StringRef kind = op->getName().stripDialect();
    return (kind + "_" + std::to_string(counters[kind]++)).str();
  }

  const March &m;
  llvm::StringMap<int> counters;
  llvm::StringMap<int> nameUses;
};

} // namespace

std::vector<LayerCheck> checkFunction(func::FuncOp func, const March &march) {
  Checker checker(march);
  std::vector<LayerCheck> out;
  for (Operation &op : func.getBody().front())
    if (!isa<ParamOp, func::ReturnOp>(op))
      out.push_back(checker.check(&op));
  return out;
}

bool allSupported(const std::vector<LayerCheck> &checks) {
  for (const LayerCheck &c : checks)
    if (!c.supported)
      return false;
  return true;
}

} // namespace hat::bpu
