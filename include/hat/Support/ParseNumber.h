//===- ParseNumber.h - Checked numbers from command-line text ---*- C++ -*-===//
//
// std::stoull accepts "12x" and throws a bare "stoull" on "x"; tools want to
// refuse both and name the option. Plain C++ so LLVM-free tools can use it.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_PARSENUMBER_H
#define HAT_SUPPORT_PARSENUMBER_H

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace hat {

/// `text` as a non-negative decimal integer, or nullopt.
inline std::optional<uint64_t> parseCount(const std::string &text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE)
    return std::nullopt;
  return (uint64_t)value;
}

/// `text` as a decimal integer in [min, max], or nullopt. A leading '-' is
/// accepted; "2x", "1e3", " 5", "+5" and out-of-range values are not.
inline std::optional<int64_t> parseInteger(const std::string &text, int64_t min,
                                           int64_t max) {
  const bool negative = !text.empty() && text[0] == '-';
  std::optional<uint64_t> magnitude =
      parseCount(negative ? text.substr(1) : text);
  if (!magnitude)
    return std::nullopt;
  if (negative) {
    if (*magnitude > uint64_t(INT64_MAX) + 1)
      return std::nullopt;
    const int64_t value = *magnitude == uint64_t(INT64_MAX) + 1
                              ? INT64_MIN
                              : -int64_t(*magnitude);
    return value < min ? std::nullopt : std::optional<int64_t>(value);
  }
  if (*magnitude > uint64_t(INT64_MAX) || int64_t(*magnitude) > max ||
      int64_t(*magnitude) < min)
    return std::nullopt;
  return int64_t(*magnitude);
}

/// `text` as a finite decimal real ("0.5", "-1", "3e-1"), or nullopt; hex,
/// "nan", "inf", surrounding spaces and trailing text are refused.
inline std::optional<double> parseFiniteReal(const std::string &text) {
  if (text.empty() ||
      text.find_first_not_of("0123456789+-.eE") != std::string::npos)
    return std::nullopt;
  errno = 0;
  char *end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE ||
      !(value - value == 0))
    return std::nullopt;
  return value;
}

/// The message tools print for a value parseInteger refused, e.g.
/// "--threads: '2x' is not an integer in 0..1024".
inline std::string badIntegerMessage(const std::string &option,
                                     const std::string &text, int64_t min,
                                     int64_t max) {
  return option + ": '" + text + "' is not an integer in " +
         std::to_string(min) + ".." + std::to_string(max);
}

/// `text` as a finite decimal real (parseFiniteReal) in [min, max], or
/// nullopt.
inline std::optional<double> parseDouble(const std::string &text, double min,
                                         double max) {
  std::optional<double> value = parseFiniteReal(text);
  if (!value || !(*value >= min) || !(*value <= max))
    return std::nullopt;
  return value;
}

} // namespace hat

#endif // HAT_SUPPORT_PARSENUMBER_H
