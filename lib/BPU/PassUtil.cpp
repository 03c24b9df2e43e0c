//===- PassUtil.cpp - Helpers shared by the bpu passes --------------------===//

#include "PassUtil.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace hat::bpu {

Operation *createOp(OpBuilder &builder, Location loc, StringRef name,
                    ValueRange operands, Type result,
                    ArrayRef<NamedAttribute> attrs) {
  OperationState state(loc, name);
  state.addOperands(operands);
  state.addTypes(result);
  state.addAttributes(attrs);
  return builder.create(state);
}

func::FuncOp getCompiledFunction(ModuleOp module) {
  auto name = module->getAttrOfType<StringAttr>(kFunctionAttr);
  if (!name) {
    module.emitError("no bpu.function attribute: run bpu-lower first");
    return nullptr;
  }
  auto func = module.lookupSymbol<func::FuncOp>(name);
  if (!func)
    module.emitError("bpu.function names no function: ") << name;
  return func;
}

const March *getModuleMarch(ModuleOp module) {
  auto name = module->getAttrOfType<StringAttr>(kMarchAttr);
  if (!name) {
    module.emitError("no bpu.march attribute: run bpu-lower first");
    return nullptr;
  }
  const March *march = findMarch(name.str());
  if (!march)
    module.emitError("unknown march '")
        << name.getValue() << "' (known: " << marchNames() << ")";
  return march;
}

bool isLayer(Operation *op) {
  return op->getDialect() && isa<BpuDialect>(op->getDialect()) &&
         !isa<PackedWeightOp>(op);
}

int64_t elementBytes(Type type) {
  if (type.isF32() || type.isInteger(32))
    return 4;
  if (type.isInteger(16))
    return 2;
  return 1;
}

int64_t tensorBytes(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getNumElements() * elementBytes(type.getElementType());
}

namespace {
void setNchw(ArrayRef<int64_t> shape, int64_t &n, int64_t &c, int64_t &h,
             int64_t &w) {
  n = c = h = w = 1;
  if (shape.size() == 4) {
    n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  } else if (shape.size() == 2) {
    n = shape[0], c = shape[1];
  } else {
    for (int64_t d : shape)
      c *= d;
  }
}
} // namespace

LayerShape layerShape(Operation *op) {
  LayerShape s;
  if (op->getNumOperands() > 0) {
    auto in = cast<RankedTensorType>(op->getOperand(0).getType());
    setNchw(in.getShape(), s.batch, s.inChannels, s.inH, s.inW);
    s.inElemBytes = elementBytes(in.getElementType());
  }
  auto out = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t n;
  setNchw(out.getShape(), n, s.outChannels, s.outH, s.outW);
  s.outElemBytes = elementBytes(out.getElementType());
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](ConvOp c) {
        s.kernelH = c.getKernel()[0], s.kernelW = c.getKernel()[1];
        s.strideH = c.getStride()[0], s.dilationH = c.getDilation()[0];
        s.padH = c.getPadding()[0];
        s.groups = c.getGroups();
        const int64_t k = s.inChannels / s.groups * s.kernelH * s.kernelW;
        s.paramBytes = s.outChannels * k + s.outChannels * 12;
        s.macs = s.batch * s.outChannels * s.outH * s.outW * k;
        s.hasWeights = true;
        if (c.getResidual())
          s.extraInputBytes = tensorBytes(c.getResidual());
      })
      .Case([&](LinearOp l) {
        auto w = cast<RankedTensorType>(l.getWeight().getType());
        (void)w;
        // [rows, K] x [M, K]: treat rows as the batch, K as input channels.
        auto inT = cast<RankedTensorType>(l.getInput().getType());
        const int64_t k = inT.getShape().back();
        const int64_t rows = inT.getNumElements() / std::max<int64_t>(k, 1);
        s.batch = rows, s.inChannels = k, s.inH = s.inW = 1;
        s.outChannels = out.getShape().back(), s.outH = s.outW = 1;
        s.paramBytes = s.outChannels * k + s.outChannels * 12;
        s.macs = rows * s.outChannels * k;
        s.hasWeights = true;
      })
      .Case([&](MatmulOp mm) {
        // [..., M, K] x [..., K, N]: batch x M rows of K inputs, N outputs
        // (a 1x1 conv whose "weights", rhs, are an activation).
        auto lhsT = cast<RankedTensorType>(mm.getLhs().getType());
        const int64_t k = lhsT.getShape().back();
        const int64_t n = out.getShape().back();
        const int64_t rows = out.getNumElements() / std::max<int64_t>(n, 1);
        s.batch = rows, s.inChannels = k, s.inH = s.inW = 1;
        s.outChannels = n, s.outH = s.outW = 1;
        s.macs = rows * n * k;
        s.extraInputBytes = tensorBytes(mm.getRhs());
      })
      .Case([&](MsDeformAttnOp a) {
        // Query rows of M * D outputs. A tile of queries may sample
        // anywhere in its heads' maps: the value is one "input row" of
        // N * S pixels of M * D channels, read whole by every row tile
        // (stride 0); a slice of output channels (heads) reads only its
        // heads' channels. Locations and weights stream with the queries.
        auto value = cast<RankedTensorType>(a.getValue().getType());
        auto outShape = cast<RankedTensorType>(a.getType()).getShape();
        s.batch = 1;
        s.inChannels = outShape[2], s.inH = 1;
        s.inW = value.getDimSize(0) * value.getDimSize(1);
        s.strideH = 0;
        s.outChannels = outShape[2], s.outH = outShape[0] * outShape[1];
        s.outW = 1;
        s.extraInputBytes =
            tensorBytes(a.getLocations()) + tensorBytes(a.getWeights());
      })
      .Case([&](LayerNormOp ln) {
        // Rows of C values: the tiler splits rows (H), never a row, whose
        // statistics need all of it. Per channel: the i32 bias, the
        // multiplier and the shift.
        const int64_t c =
            cast<RankedTensorType>(ln.getType()).getShape().back();
        const int64_t rows = out.getNumElements() / std::max<int64_t>(c, 1);
        s.batch = 1, s.inChannels = s.outChannels = c;
        s.inH = s.outH = rows, s.inW = s.outW = 1;
        s.paramBytes = c * 12;
        s.wholeChannels = true;
      })
      .Case([&](PoolOp p) {
        if (p.getKind() != "global_avg") {
          s.kernelH = (*p.getKernel())[0], s.kernelW = (*p.getKernel())[1];
          s.strideH = (*p.getStride())[0], s.padH = (*p.getPadding())[0];
        } else {
          s.kernelH = s.inH, s.kernelW = s.inW, s.strideH = s.inH;
        }
      })
      .Case([&](AddOp a) { s.extraInputBytes = tensorBytes(a.getRhs()); })
      .Case([&](MulOp m) { s.extraInputBytes = tensorBytes(m.getRhs()); })
      .Case([&](ConcatOp c) {
        for (Value v : c.getInputs().drop_front())
          s.extraInputBytes += tensorBytes(v);
      })
      .Case([&](ResizeOp r) {
        // Each output row reads ~in/out input rows.
        s.strideH = std::max<int64_t>(1, s.inH / std::max<int64_t>(1, s.outH));
        s.kernelH = 2;
      })
      .Default([](Operation *) {});
  return s;
}

TileChoice evaluateTile(const LayerShape &s, int64_t rows, int64_t oc) {
  TileChoice t;
  rows = std::clamp<int64_t>(rows, 1, s.outH);
  oc = std::clamp<int64_t>(oc, 1, s.outChannels);
  t.rows = rows, t.outChannels = oc;
  const int64_t rowTiles = (s.outH + rows - 1) / rows;
  const int64_t ocTiles = (s.outChannels + oc - 1) / oc;
  t.tiles = rowTiles * ocTiles;
  // Input rows one tile needs, at most the whole input.
  const int64_t inRows = std::min<int64_t>(
      s.inH, (rows - 1) * s.strideH + s.dilationH * (s.kernelH - 1) + 1);
  // A grouped conv's output channels (a depthwise conv's, a pool's, an
  // elementwise layer's) read only their own input channels: a tile with a
  // slice of the output channels needs that slice of the input, and the
  // slices together read the input once.
  const bool channelSliced =
      s.hasWeights ? s.groups > 1 : s.inChannels == s.outChannels;
  const int64_t fullRowBytes = s.batch * s.inChannels * s.inW * s.inElemBytes;
  const int64_t inRowBytes =
      channelSliced ? (fullRowBytes * oc + s.outChannels - 1) / s.outChannels
                    : fullRowBytes;
  const int64_t outRowBytes = s.batch * oc * s.outW * s.outElemBytes;
  const int64_t extraPerRow =
      s.outH ? (s.extraInputBytes + s.outH - 1) / s.outH : 0;
  const int64_t paramTile =
      s.paramBytes ? s.paramBytes / s.outChannels * oc : 0;
  t.sramBytes = inRows * inRowBytes + paramTile + rows * outRowBytes +
                rows * extraPerRow * oc / s.outChannels;
  // Halo: rows read by more than one tile are loaded once per tile.
  int64_t inputLoad = 0;
  for (int64_t r0 = 0; r0 < s.outH; r0 += rows) {
    const int64_t r1 = std::min(s.outH, r0 + rows);
    int64_t first = r0 * s.strideH - s.padH;
    int64_t last =
        (r1 - 1) * s.strideH - s.padH + s.dilationH * (s.kernelH - 1);
    first = std::max<int64_t>(first, 0);
    last = std::min<int64_t>(last, s.inH - 1);
    inputLoad += std::max<int64_t>(0, last - first + 1) * inRowBytes;
  }
  if (s.outH == 1)
    inputLoad = s.inH * inRowBytes;
  // inputLoad is one channel slice's input when channelSliced: the slices
  // together read the input once (halos aside), and each keeps its own
  // weights while its row tiles run.
  if (channelSliced || ocTiles == 1 || !s.hasWeights ||
      inputLoad * ocTiles + s.paramBytes <= inputLoad + s.paramBytes * rowTiles)
    t.inputLoadBytes = inputLoad * ocTiles, t.paramLoadBytes = s.paramBytes;
  else
    t.inputLoadBytes = inputLoad, t.paramLoadBytes = s.paramBytes * rowTiles;
  t.extraLoadBytes = s.extraInputBytes;
  t.loadBytes = t.inputLoadBytes + t.paramLoadBytes + t.extraLoadBytes;
  t.storeBytes = s.batch * s.outChannels * s.outH * s.outW * s.outElemBytes;
  return t;
}

} // namespace hat::bpu
