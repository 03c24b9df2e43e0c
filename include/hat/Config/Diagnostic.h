//===- Diagnostic.h - Located errors of the HAT config language -*- C++ -*-===//
//
// Every error the config language reports is a Diagnostic value: a file, a
// 1-based line and column, a message and the offending source line, rendered
// like clang (`file:line:col: error: message`, the line, a caret).
//
//===----------------------------------------------------------------------===//
#ifndef HAT_CONFIG_DIAGNOSTIC_H
#define HAT_CONFIG_DIAGNOSTIC_H

#include <cassert>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hat::config {

/// The text of one config file (or of one `--set` override), kept alive by
/// every AST node, function and dict that points into it so that diagnostics
/// raised long after parsing can still quote the source line.
class SourceFile {
public:
  SourceFile(std::string name, std::string text);
  const std::string &name() const { return name_; }
  const std::string &text() const { return text_; }
  /// The text of 1-based line `line` without its newline; empty if absent.
  std::string line(unsigned line) const;

private:
  std::string name_;
  std::string text_;
  std::vector<size_t> lineStarts_;
};

/// A position in a SourceFile. A null file means "no location".
struct SourceLoc {
  std::shared_ptr<const SourceFile> file;
  unsigned line = 0;
  unsigned column = 0;
  bool valid() const { return file != nullptr && line != 0; }
};

struct Diagnostic {
  std::string file; ///< Empty when the error has no source location.
  unsigned line = 0;
  unsigned column = 0;
  std::string message;
  std::string sourceLine; ///< The offending line, for the caret display.
  std::vector<std::string> notes;

  Diagnostic() = default;
  explicit Diagnostic(std::string message) : message(std::move(message)) {}
  Diagnostic(const SourceLoc &loc, std::string message);

  bool hasLocation() const { return !file.empty() && line != 0; }
  /// `file:line:col: error: message`, then the source line and a caret, then
  /// one `note:` line per note.
  std::string str() const;
};

/// `text` for a terminal: control bytes and invalid UTF-8 as `\xNN`, cut
/// after `maxBytes` bytes with a note of how much was left out.
std::string printableText(const std::string &text, size_t maxBytes = 2000);

/// Either a value or the Diagnostic explaining why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
  Expected(Diagnostic error)
      : storage_(std::in_place_index<1>, std::move(error)) {}

  explicit operator bool() const { return storage_.index() == 0; }
  bool ok() const { return storage_.index() == 0; }

  T &value() {
    assert(ok() && "value() on an error");
    return std::get<0>(storage_);
  }
  const T &value() const {
    assert(ok() && "value() on an error");
    return std::get<0>(storage_);
  }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  const Diagnostic &error() const {
    assert(!ok() && "error() on a value");
    return std::get<1>(storage_);
  }

private:
  std::variant<T, Diagnostic> storage_;
};

/// Success or a Diagnostic.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Diagnostic error)
      : error_(std::make_shared<Diagnostic>(std::move(error))) {}
  static Status success() { return Status(); }

  explicit operator bool() const { return error_ == nullptr; }
  bool ok() const { return error_ == nullptr; }
  const Diagnostic &error() const {
    assert(!ok() && "error() on success");
    return *error_;
  }

private:
  std::shared_ptr<Diagnostic> error_;
};

/// Up to `limit` of `candidates` closest to `name` by edit distance, best
/// first, leaving out those too far away to be a plausible typo.
std::vector<std::string>
closestNames(const std::string &name,
             const std::vector<std::string> &candidates, size_t limit = 3);

/// "; did you mean 'a', 'b' or 'c'?" or an empty string.
std::string didYouMean(const std::vector<std::string> &suggestions);

} // namespace hat::config

#endif // HAT_CONFIG_DIAGNOSTIC_H
