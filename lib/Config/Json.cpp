//===- Json.cpp - JSON rendering of config values -------------------------===//
//
// Lays out like Python's json.dumps(value, indent=N, ensure_ascii=False), so
// that a dump can be compared with what Python prints for the same config,
// but is written by nlohmann-json: keys and strings are always escaped,
// invalid UTF-8 becomes U+FFFD, and NaN/Infinity (not JSON) become null.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <nlohmann/json.hpp>

#include <unordered_set>

namespace hat::config {

namespace {

using Json = nlohmann::ordered_json;

class JsonBuilder {
public:
  Json build(const Value &value, unsigned depth, const SourceLoc &loc) {
    if (depth > kMaxValueDepth)
      fail(loc, "value is nested too deeply to print as JSON");
    if (++nodes_ > kMaxJsonNodes)
      fail(loc, "JSON output exceeds " + std::to_string(kMaxJsonNodes) +
                    " values (a structure shared many times over?)");
    switch (value.kind()) {
    case Value::Kind::None:
      return nullptr;
    case Value::Kind::Bool:
      return value.asBool();
    case Value::Kind::Int:
      return value.asInt();
    case Value::Kind::Float:
      // nlohmann writes non-finite numbers as null, never as a number.
      return value.asFloat();
    case Value::Kind::Str:
      return value.asStr();
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      const void *identity = value.isList()
                                 ? static_cast<const void *>(&value.asList())
                                 : static_cast<const void *>(&value.asTuple());
      Enter enter(*this, identity, loc);
      Json array = Json::array();
      for (const Value &item : value.sequenceItems())
        array.push_back(build(item, depth + 1, loc));
      return array;
    }
    case Value::Kind::Dict: {
      Enter enter(*this, &value.asDict(), loc);
      Json object = Json::object();
      for (const auto &[key, item] : value.asDict().entries)
        object[keyText(key)] = build(item, depth + 1, loc);
      return object;
    }
    case Value::Kind::Symbol:
      return value.symbolName();
    case Value::Kind::Builtin:
    case Value::Kind::Function:
    case Value::Kind::Host:
      return value.repr();
    case Value::Kind::Call: {
      const CallData &call = value.asCall();
      Enter enter(*this, &call, loc);
      Json object = Json::object();
      object["type"] = call.callee;
      if (!call.args.empty()) {
        Json args = Json::array();
        for (const Value &arg : call.args)
          args.push_back(build(arg, depth + 2, loc));
        object["args"] = std::move(args);
      }
      for (const auto &[name, item] : call.kwargs)
        object[name] = build(item, depth + 1, loc);
      return object;
    }
    }
    return nullptr;
  }

private:
  /// JSON keys are strings; other keys print as Python's json module would.
  static std::string keyText(const Value &key) {
    switch (key.kind()) {
    case Value::Kind::Str:
      return key.asStr();
    case Value::Kind::None:
      return "null";
    case Value::Kind::Bool:
      return key.asBool() ? "true" : "false";
    case Value::Kind::Symbol:
      return key.symbolName();
    default:
      return key.repr();
    }
  }

  struct Enter {
    JsonBuilder &builder;
    const void *identity;
    Enter(JsonBuilder &builder, const void *identity, const SourceLoc &loc)
        : builder(builder), identity(identity) {
      if (!builder.active_.insert(identity).second)
        fail(loc, "circular reference: a container contains itself and "
                  "cannot be printed as JSON");
    }
    ~Enter() { builder.active_.erase(identity); }
  };

  /// Values written before giving up; bounds exponentially shared
  /// structures (`a = [a, a]` repeated) that are not cycles.
  static constexpr size_t kMaxJsonNodes = 10'000'000;
  size_t nodes_ = 0;
  std::unordered_set<const void *> active_;
};

std::string dump(const Json &json, int indent) {
  return json.dump(indent, ' ', /*ensure_ascii=*/false,
                   Json::error_handler_t::replace);
}

} // namespace

Expected<std::string> toJson(const Value &value, int indent) {
  try {
    JsonBuilder builder;
    return dump(builder.build(value, 0, SourceLoc()), indent);
  } catch (const ConfigError &error) {
    return error.diagnostic;
  }
}

Expected<std::string> moduleToJson(const Module &module, int indent) {
  try {
    JsonBuilder builder;
    Json object = Json::object();
    SourceLoc loc;
    for (const auto &[name, value] : module.variables())
      object[name] = builder.build(value, 1, loc);
    return dump(object, indent);
  } catch (const ConfigError &error) {
    Diagnostic diagnostic = error.diagnostic;
    diagnostic.file = module.path();
    return diagnostic;
  }
}

} // namespace hat::config
