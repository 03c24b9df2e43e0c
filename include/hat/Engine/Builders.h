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

/// A diagnostic as an error message: with its location and source line when
/// it has one, else just the message (hat-train adds "error:" itself).
inline std::string diagnosticText(const config::Diagnostic &d) {
  if (d.hasLocation())
    return d.str();
  std::string text = d.message;
  for (const std::string &note : d.notes)
    text += "\nnote: " + note;
  return text;
}

/// Builds a config value of `category` through the registry and casts it,
/// turning errors into EngineErrors.
template <typename T>
T buildAs(const config::Value &cfg, const std::string &category) {
  auto built = config::Registry::instance().build(cfg, category);
  if (!built)
    throw EngineError(diagnosticText(built.error()));
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
