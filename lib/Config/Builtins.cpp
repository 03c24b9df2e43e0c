//===- Builtins.cpp - Operators, builtin functions and methods ------------===//

#include "Interpreter.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

namespace hat::config {

namespace {

bool isIntLike(const Value &v) { return v.isInt() || v.isBool(); }
int64_t intOf(const Value &v) { return v.isBool() ? v.asBool() : v.asInt(); }

[[noreturn]] void overflow(const SourceLoc &loc) {
  fail(loc, "integer overflow (HAT config integers are 64-bit)");
}

/// Checks the argument count of a builtin and rejects unexpected keywords.
struct Arguments {
  const std::string &name;
  std::vector<Value> &args;
  Kwargs &kwargs;
  const SourceLoc &loc;

  void expect(size_t min, size_t max,
              std::initializer_list<const char *> allowedKeywords = {}) {
    for (const auto &[keyword, value] : kwargs) {
      bool allowed = false;
      for (const char *k : allowedKeywords)
        allowed |= keyword == k || std::strcmp(k, "**") == 0;
      if (!allowed)
        fail(loc,
             name + "() got an unexpected keyword argument '" + keyword + "'");
    }
    if (args.size() < min || args.size() > max) {
      std::string expected =
          min == max ? std::to_string(min)
          : max == SIZE_MAX
              ? "at least " + std::to_string(min)
              : std::to_string(min) + " to " + std::to_string(max);
      fail(loc, name + "() takes " + expected + " argument" +
                    (max == 1 && min == 1 ? "" : "s") + " (" +
                    std::to_string(args.size()) + " given)");
    }
  }
  const Value *keyword(const char *keyword) const {
    for (const auto &[k, value] : kwargs)
      if (k == keyword)
        return &value;
    return nullptr;
  }
  const std::string &string(size_t i) const {
    if (!args[i].isStr())
      fail(loc, name + "() argument " + std::to_string(i + 1) +
                    " must be str, not " + args[i].typeName());
    return args[i].asStr();
  }
  int64_t integer(size_t i) const {
    if (!isIntLike(args[i]))
      fail(loc, name + "() argument " + std::to_string(i + 1) +
                    " must be int, not " + args[i].typeName());
    return intOf(args[i]);
  }
};

std::string joinPath(const std::vector<Value> &parts, const SourceLoc &loc) {
  std::string path;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].isStr())
      fail(loc,
           "os.path.join() arguments must be str, not " + parts[i].typeName());
    const std::string &part = parts[i].asStr();
    if (i == 0 || (!part.empty() && part[0] == '/'))
      path = part;
    else if (path.empty() || path.back() == '/')
      path += part;
    else
      path += "/" + part;
  }
  return path;
}

std::string dirnameOf(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string head =
      slash == std::string::npos ? "" : path.substr(0, slash + 1);
  if (!head.empty() && head.find_first_not_of('/') != std::string::npos)
    while (!head.empty() && head.back() == '/')
      head.pop_back();
  return head;
}

std::string stripChars(const std::string &text, const std::string &chars,
                       bool left, bool right) {
  size_t begin = 0, end = text.size();
  if (left)
    while (begin < end && chars.find(text[begin]) != std::string::npos)
      ++begin;
  if (right)
    while (end > begin && chars.find(text[end - 1]) != std::string::npos)
      --end;
  return text.substr(begin, end - begin);
}

} // namespace

//===----------------------------------------------------------------------===//
// Operators
//===----------------------------------------------------------------------===//

Value Interpreter::binaryOp(BinaryOperator op, const Value &lhs,
                            const Value &rhs, const SourceLoc &loc) {
  auto unsupported = [&]() -> Value {
    fail(loc, std::string("unsupported operand type(s) for ") + spelling(op) +
                  ": '" + lhs.typeName() + "' and '" + rhs.typeName() + "'");
  };
  auto repeat = [&](const Value &sequence, int64_t count) -> Value {
    if (count < 0)
      count = 0;
    size_t unit = sequence.isStr() ? sequence.asStr().size()
                                   : sequence.sequenceItems().size();
    if (unit != 0 &&
        static_cast<uint64_t>(count) > options_.maxSequenceLength / unit + 1)
      checkLength(options_.maxSequenceLength + 1, loc);
    checkLength(unit * static_cast<size_t>(count), loc);
    if (sequence.isStr()) {
      std::string out;
      for (int64_t i = 0; i < count; ++i)
        out += sequence.asStr();
      return Value::string(std::move(out));
    }
    std::vector<Value> items;
    for (int64_t i = 0; i < count; ++i)
      items.insert(items.end(), sequence.sequenceItems().begin(),
                   sequence.sequenceItems().end());
    return sequence.isList() ? Value::list(std::move(items))
                             : Value::tuple(std::move(items));
  };

  if (op == BinaryOperator::Mod && lhs.isStr())
    return Value::string(percentFormat(lhs.asStr(), rhs, loc));
  if (op == BinaryOperator::MatMul)
    unsupported();

  if (lhs.isNumber() && rhs.isNumber()) {
    if (isIntLike(lhs) && isIntLike(rhs)) {
      int64_t a = intOf(lhs), b = intOf(rhs), r = 0;
      switch (op) {
      case BinaryOperator::Add:
        if (__builtin_add_overflow(a, b, &r))
          overflow(loc);
        return Value::integer(r);
      case BinaryOperator::Sub:
        if (__builtin_sub_overflow(a, b, &r))
          overflow(loc);
        return Value::integer(r);
      case BinaryOperator::Mul:
        if (__builtin_mul_overflow(a, b, &r))
          overflow(loc);
        return Value::integer(r);
      case BinaryOperator::Div:
        if (b == 0)
          fail(loc, "division by zero");
        return Value::real(static_cast<double>(a) / static_cast<double>(b));
      case BinaryOperator::FloorDiv:
      case BinaryOperator::Mod: {
        if (b == 0)
          fail(loc, "integer division or modulo by zero");
        if (a == INT64_MIN && b == -1) {
          if (op == BinaryOperator::Mod)
            return Value::integer(0);
          overflow(loc);
        }
        int64_t quotient = a / b, remainder = a % b;
        // Python rounds toward negative infinity: the remainder takes the
        // sign of the divisor.
        if (remainder != 0 && ((remainder < 0) != (b < 0))) {
          quotient -= 1;
          remainder += b;
        }
        return Value::integer(op == BinaryOperator::FloorDiv ? quotient
                                                             : remainder);
      }
      case BinaryOperator::Pow: {
        if (b < 0) {
          if (a == 0)
            fail(loc, "0 cannot be raised to a negative power");
          return Value::real(
              std::pow(static_cast<double>(a), static_cast<double>(b)));
        }
        int64_t result = 1, base = a;
        for (int64_t e = b; e > 0; e >>= 1) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result))
            overflow(loc);
          if (e > 1 && __builtin_mul_overflow(base, base, &base))
            overflow(loc);
        }
        return Value::integer(result);
      }
      case BinaryOperator::BitAnd:
        return lhs.isBool() && rhs.isBool() ? Value::boolean(a & b)
                                            : Value::integer(a & b);
      case BinaryOperator::BitOr:
        return lhs.isBool() && rhs.isBool() ? Value::boolean(a | b)
                                            : Value::integer(a | b);
      case BinaryOperator::BitXor:
        return lhs.isBool() && rhs.isBool() ? Value::boolean(a ^ b)
                                            : Value::integer(a ^ b);
      case BinaryOperator::LShift:
        if (b < 0)
          fail(loc, "negative shift count");
        if (a == 0)
          return Value::integer(0);
        if (b >= 63 || (a > 0 ? a > (INT64_MAX >> b) : a < (INT64_MIN >> b)))
          overflow(loc);
        return Value::integer(
            static_cast<int64_t>(static_cast<uint64_t>(a) << b));
      case BinaryOperator::RShift:
        if (b < 0)
          fail(loc, "negative shift count");
        return Value::integer(b >= 63 ? (a < 0 ? -1 : 0) : a >> b);
      default:
        return unsupported();
      }
    }
    double a = lhs.asNumber(), b = rhs.asNumber();
    switch (op) {
    case BinaryOperator::Add:
      return Value::real(a + b);
    case BinaryOperator::Sub:
      return Value::real(a - b);
    case BinaryOperator::Mul:
      return Value::real(a * b);
    case BinaryOperator::Div:
      if (b == 0)
        fail(loc, "float division by zero");
      return Value::real(a / b);
    case BinaryOperator::FloorDiv:
    case BinaryOperator::Mod: {
      if (b == 0)
        fail(loc, "float floor division or modulo by zero");
      // CPython's float_divmod.
      double mod = std::fmod(a, b);
      double div = (a - mod) / b;
      if (mod != 0) {
        if ((b < 0) != (mod < 0)) {
          mod += b;
          div -= 1.0;
        }
      } else {
        mod = std::copysign(0.0, b);
      }
      double floorDiv;
      if (div != 0) {
        floorDiv = std::floor(div);
        if (div - floorDiv > 0.5)
          floorDiv += 1.0;
      } else {
        floorDiv = std::copysign(0.0, a / b);
      }
      return Value::real(op == BinaryOperator::FloorDiv ? floorDiv : mod);
    }
    case BinaryOperator::Pow:
      if (a == 0 && b < 0)
        fail(loc, "0.0 cannot be raised to a negative power");
      if (a < 0 && b != std::floor(b))
        fail(loc, "a negative number raised to a fractional power is complex, "
                  "which HAT configs do not support");
      return Value::real(std::pow(a, b));
    default:
      return unsupported();
    }
  }

  switch (op) {
  case BinaryOperator::Add:
    if (lhs.isStr() && rhs.isStr()) {
      checkLength(lhs.asStr().size() + rhs.asStr().size(), loc);
      return Value::string(lhs.asStr() + rhs.asStr());
    }
    if ((lhs.isList() && rhs.isList()) || (lhs.isTuple() && rhs.isTuple())) {
      std::vector<Value> items = lhs.sequenceItems();
      const auto &extra = rhs.sequenceItems();
      checkLength(items.size() + extra.size(), loc);
      items.insert(items.end(), extra.begin(), extra.end());
      return lhs.isList() ? Value::list(std::move(items))
                          : Value::tuple(std::move(items));
    }
    break;
  case BinaryOperator::Mul:
    if ((lhs.isStr() || lhs.isList() || lhs.isTuple()) && isIntLike(rhs))
      return repeat(lhs, intOf(rhs));
    if (isIntLike(lhs) && (rhs.isStr() || rhs.isList() || rhs.isTuple()))
      return repeat(rhs, intOf(lhs));
    break;
  case BinaryOperator::BitOr:
    if (lhs.isDict() && rhs.isDict()) {
      Value result = lhs.shallowCopy();
      for (const auto &[key, item] : rhs.asDict().entries)
        result.asDict().set(key, item);
      return result;
    }
    break;
  default:
    break;
  }
  return unsupported();
}

int Interpreter::order(const Value &lhs, const Value &rhs, const SourceLoc &loc,
                       const char *op, unsigned depth) {
  // Python raises RecursionError here; without the bound, `a < b` for two
  // lists that contain themselves would recurse until the stack overflows.
  if (depth > kMaxValueDepth)
    fail(loc, std::string("'") + op + "': containers nested more than " +
                  std::to_string(kMaxValueDepth) +
                  " levels deep in comparison (a container that contains "
                  "itself?)");
  if (lhs.isNumber() && rhs.isNumber()) {
    if (isIntLike(lhs) && isIntLike(rhs)) {
      int64_t a = intOf(lhs), b = intOf(rhs);
      return a < b ? -1 : a > b ? 1 : 0;
    }
    double a = lhs.asNumber(), b = rhs.asNumber();
    return a < b ? -1 : a > b ? 1 : 0; // NaN compares as equal-unordered
  }
  if (lhs.isStr() && rhs.isStr())
    return lhs.asStr().compare(rhs.asStr()) < 0   ? -1
           : lhs.asStr().compare(rhs.asStr()) > 0 ? 1
                                                  : 0;
  if ((lhs.isList() && rhs.isList()) || (lhs.isTuple() && rhs.isTuple())) {
    const auto &a = lhs.sequenceItems();
    const auto &b = rhs.sequenceItems();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      tick(loc);
      if (!valuesEqual(a[i], b[i]))
        return order(a[i], b[i], loc, op, depth + 1);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }
  fail(loc, std::string("'") + op + "' not supported between instances of '" +
                lhs.typeName() + "' and '" + rhs.typeName() + "'");
}

bool Interpreter::compare(CompareOperator op, const Value &lhs,
                          const Value &rhs, const SourceLoc &loc) {
  switch (op) {
  case CompareOperator::Eq:
    return valuesEqual(lhs, rhs);
  case CompareOperator::Ne:
    return !valuesEqual(lhs, rhs);
  case CompareOperator::Is:
  case CompareOperator::IsNot: {
    bool same = lhs.kind() == rhs.kind() && lhs.sameObject(rhs);
    return op == CompareOperator::Is ? same : !same;
  }
  case CompareOperator::In:
  case CompareOperator::NotIn: {
    bool found = false;
    if (rhs.isStr()) {
      if (!lhs.isStr())
        fail(loc, "'in <string>' requires string as left operand, not " +
                      lhs.typeName());
      found = rhs.asStr().find(lhs.asStr()) != std::string::npos;
    } else if (rhs.isDict()) {
      found = rhs.asDict().find(lhs) != nullptr;
    } else if (rhs.isList() || rhs.isTuple()) {
      for (const Value &item : rhs.sequenceItems())
        if (valuesEqual(item, lhs)) {
          found = true;
          break;
        }
    } else if (rhs.isSymbol() && rhs.symbolName() == "os.environ") {
      found = lhs.isStr() && std::getenv(lhs.asStr().c_str()) != nullptr;
    } else {
      for (const Value &item : iterate(rhs, loc))
        if (valuesEqual(item, lhs)) {
          found = true;
          break;
        }
    }
    return op == CompareOperator::In ? found : !found;
  }
  case CompareOperator::Lt:
    return order(lhs, rhs, loc, "<") < 0;
  case CompareOperator::Le:
    return order(lhs, rhs, loc, "<=") <= 0;
  case CompareOperator::Gt:
    return order(lhs, rhs, loc, ">") > 0;
  case CompareOperator::Ge:
    return order(lhs, rhs, loc, ">=") >= 0;
  }
  return false;
}

//===----------------------------------------------------------------------===//
// str.format
//===----------------------------------------------------------------------===//

static std::string strFormat(const std::string &format,
                             const std::vector<Value> &args,
                             const Kwargs &kwargs, const SourceLoc &loc) {
  std::string out;
  size_t automatic = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      fail(loc, "single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string::npos)
      fail(loc, "single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    char conversion = 0;
    size_t colon = field.find(':');
    if (colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    size_t bang = field.find('!');
    if (bang != std::string::npos) {
      if (bang + 2 != field.size())
        fail(loc, "invalid conversion in format string");
      conversion = field[bang + 1];
      field.resize(bang);
    }
    Value value;
    if (field.empty()) {
      if (automatic >= args.size())
        fail(loc, "format string needs more positional arguments than given");
      value = args[automatic++];
    } else if (std::all_of(field.begin(), field.end(), [](char d) {
                 return std::isdigit(static_cast<unsigned char>(d));
               })) {
      size_t index = std::strtoull(field.c_str(), nullptr, 10);
      if (field.size() > 6 || index >= args.size())
        fail(loc, "format string refers to positional argument " + field +
                      " but only " + std::to_string(args.size()) +
                      " were given");
      value = args[index];
    } else {
      bool found = false;
      for (const auto &[name, item] : kwargs)
        if (name == field) {
          value = item;
          found = true;
        }
      if (!found)
        fail(loc, "KeyError: format string refers to '" + field +
                      "' but no such keyword argument was given");
    }
    if (conversion == 'r' || conversion == 'a')
      value = Value::string(value.repr());
    else if (conversion == 's')
      value = Value::string(value.str());
    else if (conversion)
      fail(loc, "invalid conversion character in format string");
    out += formatWithSpec(value, spec, loc);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Methods
//===----------------------------------------------------------------------===//

Value Interpreter::callMethod(const Value &object, const std::string &name,
                              std::vector<Value> args, Kwargs kwargs,
                              const SourceLoc &loc) {
  std::string qualified = object.typeName() + "." + name;
  Arguments a{qualified, args, kwargs, loc};

  if (object.isHost()) {
    if (!object.asHost())
      fail(loc, "null host object has no method '" + name + "'");
    Expected<Value> result = object.asHost()->callMethod(name, args, kwargs);
    if (!result)
      fail(loc, result.error().message);
    return std::move(*result);
  }

  if ((object.isDict() || object.isList()) &&
      (name == "update" || name == "setdefault" || name == "append" ||
       name == "extend" || name == "insert"))
    noteMutation(object);
  if (object.isDict()) {
    DictData &dict = object.asDict();
    auto checkHashable = [&](const Value &key) {
      if (key.isList() || key.isDict())
        fail(loc, "unhashable type: '" + key.typeName() + "'");
    };
    if (name == "get") {
      a.expect(1, 2);
      const Value *found = dict.find(args[0]);
      return found ? *found : args.size() > 1 ? args[1] : Value();
    }
    if (name == "pop") {
      a.expect(1, 2);
      const Value *found = dict.find(args[0]);
      if (!found) {
        if (args.size() > 1)
          return args[1];
        std::vector<std::string> keys;
        for (const auto &entry : dict.entries)
          if (entry.first.isStr())
            keys.push_back(entry.first.asStr());
        fail(loc, "KeyError: " + args[0].repr() + " is not in the dict" +
                      (args[0].isStr()
                           ? didYouMean(closestNames(args[0].asStr(), keys))
                           : std::string()));
      }
      Value result = *found;
      dict.erase(args[0]);
      return result;
    }
    if (name == "update") {
      a.expect(0, 1, {"**"});
      if (!args.empty()) {
        if (args[0].isDict()) {
          // Copy first: d.update(d) must not iterate a changing dict.
          auto entries = args[0].asDict().entries;
          for (auto &[key, item] : entries)
            dict.set(key, item);
        } else {
          for (const Value &pair : iterate(args[0], loc)) {
            std::vector<Value> kv = iterate(pair, loc);
            if (kv.size() != 2)
              fail(loc, "dict.update() sequence elements must have length 2");
            checkHashable(kv[0]);
            dict.set(kv[0], kv[1]);
          }
        }
      }
      for (auto &[key, item] : kwargs)
        dict.set(key, item);
      return Value();
    }
    if (name == "copy") {
      a.expect(0, 0);
      return object.shallowCopy();
    }
    if (name == "items" || name == "keys" || name == "values") {
      a.expect(0, 0);
      std::vector<Value> items;
      for (const auto &[key, item] : dict.entries)
        items.push_back(name == "items"  ? Value::tuple({key, item})
                        : name == "keys" ? key
                                         : item);
      return Value::list(std::move(items));
    }
    if (name == "setdefault") {
      a.expect(1, 2);
      checkHashable(args[0]);
      if (const Value *found = dict.find(args[0]))
        return *found;
      Value value = args.size() > 1 ? args[1] : Value();
      dict.set(args[0], value);
      return value;
    }
    if (name == "clear") {
      a.expect(0, 0);
      dict.entries.clear();
      return Value();
    }
  } else if (object.isList()) {
    auto &items = object.asList().items;
    if (name == "append") {
      a.expect(1, 1);
      checkLength(items.size() + 1, loc);
      items.push_back(args[0]);
      return Value();
    }
    if (name == "extend") {
      a.expect(1, 1);
      std::vector<Value> extra = iterate(args[0], loc);
      checkLength(items.size() + extra.size(), loc);
      items.insert(items.end(), extra.begin(), extra.end());
      return Value();
    }
    if (name == "insert") {
      a.expect(2, 2);
      int64_t index = a.integer(0);
      int64_t size = static_cast<int64_t>(items.size());
      if (index < 0)
        index = std::max<int64_t>(0, index + size);
      index = std::min(index, size);
      items.insert(items.begin() + index, args[1]);
      return Value();
    }
    if (name == "pop") {
      a.expect(0, 1);
      if (items.empty())
        fail(loc, "pop from empty list");
      int64_t index = args.empty() ? -1 : a.integer(0);
      if (index < 0)
        index += static_cast<int64_t>(items.size());
      if (index < 0 || index >= static_cast<int64_t>(items.size()))
        fail(loc, "pop index out of range");
      Value result = items[static_cast<size_t>(index)];
      items.erase(items.begin() + index);
      return result;
    }
    if (name == "remove") {
      a.expect(1, 1);
      for (auto it = items.begin(); it != items.end(); ++it)
        if (valuesEqual(*it, args[0])) {
          items.erase(it);
          return Value();
        }
      fail(loc, "list.remove(x): " + args[0].repr() + " not in list");
    }
    if (name == "copy") {
      a.expect(0, 0);
      return object.shallowCopy();
    }
    if (name == "clear") {
      a.expect(0, 0);
      items.clear();
      return Value();
    }
    if (name == "reverse") {
      a.expect(0, 0);
      std::reverse(items.begin(), items.end());
      return Value();
    }
    if (name == "sort") {
      a.expect(0, 0, {"key", "reverse"});
      Value sorted = callBuiltin("sorted", {object}, kwargs, loc);
      items = sorted.asList().items;
      return Value();
    }
  } else if (object.isStr()) {
    const std::string &text = object.asStr();
    if (name == "format")
      return Value::string(strFormat(text, args, kwargs, loc));
    if (name == "join") {
      a.expect(1, 1);
      std::string out;
      bool first = true;
      for (const Value &item : iterate(args[0], loc)) {
        if (!item.isStr())
          fail(loc, "str.join() expects str items, found " + item.typeName());
        if (!first)
          out += text;
        first = false;
        out += item.asStr();
        checkLength(out.size(), loc);
      }
      return Value::string(std::move(out));
    }
    if (name == "split" || name == "rsplit") {
      a.expect(0, 2, {"sep", "maxsplit"});
      Value separator = args.size() > 0 ? args[0] : Value();
      if (const Value *k = a.keyword("sep"))
        separator = *k;
      int64_t maxSplit = args.size() > 1 ? a.integer(1) : -1;
      if (const Value *k = a.keyword("maxsplit"))
        maxSplit = isIntLike(*k) ? intOf(*k) : -1;
      std::vector<Value> parts;
      if (separator.isNone()) {
        size_t i = 0;
        while (i < text.size()) {
          while (i < text.size() &&
                 std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
          if (i >= text.size())
            break;
          size_t j = i;
          if (maxSplit >= 0 && static_cast<int64_t>(parts.size()) >= maxSplit) {
            size_t end = text.find_last_not_of(" \t\n\r\f\v");
            parts.push_back(Value::string(text.substr(i, end + 1 - i)));
            break;
          }
          while (j < text.size() &&
                 !std::isspace(static_cast<unsigned char>(text[j])))
            ++j;
          parts.push_back(Value::string(text.substr(i, j - i)));
          i = j;
        }
        return Value::list(std::move(parts));
      }
      if (!separator.isStr())
        fail(loc, "must be str or None, not " + separator.typeName());
      const std::string &sep = separator.asStr();
      if (sep.empty())
        fail(loc, "empty separator");
      if (name == "rsplit" && maxSplit >= 0) {
        std::vector<std::string> reversed;
        size_t end = text.size();
        while (static_cast<int64_t>(reversed.size()) < maxSplit) {
          size_t found = end >= sep.size() ? text.rfind(sep, end - sep.size())
                                           : std::string::npos;
          if (found == std::string::npos)
            break;
          reversed.push_back(
              text.substr(found + sep.size(), end - found - sep.size()));
          end = found;
        }
        parts.push_back(Value::string(text.substr(0, end)));
        for (auto it = reversed.rbegin(); it != reversed.rend(); ++it)
          parts.push_back(Value::string(*it));
        return Value::list(std::move(parts));
      }
      size_t start = 0;
      while (true) {
        size_t found = text.find(sep, start);
        if (found == std::string::npos ||
            (maxSplit >= 0 && static_cast<int64_t>(parts.size()) >= maxSplit))
          break;
        parts.push_back(Value::string(text.substr(start, found - start)));
        start = found + sep.size();
      }
      parts.push_back(Value::string(text.substr(start)));
      return Value::list(std::move(parts));
    }
    if (name == "replace") {
      a.expect(2, 3);
      const std::string &from = a.string(0);
      const std::string &to = a.string(1);
      int64_t count = args.size() > 2 ? a.integer(2) : -1;
      std::string out;
      size_t start = 0;
      if (from.empty()) {
        // Python inserts `to` between every character.
        for (size_t i = 0; i <= text.size(); ++i) {
          if (count < 0 || static_cast<int64_t>(i) < count)
            out += to;
          if (i < text.size())
            out += text[i];
          checkLength(out.size(), loc);
        }
        return Value::string(std::move(out));
      }
      for (int64_t done = 0; count < 0 || done < count; ++done) {
        size_t found = text.find(from, start);
        if (found == std::string::npos)
          break;
        out += text.substr(start, found - start) + to;
        checkLength(out.size(), loc);
        start = found + from.size();
      }
      out += text.substr(start);
      return Value::string(std::move(out));
    }
    if (name == "startswith" || name == "endswith") {
      a.expect(1, 1);
      std::vector<Value> candidates = args[0].isTuple()
                                          ? args[0].asTuple().items
                                          : std::vector<Value>{args[0]};
      for (const Value &candidate : candidates) {
        if (!candidate.isStr())
          fail(loc, qualified + " first arg must be str or a tuple of str");
        const std::string &affix = candidate.asStr();
        if (affix.size() > text.size())
          continue;
        if (name == "startswith" ? text.compare(0, affix.size(), affix) == 0
                                 : text.compare(text.size() - affix.size(),
                                                affix.size(), affix) == 0)
          return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (name == "upper" || name == "lower") {
      a.expect(0, 0);
      std::string out = text;
      for (char &c : out)
        c = static_cast<char>(
            name == "upper" ? std::toupper(static_cast<unsigned char>(c))
                            : std::tolower(static_cast<unsigned char>(c)));
      return Value::string(std::move(out));
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      a.expect(0, 1);
      std::string chars = args.empty() || args[0].isNone()
                              ? std::string(" \t\n\r\f\v")
                              : a.string(0);
      return Value::string(
          stripChars(text, chars, name != "rstrip", name != "lstrip"));
    }
    if (name == "find") {
      a.expect(1, 1);
      size_t found = text.find(a.string(0));
      return Value::integer(
          found == std::string::npos ? -1 : static_cast<int64_t>(found));
    }
    if (name == "count") {
      a.expect(1, 1);
      const std::string &needle = a.string(0);
      if (needle.empty())
        return Value::integer(static_cast<int64_t>(text.size()) + 1);
      int64_t count = 0;
      for (size_t at = text.find(needle); at != std::string::npos;
           at = text.find(needle, at + needle.size()))
        ++count;
      return Value::integer(count);
    }
  }
  if ((object.isList() || object.isTuple()) &&
      (name == "index" || name == "count")) {
    a.expect(1, 1);
    const auto &items = object.sequenceItems();
    int64_t count = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (valuesEqual(items[i], args[0])) {
        if (name == "index")
          return Value::integer(static_cast<int64_t>(i));
        ++count;
      }
    }
    if (name == "index")
      fail(loc, args[0].repr() + " is not in " + object.typeName());
    return Value::integer(count);
  }
  if (object.isCall())
    fail(loc, "'" + object.asCall().callee +
                  "(...)' is built later by the "
                  "engine; its methods cannot be called in a config");
  fail(loc, "'" + object.typeName() + "' object has no method '" + name +
                "' in HAT configs");
}

//===----------------------------------------------------------------------===//
// Builtin functions
//===----------------------------------------------------------------------===//

Value Interpreter::callBuiltin(const std::string &name, std::vector<Value> args,
                               Kwargs kwargs, const SourceLoc &loc) {
  Arguments a{name, args, kwargs, loc};

  // os and copy
  if (name == "os.path.join") {
    a.expect(1, SIZE_MAX);
    return Value::string(joinPath(args, loc));
  }
  if (name == "os.path.exists" || name == "os.path.isfile" ||
      name == "os.path.isdir") {
    a.expect(1, 1);
    struct stat info;
    if (::stat(a.string(0).c_str(), &info) != 0)
      return Value::boolean(false);
    if (name == "os.path.isfile")
      return Value::boolean(S_ISREG(info.st_mode));
    if (name == "os.path.isdir")
      return Value::boolean(S_ISDIR(info.st_mode));
    return Value::boolean(true);
  }
  if (name == "os.path.basename") {
    a.expect(1, 1);
    const std::string &path = a.string(0);
    size_t slash = path.rfind('/');
    return Value::string(slash == std::string::npos ? path
                                                    : path.substr(slash + 1));
  }
  if (name == "os.path.dirname") {
    a.expect(1, 1);
    return Value::string(dirnameOf(a.string(0)));
  }
  if (name == "os.path.splitext") {
    a.expect(1, 1);
    const std::string &path = a.string(0);
    size_t slash = path.rfind('/');
    size_t nameStart = slash == std::string::npos ? 0 : slash + 1;
    size_t dot = path.rfind('.');
    // Leading dots of the file name do not start an extension (".bashrc").
    size_t firstNonDot = path.find_first_not_of('.', nameStart);
    if (dot == std::string::npos || dot < nameStart ||
        firstNonDot == std::string::npos || dot < firstNonDot)
      return Value::tuple({Value::string(path), Value::string("")});
    return Value::tuple(
        {Value::string(path.substr(0, dot)), Value::string(path.substr(dot))});
  }
  if (name == "os.path.abspath") {
    a.expect(1, 1);
    std::string path = a.string(0);
    if (path.empty() || path[0] != '/') {
      const char *pwd = std::getenv("PWD");
      path =
          joinPath({Value::string(pwd ? pwd : "/"), Value::string(path)}, loc);
    }
    return Value::string(path);
  }
  if (name == "os.path.expanduser") {
    a.expect(1, 1);
    std::string path = a.string(0);
    const char *home = std::getenv("HOME");
    if (home && !path.empty() && path[0] == '~' &&
        (path.size() == 1 || path[1] == '/'))
      path = home + path.substr(1);
    return Value::string(path);
  }
  if (name == "os.environ.get" || name == "os.getenv") {
    a.expect(1, 2);
    const char *value = std::getenv(a.string(0).c_str());
    if (value)
      return Value::string(value);
    return args.size() > 1 ? args[1] : Value();
  }
  if (name == "copy.deepcopy") {
    a.expect(1, 1);
    return deepCopyOrThrow(args[0], loc);
  }
  if (name == "copy.copy") {
    a.expect(1, 1);
    return args[0].shallowCopy();
  }

  // Python builtins
  if (name == "print") {
    a.expect(0, SIZE_MAX, {"sep", "end"});
    std::string sep = " ", end = "\n";
    if (const Value *k = a.keyword("sep"))
      sep = k->str();
    if (const Value *k = a.keyword("end"))
      end = k->str();
    std::string out;
    for (size_t i = 0; i < args.size(); ++i)
      out += (i ? sep : "") + args[i].str();
    options_.print(out + end);
    return Value();
  }
  if (name == "len") {
    a.expect(1, 1);
    const Value &v = args[0];
    if (v.isStr())
      return Value::integer(static_cast<int64_t>(v.asStr().size()));
    if (v.isList() || v.isTuple())
      return Value::integer(static_cast<int64_t>(v.sequenceItems().size()));
    if (v.isDict())
      return Value::integer(static_cast<int64_t>(v.asDict().size()));
    fail(loc, "object of type '" + v.typeName() + "' has no len()");
  }
  if (name == "range") {
    a.expect(1, 3);
    int64_t start = 0, stop, step = 1;
    if (args.size() == 1) {
      stop = a.integer(0);
    } else {
      start = a.integer(0);
      stop = a.integer(1);
      if (args.size() == 3)
        step = a.integer(2);
    }
    if (step == 0)
      fail(loc, "range() arg 3 must not be zero");
    long double count =
        step > 0 ? (static_cast<long double>(stop) - start + step - 1) / step
                 : (static_cast<long double>(start) - stop - step - 1) / -step;
    if (count > static_cast<long double>(options_.maxSequenceLength))
      checkLength(options_.maxSequenceLength + 1, loc);
    std::vector<Value> items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
      items.push_back(Value::integer(i));
      if (__builtin_add_overflow(i, step, &i))
        break;
    }
    return Value::list(std::move(items));
  }
  if (name == "enumerate") {
    a.expect(1, 2, {"start"});
    int64_t start = args.size() > 1 ? a.integer(1) : 0;
    if (const Value *k = a.keyword("start"))
      start = isIntLike(*k) ? intOf(*k) : 0;
    std::vector<Value> items;
    for (const Value &item : iterate(args[0], loc))
      items.push_back(Value::tuple({Value::integer(start++), item}));
    return Value::list(std::move(items));
  }
  if (name == "zip") {
    a.expect(0, SIZE_MAX);
    std::vector<std::vector<Value>> sources;
    size_t length = SIZE_MAX;
    for (const Value &arg : args) {
      sources.push_back(iterate(arg, loc));
      length = std::min(length, sources.back().size());
    }
    std::vector<Value> items;
    for (size_t i = 0; !sources.empty() && i < length; ++i) {
      std::vector<Value> tuple;
      for (const auto &source : sources)
        tuple.push_back(source[i]);
      items.push_back(Value::tuple(std::move(tuple)));
    }
    return Value::list(std::move(items));
  }
  if (name == "reversed") {
    a.expect(1, 1);
    std::vector<Value> items = iterate(args[0], loc);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sorted" || name == "min" || name == "max") {
    bool isSorted = name == "sorted";
    if (isSorted)
      a.expect(1, 1, {"key", "reverse"});
    else
      a.expect(1, SIZE_MAX, {"key", "default"});
    std::vector<Value> items = args.size() == 1 ? iterate(args[0], loc) : args;
    const Value *key = a.keyword("key");
    std::vector<Value> keys;
    for (const Value &item : items)
      keys.push_back(key && !key->isNone() ? callValue(*key, {item}, {}, loc)
                                           : item);
    std::vector<size_t> indices(items.size());
    for (size_t i = 0; i < indices.size(); ++i)
      indices[i] = i;
    if (!isSorted) {
      if (items.empty()) {
        if (const Value *fallback = a.keyword("default"))
          return *fallback;
        fail(loc, name + "() arg is an empty sequence");
      }
      size_t best = 0;
      for (size_t i = 1; i < items.size(); ++i) {
        int c = order(keys[i], keys[best], loc, "<");
        if (name == "min" ? c < 0 : c > 0)
          best = i;
      }
      return items[best];
    }
    std::stable_sort(indices.begin(), indices.end(), [&](size_t x, size_t y) {
      return order(keys[x], keys[y], loc, "<") < 0;
    });
    const Value *reverse = a.keyword("reverse");
    if (reverse && reverse->truthy())
      std::stable_sort(indices.begin(), indices.end(), [&](size_t x, size_t y) {
        return order(keys[x], keys[y], loc, "<") > 0;
      });
    std::vector<Value> sorted;
    for (size_t i : indices)
      sorted.push_back(items[i]);
    return Value::list(std::move(sorted));
  }
  if (name == "sum") {
    a.expect(1, 2, {"start"});
    Value total = args.size() > 1 ? args[1] : Value::integer(0);
    if (const Value *k = a.keyword("start"))
      total = *k;
    for (const Value &item : iterate(args[0], loc))
      total = binaryOp(BinaryOperator::Add, total, item, loc);
    return total;
  }
  if (name == "abs") {
    a.expect(1, 1);
    if (args[0].isFloat())
      return Value::real(std::fabs(args[0].asFloat()));
    if (isIntLike(args[0])) {
      int64_t v = intOf(args[0]);
      if (v == INT64_MIN)
        overflow(loc);
      return Value::integer(v < 0 ? -v : v);
    }
    fail(loc, "bad operand type for abs(): '" + args[0].typeName() + "'");
  }
  if (name == "round") {
    a.expect(1, 2, {"ndigits"});
    if (!args[0].isNumber())
      fail(loc, "type " + args[0].typeName() + " doesn't define __round__");
    Value digits = args.size() > 1 ? args[1] : Value();
    if (const Value *k = a.keyword("ndigits"))
      digits = *k;
    if (isIntLike(args[0]))
      return Value::integer(intOf(args[0]));
    double v = args[0].asFloat();
    if (digits.isNone()) {
      if (!std::isfinite(v) || std::fabs(v) >= 9.2e18)
        fail(loc, "cannot convert float " + formatFloat(v) + " to integer");
      return Value::integer(static_cast<int64_t>(std::nearbyint(v)));
    }
    if (!isIntLike(digits))
      fail(loc, "round() ndigits must be an int");
    int64_t n = intOf(digits);
    if (!std::isfinite(v) || n > 300)
      return Value::real(v);
    if (n < -300)
      return Value::real(0.0 * v);
    if (n < 0) {
      double scale = std::pow(10.0, static_cast<double>(-n));
      return Value::real(std::nearbyint(v / scale) * scale);
    }
    char buffer[512];
    std::snprintf(buffer, sizeof(buffer), "%.*f", static_cast<int>(n), v);
    return Value::real(std::strtod(buffer, nullptr));
  }
  if (name == "int") {
    a.expect(0, 1);
    if (args.empty())
      return Value::integer(0);
    const Value &v = args[0];
    if (isIntLike(v))
      return Value::integer(intOf(v));
    if (v.isFloat()) {
      double f = v.asFloat();
      if (!std::isfinite(f) || std::fabs(f) >= 9.2e18)
        fail(loc, "cannot convert float " + formatFloat(f) + " to integer");
      return Value::integer(static_cast<int64_t>(f));
    }
    if (v.isStr()) {
      std::string text = stripChars(v.asStr(), " \t\n\r\f\v", true, true);
      std::string digits;
      for (char c : text)
        if (c != '_')
          digits += c;
      errno = 0;
      char *end = nullptr;
      long long parsed = std::strtoll(digits.c_str(), &end, 10);
      if (digits.empty() || *end != '\0')
        fail(loc, "invalid literal for int() with base 10: " + v.repr());
      if (errno == ERANGE)
        fail(loc, "integer overflow: int(" + v.repr() +
                      ") does not fit in 64 bits (HAT config integers are "
                      "64-bit)");
      return Value::integer(parsed);
    }
    fail(loc, "int() argument must be a string or a number, not '" +
                  v.typeName() + "'");
  }
  if (name == "float") {
    a.expect(0, 1);
    if (args.empty())
      return Value::real(0.0);
    const Value &v = args[0];
    if (v.isNumber())
      return Value::real(v.asNumber());
    if (v.isStr()) {
      std::string text = stripChars(v.asStr(), " \t\n\r\f\v", true, true);
      std::string lower;
      for (char c : text)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "inf" || lower == "+inf" || lower == "infinity")
        return Value::real(INFINITY);
      if (lower == "-inf" || lower == "-infinity")
        return Value::real(-INFINITY);
      if (lower == "nan" || lower == "+nan" || lower == "-nan")
        return Value::real(NAN);
      char *end = nullptr;
      double parsed = std::strtod(text.c_str(), &end);
      bool hexOrSpecial = lower.find_first_of("xn") != std::string::npos;
      if (text.empty() || *end != '\0' || hexOrSpecial)
        fail(loc, "could not convert string to float: " + v.repr());
      return Value::real(parsed);
    }
    fail(loc, "float() argument must be a string or a number, not '" +
                  v.typeName() + "'");
  }
  if (name == "str") {
    a.expect(0, 1);
    return Value::string(args.empty() ? std::string() : args[0].str());
  }
  if (name == "repr") {
    a.expect(1, 1);
    return Value::string(args[0].repr());
  }
  if (name == "bool") {
    a.expect(0, 1);
    return Value::boolean(!args.empty() && args[0].truthy());
  }
  if (name == "list" || name == "tuple") {
    a.expect(0, 1);
    std::vector<Value> items =
        args.empty() ? std::vector<Value>() : iterate(args[0], loc);
    return name == "list" ? Value::list(std::move(items))
                          : Value::tuple(std::move(items));
  }
  if (name == "dict") {
    a.expect(0, 1, {"**"});
    auto data = std::make_shared<DictData>();
    data->loc = loc;
    if (!args.empty()) {
      if (args[0].isDict()) {
        data->entries = args[0].asDict().entries;
      } else {
        for (const Value &pair : iterate(args[0], loc)) {
          std::vector<Value> kv = iterate(pair, loc);
          if (kv.size() != 2)
            fail(loc, "dictionary update sequence element has length " +
                          std::to_string(kv.size()) + "; 2 is required");
          if (kv[0].isList() || kv[0].isDict())
            fail(loc, "unhashable type: '" + kv[0].typeName() + "'");
          data->set(kv[0], kv[1]);
        }
      }
    }
    for (auto &[key, value] : kwargs)
      data->set(key, value);
    return Value::dict(data);
  }
  if (name == "isinstance") {
    a.expect(2, 2);
    std::vector<Value> types = args[1].isTuple() ? args[1].asTuple().items
                                                 : std::vector<Value>{args[1]};
    for (const Value &type : types) {
      if (!type.isBuiltin())
        fail(loc, "isinstance() supports only the builtin types dict, list, "
                  "tuple, str, int, float and bool in HAT configs");
      const std::string &t = type.builtinName();
      std::string actual = args[0].typeName();
      if (t == actual || (t == "int" && args[0].isBool()))
        return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (name == "any" || name == "all") {
    a.expect(1, 1);
    for (const Value &item : iterate(args[0], loc))
      if (item.truthy() == (name == "any"))
        return Value::boolean(name == "any");
    return Value::boolean(name == "all");
  }
  fail(loc, "'" + name + "' cannot be called in a HAT config");
}

} // namespace hat::config
