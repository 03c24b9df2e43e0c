//===- TensorValue.h - Tensors seen by config functions ---------*- C++ -*-===//
//
// Config functions (`loss_collector`, `update_metric`, ...) receive the
// batch, the model outputs and the metrics. Tensors travel as TensorHost
// objects inside ordinary config dicts/tuples, so `batch["labels"]` and
// `for _, loss in outputs.items()` work as in Python.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_METRICS_TENSORVALUE_H
#define HAT_METRICS_TENSORVALUE_H

#include "hat/Config/Value.h"

#include <ATen/core/Tensor.h>

namespace hat::metrics {

class TensorHost : public config::HostObject {
public:
  explicit TensorHost(at::Tensor tensor) : tensor(std::move(tensor)) {}
  std::string typeName() const override { return "Tensor"; }
  config::Expected<config::Value>
  getAttribute(const std::string &name) override;
  config::Expected<config::Value>
  callMethod(const std::string &name, const std::vector<config::Value> &args,
             const config::Kwargs &kwargs) override;

  at::Tensor tensor;
};

config::Value tensorValue(at::Tensor tensor);
/// The tensor inside `v`, or an undefined tensor when `v` is not one.
at::Tensor asTensor(const config::Value &v);
/// Every tensor in `v` (nested lists, tuples and dict values), in order.
void collectTensors(const config::Value &v, std::vector<at::Tensor> &out);
/// A dict value {"k": v, ...} in the given order.
config::Value
makeDict(std::vector<std::pair<std::string, config::Value>> items);

} // namespace hat::metrics

#endif // HAT_METRICS_TENSORVALUE_H
