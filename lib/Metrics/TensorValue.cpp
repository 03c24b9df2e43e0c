//===- TensorValue.cpp - Tensors seen by config functions -----------------===//

#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>

namespace hat::metrics {

config::Expected<config::Value>
TensorHost::getAttribute(const std::string &name) {
  if (name == "shape") {
    std::vector<config::Value> dims;
    for (int64_t d : tensor.sizes())
      dims.push_back(config::Value::integer(d));
    return config::Value::tuple(std::move(dims));
  }
  if (name == "ndim")
    return config::Value::integer(tensor.dim());
  return config::Diagnostic("Tensor has no attribute '" + name + "'");
}

config::Expected<config::Value>
TensorHost::callMethod(const std::string &name,
                       const std::vector<config::Value> &args,
                       const config::Kwargs &kwargs) {
  if (name == "item" && args.empty() && tensor.numel() == 1)
    return tensor.is_floating_point()
               ? config::Value::real(tensor.item<double>())
               : config::Value::integer(tensor.item<int64_t>());
  if (name == "size" && args.empty())
    return getAttribute("shape");
  if (name == "numel" && args.empty())
    return config::Value::integer(tensor.numel());
  if ((name == "mean" || name == "sum") && args.empty())
    return tensorValue(name == "mean" ? tensor.mean() : tensor.sum());
  if (name == "detach" && args.empty())
    return tensorValue(tensor.detach());
  return config::Diagnostic("Tensor." + name +
                            "() is not available in config functions");
}

config::Value tensorValue(at::Tensor tensor) {
  return config::Value::host(std::make_shared<TensorHost>(std::move(tensor)));
}

at::Tensor asTensor(const config::Value &v) {
  if (!v.isHost())
    return at::Tensor();
  if (auto *t = dynamic_cast<TensorHost *>(v.asHost().get()))
    return t->tensor;
  return at::Tensor();
}

void collectTensors(const config::Value &v, std::vector<at::Tensor> &out) {
  if (at::Tensor t = asTensor(v); t.defined()) {
    out.push_back(t);
  } else if (v.isList() || v.isTuple()) {
    for (const config::Value &item : v.sequenceItems())
      collectTensors(item, out);
  } else if (v.isDict()) {
    for (auto &entry : v.asDict().entries)
      collectTensors(entry.second, out);
  }
}

config::Value
makeDict(std::vector<std::pair<std::string, config::Value>> items) {
  config::Value d = config::Value::dict();
  for (auto &[k, v] : items)
    d.asDict().set(k, std::move(v));
  return d;
}

} // namespace hat::metrics
