//===- ModelArgs.h - Typed access to a model's config kwargs ----*- C++ -*-===//
//
// Every builder reads its kwargs through these helpers so a wrong type is
// reported the same way: the type name, the kwarg, what was expected and
// what the config gave, pointing at the config dict.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LIB_MODELS_MODELARGS_H
#define HAT_LIB_MODELS_MODELARGS_H

#include "hat/Config/Registry.h"
#include "hat/Models/Module.h"

#include <any>
#include <cstdint>
#include <map>

namespace hat::models {

inline config::Diagnostic kwargError(const config::BuildArgs &args,
                                     const std::string &name,
                                     const std::string &expected,
                                     const config::Value &got) {
  return args.error("'" + name + "' must be " + expected + ", got " +
                    got.typeName() + " " + got.repr());
}

/// Bounds of size kwargs: far beyond any real network (the widest layers
/// of ImageNet models have a few thousand channels), small enough that a
/// typo such as 3000000 is an error naming the kwarg instead of a 30 GB
/// allocation.
constexpr int64_t kMaxChannels = 1 << 16;
constexpr int64_t kMaxClasses = 1 << 20;
constexpr int64_t kMaxBlocksPerStage = 1024;

inline config::Expected<int64_t> intArg(const config::BuildArgs &args,
                                        const std::string &name,
                                        int64_t fallback,
                                        int64_t maxValue = INT64_MAX) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isInt())
    return kwargError(args, name, "an int", v);
  if (v.asInt() > maxValue)
    return args.error("'" + name + "' must be at most " +
                      std::to_string(maxValue) + ", got " +
                      std::to_string(v.asInt()));
  return v.asInt();
}

inline config::Expected<double> floatArg(const config::BuildArgs &args,
                                         const std::string &name,
                                         double fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isNumber() || v.isBool())
    return kwargError(args, name, "a number", v);
  return v.asNumber();
}

inline config::Expected<bool> boolArg(const config::BuildArgs &args,
                                      const std::string &name, bool fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isBool())
    return kwargError(args, name, "True or False", v);
  return v.asBool();
}

inline config::Expected<std::string> strArg(const config::BuildArgs &args,
                                            const std::string &name,
                                            const std::string &fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isStr())
    return kwargError(args, name, "a string", v);
  return v.asStr();
}

inline config::Expected<std::vector<int64_t>>
intListArg(const config::BuildArgs &args, const std::string &name,
           std::vector<int64_t> fallback, int64_t maxValue = INT64_MAX) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  if (!v.isList() && !v.isTuple())
    return kwargError(args, name, "a list of ints", v);
  std::vector<int64_t> out;
  for (const config::Value &item : v.sequenceItems()) {
    if (!item.isInt())
      return kwargError(args, name, "a list of ints", v);
    if (item.asInt() > maxValue)
      return args.error("'" + name + "[" + std::to_string(out.size()) +
                        "]' must be at most " + std::to_string(maxValue) +
                        ", got " + std::to_string(item.asInt()));
    out.push_back(item.asInt());
  }
  return out;
}

/// `bn_kwargs = dict(eps=..., momentum=...)` as HAT writes it.
struct BatchNormKwargs {
  float eps = 1e-5f;
  float momentum = 0.1f;
};

inline config::Expected<BatchNormKwargs>
bnKwargsArg(const config::BuildArgs &args) {
  BatchNormKwargs bn;
  config::Value v = args.get("bn_kwargs");
  if (v.isNone())
    return bn;
  if (!v.isDict())
    return kwargError(args, "bn_kwargs", "a dict", v);
  for (auto &[key, value] : v.asDict().entries) {
    std::string k = key.isStr() ? key.asStr() : key.repr();
    if ((k != "eps" && k != "momentum") || !value.isNumber())
      return args.error("bn_kwargs supports numeric "
                        "'eps' and 'momentum', got '" +
                        k + "'");
    (k == "eps" ? bn.eps : bn.momentum) = (float)value.asNumber();
  }
  return bn;
}

inline config::Expected<Activation> activationArg(const config::BuildArgs &args,
                                                  const std::string &name,
                                                  Activation fallback) {
  config::Value v = args.get(name);
  if (v.isNone())
    return fallback;
  std::string text = v.isStr() ? v.asStr()
                     : v.isSymbol()
                         ? v.symbolName().substr(v.symbolName().rfind('.') + 1)
                         : std::string();
  if (auto act = parseActivation(text))
    return *act;
  return kwargError(args, name,
                    "one of relu, relu6, sigmoid, silu/swish, hardswish, none",
                    v);
}

/// Rounds channels to a multiple of `divisor`, never below 90% of `v`, as the
/// reference MobileNet/EfficientNet implementations do.
inline int64_t makeDivisible(double v, int64_t divisor = 8) {
  int64_t rounded = std::max<int64_t>(divisor, (int64_t)(v + divisor / 2.0) /
                                                   divisor * divisor);
  if (rounded < 0.9 * v)
    rounded += divisor;
  return rounded;
}

/// `dict({2: 16, 4: 24})` with int keys and positive int values (HAT's
/// stride2channels).
inline config::Expected<std::map<int64_t, int64_t>>
intDictArg(const config::BuildArgs &args, const std::string &name) {
  config::Value v = args.get(name);
  if (!v.isDict())
    return kwargError(args, name, "a dict of stride: channels", v);
  std::map<int64_t, int64_t> out;
  for (auto &[key, value] : v.asDict().entries) {
    if (!key.isInt() || !value.isInt() || value.asInt() < 1)
      return kwargError(args, name, "a dict of int stride: int channels", v);
    out[key.asInt()] = value.asInt();
  }
  return out;
}

/// The backbone, optional neck (absent or None: none) and head of a detector
/// config; the head must be of type `headType` (FCOS, GaNet).
struct DetectorParts {
  ModulePtr backbone, neck, head;
};
inline config::Expected<DetectorParts>
buildDetectorParts(const config::BuildArgs &args, const std::string &model,
                   const std::string &headType) {
  DetectorParts parts;
  auto backbone = buildModule(args.get("backbone"), "backbone");
  if (!backbone)
    return backbone.error();
  parts.backbone = *backbone;
  if (args.has("neck") && !args.get("neck").isNone()) {
    auto neck = buildModule(args.get("neck"), "neck");
    if (!neck)
      return neck.error();
    parts.neck = *neck;
  }
  auto head = buildModule(args.get("head"), "head");
  if (!head)
    return head.error();
  if ((*head)->typeName() != headType)
    return args.error(model + " needs a " + headType + " head, got " +
                      (*head)->typeName());
  parts.head = *head;
  return parts;
}

/// Wraps a module for the registry.
inline config::Expected<std::any> moduleResult(ModulePtr module) {
  return std::any(std::move(module));
}

} // namespace hat::models

#endif // HAT_LIB_MODELS_MODELARGS_H
