//===- Tile.cpp - Tiling each layer to the march's SRAM -------------------===//
//
// A layer runs tile by tile: a band of output rows (and, if the weights do
// not fit, a slice of output channels) with the input rows it needs, its
// weights and its outputs all in SRAM at once. -O0 takes the first shape that
// fits by halving rows; -O3 searches every row count and channel split for the
// least estimated time, which mostly trades halo re-reads and weight reloads
// against per-tile overhead.
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"

namespace hat::bpu {
#define GEN_PASS_DEF_BPUTILE
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using namespace hat::bpu;

namespace {

/// Estimated time of one tiling (memory side plus tile overhead; the compute
/// time does not depend on the tiling).
double tileCost(const TileChoice &t, const March &m) {
  return double(t.loadBytes + t.storeBytes) / m.sustainedDdrBytesPerUs() +
         double(t.tiles - 1) * m.tileOverheadUs;
}

/// Output-channel slices tried: all, then halves rounded to the MAC array's
/// channel group (only all when the layer's channels are one unit).
std::vector<int64_t> channelSplits(const LayerShape &s, const March &m) {
  const int64_t channels = s.outChannels;
  std::vector<int64_t> splits{channels};
  if (s.wholeChannels)
    return splits;
  for (int64_t oc = channels / 2; oc >= m.channelAlign; oc /= 2)
    splits.push_back((oc + m.channelAlign - 1) / m.channelAlign *
                     m.channelAlign);
  if (splits.back() > 1)
    splits.push_back(std::min<int64_t>(channels, m.channelAlign));
  return splits;
}

/// The smallest tile there is: one output row of the narrowest channel
/// slice. SRAM grows with rows and channels, so if this does not fit,
/// nothing does.
TileChoice smallestTile(const LayerShape &s, const March &m) {
  return evaluateTile(s, 1, channelSplits(s, m).back());
}

TileChoice halvingTile(const LayerShape &s, const March &m) {
  for (int64_t oc : channelSplits(s, m))
    for (int64_t rows = s.outH;; rows = (rows + 1) / 2) {
      TileChoice t = evaluateTile(s, rows, oc);
      if (t.sramBytes <= m.tileSramBytes())
        return t;
      if (rows == 1)
        break;
    }
  // Unreachable after the smallestTile check of the pass.
  return smallestTile(s, m);
}

TileChoice searchTile(const LayerShape &s, const March &m) {
  std::optional<TileChoice> best;
  for (int64_t oc : channelSplits(s, m))
    for (int64_t rows = 1; rows <= s.outH; ++rows) {
      TileChoice t = evaluateTile(s, rows, oc);
      if (t.sramBytes > m.tileSramBytes())
        continue;
      if (!best || tileCost(t, m) < tileCost(*best, m) - 1e-9)
        best = t;
    }
  return best ? *best : halvingTile(s, m);
}

struct TilePass : hat::bpu::impl::BpuTileBase<TilePass> {
  using BpuTileBase::BpuTileBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    const March *march = getModuleMarch(module);
    func::FuncOp func = march ? getCompiledFunction(module) : nullptr;
    if (!func)
      return signalPassFailure();
    Builder b(module.getContext());
    bool failed = false;
    func.walk([&](Operation *op) {
      if (!isLayer(op) || isa<ReshapeOp>(op))
        return;
      LayerShape shape = layerShape(op);
      const TileChoice smallest = smallestTile(shape, *march);
      if (smallest.sramBytes > march->sramBytes) {
        // Not a report line: the march cannot run this layer at all.
        auto name = op->getAttrOfType<StringAttr>("name");
        op->emitError() << "layer '" << (name ? name.getValue() : "?")
                        << "' does not fit " << march->name
                        << "'s SRAM even at the smallest tile (1 output row x "
                        << smallest.outChannels << " output channels): it "
                        << "needs " << smallest.sramBytes << " bytes, the "
                        << "SRAM holds " << march->sramBytes << " bytes";
        failed = true;
        return;
      }
      TileChoice t =
          search ? searchTile(shape, *march) : halvingTile(shape, *march);
      op->setAttr("tile",
                  b.getDenseI64ArrayAttr({t.rows, t.outChannels, t.tiles}));
      op->setAttr("sram_bytes", b.getI64IntegerAttr(t.sramBytes));
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
