//===- Evaluator.h - Reference interpreter of hat functions -----*- C++ -*-===//
//
// Runs a func.func of hat ops on eval::Tensor inputs with the plain reference
// kernels of Kernels.h. Tests use it to show that passes preserve meaning;
// hat-calibrate uses it to observe activations; hat-eval exposes it.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EVAL_EVALUATOR_H
#define HAT_EVAL_EVALUATOR_H

#include "hat/Dialect/HatOps.h"
#include "hat/Eval/Tensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

#include <functional>
#include <vector>

namespace hat::eval {

struct EvalOptions {
  /// Calibration runs the float model: fake_quant passes values through.
  bool bypassFakeQuant = false;
  /// Called with the input of every fake_quant that is reached.
  std::function<void(FakeQuantOp, const Tensor &)> onFakeQuantInput;
};

class FunctionEvaluator {
public:
  explicit FunctionEvaluator(mlir::func::FuncOp func) : func(func) {}

  /// Evaluates the function; a failure has been reported as a diagnostic on
  /// the offending op or function.
  mlir::FailureOr<std::vector<Tensor>> run(const std::vector<Tensor> &inputs,
                                           const EvalOptions &options = {});

  mlir::func::FuncOp getFunction() { return func; }

private:
  mlir::FailureOr<const Tensor *> param(ParamOp op);

  mlir::func::FuncOp func;
  /// Param data converted once, reused across runs (calibration batches).
  llvm::DenseMap<mlir::Operation *, Tensor> params;
};

/// The function named `name`, or the only public function when `name` is
/// empty; reports an error on `module` otherwise.
mlir::func::FuncOp findEntryFunction(mlir::ModuleOp module,
                                     llvm::StringRef name);

/// The eval dtype of a tensor type's element type, or nullopt.
std::optional<DType> dtypeOf(mlir::Type elementType);

} // namespace hat::eval

#endif // HAT_EVAL_EVALUATOR_H
