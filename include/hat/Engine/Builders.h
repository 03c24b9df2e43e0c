//===- Builders.h - What the engine's registry builders return --*- C++ -*-===//

#ifndef HAT_ENGINE_BUILDERS_H
#define HAT_ENGINE_BUILDERS_H

#include "hat/Config/Registry.h"
#include "hat/Engine/Engine.h"

#include <any>

namespace hat::engine {

/// An optimizer config applied to the model's named parameters (param
/// groups select parameters by name).
using OptimizerFactory = std::function<std::unique_ptr<torch::optim::Optimizer>(
    const exec::NamedTensors &)>;

/// One step of a model_convert_pipeline.
using Converter = std::function<void(EngineModel &)>;

/// Builds a config value of `category` through the registry and casts it,
/// turning errors into EngineErrors.
template <typename T>
T buildAs(const config::Value &cfg, const std::string &category) {
  auto built = config::Registry::instance().build(cfg, category);
  if (!built)
    throw EngineError(built.error().str());
  if (auto *value = std::any_cast<T>(&*built))
    return *value;
  throw EngineError("a '" + category + "' was expected here, got " +
                    cfg.repr());
}

/// A single config dict or a list of them.
inline std::vector<config::Value> asList(const config::Value &v) {
  if (v.isNone())
    return {};
  if (v.isList() || v.isTuple())
    return v.sequenceItems();
  return {v};
}

} // namespace hat::engine

#endif // HAT_ENGINE_BUILDERS_H
