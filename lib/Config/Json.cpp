//===- Json.cpp - JSON rendering of config values -------------------------===//
//
// Matches Python's json.dumps(value, indent=N, ensure_ascii=False) so that a
// dump can be compared with what Python would print for the same config.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cmath>
#include <cstdio>
#include <unordered_set>

namespace hat::config {

namespace {

/// Appends `text` as a JSON string; invalid UTF-8 becomes U+FFFD.
void appendJsonString(std::string &out, const std::string &text) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
      }
      ++i;
      continue;
    }
    size_t length = (c >= 0xC2 && c <= 0xDF)   ? 2
                    : (c >= 0xE0 && c <= 0xEF) ? 3
                    : (c >= 0xF0 && c <= 0xF4) ? 4
                                               : 0;
    bool valid = length != 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (valid) {
      out.append(text, i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  out += '"';
}

class JsonWriter {
public:
  explicit JsonWriter(int indent) : indent_(indent) {}

  void write(const Value &value, int depth, const SourceLoc &loc) {
    if (depth > static_cast<int>(kMaxValueDepth))
      fail(loc, "value is nested too deeply to print as JSON");
    if (out.size() > kMaxJsonLength)
      fail(loc, "JSON output exceeds " + std::to_string(kMaxJsonLength >> 20) +
                    " MiB (a structure shared many times over?)");
    switch (value.kind()) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += value.asBool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(value.asInt());
      return;
    case Value::Kind::Float: {
      double v = value.asFloat();
      out += std::isnan(v)   ? "NaN"
             : std::isinf(v) ? (v > 0 ? "Infinity" : "-Infinity")
                             : formatFloat(v);
      return;
    }
    case Value::Kind::Str:
      appendJsonString(out, value.asStr());
      return;
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      const void *identity = value.isList()
                                 ? static_cast<const void *>(&value.asList())
                                 : static_cast<const void *>(&value.asTuple());
      Enter enter(*this, identity, loc);
      const auto &items = value.sequenceItems();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < items.size(); ++i) {
        out += i ? "," : "";
        newline(depth + 1);
        write(items[i], depth + 1, loc);
      }
      newline(depth);
      out += "]";
      return;
    }
    case Value::Kind::Dict: {
      Enter enter(*this, &value.asDict(), loc);
      std::vector<std::pair<std::string, const Value *>> members;
      for (const auto &[key, item] : value.asDict().entries)
        members.emplace_back(keyText(key), &item);
      writeObject(members, depth, loc);
      return;
    }
    case Value::Kind::Symbol:
      appendJsonString(out, value.symbolName());
      return;
    case Value::Kind::Builtin:
    case Value::Kind::Function:
    case Value::Kind::Host:
      appendJsonString(out, value.repr());
      return;
    case Value::Kind::Call: {
      const CallData &call = value.asCall();
      Enter enter(*this, &call, loc);
      Value callee = Value::string(call.callee);
      Value args = Value::tuple(call.args);
      std::vector<std::pair<std::string, const Value *>> members;
      members.emplace_back("type", &callee);
      if (!call.args.empty())
        members.emplace_back("args", &args);
      for (const auto &[name, item] : call.kwargs)
        members.emplace_back(name, &item);
      writeObject(members, depth, loc);
      return;
    }
    }
  }

  void
  writeObject(const std::vector<std::pair<std::string, const Value *>> &members,
              int depth, const SourceLoc &loc) {
    if (members.empty()) {
      out += "{}";
      return;
    }
    out += "{";
    bool first = true;
    for (const auto &[key, item] : members) {
      out += first ? "" : ",";
      first = false;
      newline(depth + 1);
      appendJsonString(out, key);
      out += ": ";
      write(*item, depth + 1, loc);
    }
    newline(depth);
    out += "}";
  }

  std::string out;

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

  void newline(int depth) {
    if (indent_ < 0)
      return;
    out += '\n';
    out.append(static_cast<size_t>(depth * indent_), ' ');
  }

  struct Enter {
    JsonWriter &writer;
    const void *identity;
    Enter(JsonWriter &writer, const void *identity, const SourceLoc &loc)
        : writer(writer), identity(identity) {
      if (!writer.active_.insert(identity).second)
        fail(loc, "circular reference: a container contains itself and "
                  "cannot be printed as JSON");
    }
    ~Enter() { writer.active_.erase(identity); }
  };

  int indent_;
  std::unordered_set<const void *> active_;
};

} // namespace

Expected<std::string> toJson(const Value &value, int indent) {
  try {
    JsonWriter writer(indent);
    writer.write(value, 0, SourceLoc());
    return std::move(writer.out);
  } catch (const ConfigError &error) {
    return error.diagnostic;
  }
}

Expected<std::string> moduleToJson(const Module &module, int indent) {
  try {
    JsonWriter writer(indent);
    auto variables = module.variables();
    std::vector<std::pair<std::string, const Value *>> members;
    for (const auto &[name, value] : variables)
      members.emplace_back(name, &value);
    SourceLoc loc;
    writer.writeObject(members, 0, loc);
    return std::move(writer.out);
  } catch (const ConfigError &error) {
    Diagnostic diagnostic = error.diagnostic;
    diagnostic.file = module.path();
    return diagnostic;
  }
}

} // namespace hat::config
