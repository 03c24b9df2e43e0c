//===- EstimatePerf.cpp - Per-layer roofline estimate ---------------------===//
//
// time(layer) = max(compute, DDR traffic / bandwidth) + layer overhead +
// (tiles - 1) * tile overhead. Compute counts the MACs the array really
// spends (channels padded to its channel group, int16 at its lower rate,
// depthwise on one lane per group), so it is never below MACs / peak; the
// traffic comes from the tiling, so it is never below bytes / bandwidth.
// Fused layers show up as fewer bytes (their intermediate never leaves SRAM).
// Every figure derives from the march table: an estimate, not a measurement.
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"

namespace hat::bpu {
#define GEN_PASS_DEF_BPUESTIMATEPERF
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using namespace hat::bpu;

namespace {

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/// Cycles of the MAC array (conv/linear) or the vector unit (others).
double computeCycles(Operation *op, const LayerShape &s, const March &m) {
  if (isa<ConvOp, LinearOp>(op)) {
    const bool int16 = s.inElemBytes == 2;
    const double rate =
        double(m.macsPerCycle) * (int16 ? std::max(m.int16MacRate, 1e-3) : 1.0);
    const int64_t cg = s.inChannels / s.groups, og = s.outChannels / s.groups;
    const int64_t taps = s.kernelH * s.kernelW;
    const int64_t pixels = s.batch * s.outH * s.outW;
    double padded;
    if (s.groups > 1 && cg == 1 && og == 1)
      // Depthwise: one reduction lane per channel group of the array.
      padded = double(pixels) * taps * roundUp(s.outChannels, m.channelAlign) *
               m.channelAlign;
    else
      padded = double(pixels) * taps * s.groups * roundUp(cg, m.channelAlign) *
               roundUp(og, m.channelAlign);
    return std::ceil(padded / rate);
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
  double cycles = std::ceil(elems / double(m.vectorElemsPerCycle));
  return isa<SoftmaxOp>(op) ? 8 * cycles : cycles;
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
    SmallVector<std::pair<Operation *, double>> totals;
    func.walk([&](Operation *op) {
      if (!isLayer(op))
        return;
      LayerShape s = layerShape(op);
      int64_t load = 0, store = 0, tiles = 1, sram = 0;
      if (!isa<ReshapeOp>(op)) {
        auto tile = op->getAttrOfType<DenseI64ArrayAttr>("tile");
        TileChoice t = tile ? evaluateTile(s, tile[0], tile[1])
                            : evaluateTile(s, s.outH, s.outChannels);
        load = t.loadBytes, store = t.storeBytes, tiles = t.tiles;
        sram = t.sramBytes;
      }
      // A pyramid input reaches the BPU through the camera path already in
      // integer form: the quantize layer reads nothing from DDR.
      if (isa<QuantizeOp>(op) && inputSource == "pyramid")
        load = 0;
      const double computeUs = computeCycles(op, s, m) / m.clockMHz;
      const double memUs = double(load + store) / m.ddrBytesPerUs();
      const double overhead =
          isa<ReshapeOp>(op)
              ? 0.0
              : m.layerOverheadUs + double(tiles - 1) * m.tileOverheadUs;
      const double total = std::max(computeUs, memUs) + overhead;
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
        b.getNamedAttr("batch", b.getI64IntegerAttr(batch))};
    module->setAttr(kPerfAttr, b.getDictionaryAttr(summary));
    module->setAttr(kInputSourceAttr, b.getStringAttr(inputSource));
  }
};

} // namespace
