//===- ParamUtils.h - Reading and creating hat.param data -------*- C++ -*-===//
//
// Passes that rewrite weights (BN folding, weight quantization) read a
// param's data into a vector and create a fresh param for the result; a
// param shared by several users is never modified in place.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TRANSFORMS_PARAMUTILS_H
#define HAT_TRANSFORMS_PARAMUTILS_H

#include "hat/Dialect/HatOps.h"

#include <optional>
#include <vector>

namespace hat {

/// The hat.param producing `v`, or null.
ParamOp getParamDefiningOp(mlir::Value v);

/// The float data of a param (splat or dense f32), or nullopt.
std::optional<std::vector<float>> readFloatParam(ParamOp param);

/// A new f32 param with `data` laid out as `shape`.
ParamOp createFloatParam(mlir::OpBuilder &builder, mlir::Location loc,
                         llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<float> data);

/// A new integer param (element type i8/i16/i32) holding `data`.
ParamOp createIntParam(mlir::OpBuilder &builder, mlir::Location loc,
                       llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                       unsigned bits, llvm::ArrayRef<int32_t> data);

/// `conv1.weight` -> `conv1.bias`; anything else gets `.bias` appended.
std::string biasNameFor(llvm::StringRef weightName);

/// Erases params left without users.
void eraseDeadParams(mlir::Operation *root);

/// Folds `bn` into the conv2d/linear producing its input when that producer
/// has no other user and all parameters are hat.param data. Returns failure
/// (changing nothing) otherwise, with `reason` saying why.
mlir::LogicalResult foldBatchNorm(BatchNormOp bn, std::string &reason);

} // namespace hat

#endif // HAT_TRANSFORMS_PARAMUTILS_H
