//===- Internal.h - Shared internals of HatConfig ---------------*- C++ -*-===//
//
// Inside the library errors travel as ConfigError exceptions, so that the
// recursive parser and interpreter stay readable; every public entry point
// catches them and returns the Diagnostic as a value.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_LIB_CONFIG_INTERNAL_H
#define HAT_LIB_CONFIG_INTERNAL_H

#include "hat/Config/Config.h"
#include "hat/Config/Diagnostic.h"
#include "hat/Config/Value.h"

#include <exception>
#include <memory>
#include <string>

namespace hat::config {

struct ConfigError : std::exception {
  Diagnostic diagnostic;
  explicit ConfigError(Diagnostic diagnostic)
      : diagnostic(std::move(diagnostic)) {}
  const char *what() const noexcept override {
    return diagnostic.message.c_str();
  }
};

[[noreturn]] inline void fail(const SourceLoc &loc, std::string message) {
  throw ConfigError(Diagnostic(loc, std::move(message)));
}

/// Nesting deeper than this is an error (parser) or truncated (repr), so that
/// no input can overflow the native stack.
constexpr unsigned kMaxNestingDepth = 200;
constexpr unsigned kMaxValueDepth = 1000;
constexpr unsigned kMaxEvalDepth = 1500;
/// Longest repr() before it is cut off with "...".
constexpr size_t kMaxReprLength = 1 << 20;
/// Largest config file read: configs are a few KiB, so anything this big is
/// a wrong path (`/dev/zero`, a dataset) and is refused instead of read
/// without end.
constexpr size_t kMaxConfigFileBytes = 16 << 20;

/// Python's repr() of a float ("0.25", "2.0", "4e-05", "inf").
std::string formatFloat(double value);
/// Quoted like Python's repr() of a str.
std::string quoteString(const std::string &text);

/// Applies a format spec (`.2f`, `>8`, `,d`, ...) as `format(value, spec)`.
/// Throws ConfigError at `loc` for a spec the value does not support.
std::string formatWithSpec(const Value &value, const std::string &spec,
                           const SourceLoc &loc);
/// `format % args` (printf-style string formatting).
std::string percentFormat(const std::string &format, const Value &args,
                          const SourceLoc &loc);

/// Records a list, dict, tuple or call the config code is about to change
/// (item assignment, append, extend, insert, update, setdefault, `+=`,
/// `|=`, `--set`, a merge) or that a deep copy refers to twice, with the
/// registry of the module whose code runs on this thread (none outside
/// evaluation), so that ScopeRegistry::collectCycles can free its cycles.
/// A container cannot hold itself when it is made, so every cycle of
/// containers was closed by one of these changes and passes through a
/// container recorded here; recording only those keeps the cost off the
/// many containers a config creates and never changes. Every place that
/// adds a reference to an existing container must call this.
void noteMutation(const Value &container);

/// While alive, containers changed on this thread are recorded with
/// `registry` (a null registry keeps the enclosing one).
class TrackContainersIn {
public:
  explicit TrackContainersIn(std::shared_ptr<ScopeRegistry> registry);
  ~TrackContainersIn();
  TrackContainersIn(const TrackContainersIn &) = delete;
  TrackContainersIn &operator=(const TrackContainersIn &) = delete;

private:
  std::shared_ptr<ScopeRegistry> registry_;
  ScopeRegistry *previous_;
};

/// Deep copy throwing ConfigError when nested too deeply.
Value deepCopyOrThrow(const Value &value, const SourceLoc &loc);

} // namespace hat::config

#endif // HAT_LIB_CONFIG_INTERNAL_H
