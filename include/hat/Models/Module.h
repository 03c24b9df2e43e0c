//===- Module.h - Config-built model pieces ---------------------*- C++ -*-===//
//
// A config's `model = dict(type="Classifier", backbone=dict(type=...))` is
// built through the registry into a tree of Modules; lowering a Module calls
// forward() on a NetBuilder, which emits hat IR. Options are checked when the
// Module is built, so lowering only meets shape errors (recorded by the
// NetBuilder).
//
//===----------------------------------------------------------------------===//

#ifndef HAT_MODELS_MODULE_H
#define HAT_MODELS_MODULE_H

#include "hat/Config/Registry.h"
#include "hat/Config/Value.h"
#include "hat/Models/NetBuilder.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <string>
#include <vector>

namespace hat::models {

class Module {
public:
  virtual ~Module() = default;
  /// The registered type name ("ResNet18", "Classifier", ...).
  virtual std::string typeName() const = 0;
  /// Emits the module applied to `x` and returns its output.
  virtual mlir::Value forward(NetBuilder &nb, mlir::Value x) = 0;
  /// Modules with several inputs or outputs (a backbone without its top
  /// returns one feature per stride, a neck maps features to features, a
  /// detector returns one map per head branch and level). The default is the
  /// single-value forward().
  virtual std::vector<mlir::Value>
  forwardMulti(NetBuilder &nb, const std::vector<mlir::Value> &inputs);
  /// Names of forwardMulti()'s results (`cls_s8`, ...), given to the lowered
  /// function's results as `hat.name`; empty for one unnamed result.
  virtual std::vector<std::string> outputNames() const { return {}; }
  /// Extra attributes of the lowered function's results (same order as
  /// forwardMulti()), e.g. `hat.stride`; empty when there are none.
  virtual std::vector<mlir::NamedAttrList>
  outputAttributes(mlir::MLIRContext *) const {
    return {};
  }
  /// Function attributes describing how to read the outputs (the detector's
  /// `hat.post_process`); empty by default.
  virtual mlir::NamedAttrList functionAttributes(mlir::MLIRContext *) const {
    return {};
  }
  /// The loss configuration the engine applies to the outputs (None when
  /// the model has no loss, as in `deploy_model`).
  virtual config::Value losses() const { return config::Value::none(); }
};

using ModulePtr = std::shared_ptr<Module>;

/// Builds a module from a config dict through the registry; `category` is
/// "model", "backbone" or "" (any).
config::Expected<ModulePtr> buildModule(const config::Value &cfg,
                                        const std::string &category = {});

/// The input shapes of `deploy_inputs = dict(img=torch.randn((1, 3, H, W)))`
/// (torch.randn/rand/zeros/ones with a shape tuple or integer arguments), in
/// definition order.
config::Expected<std::vector<std::pair<std::string, std::vector<int64_t>>>>
parseDeployInputs(const config::Value &deployInputs);

struct LoweringOptions {
  uint64_t seed = 0;
  std::string functionName = "forward";
};

/// Emits `func.func @forward(...)` for the model applied to inputs of the
/// given shapes (float32 NCHW).
config::Expected<mlir::OwningOpRef<mlir::ModuleOp>> lowerModel(
    mlir::MLIRContext &context, const ModulePtr &model,
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &inputs,
    const LoweringOptions &options = {});

/// Number of trainable parameter elements the model creates for `input`.
config::Expected<int64_t> countParameters(mlir::MLIRContext &context,
                                          const ModulePtr &model,
                                          std::vector<int64_t> input);

} // namespace hat::models

#endif // HAT_MODELS_MODULE_H
