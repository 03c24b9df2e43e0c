//===- EstimatePerf.cpp - Per-layer calibrated roofline estimate ----------===//
//
// time(layer) = max(compute, DDR traffic / sustained bandwidth) + layer
// overhead + (tiles - 1) * tile overhead. Compute counts the MACs the array
// really spends (channels padded to its channel group, output pixels to its
// pixel block, int16 at its lower rate, depthwise on one lane per group) at
// the march's sustained fraction of that rate, so it is never below MACs /
// peak; the traffic comes from the tiling, less what stays on chip (inputs
// and outputs bpu-plan-arena kept in SRAM), so the DMA and the MAC array
// overlap within a layer. The overheads and efficiencies are fitted to board
// latencies (docs/bpu.md, "Calibration"): still an estimate, not a
// measurement.
//
// The module summary adds the peak DDR footprint: weights + the DDR homes
// of the intermediate tensors (bpu-plan-arena's bpu.ddr_arena_bytes) + the
// caller's buffers (inputs as the input source delivers them, results).
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"
#include "hat/BPU/PerfModel.h"
#include "hat/Dialect/HatOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <set>

namespace hat::bpu {
#define GEN_PASS_DEF_BPUESTIMATEPERF
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using namespace hat::bpu;

namespace {

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

} // namespace

namespace hat::bpu {

double macArrayCycles(const ConvGeometry &c, const March &m) {
  const double rate =
      double(m.macsPerCycle) * (c.int16 ? std::max(m.int16MacRate, 1e-3) : 1.0);
  const int64_t groups = std::max<int64_t>(1, c.groups);
  const int64_t cg = c.inChannels / groups, og = c.outChannels / groups;
  // The array computes a block of output pixels x a channel group of inputs
  // x a channel group of outputs per cycle: a layer pays for whole blocks.
  const double pixels = double(roundUp(c.pixels, m.pixelBlock()));
  double padded;
  if (groups > 1 && cg == 1 && og == 1)
    // Depthwise: one reduction lane per channel group of the array.
    padded = pixels * c.taps * roundUp(c.outChannels, m.channelAlign) *
             m.channelAlign;
  else
    padded = pixels * c.taps * groups * roundUp(cg, m.channelAlign) *
             roundUp(og, m.channelAlign);
  return std::ceil(padded / rate);
}

LayerTime layerTime(double cycles, bool onMacArray, int64_t ddrBytes,
                    int64_t tiles, bool reshape, const March &m) {
  LayerTime t;
  if (reshape)
    return t;
  t.computeUs = cycles / m.clockMHz / (onMacArray ? m.macEfficiency : 1.0);
  t.memoryUs = double(ddrBytes) / m.sustainedDdrBytesPerUs();
  t.overheadUs = m.layerOverheadUs +
                 double(std::max<int64_t>(tiles, 1) - 1) * m.tileOverheadUs;
  t.totalUs = std::max(t.computeUs, t.memoryUs) + t.overheadUs;
  return t;
}

int64_t bpuFeatureMapBytes(llvm::ArrayRef<int64_t> shape, int64_t elemBytes) {
  int64_t plain = elemBytes;
  for (int64_t d : shape)
    plain *= d;
  if (elemBytes >= 4 || (shape.size() != 4 && shape.size() != 2))
    return plain;
  const int64_t n = shape[0], c = shape[1];
  const int64_t h = shape.size() == 4 ? shape[2] : 1;
  const int64_t w = shape.size() == 4 ? shape[3] : 1;
  if (shape.size() == 4 && c <= 4)
    return n * roundUp(h, 2) * roundUp(w, 32) * c * elemBytes;
  // The smallest 256 x k + {0, 16, 32, 64, 128} that holds the channels.
  const int64_t channelBytes = c * elemBytes;
  int64_t aligned = roundUp(channelBytes, 256);
  for (int64_t step : {16, 32, 64, 128})
    if (channelBytes <= channelBytes / 256 * 256 + step) {
      aligned = channelBytes / 256 * 256 + step;
      break;
    }
  if (channelBytes % 256 == 0)
    aligned = channelBytes;
  return n * h * w * aligned;
}

int64_t nv12ImageBytes(llvm::ArrayRef<int64_t> shape) {
  if (shape.size() != 4 || shape[1] != 3)
    return -1;
  // Y: H x W; UV: (H / 2) x W (two half-width planes interleaved).
  const int64_t h = roundUp(shape[2], 2), w = roundUp(shape[3], 32);
  return shape[0] * (h * w + h / 2 * w);
}

} // namespace hat::bpu

namespace {

/// Cycles of the MAC array (conv/linear) or the vector unit (others).
double computeCycles(Operation *op, const LayerShape &s, const March &m) {
  if (isa<ConvOp, LinearOp, MatmulOp>(op)) {
    ConvGeometry c;
    c.pixels = s.batch * s.outH * s.outW;
    c.taps = s.kernelH * s.kernelW;
    c.inChannels = s.inChannels, c.outChannels = s.outChannels;
    c.groups = s.groups;
    c.int16 = s.inElemBytes == 2;
    return macArrayCycles(c, m);
  }
  if (isa<ReshapeOp>(op))
    return 0;
  // Vector unit: every input and output element once (pools: every window
  // element), softmax on the CPU modelled as 8x the vector cost.
  auto out = cast<RankedTensorType>(op->getResult(0).getType());
  double elems = double(out.getNumElements());
  for (Value v : op->getOperands())
    elems += double(cast<RankedTensorType>(v.getType()).getNumElements());
  if (isa<PoolOp>(op))
    elems += double(out.getNumElements()) * s.kernelH * s.kernelW;
  // Layer norm reads each row three times: sum, squared deviations,
  // normalise.
  if (isa<LayerNormOp>(op))
    elems += 2.0 * double(out.getNumElements());
  // Deformable sampling: 4 bilinear taps and the attention weight per
  // sampled channel value (outputs x levels x points of them).
  if (auto attn = dyn_cast<MsDeformAttnOp>(op)) {
    auto loc = cast<RankedTensorType>(attn.getLocations().getType());
    elems += 5.0 * double(out.getNumElements()) * double(loc.getDimSize(3)) *
             double(loc.getDimSize(4));
  }
  double cycles = std::ceil(elems / double(m.vectorElemsPerCycle));
  return isa<SoftmaxOp>(op) ? 8 * cycles : cycles;
}

/// Whether `v` stays in on-chip SRAM (its writer's `on_chip` from
/// bpu-plan-arena; function arguments come from DDR).
bool isOnChip(Value v) {
  Operation *def = v.getDefiningOp();
  auto flag = def ? def->getAttrOfType<BoolAttr>("on_chip") : nullptr;
  return flag && flag.getValue();
}

/// The byte fraction of `values` that stays on chip.
double onChipFraction(ValueRange values) {
  double all = 0, onChip = 0;
  for (Value v : values) {
    if (!isa<RankedTensorType>(v.getType()))
      continue;
    const double bytes = double(tensorBytes(v));
    all += bytes;
    if (isOnChip(v))
      onChip += bytes;
  }
  return all > 0 ? onChip / all : 0.0;
}

/// What identifies a weight: its name (packed or not; pack-weights may
/// give each user of a shared weight its own op), else the value itself.
std::string weightKey(Value weight) {
  if (Operation *def = weight.getDefiningOp())
    if (auto name = def->getAttrOfType<StringAttr>("name"))
      return name.str();
  return std::to_string(
      reinterpret_cast<uintptr_t>(weight.getAsOpaquePointer()));
}

/// The activation inputs besides the first (those LayerShape counts as
/// extraInputBytes).
SmallVector<Value> extraInputs(Operation *op) {
  SmallVector<Value> values;
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](ConvOp c) {
        if (Value r = c.getResidual())
          values.push_back(r);
      })
      .Case([&](AddOp a) { values.push_back(a.getRhs()); })
      .Case([&](MulOp m) { values.push_back(m.getRhs()); })
      .Case([&](MatmulOp m) { values.push_back(m.getRhs()); })
      .Case([&](MsDeformAttnOp a) {
        values.push_back(a.getLocations());
        values.push_back(a.getWeights());
      })
      .Case([&](ConcatOp c) {
        llvm::append_range(values, c.getInputs().drop_front());
      })
      .Default([](Operation *) {});
  return values;
}

struct EstimatePerfPass
    : hat::bpu::impl::BpuEstimatePerfBase<EstimatePerfPass> {
  using BpuEstimatePerfBase::BpuEstimatePerfBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const March *march = getModuleMarch(module);
    func::FuncOp func = march ? getCompiledFunction(module) : nullptr;
    if (!func)
      return signalPassFailure();
    if (inputSource != "ddr" && inputSource != "pyramid") {
      module.emitError("input-source must be ddr or pyramid");
      return signalPassFailure();
    }
    const March &m = *march;
    Builder b(module.getContext());
    double latency = 0, macs = 0, ddrBytes = 0;
    int64_t weightBytes = 0, activationBytes = 0;
    std::set<std::string> countedWeights;
    SmallVector<std::pair<Operation *, double>> totals;
    func.walk([&](Operation *op) {
      if (!isLayer(op))
        return;
      LayerShape s = layerShape(op);
      int64_t load = 0, store = 0, tiles = 1, sram = 0;
      // A weight shared by several layers (FCOS's head on every pyramid
      // level) is stored once.
      if (s.hasWeights && op->getNumOperands() > 1 &&
          countedWeights.insert(weightKey(op->getOperand(1))).second)
        weightBytes += s.paramBytes;
      // Constant activations (a position embedding) sit in DDR beside the
      // weights.
      if (!s.hasWeights)
        for (Value v : op->getOperands())
          if (auto p = v.getDefiningOp<hat::ParamOp>())
            if (countedWeights.insert(p.getName().str()).second)
              weightBytes += tensorBytes(v);
      activationBytes += tensorBytes(op->getResult(0));
      if (!isa<ReshapeOp>(op)) {
        auto tile = op->getAttrOfType<DenseI64ArrayAttr>("tile");
        TileChoice t = tile ? evaluateTile(s, tile[0], tile[1])
                            : evaluateTile(s, s.outH, s.outChannels);
        // Tensors bpu-plan-arena kept on chip cost no DDR traffic.
        const double extraOnChip = onChipFraction(extraInputs(op));
        load =
            (isOnChip(op->getOperand(0)) ? 0 : t.inputLoadBytes) +
            t.paramLoadBytes +
            int64_t(std::llround(double(t.extraLoadBytes) * (1 - extraOnChip)));
        store = isOnChip(op->getResult(0)) ? 0 : t.storeBytes;
        tiles = t.tiles;
        sram = t.sramBytes;
      }
      // A pyramid input reaches the BPU through the camera path already in
      // integer form: the quantize layer reads nothing from DDR.
      if (isa<QuantizeOp>(op) && inputSource == "pyramid")
        load = 0;
      const LayerTime time = layerTime(
          computeCycles(op, s, m), isa<ConvOp, LinearOp, MatmulOp>(op),
          load + store, tiles, isa<ReshapeOp>(op), m);
      const double computeUs = time.computeUs, memUs = time.memoryUs;
      const double total = time.totalUs;
      const double util =
          computeUs > 0 ? double(s.macs) / (total * m.peakMacsPerUs()) : 0.0;
      SmallVector<NamedAttribute> perf{
          b.getNamedAttr("macs", b.getI64IntegerAttr(s.macs)),
          b.getNamedAttr("compute_us", b.getF64FloatAttr(computeUs)),
          b.getNamedAttr("load_bytes", b.getI64IntegerAttr(load)),
          b.getNamedAttr("store_bytes", b.getI64IntegerAttr(store)),
          b.getNamedAttr("memory_us", b.getF64FloatAttr(memUs)),
          b.getNamedAttr("total_us", b.getF64FloatAttr(total)),
          b.getNamedAttr("sram_bytes", b.getI64IntegerAttr(sram)),
          b.getNamedAttr("mac_utilisation", b.getF64FloatAttr(util))};
      op->setAttr("perf", b.getDictionaryAttr(perf));
      totals.push_back({op, total});
      latency += total;
      macs += double(s.macs);
      ddrBytes += double(load + store);
    });
    // Shares need the model total: a second walk over the collected layers.
    for (auto [op, total] : totals) {
      NamedAttrList perf(op->getAttrOfType<DictionaryAttr>("perf"));
      perf.set("share", b.getF64FloatAttr(latency > 0 ? total / latency : 0));
      op->setAttr("perf", perf.getDictionary(module.getContext()));
    }
    // Peak DDR: the activations bpu-plan-arena could not keep on chip
    // (docs/bpu.md, "Peak DDR"). Without bpu-plan-arena: every activation,
    // once.
    int64_t ddrArena = activationBytes;
    if (auto a = module->getAttrOfType<IntegerAttr>(kDdrArenaBytesAttr))
      ddrArena = a.getInt();
    // I/O: the inputs as the input source delivers them (DDR: the tensor the
    // caller writes; pyramid: the camera path's NV12 image) and the results
    // (the caller's output buffers).
    int64_t ioBytes = 0;
    for (BlockArgument arg : func.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      const int64_t nv12 = type && inputSource == "pyramid"
                               ? nv12ImageBytes(type.getShape())
                               : -1;
      ioBytes += nv12 >= 0 ? nv12 : tensorBytes(arg);
    }
    func.walk([&](func::ReturnOp ret) {
      for (Value v : ret.getOperands())
        ioBytes += tensorBytes(v);
    });
    int64_t batch = 1;
    if (func.getNumArguments() > 0)
      if (auto t = dyn_cast<RankedTensorType>(func.getArgument(0).getType()))
        if (t.getRank() > 0)
          batch = std::max<int64_t>(1, t.getDimSize(0));
    SmallVector<NamedAttribute> summary{
        b.getNamedAttr("latency_us", b.getF64FloatAttr(latency)),
        b.getNamedAttr(
            "fps",
            b.getF64FloatAttr(latency > 0 ? 1e6 * double(batch) / latency : 0)),
        b.getNamedAttr("ddr_bytes_per_frame",
                       b.getI64IntegerAttr(int64_t(ddrBytes / double(batch)))),
        b.getNamedAttr("macs", b.getI64IntegerAttr(int64_t(macs))),
        b.getNamedAttr(
            "mac_utilisation",
            b.getF64FloatAttr(latency > 0 ? macs / (latency * m.peakMacsPerUs())
                                          : 0)),
        b.getNamedAttr("batch", b.getI64IntegerAttr(batch)),
        b.getNamedAttr("weight_bytes", b.getI64IntegerAttr(weightBytes)),
        b.getNamedAttr("ddr_activation_bytes", b.getI64IntegerAttr(ddrArena)),
        b.getNamedAttr("io_bytes", b.getI64IntegerAttr(ioBytes)),
        b.getNamedAttr("runtime_bytes", b.getI64IntegerAttr(m.runtimeDdrBytes)),
        b.getNamedAttr("peak_ddr_bytes",
                       b.getI64IntegerAttr(weightBytes + ddrArena + ioBytes +
                                           m.runtimeDdrBytes))};
    module->setAttr(kPerfAttr, b.getDictionaryAttr(summary));
    module->setAttr(kInputSourceAttr, b.getStringAttr(inputSource));
  }
};

} // namespace
