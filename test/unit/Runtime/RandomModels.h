//===- RandomModels.h - Random integer models for BPU/runtime tests -*- C++
//-*-===//
//
// Random float networks built with the MLIR builder API (residual blocks,
// strided / dilated / grouped / depthwise convs, int16 layers, pools, concat,
// lut activations, mul, bilinear resize, linear head, optional softmax),
// taken through fuse-bn, float2qat, calibrate and qat2quantize, so tests get
// an integer model like the ones hat-compile sees.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TEST_UNIT_RUNTIME_RANDOMMODELS_H
#define HAT_TEST_UNIT_RUNTIME_RANDOMMODELS_H

#include "hat/Eval/Tensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace hat::test {

/// Loads the hat, bpu and func dialects and registers every pass.
void setUpContext(mlir::MLIRContext &context);

/// Normal(0, 1) input of `shape`.
eval::Tensor randomInput(const std::vector<int64_t> &shape, unsigned seed);

struct RandomModel {
  mlir::OwningOpRef<mlir::ModuleOp> module; // integer model
  std::vector<int64_t> inputShape;
};

/// A quantized random model; `seed` picks the architecture and the weights.
/// Returns a null module (after a gtest failure) if a pass fails.
RandomModel makeRandomIntegerModel(mlir::MLIRContext &context, unsigned seed,
                                   const std::string &tempDir);

/// Runs the reference evaluator on the module's entry function.
std::vector<eval::Tensor> evaluate(mlir::ModuleOp module,
                                   const std::vector<eval::Tensor> &inputs);

} // namespace hat::test

#endif // HAT_TEST_UNIT_RUNTIME_RANDOMMODELS_H
