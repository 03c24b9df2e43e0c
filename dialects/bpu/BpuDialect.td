//===- BpuDialect.td - The bpu dialect definition -----------*- tablegen -*-===//
//
// The `bpu` dialect is the backend's view of an integer hat model: one op per
// BPU layer (after fusion), each carrying the decisions the compiler made for
// it as attributes (tiling to SRAM, weight layout, arena offset, estimated
// cost), so `hat-opt` can print every step of `hat-compile`.
//
//===----------------------------------------------------------------------===//

#ifndef BPU_DIALECT_TD
#define BPU_DIALECT_TD

include "mlir/IR/OpBase.td"

def Bpu_Dialect : Dialect {
  let name = "bpu";
  let cppNamespace = "::hat::bpu";
  let summary = "BPU layers with fused epilogues, tiling and memory plan";
  let description = [{
    Tensors stay builtin ranked tensors (NCHW). Integer ops follow
    docs/quantization.md exactly; a fused epilogue (residual add) applies the
    same two roundings the unfused ops would. Module attributes:
    `bpu.march`, `bpu.opt_level`, `bpu.arena_bytes`, `bpu.perf`.
  }];
}

class Bpu_Op<string mnemonic, list<Trait> traits = []>
    : Op<Bpu_Dialect, mnemonic, traits>;

#endif // BPU_DIALECT_TD
