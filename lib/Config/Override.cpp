//===- Override.cpp - `--set path=value` overrides ------------------------===//
//
// Every path component must exist except a new key in an existing dict:
// an override that silently does nothing is worse than an error.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cstdlib>

namespace hat::config {

namespace {

bool parseIndex(const std::string &text, int64_t &index) {
  if (text.empty() || text.size() > 18)
    return false;
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size())
    return false;
  for (size_t k = i; k < text.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(text[k])))
      return false;
  index = std::strtoll(text.c_str(), nullptr, 10);
  return true;
}

std::vector<std::string> stringKeys(const DictData &dict) {
  std::vector<std::string> keys;
  for (const auto &entry : dict.entries)
    if (entry.first.isStr())
      keys.push_back(entry.first.asStr());
  return keys;
}

/// The key of `dict` that path component `component` names: a string key,
/// or an int key written in decimal (stride2channels.8=...).
const Value *findKey(const DictData &dict, const std::string &component) {
  for (const auto &entry : dict.entries) {
    if (entry.first.isStr() && entry.first.asStr() == component)
      return &entry.first;
  }
  int64_t index;
  if (parseIndex(component, index))
    for (const auto &entry : dict.entries)
      if ((entry.first.isInt() || entry.first.isBool()) &&
          valuesEqual(entry.first, Value::integer(index)))
        return &entry.first;
  return nullptr;
}

} // namespace

Status applyOverride(Module &module, const std::string &assignment) {
  size_t equals = assignment.find('=');
  auto failure = [&](const std::string &message) -> Status {
    Diagnostic diagnostic("--set " + assignment + ": " + message);
    return diagnostic;
  };
  if (equals == std::string::npos)
    return failure("an override must have the form path.to.key=value");
  // The value may close a cycle (`--set a.0=a`): the module's collector
  // must see the container it changes.
  TrackContainersIn tracking(module.globals()->registry);
  std::string path = assignment.substr(0, equals);
  std::string valueText = assignment.substr(equals + 1);
  while (!path.empty() && path.back() == ' ')
    path.pop_back();
  std::vector<std::string> components;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    components.push_back(
        path.substr(start, dot == std::string::npos ? dot : dot - start));
    if (components.back().empty())
      return failure("empty component in path '" + path + "'");
    if (dot == std::string::npos)
      break;
    start = dot + 1;
  }

  Expected<Value> value =
      evaluateExpression(valueText, "<--set " + path + ">", &module);
  if (!value) {
    Diagnostic diagnostic = value.error();
    if (diagnostic.message.rfind("name '", 0) == 0)
      diagnostic.notes.push_back("to set a string, quote it: --set '" + path +
                                 "=\"" + valueText + "\"'");
    return diagnostic;
  }

  const std::string &root = components[0];
  Value *current = module.get(root);
  if (!current || module.isImport(root)) {
    std::vector<std::string> names;
    for (const auto &[name, v] : module.variables())
      names.push_back(name);
    return failure("the config defines no variable '" + root + "'" +
                   didYouMean(closestNames(root, names)));
  }
  if (components.size() == 1) {
    *current = std::move(*value);
    return Status::success();
  }
  std::string walked = root;
  for (size_t i = 1; i < components.size(); ++i) {
    const std::string &component = components[i];
    bool last = i + 1 == components.size();
    Value container = *current; // shares the container, keeps it alive
    if (last)
      noteMutation(container);
    if (container.isDict()) {
      DictData &dict = container.asDict();
      const Value *key = findKey(dict, component);
      if (!key) {
        if (last) {
          dict.set(component, std::move(*value));
          return Status::success();
        }
        return failure("'" + walked + "' has no key '" + component + "'" +
                       didYouMean(closestNames(component, stringKeys(dict))));
      }
      Value *slot = dict.find(*key);
      if (last) {
        *slot = std::move(*value);
        return Status::success();
      }
      current = slot;
    } else if (container.isList() || container.isTuple()) {
      int64_t index;
      if (!parseIndex(component, index))
        return failure("'" + walked + "' is a " + container.typeName() + "; '" +
                       component + "' is not an index");
      auto &items = container.sequenceItems();
      int64_t size = static_cast<int64_t>(items.size());
      if (index < -size || index >= size)
        return failure("index " + component + " is out of range for '" +
                       walked + "' (" + std::to_string(size) + " items)");
      Value *slot =
          &items[static_cast<size_t>(index < 0 ? index + size : index)];
      if (last) {
        *slot = std::move(*value);
        return Status::success();
      }
      current = slot;
    } else if (container.isCall()) {
      CallData &call = container.asCall();
      Value *slot = nullptr;
      for (auto &[name, arg] : call.kwargs)
        if (name == component)
          slot = &arg;
      if (!slot) {
        if (last) {
          call.kwargs.emplace_back(component, std::move(*value));
          return Status::success();
        }
        return failure("'" + walked + "' (a call of " + call.callee +
                       ") has no keyword argument '" + component + "'");
      }
      if (last) {
        *slot = std::move(*value);
        return Status::success();
      }
      current = slot;
    } else {
      return failure("'" + walked + "' is " +
                     (container.isNone() ? std::string("None")
                                         : "a " + container.typeName() + " (" +
                                               container.repr() + ")") +
                     ", which has no '" + component + "'");
    }
    walked += "." + component;
  }
  return Status::success();
}

namespace {
/// Merges `from` into `into` key by key where both are dicts. Bounded in
/// depth: two dicts that contain themselves (`a['a'] = a` in the config and
/// in the overlay) would otherwise recurse without end.
void mergeValue(Value &into, const Value &from, const std::string &name,
                unsigned depth) {
  if (!into.isDict() || !from.isDict()) {
    into = from;
    return;
  }
  noteMutation(into);
  if (depth > kMaxValueDepth)
    fail(SourceLoc(), "cannot merge '" + name + "': dicts nested more than " +
                          std::to_string(kMaxValueDepth) +
                          " levels deep (a dict that contains itself?)");
  for (const auto &[key, value] : from.asDict().entries) {
    if (Value *existing = into.asDict().find(key))
      mergeValue(*existing, value, name, depth + 1);
    else
      into.asDict().set(key, value);
  }
}
} // namespace

Status mergeModule(Module &module, const Module &overlay) {
  TrackContainersIn tracking(module.globals()->registry);
  try {
    for (const auto &[name, value] : overlay.variables()) {
      if (Value *existing = module.get(name)) {
        Value merged = *existing;
        mergeValue(merged, value, name, 0);
        module.set(name, merged);
      } else {
        module.set(name, value);
      }
    }
  } catch (const ConfigError &error) {
    Diagnostic diagnostic = error.diagnostic;
    diagnostic.file = overlay.path();
    return diagnostic;
  }
  return Status::success();
}

Expected<std::shared_ptr<Module>> loadConfigWithMerges(
    const std::string &path, const std::vector<std::string> &merges,
    const std::vector<std::string> &overrides, const EvalOptions &options) {
  Expected<std::shared_ptr<Module>> module = loadConfigFile(path, options);
  if (!module)
    return module;
  for (const std::string &file : merges) {
    Expected<std::shared_ptr<Module>> overlay = loadConfigFile(file, options);
    if (!overlay)
      return overlay.error();
    if (Status merged = mergeModule(**module, **overlay); !merged)
      return merged.error();
  }
  for (const std::string &override : overrides) {
    Status status = applyOverride(**module, override);
    if (!status)
      return status.error();
  }
  return module;
}

} // namespace hat::config
