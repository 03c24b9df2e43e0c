//===- PlanArena.cpp - Activation arena with liveness-based reuse ---------===//
//
// All activations of one inference live in one arena. A tensor occupies its
// bytes from the layer that writes it to the last layer that reads it (the
// function's results to the end); two tensors whose live ranges overlap never
// share bytes, so a layer never overwrites its own inputs. Reshape is a view:
// it shares its input's buffer, whose live range grows to cover both.
//
//===----------------------------------------------------------------------===//

#include "PassUtil.h"

#include "hat/BPU/Passes.h"

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
        buffers[id].first = index[op];
        buffers[id].last = index[op];
      }
      bufferOf[op] = id;
      buffers[id].producers.push_back(op);
      for (Operation *user : op->getResult(0).getUsers())
        buffers[id].last = std::max(
            buffers[id].last, isa<func::ReturnOp>(user) ? end : index[user]);
    }

    int64_t arenaBytes = 0;
    if (!reuse) {
      for (Buffer &b : buffers) {
        b.offset = arenaBytes;
        arenaBytes += b.bytes;
      }
    } else {
      // Largest first, each into the lowest offset free over its lifetime.
      std::vector<size_t> order(buffers.size());
      for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
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
    Builder b(module.getContext());
    for (Operation *op : layers)
      op->setAttr("arena_offset",
                  b.getI64IntegerAttr(buffers[bufferOf[op]].offset));
    module->setAttr(kArenaBytesAttr, b.getI64IntegerAttr(arenaBytes));
  }
};

} // namespace
