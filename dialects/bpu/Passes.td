//===- Passes.td - hat-compile's lowering passes -------------*- tablegen -*-===//
//
// hat-compile runs, in order: bpu-lower, bpu-fuse (-O3 only), bpu-tile
// (search only at -O3), bpu-pack-weights, bpu-plan-arena, bpu-estimate-perf.
// Each reads the march from the module attribute `bpu.march` that bpu-lower
// sets, so the table in lib/BPU/March.cpp is consulted in one place.
//
//===----------------------------------------------------------------------===//

#ifndef BPU_PASSES_TD
#define BPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def BpuLower : Pass<"bpu-lower", "::mlir::ModuleOp"> {
  let summary = "Lower integer hat ops to bpu layer ops";
  let description = [{
    One bpu op per integer hat op: qconv2d -> bpu.conv (kernel size made
    explicit), qlinear -> bpu.linear, qadd -> bpu.add, max_pool2d /
    qavg_pool2d / qglobal_avg_pool -> bpu.pool, reshape/flatten ->
    bpu.reshape, ... Float layers other than softmax (which runs on the CPU)
    are an error: run hat-qat2quantize first. Sets `bpu.march`.
  }];
  let options = [
    Option<"march", "march", "std::string", "\"nash-e\"",
           "target: bernoulli2, bayes, nash-e, nash-m or nash-p">,
    Option<"function", "function", "std::string", "\"\"",
           "function to compile (default: the only public function)">
  ];
  let dependentDialects = ["::hat::bpu::BpuDialect"];
}

def BpuFuse : Pass<"bpu-fuse", "::mlir::ModuleOp"> {
  let summary = "Fuse conv + residual add (+ relu) into one bpu.conv";
  let description = [{
    A bpu.conv (without residual) whose only user is a bpu.add becomes that
    add: the conv keeps its own requantization into `conv_type` and gains the
    add's multipliers, shift and relu as its epilogue. The intermediate
    tensor never leaves the chip, which the perf estimate shows as saved DDR
    traffic. Numerically identical to the unfused pair.
  }];
}

def BpuTile : Pass<"bpu-tile", "::mlir::ModuleOp"> {
  let summary = "Split each layer into tiles that fit the march's SRAM";
  let description = [{
    Sets `tile = [rows, out_channels, tiles]` and `sram_bytes` on every layer.
    Without search (-O0) rows are halved until input rows + all weights +
    output rows fit; with search (-O3) every (rows, out-channel split) pair
    is tried and the one with the least estimated time (DDR traffic including
    halo re-reads and weight re-loads, plus per-tile overhead) wins.
  }];
  let options = [
    Option<"search", "search", "bool", "true",
           "search tile shapes (-O3) instead of halving rows (-O0)">
  ];
}

def BpuPackWeights : Pass<"bpu-pack-weights", "::mlir::ModuleOp"> {
  let summary = "Reorder conv/linear weights into the o16k2 layout";
  let description = [{
    Replaces the OIHW / [M, K] i8 weight param of each bpu.conv and
    bpu.linear with a bpu.packed_weight holding the same values in blocks of
    16 output channels by pairs of K (see bpu.packed_weight).
  }];
}

def BpuPlanArena : Pass<"bpu-plan-arena", "::mlir::ModuleOp"> {
  let summary = "Assign activation arena offsets with liveness-based reuse";
  let description = [{
    Every layer result gets `arena_offset`; a tensor is live from its
    producer to its last consumer, reshape shares its input's bytes, and
    offsets are 64-byte aligned. Greedy by size (largest first) into the
    lowest gap not overlapping a live-range-conflicting tensor. Sets the
    module attribute `bpu.arena_bytes`. `reuse=false` gives each tensor its
    own bytes (for debugging). In program order, a tensor that fits beside
    the live on-chip tensors in the activation SRAM stays on chip (`on_chip`
    on its writer; results always go to DDR); the others, planned the same
    way, give `bpu.ddr_arena_bytes`.
  }];
  let options = [
    Option<"reuse", "reuse", "bool", "true",
           "reuse arena bytes of dead tensors">,
    Option<"activationSram", "activation-sram", "int64_t", "-1",
           "SRAM bytes for activations kept on chip between layers "
           "(-1: the march's; 0: every tensor goes through DDR)">
  ];
}

def BpuEstimatePerf : Pass<"bpu-estimate-perf", "::mlir::ModuleOp"> {
  let summary = "Roofline estimate per layer and for the model";
  let description = [{
    Per layer: compute time from MACs (or elementwise work) and the march's
    peak, DDR load/store bytes from the tiling, time = max(compute, memory)
    + fixed per-layer and per-tile overhead; attached as `perf`. The module
    gets `bpu.perf` with latency, FPS, DDR bytes per frame and MAC
    utilisation. These are estimates from the march table, not measurements.
  }];
  let options = [
    Option<"inputSource", "input-source", "std::string", "\"ddr\"",
           "where model inputs come from: ddr or pyramid"> 
  ];
}

#endif // BPU_PASSES_TD
