//===- CalOps.h - FLOPs and parameters of a hat model -----------*- C++ -*-===//
//
// Convention (docs/bpu.md, "hat-calops"): a conv counts
//   MACs  = N * KH * KW * Cin / groups * Cout * Hout * Wout
//   FLOPs = 2 * MACs (one multiply and one add per MAC),
// linear likewise with K * M per row; other layers count 0 (they are noise
// next to the convs and every published figure leaves them out). The
// published "1.81 GFLOPs" of ResNet18 at 224x224 is the MAC count; HAT
// prints both. Parameters: conv/linear weights and biases plus BN scale and
// shift (running statistics are buffers, not parameters) - 11.69 M for
// ResNet18, as torchvision counts.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_BPU_CALOPS_H
#define HAT_BPU_CALOPS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <vector>

namespace hat::bpu {

struct LayerOps {
  std::string name, op;
  int64_t macs = 0, flops = 0, params = 0;
};

struct OpsReport {
  std::vector<LayerOps> layers; // conv, linear, batch_norm (float or integer)
  int64_t macs = 0, flops = 0, params = 0;
  /// Non-empty when a count does not fit int64: names the layer and what
  /// overflowed (the counts are then incomplete and must not be printed).
  std::string overflow;
};

OpsReport countOps(mlir::func::FuncOp func);

} // namespace hat::bpu

#endif // HAT_BPU_CALOPS_H
