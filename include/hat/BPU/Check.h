//===- Check.h - Can a march run this model? --------------------*- C++ -*-===//

#ifndef HAT_BPU_CHECK_H
#define HAT_BPU_CHECK_H

#include "hat/BPU/March.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <vector>

namespace hat::bpu {

struct LayerCheck {
  std::string name; // conv/linear: the weight's name without ".weight"
  std::string op;   // "hat.qconv2d", ...
  bool supported = true;
  /// Why not (each limit that fails), or notes on a supported layer
  /// ("runs on the CPU").
  std::vector<std::string> reasons;
};

/// One entry per op of `func` (params and the return excluded): op, dtype,
/// kernel / stride / dilation / channel limits and the scale form, against
/// the march table.
std::vector<LayerCheck> checkFunction(mlir::func::FuncOp func,
                                      const March &march);

/// True when every entry is supported.
bool allSupported(const std::vector<LayerCheck> &checks);

} // namespace hat::bpu

#endif // HAT_BPU_CHECK_H
