//===- Lexer.h - Tokens of the HAT config language --------------*- C++ -*-===//
#ifndef HAT_LIB_CONFIG_LEXER_H
#define HAT_LIB_CONFIG_LEXER_H

#include "hat/Config/Diagnostic.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hat::config {

enum class TokenKind {
  Name,
  Int,
  Float,
  String,
  Op,
  Newline,
  Indent,
  Dedent,
  End
};

struct Token {
  TokenKind kind = TokenKind::End;
  /// Name, operator, or the decoded value of a plain string.
  std::string text;
  int64_t intValue = 0;
  double floatValue = 0;
  /// f-strings keep their raw (undecoded) content for the parser, which
  /// parses the replacement fields as expressions.
  bool isFString = false;
  bool isRaw = false;
  size_t contentBegin = 0, contentEnd = 0; ///< f-string content offsets
  unsigned contentLine = 0, contentColumn = 0;
  unsigned line = 0, column = 0;

  bool is(TokenKind k, const char *t) const { return kind == k && text == t; }
  bool isOp(const char *t) const { return is(TokenKind::Op, t); }
  bool isKeyword(const char *t) const { return is(TokenKind::Name, t); }
};

/// Produces tokens on demand, including Python's NEWLINE/INDENT/DEDENT.
/// Throws ConfigError at the first malformed token.
class Lexer {
public:
  /// Lexes `file` as a module.
  explicit Lexer(std::shared_ptr<const SourceFile> file);
  /// Lexes file text [begin, end) that starts at line:column as a single
  /// expression: newlines are insignificant, as inside parentheses.
  Lexer(std::shared_ptr<const SourceFile> file, size_t begin, size_t end,
        unsigned line, unsigned column);

  Token next();
  const std::shared_ptr<const SourceFile> &file() const { return file_; }

private:
  [[noreturn]] void error(unsigned line, unsigned column, std::string message);
  char peek(size_t ahead = 0) const;
  void advance();
  bool lexIndentation(Token &token);
  Token lexNumber();
  Token lexString(size_t prefixLength, unsigned line, unsigned column);
  Token make(TokenKind kind, std::string text, unsigned line, unsigned column);

  std::shared_ptr<const SourceFile> file_;
  const std::string &text_;
  size_t pos_;
  size_t end_;
  unsigned line_, column_;
  bool expressionMode_;
  bool atLineStart_;
  bool lineHasTokens_ = false;
  std::vector<unsigned> indents_{0};
  int pendingDedents_ = 0;
  bool emittedEnd_ = false;
  struct OpenBracket {
    char bracket;
    unsigned line, column;
  };
  std::vector<OpenBracket> brackets_;
};

/// Decodes backslash escapes of a (non-raw) string literal. Throws
/// ConfigError at `line:column` for a malformed escape.
std::string decodeEscapes(const std::string &raw,
                          const std::shared_ptr<const SourceFile> &file,
                          unsigned line, unsigned column);

} // namespace hat::config

#endif // HAT_LIB_CONFIG_LEXER_H
