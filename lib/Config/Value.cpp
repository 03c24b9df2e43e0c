//===- Value.cpp - Values of the HAT config language ----------------------===//

#include "hat/Config/Value.h"
#include "Internal.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

namespace hat::config {

Value Value::boolean(bool v) {
  Value result;
  result.storage_.emplace<1>(v);
  return result;
}
Value Value::integer(int64_t v) {
  Value result;
  result.storage_.emplace<2>(v);
  return result;
}
Value Value::real(double v) {
  Value result;
  result.storage_.emplace<3>(v);
  return result;
}
Value Value::string(std::string v) {
  Value result;
  result.storage_.emplace<4>(std::move(v));
  return result;
}
Value Value::list(std::vector<Value> items) {
  Value result;
  auto data = std::make_shared<ListData>();
  data->items = std::move(items);
  result.storage_.emplace<5>(std::move(data));
  return result;
}
Value Value::tuple(std::vector<Value> items) {
  Value result;
  auto data = std::make_shared<TupleData>();
  data->items = std::move(items);
  result.storage_.emplace<6>(std::move(data));
  return result;
}
Value Value::dict() { return dict(std::make_shared<DictData>()); }
Value Value::dict(std::shared_ptr<DictData> data) {
  Value result;
  result.storage_.emplace<7>(std::move(data));
  return result;
}
Value Value::symbol(std::string dottedName) {
  Value result;
  result.storage_.emplace<8>(SymbolName{std::move(dottedName)});
  return result;
}
Value Value::builtin(std::string name) {
  Value result;
  result.storage_.emplace<9>(BuiltinName{std::move(name)});
  return result;
}
Value Value::function(std::shared_ptr<FunctionData> data) {
  Value result;
  result.storage_.emplace<10>(std::move(data));
  return result;
}
Value Value::call(std::shared_ptr<CallData> data) {
  Value result;
  result.storage_.emplace<11>(std::move(data));
  return result;
}
Value Value::host(std::shared_ptr<HostObject> object) {
  Value result;
  result.storage_.emplace<12>(std::move(object));
  return result;
}

double Value::asNumber() const {
  switch (kind()) {
  case Kind::Bool:
    return asBool() ? 1.0 : 0.0;
  case Kind::Int:
    return static_cast<double>(asInt());
  case Kind::Float:
    return asFloat();
  default:
    return 0.0;
  }
}

std::vector<Value> &Value::sequenceItems() const {
  if (isTuple())
    return asTuple().items;
  return asList().items;
}

std::string Value::typeName() const {
  switch (kind()) {
  case Kind::None:
    return "NoneType";
  case Kind::Bool:
    return "bool";
  case Kind::Int:
    return "int";
  case Kind::Float:
    return "float";
  case Kind::Str:
    return "str";
  case Kind::List:
    return "list";
  case Kind::Tuple:
    return "tuple";
  case Kind::Dict:
    return "dict";
  case Kind::Symbol:
    return "symbol";
  case Kind::Builtin:
    return "builtin_function";
  case Kind::Function:
    return "function";
  case Kind::Call:
    return "call";
  case Kind::Host:
    return asHost() ? asHost()->typeName() : "host";
  }
  return "?";
}

bool Value::truthy() const {
  switch (kind()) {
  case Kind::None:
    return false;
  case Kind::Bool:
    return asBool();
  case Kind::Int:
    return asInt() != 0;
  case Kind::Float:
    return asFloat() != 0.0;
  case Kind::Str:
    return !asStr().empty();
  case Kind::List:
    return !asList().items.empty();
  case Kind::Tuple:
    return !asTuple().items.empty();
  case Kind::Dict:
    return asDict().size() != 0;
  default:
    return true;
  }
}

bool Value::sameObject(const Value &other) const {
  if (kind() != other.kind())
    return false;
  switch (kind()) {
  case Kind::List:
    return std::get<5>(storage_) == std::get<5>(other.storage_);
  case Kind::Tuple:
    return std::get<6>(storage_) == std::get<6>(other.storage_);
  case Kind::Dict:
    return std::get<7>(storage_) == std::get<7>(other.storage_);
  case Kind::Function:
    return std::get<10>(storage_) == std::get<10>(other.storage_);
  case Kind::Call:
    return std::get<11>(storage_) == std::get<11>(other.storage_);
  case Kind::Host:
    return std::get<12>(storage_) == std::get<12>(other.storage_);
  default:
    return valuesEqual(*this, other);
  }
}

//===----------------------------------------------------------------------===//
// repr
//===----------------------------------------------------------------------===//

std::string formatFloat(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  // Shortest digits that read back as the same double, then Python's layout:
  // positional for exponents in [-4, 16), scientific otherwise.
  char buffer[64];
  int precision = 0;
  for (; precision < 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*e", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  std::string scientific = buffer;
  size_t ePos = scientific.find('e');
  std::string mantissa = scientific.substr(0, ePos);
  int exponent = std::atoi(scientific.c_str() + ePos + 1);
  bool negative = !mantissa.empty() && mantissa[0] == '-';
  if (negative)
    mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.')
      digits += c;
  std::string result;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      result = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      result = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      result =
          digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
  } else {
    result = digits.substr(0, 1);
    if (digits.size() > 1)
      result += "." + digits.substr(1);
    char exponentText[16];
    std::snprintf(exponentText, sizeof(exponentText), "e%c%02d",
                  exponent < 0 ? '-' : '+', std::abs(exponent));
    result += exponentText;
  }
  return negative ? "-" + result : result;
}

std::string quoteString(const std::string &text) {
  // Python prefers single quotes unless the text contains one and no double.
  char quote = '\'';
  if (text.find('\'') != std::string::npos &&
      text.find('"') == std::string::npos)
    quote = '"';
  std::string out(1, quote);
  for (unsigned char c : text) {
    switch (c) {
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
    default:
      if (c == static_cast<unsigned char>(quote)) {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7f) {
        char buffer[8];
        std::snprintf(buffer, sizeof(buffer), "\\x%02x", c);
        out += buffer;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += quote;
  return out;
}

static void reprInto(const Value &value, std::string &out,
                     std::unordered_set<const void *> &active, unsigned depth) {
  if (depth > kMaxValueDepth || out.size() > kMaxReprLength) {
    out += "...";
    return;
  }
  auto sequence = [&](const std::vector<Value> &items, const void *identity,
                      const char *open, const char *close, bool isTuple) {
    if (!active.insert(identity).second) {
      out += open;
      out += "...";
      out += close;
      return;
    }
    out += open;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0)
        out += ", ";
      reprInto(items[i], out, active, depth + 1);
    }
    if (isTuple && items.size() == 1)
      out += ",";
    out += close;
    active.erase(identity);
  };
  switch (value.kind()) {
  case Value::Kind::None:
    out += "None";
    return;
  case Value::Kind::Bool:
    out += value.asBool() ? "True" : "False";
    return;
  case Value::Kind::Int:
    out += std::to_string(value.asInt());
    return;
  case Value::Kind::Float:
    out += formatFloat(value.asFloat());
    return;
  case Value::Kind::Str:
    out += quoteString(value.asStr());
    return;
  case Value::Kind::List:
    sequence(value.asList().items, &value.asList(), "[", "]", false);
    return;
  case Value::Kind::Tuple:
    sequence(value.asTuple().items, &value.asTuple(), "(", ")", true);
    return;
  case Value::Kind::Dict: {
    const DictData &dict = value.asDict();
    if (!active.insert(&dict).second) {
      out += "{...}";
      return;
    }
    out += "{";
    bool first = true;
    for (const auto &[key, item] : dict.entries) {
      if (!first)
        out += ", ";
      first = false;
      reprInto(key, out, active, depth + 1);
      out += ": ";
      reprInto(item, out, active, depth + 1);
    }
    out += "}";
    active.erase(&dict);
    return;
  }
  case Value::Kind::Symbol:
    out += value.symbolName();
    return;
  case Value::Kind::Builtin:
    out += "<built-in function " + value.builtinName() + ">";
    return;
  case Value::Kind::Function:
    out += "<function " + functionName(value) + ">";
    return;
  case Value::Kind::Call: {
    const CallData &call = value.asCall();
    if (!active.insert(&call).second) {
      out += "...";
      return;
    }
    out += call.callee + "(";
    bool first = true;
    for (const Value &arg : call.args) {
      if (!first)
        out += ", ";
      first = false;
      reprInto(arg, out, active, depth + 1);
    }
    for (const auto &[name, arg] : call.kwargs) {
      if (!first)
        out += ", ";
      first = false;
      out += name + "=";
      reprInto(arg, out, active, depth + 1);
    }
    out += ")";
    active.erase(&call);
    return;
  }
  case Value::Kind::Host:
    out += "<" + value.typeName() + " object>";
    return;
  }
}

std::string Value::repr() const {
  std::string out;
  std::unordered_set<const void *> active;
  reprInto(*this, out, active, 0);
  return out;
}

std::string Value::str() const { return isStr() ? asStr() : repr(); }

//===----------------------------------------------------------------------===//
// Equality
//===----------------------------------------------------------------------===//

/// Comparisons left before equality gives up, so that comparing two
/// exponentially shared structures (a = [a, a] repeated) terminates.
static thread_local uint64_t equalityBudget = 0;
static thread_local bool equalityActive = false;

static bool equalImpl(const Value &a, const Value &b, unsigned depth) {
  if (depth > kMaxValueDepth || equalityBudget == 0)
    return false;
  --equalityBudget;
  if (a.isNumber() && b.isNumber()) {
    if (a.isFloat() || b.isFloat())
      return a.asNumber() == b.asNumber();
    int64_t x = a.isBool() ? a.asBool() : a.asInt();
    int64_t y = b.isBool() ? b.asBool() : b.asInt();
    return x == y;
  }
  if ((a.isList() && b.isList()) || (a.isTuple() && b.isTuple())) {
    if (a.sameObject(b))
      return true;
    const auto &x = a.sequenceItems();
    const auto &y = b.sequenceItems();
    if (x.size() != y.size())
      return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!x[i].sameObject(y[i]) && !equalImpl(x[i], y[i], depth + 1))
        return false;
    return true;
  }
  if (a.kind() != b.kind())
    return false;
  switch (a.kind()) {
  case Value::Kind::None:
    return true;
  case Value::Kind::Str:
    return a.asStr() == b.asStr();
  case Value::Kind::Symbol:
    return a.symbolName() == b.symbolName();
  case Value::Kind::Builtin:
    return a.builtinName() == b.builtinName();
  case Value::Kind::Dict: {
    if (a.sameObject(b))
      return true;
    const DictData &x = a.asDict();
    const DictData &y = b.asDict();
    if (x.size() != y.size())
      return false;
    for (const auto &[key, item] : x.entries) {
      const Value *other = y.find(key);
      if (!other ||
          (!other->sameObject(item) && !equalImpl(item, *other, depth + 1)))
        return false;
    }
    return true;
  }
  case Value::Kind::Call: {
    if (a.sameObject(b))
      return true;
    const CallData &x = a.asCall();
    const CallData &y = b.asCall();
    if (x.callee != y.callee || x.args.size() != y.args.size() ||
        x.kwargs.size() != y.kwargs.size())
      return false;
    for (size_t i = 0; i < x.args.size(); ++i)
      if (!equalImpl(x.args[i], y.args[i], depth + 1))
        return false;
    for (size_t i = 0; i < x.kwargs.size(); ++i)
      if (x.kwargs[i].first != y.kwargs[i].first ||
          !equalImpl(x.kwargs[i].second, y.kwargs[i].second, depth + 1))
        return false;
    return true;
  }
  default:
    return a.sameObject(b);
  }
}

bool valuesEqual(const Value &a, const Value &b) {
  // Nested calls (dict lookups inside a comparison) share the outer budget.
  if (equalityActive)
    return equalImpl(a, b, 0);
  equalityActive = true;
  equalityBudget = 10'000'000;
  bool equal = equalImpl(a, b, 0);
  equalityActive = false;
  return equal;
}

//===----------------------------------------------------------------------===//
// Copies
//===----------------------------------------------------------------------===//

namespace {
struct DeepCopier {
  std::unordered_map<const void *, Value> memo;
  SourceLoc loc;

  Value copy(const Value &value, unsigned depth) {
    if (depth > kMaxValueDepth)
      fail(loc, "copy.deepcopy: value is nested more than " +
                    std::to_string(kMaxValueDepth) + " levels deep");
    const void *identity = nullptr;
    switch (value.kind()) {
    case Value::Kind::List:
      identity = &value.asList();
      break;
    case Value::Kind::Tuple:
      identity = &value.asTuple();
      break;
    case Value::Kind::Dict:
      identity = &value.asDict();
      break;
    case Value::Kind::Call:
      identity = &value.asCall();
      break;
    default:
      return value;
    }
    auto found = memo.find(identity);
    if (found != memo.end()) {
      // A copy referred to again: the copy of a cycle is a cycle.
      noteMutation(found->second);
      return found->second;
    }
    switch (value.kind()) {
    case Value::Kind::List: {
      Value result = Value::list();
      memo.emplace(identity, result);
      for (const Value &item : value.asList().items)
        result.asList().items.push_back(copy(item, depth + 1));
      return result;
    }
    case Value::Kind::Tuple: {
      Value result = Value::tuple();
      memo.emplace(identity, result);
      for (const Value &item : value.asTuple().items)
        result.asTuple().items.push_back(copy(item, depth + 1));
      return result;
    }
    case Value::Kind::Dict: {
      auto data = std::make_shared<DictData>();
      data->loc = value.asDict().loc;
      Value result = Value::dict(data);
      memo.emplace(identity, result);
      for (const auto &[key, item] : value.asDict().entries)
        data->entries.emplace_back(copy(key, depth + 1), copy(item, depth + 1));
      return result;
    }
    default: {
      const CallData &call = value.asCall();
      auto data = std::make_shared<CallData>();
      data->callee = call.callee;
      data->loc = call.loc;
      Value result = Value::call(data);
      memo.emplace(identity, result);
      for (const Value &arg : call.args)
        data->args.push_back(copy(arg, depth + 1));
      for (const auto &[name, arg] : call.kwargs)
        data->kwargs.emplace_back(name, copy(arg, depth + 1));
      return result;
    }
    }
  }
};
} // namespace

Value deepCopyOrThrow(const Value &value, const SourceLoc &loc) {
  DeepCopier copier;
  copier.loc = loc;
  return copier.copy(value, 0);
}

Expected<Value> Value::deepCopy() const {
  try {
    return deepCopyOrThrow(*this, SourceLoc());
  } catch (const ConfigError &error) {
    return error.diagnostic;
  }
}

Value Value::shallowCopy() const {
  switch (kind()) {
  case Kind::List:
    return list(asList().items);
  case Kind::Tuple:
    return *this; // immutable: Python returns the same tuple
  case Kind::Dict: {
    auto data = std::make_shared<DictData>(asDict());
    return dict(data);
  }
  default:
    return *this;
  }
}

//===----------------------------------------------------------------------===//
// Iterative destruction
//===----------------------------------------------------------------------===//

namespace {
/// The queue of the outermost container destructor on this thread, which
/// drains it; nested container destructors only append their children.
/// The queue lives on that destructor's stack and this pointer is trivially
/// destructible, so destroying config values stays safe during exit (static
/// objects holding configs outlive the thread's thread_local objects).
thread_local std::vector<Value> *activeReleaseQueue = nullptr;
} // namespace

void releaseChildrenIteratively(std::vector<Value> &children) {
  if (activeReleaseQueue) {
    for (Value &child : children)
      activeReleaseQueue->push_back(std::move(child));
    children.clear();
    return; // the frame below drains what we queued
  }
  std::vector<Value> pending = std::move(children);
  children.clear();
  activeReleaseQueue = &pending;
  while (!pending.empty()) {
    // Destroying `last` may run a container destructor, which only queues
    // that container's children and returns.
    Value last = std::move(pending.back());
    pending.pop_back();
  }
  activeReleaseQueue = nullptr;
}

DictData::~DictData() {
  std::vector<Value> children;
  children.reserve(entries.size() * 2);
  for (auto &[key, value] : entries) {
    children.push_back(std::move(key));
    children.push_back(std::move(value));
  }
  entries.clear();
  releaseChildrenIteratively(children);
}

CallData::~CallData() {
  std::vector<Value> children = std::move(args);
  for (auto &[name, value] : kwargs)
    children.push_back(std::move(value));
  kwargs.clear();
  releaseChildrenIteratively(children);
}

//===----------------------------------------------------------------------===//
// DictData
//===----------------------------------------------------------------------===//

Value *DictData::find(const Value &key) {
  for (auto &entry : entries)
    if (valuesEqual(entry.first, key))
      return &entry.second;
  return nullptr;
}
const Value *DictData::find(const Value &key) const {
  return const_cast<DictData *>(this)->find(key);
}
Value *DictData::find(const std::string &key) {
  for (auto &entry : entries)
    if (entry.first.isStr() && entry.first.asStr() == key)
      return &entry.second;
  return nullptr;
}
const Value *DictData::find(const std::string &key) const {
  return const_cast<DictData *>(this)->find(key);
}
void DictData::set(Value key, Value value) {
  if (Value *existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  entries.emplace_back(std::move(key), std::move(value));
}
bool DictData::erase(const Value &key) {
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (valuesEqual(it->first, key)) {
      entries.erase(it);
      return true;
    }
  }
  return false;
}

//===----------------------------------------------------------------------===//
// HostObject defaults
//===----------------------------------------------------------------------===//

HostObject::~HostObject() = default;

Expected<Value> HostObject::getAttribute(const std::string &name) {
  return Diagnostic("'" + typeName() + "' object has no attribute '" + name +
                    "'");
}
Expected<Value> HostObject::callMethod(const std::string &name,
                                       const std::vector<Value> &,
                                       const Kwargs &) {
  return Diagnostic("'" + typeName() + "' object has no method '" + name + "'");
}
Expected<Value> HostObject::call(const std::vector<Value> &, const Kwargs &) {
  return Diagnostic("'" + typeName() + "' object is not callable");
}
Expected<std::vector<Value>> HostObject::iterate() {
  return Diagnostic("'" + typeName() + "' object is not iterable");
}

} // namespace hat::config
