//===- Registry.h - `type=` name to builder -------------------*- C++ -*-===//
//
// One registry maps the `type` of a config dict (a string such as "FCOSHead"
// or a symbol such as torch.optim.SGD) to the builder that makes the object.
// Each builder registers itself from the file that defines it:
//
//   HAT_REGISTER("head", {"FCOSHead"},
//                {/*required=*/{"num_classes"},
//                /*optional=*/{"feat_channels"}}, buildFCOSHead);
//
// Registrations run as static initializers, so a static library holding them
// must be linked whole (CMake: $<LINK_LIBRARY:WHOLE_ARCHIVE,lib>) or its
// objects must otherwise be referenced.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_CONFIG_REGISTRY_H
#define HAT_CONFIG_REGISTRY_H

#include "hat/Config/Diagnostic.h"
#include "hat/Config/Value.h"

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hat::config {

/// The keyword arguments a builder accepts besides `type`.
struct KwargSpec {
  std::vector<std::string> required;
  std::vector<std::string> optional;
  /// Accept any further kwargs (builders that forward `**kwargs`).
  bool allowOthers = false;
};

/// What a builder receives: the evaluated config dict, already checked
/// against the builder's KwargSpec.
class BuildArgs {
public:
  BuildArgs(std::string typeName, const DictData &config)
      : typeName_(std::move(typeName)), config_(config) {}
  /// The registered name that matched `type`.
  const std::string &typeName() const { return typeName_; }
  const DictData &config() const { return config_; }
  bool has(const std::string &name) const {
    return config_.find(name) != nullptr;
  }
  /// The kwarg `name`, or None when absent.
  Value get(const std::string &name) const;
  /// A Diagnostic pointing at the config dict (when it came from a file).
  Diagnostic error(const std::string &message) const;

private:
  std::string typeName_;
  const DictData &config_;
};

using BuilderFn = std::function<Expected<std::any>(const BuildArgs &)>;

struct RegistryEntry {
  std::string category; ///< "model", "backbone", "loss", "optimizer", ...
  std::vector<std::string> names;
  KwargSpec kwargs;
  BuilderFn builder;
  std::string definedIn; ///< Source file of the registration.
};

class Registry {
public:
  static Registry &instance();

  /// Registers `builder` under every name in `names` (e.g. a short and a
  /// dotted name). A name registered twice makes lookups of it ambiguous
  /// errors naming both registrations.
  bool registerBuilder(std::string category, std::vector<std::string> names,
                       KwargSpec kwargs, BuilderFn builder,
                       std::string definedIn = {});

  /// Resolves a `type` value: a string or a symbol, matching a registered
  /// name exactly, or by the last dotted component on either side
  /// (torch.optim.SGD finds "SGD" and "SGD" finds "torch.optim.SGD"). An
  /// empty `category` searches all. Unknown types suggest the closest names.
  Expected<const RegistryEntry *>
  lookup(const Value &type, const std::string &category = {}) const;

  /// Checks the kwargs of `config` (a dict with `type`) against the entry's
  /// spec, naming every unknown and missing kwarg.
  Status checkKwargs(const RegistryEntry &entry, const DictData &config) const;

  /// lookup() + checkKwargs() + the builder.
  Expected<std::any> build(const Value &config,
                           const std::string &category = {}) const;

  /// Every registered name (of `category` when given), sorted.
  std::vector<std::string> names(const std::string &category = {}) const;

  /// Test support: removes what registerBuilder added under `category`.
  void removeCategory(const std::string &category);

private:
  Registry() = default;
  std::vector<std::unique_ptr<RegistryEntry>> entries_;
};

/// Static registration helper behind HAT_REGISTER.
struct Registrar {
  Registrar(std::string category, std::vector<std::string> names,
            KwargSpec kwargs, BuilderFn builder, const char *file) {
    Registry::instance().registerBuilder(std::move(category), std::move(names),
                                         std::move(kwargs), std::move(builder),
                                         file);
  }
};

} // namespace hat::config

#define HAT_REGISTRY_CONCAT_IMPL(a, b) a##b
#define HAT_REGISTRY_CONCAT(a, b) HAT_REGISTRY_CONCAT_IMPL(a, b)
/// HAT_REGISTER(category, {names...}, KwargSpec{...}, builder)
#define HAT_REGISTER(CATEGORY, ...)                                            \
  static const ::hat::config::Registrar HAT_REGISTRY_CONCAT(                   \
      hatRegistrar_, __COUNTER__)(CATEGORY, __VA_ARGS__, __FILE__)

#endif // HAT_CONFIG_REGISTRY_H
