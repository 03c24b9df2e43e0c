//===- PassUtil.h - Helpers shared by the bpu passes ------------*- C++ -*-===//

#ifndef HAT_LIB_BPU_PASSUTIL_H
#define HAT_LIB_BPU_PASSUTIL_H

#include "hat/BPU/BpuOps.h"
#include "hat/BPU/March.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace hat::bpu {

/// Creates op `name` from operands, one result type and attributes (inherent
/// ones become properties), so passes need not spell every builder argument.
mlir::Operation *createOp(mlir::OpBuilder &builder, mlir::Location loc,
                          llvm::StringRef name, mlir::ValueRange operands,
                          mlir::Type result,
                          llvm::ArrayRef<mlir::NamedAttribute> attrs);

/// The function bpu-lower compiled (module attribute bpu.function), or
/// null after reporting an error on `module`.
mlir::func::FuncOp getCompiledFunction(mlir::ModuleOp module);

/// The march named by the module attribute bpu.march, or null after
/// reporting an error.
const March *getModuleMarch(mlir::ModuleOp module);

/// A bpu layer op (every bpu op but packed_weight).
bool isLayer(mlir::Operation *op);

/// Bytes of one element of a tensor type's element type.
int64_t elementBytes(mlir::Type type);
/// Bytes of a ranked tensor value.
int64_t tensorBytes(mlir::Value value);

/// Tiling and traffic model shared by bpu-tile and bpu-estimate-perf.
struct LayerShape {
  int64_t batch = 1;
  int64_t inChannels = 1, inH = 1, inW = 1, inElemBytes = 1;
  int64_t outChannels = 1, outH = 1, outW = 1, outElemBytes = 1;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, dilationH = 1, groups = 1;
  int64_t padH = 0;
  /// Weight + bias + requantization bytes (conv/linear; a layer norm's bias
  /// and requantization), 0 otherwise.
  int64_t paramBytes = 0;
  /// Bytes of activation inputs other than the main one (add rhs,
  /// residual, other concat inputs), streamed along the rows.
  int64_t extraInputBytes = 0;
  int64_t macs = 0;
  bool hasWeights = false;
  /// The output channels are one unit a tile cannot split (a layer norm's
  /// statistics need the whole row).
  bool wholeChannels = false;
};
LayerShape layerShape(mlir::Operation *op);

struct TileChoice {
  int64_t rows = 1, outChannels = 1, tiles = 1;
  int64_t sramBytes = 0, loadBytes = 0, storeBytes = 0;
  /// loadBytes split by source: the main input (halos and per-channel-slice
  /// re-reads included), the parameters (re-reads per row tile included),
  /// the other activation inputs.
  int64_t inputLoadBytes = 0, paramLoadBytes = 0, extraLoadBytes = 0;
};
/// SRAM and DDR traffic of `shape` cut into tiles of `rows` output rows and
/// `oc` output channels. Loads count halo rows read twice and, when the
/// channels are split, the cheaper of re-reading the input per channel group
/// or the weights per row tile.
TileChoice evaluateTile(const LayerShape &shape, int64_t rows, int64_t oc);

} // namespace hat::bpu

#endif // HAT_LIB_BPU_PASSUTIL_H
