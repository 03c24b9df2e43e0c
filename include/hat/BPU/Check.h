//===- Check.h - Can a march run this model? --------------------*- C++ -*-===//

#ifndef HAT_BPU_CHECK_H
#define HAT_BPU_CHECK_H

#include "hat/BPU/March.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

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

/// Resource limits the op table cannot see: runs the compiler's lowering,
/// fusion and tiling on a copy of `module` and reports every layer that
/// does not fit the march's SRAM even at the smallest tile (with the bytes
/// it needs and the SRAM size). Needs every op supported (checkFunction).
std::vector<LayerCheck> checkResources(mlir::ModuleOp module,
                                       mlir::func::FuncOp func,
                                       const March &march);

/// checkFunction, then (when every op is supported) checkResources merged
/// in by layer name: what hat-check prints and hat-compile refuses.
std::vector<LayerCheck>
checkModule(mlir::ModuleOp module, mlir::func::FuncOp func, const March &march);

/// True when every entry is supported.
bool allSupported(const std::vector<LayerCheck> &checks);

} // namespace hat::bpu

#endif // HAT_BPU_CHECK_H
