//===- Builders.h - What the engine's registry builders return --*- C++ -*-===//

#ifndef HAT_ENGINE_BUILDERS_H
#define HAT_ENGINE_BUILDERS_H

#include "hat/Config/Registry.h"
#include "hat/Engine/DetectionLosses.h"
#include "hat/Engine/Engine.h"

#include <algorithm>
#include <any>
#include <set>

namespace hat::engine {

/// An optimizer config applied to the model's named parameters (param
/// groups select parameters by name; custom_param_optimizer's "norm_types"
/// by the second argument, the names of normalisation layers' weights and
/// biases).
using OptimizerFactory = std::function<std::unique_ptr<torch::optim::Optimizer>(
    const exec::NamedTensors &, const std::set<std::string> &)>;

/// "optimizer AdamW: 3 param groups: 12 tensors lr=0.0002
/// weight_decay=0.0001; ..." for the log.
std::string describeOptimizer(torch::optim::Optimizer &optimizer);

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

/// Typed kwargs of engine builders; a wrong type or value throws an
/// EngineError pointing at the config dict (builders catch it and return
/// the diagnostic).
inline double numberKwarg(const config::BuildArgs &args,
                          const std::string &name, double fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isNumber() || v.isBool())
    throw EngineError(
        args.error("'" + name + "' must be a number, got " + v.repr()).str());
  return v.asNumber();
}

inline int64_t intKwarg(const config::BuildArgs &args, const std::string &name,
                        int64_t fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isInt() || v.asInt() < 0)
    throw EngineError(
        args.error("'" + name + "' must be a non-negative int, got " + v.repr())
            .str());
  return v.asInt();
}

inline std::string strKwarg(const config::BuildArgs &args,
                            const std::string &name,
                            const std::string &fallback,
                            std::vector<std::string> allowed = {}) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isStr())
    throw EngineError(
        args.error("'" + name + "' must be a string, got " + v.repr()).str());
  if (!allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), v.asStr()) == allowed.end()) {
    std::string list;
    for (auto &a : allowed)
      list += (list.empty() ? "" : ", ") + a;
    throw EngineError(args.error("'" + name + "' must be one of " + list +
                                 ", got " + v.repr())
                          .str());
  }
  return v.asStr();
}

inline bool boolKwarg(const config::BuildArgs &args, const std::string &name,
                      bool fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isBool())
    throw EngineError(
        args.error("'" + name + "' must be True or False, got " + v.repr())
            .str());
  return v.asBool();
}

/// Runs a loss builder `fn` (returning a shared_ptr to a DetectionLoss):
/// kwarg checks that throw EngineError become diagnostics as they are, an
/// invalid option (std::invalid_argument) a diagnostic at the config dict.
template <typename Fn>
config::Expected<std::any> guardedLoss(const config::BuildArgs &args, Fn fn) {
  try {
    return std::any(DetectionLossPtr(fn(args)));
  } catch (const EngineError &e) {
    return config::Diagnostic(e.what());
  } catch (const std::invalid_argument &e) {
    return args.error(e.what());
  }
}

} // namespace hat::engine

#endif // HAT_ENGINE_BUILDERS_H
