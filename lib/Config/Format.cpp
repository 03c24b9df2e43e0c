//===- Format.cpp - format specs, str.format and printf-style `%` ---------===//

#include "Internal.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace hat::config {

namespace {

struct FormatSpec {
  char fill = ' ';
  char align = 0; // '<', '>', '^', '=' or 0 for the type's default
  char sign = '-';
  bool alternate = false;
  size_t width = 0;
  char grouping = 0; // ',' or '_'
  int precision = -1;
  char type = 0;
};

FormatSpec parseSpec(const std::string &spec, const SourceLoc &loc) {
  FormatSpec result;
  size_t i = 0;
  auto isAlign = [](char c) {
    return c == '<' || c == '>' || c == '^' || c == '=';
  };
  if (spec.size() >= 2 && isAlign(spec[1])) {
    result.fill = spec[0];
    result.align = spec[1];
    i = 2;
  } else if (!spec.empty() && isAlign(spec[0])) {
    result.align = spec[0];
    i = 1;
  }
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' '))
    result.sign = spec[i++];
  if (i < spec.size() && spec[i] == '#') {
    result.alternate = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    if (!result.align) {
      result.fill = '0';
      result.align = '=';
    }
    ++i;
  }
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) {
    result.width = result.width * 10 + (spec[i++] - '0');
    if (result.width > 10000)
      fail(loc, "format width too large");
  }
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_'))
    result.grouping = spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    if (i >= spec.size() || !std::isdigit(static_cast<unsigned char>(spec[i])))
      fail(loc, "format specifier missing precision");
    result.precision = 0;
    while (i < spec.size() &&
           std::isdigit(static_cast<unsigned char>(spec[i]))) {
      result.precision = result.precision * 10 + (spec[i++] - '0');
      if (result.precision > 1000)
        fail(loc, "format precision too large");
    }
  }
  if (i < spec.size())
    result.type = spec[i++];
  if (i < spec.size())
    fail(loc, "invalid format specifier '" + spec + "'");
  return result;
}

std::string groupDigits(const std::string &digits, char separator) {
  std::string out;
  size_t count = 0;
  for (size_t i = digits.size(); i > 0; --i) {
    if (count && count % 3 == 0)
      out.insert(out.begin(), separator);
    out.insert(out.begin(), digits[i - 1]);
    ++count;
  }
  return out;
}

/// Pads `body` (with its sign kept separate for '=' alignment).
std::string pad(const std::string &sign, const std::string &body,
                const FormatSpec &spec, char defaultAlign) {
  size_t length = sign.size() + body.size();
  if (spec.width <= length)
    return sign + body;
  size_t padding = spec.width - length;
  char align = spec.align ? spec.align : defaultAlign;
  std::string fill(padding, spec.fill);
  switch (align) {
  case '<':
    return sign + body + fill;
  case '^':
    return std::string(padding / 2, spec.fill) + sign + body +
           std::string(padding - padding / 2, spec.fill);
  case '=':
    return sign + fill + body;
  default:
    return fill + sign + body;
  }
}

std::string formatNumber(const Value &value, FormatSpec spec,
                         const SourceLoc &loc) {
  bool isInteger = value.isInt() || value.isBool();
  char type = spec.type;
  if (isInteger && (type == 0 || type == 'd' || type == 'n' || type == 'b' ||
                    type == 'o' || type == 'x' || type == 'X' || type == 'c')) {
    if (spec.precision >= 0)
      fail(loc, "precision not allowed in integer format specifier");
    int64_t v = value.isBool() ? value.asBool() : value.asInt();
    if (type == 'c') {
      if (v < 0 || v > 0x10FFFF)
        fail(loc, "%c arg not in range(0x110000)");
      return pad("", std::string(1, static_cast<char>(v)), spec, '<');
    }
    uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : v;
    std::string digits;
    int base = type == 'b'                    ? 2
               : type == 'o'                  ? 8
               : (type == 'x' || type == 'X') ? 16
                                              : 10;
    const char *alphabet =
        type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
      digits.insert(digits.begin(), alphabet[magnitude % base]);
      magnitude /= base;
    } while (magnitude);
    if (spec.grouping)
      digits = groupDigits(digits, spec.grouping);
    if (spec.alternate && base != 10)
      digits = std::string("0") +
               (base == 2   ? 'b'
                : base == 8 ? 'o'
                            : type) +
               digits;
    std::string sign = v < 0              ? "-"
                       : spec.sign == '+' ? "+"
                       : spec.sign == ' ' ? " "
                                          : "";
    return pad(sign, digits, spec, '>');
  }
  if (!(type == 0 || type == 'e' || type == 'E' || type == 'f' || type == 'F' ||
        type == 'g' || type == 'G' || type == '%' || type == 'n'))
    fail(loc, std::string("unknown format code '") + type +
                  "' for object of type '" + value.typeName() + "'");
  double v = value.asNumber();
  bool negative = std::signbit(v) && !std::isnan(v);
  double magnitude = std::fabs(v);
  std::string body;
  if (std::isnan(magnitude) || std::isinf(magnitude)) {
    body = std::isnan(magnitude) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G')
      for (char &c : body)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else if (type == 0 && spec.precision < 0) {
    body = isInteger ? std::to_string(static_cast<int64_t>(magnitude))
                     : formatFloat(magnitude);
  } else {
    int precision = spec.precision < 0 ? 6 : spec.precision;
    char printfType = type == 0     ? 'g'
                      : type == '%' ? 'f'
                      : type == 'n' ? 'g'
                                    : type;
    if (type == '%')
      magnitude *= 100;
    std::vector<char> buffer(precision + 400);
    std::string format =
        std::string("%") + (spec.alternate ? "#" : "") + ".*" + printfType;
    std::snprintf(buffer.data(), buffer.size(), format.c_str(), precision,
                  magnitude);
    body = buffer.data();
    if (type == 0 && body.find_first_of(".en") == std::string::npos)
      body += ".0"; // Python's '' type keeps a float looking like a float
    if (type == '%')
      body += '%';
  }
  if (spec.grouping) {
    size_t end = body.find_first_not_of("0123456789");
    body = groupDigits(body.substr(0, end), spec.grouping) +
           (end == std::string::npos ? "" : body.substr(end));
  }
  std::string sign = negative           ? "-"
                     : spec.sign == '+' ? "+"
                     : spec.sign == ' ' ? " "
                                        : "";
  return pad(sign, body, spec, '>');
}

} // namespace

std::string formatWithSpec(const Value &value, const std::string &specText,
                           const SourceLoc &loc) {
  if (specText.empty())
    return value.str();
  FormatSpec spec = parseSpec(specText, loc);
  if (value.isNumber() && !(value.isBool() && spec.type == 's'))
    return formatNumber(value, spec, loc);
  if (value.isStr()) {
    if (spec.type != 0 && spec.type != 's')
      fail(loc, std::string("unknown format code '") + spec.type +
                    "' for object of type 'str'");
    if (spec.sign != '-' || spec.grouping || spec.align == '=')
      fail(loc, "invalid format specifier '" + specText + "' for a string");
    std::string text = value.asStr();
    if (spec.precision >= 0 &&
        text.size() > static_cast<size_t>(spec.precision))
      text.resize(spec.precision);
    return pad("", text, spec, '<');
  }
  fail(loc, "unsupported format string '" + specText + "' passed to " +
                value.typeName() + ".__format__");
}

std::string percentFormat(const std::string &format, const Value &args,
                          const SourceLoc &loc) {
  std::vector<Value> positional;
  const DictData *mapping = nullptr;
  if (args.isTuple())
    positional = args.asTuple().items;
  else if (args.isDict()) {
    // `"%(name)s" % d` reads keys; `"%s" % d` formats the dict itself.
    mapping = &args.asDict();
    positional.push_back(args);
  } else
    positional.push_back(args);
  size_t nextArg = 0;
  bool usedMapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    size_t start = i++;
    if (i >= format.size())
      fail(loc, "incomplete format");
    Value arg;
    bool haveArg = false;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos)
        fail(loc, "incomplete format key");
      if (!mapping)
        fail(loc, "format requires a mapping");
      std::string key = format.substr(i + 1, close - i - 1);
      const Value *found = mapping->find(key);
      if (!found)
        fail(loc, "KeyError: '" + key + "' in format mapping");
      arg = *found;
      haveArg = true;
      usedMapping = true;
      i = close + 1;
    }
    FormatSpec spec;
    std::string flags;
    while (i < format.size() &&
           std::string("-+ #0").find(format[i]) != std::string::npos)
      flags += format[i++];
    while (i < format.size() &&
           std::isdigit(static_cast<unsigned char>(format[i]))) {
      spec.width = spec.width * 10 + (format[i++] - '0');
      if (spec.width > 10000)
        fail(loc, "format width too large");
    }
    if (i < format.size() && format[i] == '.') {
      ++i;
      spec.precision = 0;
      while (i < format.size() &&
             std::isdigit(static_cast<unsigned char>(format[i]))) {
        spec.precision = spec.precision * 10 + (format[i++] - '0');
        if (spec.precision > 1000)
          fail(loc, "format precision too large");
      }
    }
    while (i < format.size() &&
           (format[i] == 'h' || format[i] == 'l' || format[i] == 'L'))
      ++i;
    if (i >= format.size())
      fail(loc, "incomplete format");
    char type = format[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!haveArg) {
      if (nextArg >= positional.size())
        fail(loc, "not enough arguments for format string");
      arg = positional[nextArg++];
    }
    for (char flag : flags) {
      if (flag == '-') {
        spec.align = '<';
      } else if (flag == '+' || flag == ' ') {
        spec.sign = flag;
      } else if (flag == '#') {
        spec.alternate = true;
      } else if (flag == '0' && spec.align != '<') {
        spec.fill = '0';
        spec.align = '=';
      }
    }
    if (flags.find('-') != std::string::npos) {
      spec.fill = ' ';
      spec.align = '<';
    }
    switch (type) {
    case 's':
    case 'r':
    case 'a': {
      std::string text = type == 's' ? arg.str() : arg.repr();
      if (spec.precision >= 0 &&
          text.size() > static_cast<size_t>(spec.precision))
        text.resize(spec.precision);
      FormatSpec stringSpec = spec;
      stringSpec.fill = ' ';
      if (stringSpec.align == '=')
        stringSpec.align = '>';
      out += pad("", text, stringSpec, '>');
      break;
    }
    case 'd':
    case 'i':
    case 'u':
    case 'o':
    case 'x':
    case 'X': {
      if (!arg.isNumber())
        fail(loc, std::string("%") + type +
                      " format: a real number is required, not " +
                      arg.typeName());
      Value integer = arg;
      if (arg.isFloat()) {
        double v = arg.asFloat();
        if (!std::isfinite(v) || std::fabs(v) >= 9.2e18)
          fail(loc, "cannot convert float " + formatFloat(v) + " to integer");
        integer = Value::integer(static_cast<int64_t>(v));
      }
      spec.precision = -1;
      spec.type = (type == 'i' || type == 'u') ? 'd' : type;
      out += formatNumber(integer, spec, loc);
      break;
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      if (!arg.isNumber())
        fail(loc, std::string("%") + type +
                      " format: a real number is required, not " +
                      arg.typeName());
      spec.type = type;
      out += formatNumber(Value::real(arg.asNumber()), spec, loc);
      break;
    }
    case 'c': {
      if (arg.isStr() && arg.asStr().size() == 1) {
        out += arg.asStr();
      } else if (arg.isInt()) {
        spec.type = 'c';
        out += formatNumber(arg, spec, loc);
      } else {
        fail(loc, "%c requires an int or a single character");
      }
      break;
    }
    default: {
      char code[128];
      std::snprintf(code, sizeof(code),
                    "unsupported format character '%c' (0x%x) at index %zu",
                    std::isprint(static_cast<unsigned char>(type)) ? type : '?',
                    static_cast<unsigned>(static_cast<unsigned char>(type)), i);
      fail(loc, code);
    }
    }
    (void)start;
  }
  if (!mapping && nextArg < positional.size())
    fail(loc, "not all arguments converted during string formatting");
  (void)usedMapping;
  return out;
}

} // namespace hat::config
