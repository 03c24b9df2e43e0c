//===- PlanArena.cpp - Activation arena with liveness-based reuse ---------===//
//
// All activations of one inference live in one arena. A tensor occupies its
// bytes from the layer that writes it to the last layer that reads it (the
// function's results to the end); two tensors whose live ranges overlap never
// share bytes, so a layer never overwrites its own inputs. Reshape is a view:
// it shares its input's buffer, whose live range grows to cover both.
//
// The arena is where the runtime (and the HBM) keeps every tensor. On the
// BPU, a tensor can also stay in the SRAM set aside for activations
// (March::activationSramBytes) from its writer to its last reader: in
// program order, a tensor read only by the next layer streams through SRAM
// band by band (depth-first execution of the chain) and never reaches DDR;
// any other tensor stays on chip when it fits beside the on-chip tensors
// still live (compaction assumed); the model's results always go to DDR. Each
// layer gets `on_chip`; bpu-estimate-perf charges no DDR traffic for on-chip
// tensors.
//
// `bpu.ddr_arena_bytes`, the activation part of the peak DDR footprint, is a
// different question: not which tensors cross DDR, but which need DDR
// reserved. Every intermediate tensor that exists whole at some point has a
// DDR home (the on-chip SRAM is a cache that can be evicted, not an
// allocation the runtime can rely on); a streamed tensor larger than the
// activation SRAM never exists whole and needs none. The homes are sized in
// the BPU's DDR layout (bpuFeatureMapBytes: channel bytes aligned as
// Horizon's runtime documents) and planned with the same liveness reuse; the
// results are the caller's output buffers (docs/bpu.md, "Peak DDR").
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"
#include "hat/BPU/PerfModel.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/EquivalenceClasses.h"

namespace hat::bpu {
#define GEN_PASS_DEF_BPUPLANARENA
#include "hat/BPU/BpuPasses.h.inc"
} // namespace hat::bpu

using namespace mlir;
using namespace hat::bpu;

namespace {

constexpr int64_t kAlign = 64;
int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

struct Buffer {
  int64_t bytes = 0, first = 0, last = 0, offset = -1;
  /// Bytes in the BPU's DDR layout (bpuFeatureMapBytes), 64-byte aligned.
  int64_t layoutBytes = 0;
  /// Layers that read it (reshapes look through), and the first of them.
  int64_t readers = 0, firstReader = -1;
  SmallVector<Operation *> producers;
};

struct PlanArenaPass : hat::bpu::impl::BpuPlanArenaBase<PlanArenaPass> {
  using BpuPlanArenaBase::BpuPlanArenaBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp func = getCompiledFunction(module);
    if (!func)
      return signalPassFailure();
    Block &body = func.getBody().front();
    llvm::DenseMap<Operation *, int64_t> index;
    SmallVector<Operation *> layers;
    for (Operation &op : body) {
      index[&op] = int64_t(index.size());
      if (isLayer(&op))
        layers.push_back(&op);
    }
    const int64_t end = int64_t(index.size());

    // One buffer per layer result, reshapes folded into their input's.
    llvm::DenseMap<Operation *, size_t> bufferOf;
    std::vector<Buffer> buffers;
    for (Operation *op : layers) {
      Operation *src =
          isa<ReshapeOp>(op) ? op->getOperand(0).getDefiningOp() : nullptr;
      size_t id;
      if (src && bufferOf.count(src)) {
        id = bufferOf[src];
      } else {
        id = buffers.size();
        buffers.push_back({});
        buffers[id].bytes = alignUp(tensorBytes(op->getResult(0)));
        auto type = cast<RankedTensorType>(op->getResult(0).getType());
        buffers[id].layoutBytes = alignUp(bpuFeatureMapBytes(
            type.getShape(),
            std::max<int64_t>(1, type.getElementTypeBitWidth() / 8)));
        buffers[id].first = index[op];
        buffers[id].last = index[op];
      }
      bufferOf[op] = id;
      buffers[id].producers.push_back(op);
      for (Operation *user : op->getResult(0).getUsers()) {
        buffers[id].last = std::max(
            buffers[id].last, isa<func::ReturnOp>(user) ? end : index[user]);
        if (!isa<ReshapeOp, func::ReturnOp>(user)) {
          ++buffers[id].readers;
          if (buffers[id].firstReader < 0 ||
              index[user] < buffers[id].firstReader)
            buffers[id].firstReader = index[user];
        }
      }
    }

    const int64_t arenaBytes = place(buffers, allOf(buffers), reuse);

    // On-chip residency, in program order (buffers are created in order).
    const March *march = getModuleMarch(module);
    if (!march)
      return signalPassFailure();
    const int64_t budget = activationSram >= 0 ? int64_t(activationSram)
                                               : march->activationSramBytes;
    std::vector<bool> onChip(buffers.size(), false);
    // The layer after each layer (reshape views skipped).
    llvm::DenseMap<int64_t, int64_t> nextLayer;
    for (size_t i = 0; i + 1 < layers.size(); ++i) {
      size_t j = i + 1;
      while (j + 1 < layers.size() && isa<ReshapeOp>(layers[j]))
        ++j;
      nextLayer[index[layers[i]]] = index[layers[j]];
    }
    std::vector<size_t> live, homes;
    for (size_t id = 0; id < buffers.size(); ++id) {
      Buffer &buf = buffers[id];
      // Streamed: read once, by the very next layer, which consumes it band
      // by band as it is produced (depth-first tiling of a layer chain, as
      // in an MBConv block or a head tower): only a band is ever on chip.
      const bool streamed = buf.last < end && buf.readers == 1 &&
                            nextLayer.lookup(buf.first) == buf.firstReader;
      // Peak DDR: every intermediate tensor the chip could hold whole has a
      // DDR home to spill to (on-chip residency saves its traffic, not its
      // allocation); only a streamed tensor larger than the activation SRAM
      // never exists whole. Results are the caller's output buffers,
      // counted with the I/O by bpu-estimate-perf.
      if (buf.last < end && !(streamed && buf.layoutBytes > budget))
        homes.push_back(id);
      if (streamed) {
        onChip[id] = true;
        continue;
      }
      llvm::erase_if(live,
                     [&](size_t o) { return buffers[o].last < buf.first; });
      int64_t used = 0;
      for (size_t o : live)
        used += buffers[o].bytes;
      if (buf.last < end && used + buf.bytes <= budget) {
        onChip[id] = true;
        live.push_back(id);
      }
    }
    // The homes in the BPU's DDR layout, planned with the same liveness
    // reuse as the runtime arena.
    std::vector<Buffer> homeBuffers = buffers;
    for (Buffer &buf : homeBuffers)
      buf.bytes = buf.layoutBytes;
    const int64_t ddrArenaBytes = place(homeBuffers, homes, reuse);

    Builder b(module.getContext());
    for (Operation *op : layers) {
      op->setAttr("arena_offset",
                  b.getI64IntegerAttr(buffers[bufferOf[op]].offset));
      op->setAttr("on_chip", b.getBoolAttr(onChip[bufferOf[op]]));
    }
    module->setAttr(kArenaBytesAttr, b.getI64IntegerAttr(arenaBytes));
    module->setAttr(kDdrArenaBytesAttr, b.getI64IntegerAttr(ddrArenaBytes));
  }

  static std::vector<size_t> allOf(const std::vector<Buffer> &buffers) {
    std::vector<size_t> ids(buffers.size());
    for (size_t i = 0; i < ids.size(); ++i)
      ids[i] = i;
    return ids;
  }

  /// Gives each buffer in `ids` an offset (back to back without reuse;
  /// largest first into the lowest gap free over its lifetime with reuse)
  /// and returns the arena size.
  static int64_t place(std::vector<Buffer> &buffers,
                       const std::vector<size_t> &ids, bool reuse) {
    int64_t arenaBytes = 0;
    if (!reuse) {
      for (size_t id : ids) {
        buffers[id].offset = arenaBytes;
        arenaBytes += buffers[id].bytes;
      }
    } else {
      // Largest first, each into the lowest offset free over its lifetime.
      std::vector<size_t> order = ids;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return buffers[a].bytes > buffers[b].bytes;
      });
      std::vector<size_t> placed;
      for (size_t id : order) {
        Buffer &buf = buffers[id];
        std::vector<std::pair<int64_t, int64_t>> busy;
        for (size_t other : placed) {
          const Buffer &o = buffers[other];
          if (o.first <= buf.last && buf.first <= o.last)
            busy.push_back({o.offset, o.offset + o.bytes});
        }
        std::sort(busy.begin(), busy.end());
        int64_t offset = 0;
        for (auto [lo, hi] : busy) {
          if (offset + buf.bytes <= lo)
            break;
          offset = std::max(offset, hi);
        }
        buf.offset = offset;
        arenaBytes = std::max(arenaBytes, offset + buf.bytes);
        placed.push_back(id);
      }
    }
    return arenaBytes;
  }
};

} // namespace
