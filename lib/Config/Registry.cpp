//===- Registry.cpp - `type=` name to builder -----------------------------===//

#include "hat/Config/Registry.h"

#include <algorithm>

namespace hat::config {

Value BuildArgs::get(const std::string &name) const {
  const Value *value = config_.find(name);
  return value ? *value : Value();
}

Diagnostic BuildArgs::error(const std::string &message) const {
  return Diagnostic(config_.loc, typeName_ + ": " + message);
}

Registry &Registry::instance() {
  static Registry registry;
  return registry;
}

bool Registry::registerBuilder(std::string category,
                               std::vector<std::string> names, KwargSpec kwargs,
                               BuilderFn builder, std::string definedIn) {
  auto entry = std::make_unique<RegistryEntry>();
  entry->category = std::move(category);
  entry->names = std::move(names);
  entry->kwargs = std::move(kwargs);
  entry->builder = std::move(builder);
  entry->definedIn = std::move(definedIn);
  entries_.push_back(std::move(entry));
  return true;
}

static std::string lastComponent(const std::string &dotted) {
  size_t dot = dotted.rfind('.');
  return dot == std::string::npos ? dotted : dotted.substr(dot + 1);
}

Expected<const RegistryEntry *>
Registry::lookup(const Value &type, const std::string &category) const {
  std::string name;
  if (type.isStr())
    name = type.asStr();
  else if (type.isSymbol())
    name = type.symbolName();
  else
    return Diagnostic("'type' must be a string or a class, not " +
                      type.typeName() + " (" + type.repr() + ")");
  std::string what = category.empty() ? "type" : category + " type";

  auto collect = [&](auto matches) {
    std::vector<const RegistryEntry *> found;
    for (const auto &entry : entries_) {
      if (!category.empty() && entry->category != category)
        continue;
      for (const std::string &registered : entry->names)
        if (matches(registered)) {
          found.push_back(entry.get());
          break;
        }
    }
    return found;
  };
  // Exact names first; then the last dotted component on either side, so
  // torch.optim.SGD finds "SGD" and "DataLoader" finds its dotted name.
  std::vector<const RegistryEntry *> found = collect(
      [&](const std::string &registered) { return registered == name; });
  if (found.empty())
    found = collect([&](const std::string &registered) {
      return lastComponent(registered) == lastComponent(name);
    });
  if (found.size() == 1)
    return found.front();
  if (found.size() > 1) {
    std::string message =
        "ambiguous " + what + " '" + name + "': registered by";
    for (size_t i = 0; i < found.size(); ++i)
      message +=
          (i ? ", " : " ") + found[i]->category + " builder in " +
          (found[i]->definedIn.empty() ? "<unknown>" : found[i]->definedIn);
    return Diagnostic(message);
  }
  std::vector<std::string> candidates = names(category);
  std::vector<std::string> suggestions = closestNames(name, candidates);
  if (suggestions.empty() && name.find('.') != std::string::npos)
    suggestions = closestNames(lastComponent(name), candidates);
  return Diagnostic("unknown " + what + " '" + name + "'" +
                    didYouMean(suggestions));
}

Status Registry::checkKwargs(const RegistryEntry &entry,
                             const DictData &config) const {
  const std::string &typeName =
      entry.names.empty() ? entry.category : entry.names.front();
  std::vector<std::string> known = entry.kwargs.required;
  known.insert(known.end(), entry.kwargs.optional.begin(),
               entry.kwargs.optional.end());
  std::vector<std::string> problems;
  for (const auto &[key, value] : config.entries) {
    if (!key.isStr()) {
      problems.push_back("kwarg names must be strings, found " + key.repr());
      continue;
    }
    const std::string &name = key.asStr();
    if (name == "type" || entry.kwargs.allowOthers)
      continue;
    if (std::find(known.begin(), known.end(), name) == known.end())
      problems.push_back("unknown kwarg '" + name + "'" +
                         didYouMean(closestNames(name, known)));
  }
  for (const std::string &required : entry.kwargs.required)
    if (!config.find(required))
      problems.push_back("missing required kwarg '" + required + "'");
  if (problems.empty())
    return Status::success();
  std::string message = typeName + ": " + problems.front();
  for (size_t i = 1; i < problems.size(); ++i)
    message += "; " + problems[i];
  return Diagnostic(config.loc, message);
}

/// The name of `entry` that `type` matched: exactly, else by the last dotted
/// component on either side (as lookup() matches), else the first name.
static std::string matchedName(const RegistryEntry &entry, const Value &type) {
  if (entry.names.empty())
    return {};
  std::string text = type.isStr()      ? type.asStr()
                     : type.isSymbol() ? type.symbolName()
                                       : std::string();
  auto last = [](const std::string &s) { return s.substr(s.rfind('.') + 1); };
  for (const std::string &n : entry.names)
    if (n == text)
      return n;
  for (const std::string &n : entry.names)
    if (last(n) == last(text))
      return n;
  return entry.names.front();
}

Expected<std::any> Registry::build(const Value &config,
                                   const std::string &category) const {
  if (!config.isDict())
    return Diagnostic("cannot build from a " + config.typeName() +
                      "; expected a dict with a 'type' key");
  const DictData &dict = config.asDict();
  const Value *type = dict.find("type");
  if (!type)
    return Diagnostic(dict.loc,
                      "dict has no 'type' key to build " +
                          (category.empty() ? std::string("from")
                                            : "a " + category + " from"));
  Expected<const RegistryEntry *> entry = lookup(*type, category);
  if (!entry) {
    Diagnostic diagnostic(dict.loc, entry.error().message);
    return diagnostic;
  }
  Status kwargs = checkKwargs(**entry, dict);
  if (!kwargs)
    return kwargs.error();
  return (*entry)->builder(BuildArgs(matchedName(**entry, *type), dict));
}

std::vector<std::string> Registry::names(const std::string &category) const {
  std::vector<std::string> result;
  for (const auto &entry : entries_)
    if (category.empty() || entry->category == category)
      result.insert(result.end(), entry->names.begin(), entry->names.end());
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

void Registry::removeCategory(const std::string &category) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const auto &entry) {
                                  return entry->category == category;
                                }),
                 entries_.end());
}

} // namespace hat::config
