//===- ParseNumber.h - Checked numbers from command-line text ---*- C++ -*-===//
//
// std::stoull accepts "12x" and throws a bare "stoull" on "x"; tools want to
// refuse both and name the option. Plain C++ so LLVM-free tools can use it.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_PARSENUMBER_H
#define HAT_SUPPORT_PARSENUMBER_H

#include <cerrno>
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

} // namespace hat

#endif // HAT_SUPPORT_PARSENUMBER_H
