//===- Lexer.cpp - Tokens of the HAT config language ----------------------===//

#include "Lexer.h"
#include "Internal.h"

#include <cctype>
#include <cstdlib>
#include <cstring>

namespace hat::config {

static bool isIdentifierStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
static bool isIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

static std::string describeChar(char c) {
  unsigned char byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f)
    return std::string("'") + c + "'";
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "byte 0x%02x", byte);
  return buffer;
}

Lexer::Lexer(std::shared_ptr<const SourceFile> file)
    : file_(std::move(file)), text_(file_->text()), pos_(0), end_(text_.size()),
      line_(1), column_(1), expressionMode_(false), atLineStart_(true) {}

Lexer::Lexer(std::shared_ptr<const SourceFile> file, size_t begin, size_t end,
             unsigned line, unsigned column)
    : file_(std::move(file)), text_(file_->text()), pos_(begin), end_(end),
      line_(line), column_(column), expressionMode_(true), atLineStart_(false) {
}

void Lexer::error(unsigned line, unsigned column, std::string message) {
  fail(SourceLoc{file_, line, column}, std::move(message));
}

char Lexer::peek(size_t ahead) const {
  return pos_ + ahead < end_ ? text_[pos_ + ahead] : '\0';
}

void Lexer::advance() {
  if (pos_ >= end_)
    return;
  if (text_[pos_] == '\n') {
    ++line_;
    column_ = 1;
  } else {
    ++column_;
  }
  ++pos_;
}

Token Lexer::make(TokenKind kind, std::string text, unsigned line,
                  unsigned column) {
  Token token;
  token.kind = kind;
  token.text = std::move(text);
  token.line = line;
  token.column = column;
  return token;
}

bool Lexer::lexIndentation(Token &token) {
  unsigned width = 0;
  while (pos_ < end_ && (peek() == ' ' || peek() == '\t' || peek() == '\f')) {
    if (peek() == '\t')
      width = (width / 8 + 1) * 8;
    else if (peek() == ' ')
      ++width;
    advance();
  }
  char c = peek();
  if (pos_ >= end_ || c == '#' || c == '\n' || c == '\r' ||
      (c == '\\' && (peek(1) == '\n' || peek(1) == '\r')))
    return false; // blank line: indentation is meaningless
  atLineStart_ = false;
  if (width > indents_.back()) {
    indents_.push_back(width);
    token = make(TokenKind::Indent, "", line_, column_);
    return true;
  }
  if (width < indents_.back()) {
    int dedents = 0;
    while (width < indents_.back()) {
      indents_.pop_back();
      ++dedents;
    }
    if (width != indents_.back())
      error(line_, column_,
            "unindent does not match any outer indentation level");
    pendingDedents_ = dedents - 1;
    token = make(TokenKind::Dedent, "", line_, column_);
    return true;
  }
  return false;
}

Token Lexer::next() {
  if (pendingDedents_ > 0) {
    --pendingDedents_;
    return make(TokenKind::Dedent, "", line_, column_);
  }
  while (true) {
    if (!expressionMode_ && atLineStart_ && brackets_.empty()) {
      Token token;
      if (lexIndentation(token))
        return token;
    }
    while (pos_ < end_) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\f') {
        advance();
      } else if (c == '\\') {
        unsigned line = line_, column = column_;
        advance();
        if (peek() == '\r')
          advance();
        if (peek() != '\n')
          error(line, column,
                "unexpected character after line continuation "
                "character '\\'");
        advance();
      } else {
        break;
      }
    }
    if (pos_ >= end_) {
      if (!brackets_.empty()) {
        const OpenBracket &open = brackets_.back();
        error(open.line, open.column,
              std::string("'") + open.bracket + "' was never closed");
      }
      if (!expressionMode_ && lineHasTokens_) {
        lineHasTokens_ = false;
        return make(TokenKind::Newline, "", line_, column_);
      }
      if (indents_.size() > 1) {
        indents_.pop_back();
        return make(TokenKind::Dedent, "", line_, column_);
      }
      return make(TokenKind::End, "", line_, column_);
    }
    char c = peek();
    if (c == '#') {
      while (pos_ < end_ && peek() != '\n' && peek() != '\r')
        advance();
      continue;
    }
    if (c == '\n' || c == '\r') {
      unsigned line = line_, column = column_;
      if (c == '\r') {
        // A lone '\r' ends a line too; '\r\n' is one newline.
        ++pos_;
        if (peek() == '\n') {
          advance();
        } else {
          ++line_;
          column_ = 1;
        }
      } else {
        advance();
      }
      if (brackets_.empty() && !expressionMode_) {
        atLineStart_ = true;
        if (lineHasTokens_) {
          lineHasTokens_ = false;
          return make(TokenKind::Newline, "", line, column);
        }
      }
      continue;
    }
    if (c == '\0')
      error(line_, column_, "source contains a null byte");
    lineHasTokens_ = true;
    unsigned line = line_, column = column_;

    if (isIdentifierStart(c)) {
      size_t start = pos_;
      while (pos_ < end_ && isIdentifierChar(peek()))
        advance();
      std::string word = text_.substr(start, pos_ - start);
      if ((peek() == '"' || peek() == '\'') && word.size() <= 2) {
        std::string lower;
        for (char w : word)
          lower +=
              static_cast<char>(std::tolower(static_cast<unsigned char>(w)));
        static const char *prefixes[] = {"r",  "u",  "f",  "b",
                                         "rf", "fr", "br", "rb"};
        for (const char *prefix : prefixes)
          if (lower == prefix) {
            pos_ = start;
            column_ = column;
            return lexString(word.size(), line, column);
          }
      }
      return make(TokenKind::Name, std::move(word), line, column);
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1)))))
      return lexNumber();
    if (c == '"' || c == '\'')
      return lexString(0, line, column);

    static const char *operators[] = {
        "**=", "//=", ">>=", "<<=", "...", "**", "//", "==", "!=", "<=",
        ">=",  "->",  "+=",  "-=",  "*=",  "/=", "%=", "&=", "|=", "^=",
        "<<",  ">>",  ":=",  "@=",  "+",   "-",  "*",  "/",  "%",  "@",
        "&",   "|",   "^",   "~",   "<",   ">",  "(",  ")",  "[",  "]",
        "{",   "}",   ",",   ":",   ".",   ";",  "="};
    for (const char *op : operators) {
      size_t length = std::strlen(op);
      if (text_.compare(pos_, length, op) == 0 && pos_ + length <= end_) {
        for (size_t i = 0; i < length; ++i)
          advance();
        if (length == 1 && std::strchr("([{", op[0])) {
          if (brackets_.size() >= kMaxNestingDepth)
            error(line, column, "too many nested parentheses");
          brackets_.push_back({op[0], line, column});
        } else if (length == 1 && std::strchr(")]}", op[0])) {
          if (brackets_.empty())
            error(line, column, std::string("unmatched '") + op + "'");
          char open = brackets_.back().bracket;
          char expected = open == '(' ? ')' : open == '[' ? ']' : '}';
          if (op[0] != expected)
            error(line, column,
                  std::string("closing '") + op + "' does not match opening '" +
                      open + "' at line " +
                      std::to_string(brackets_.back().line) + ", column " +
                      std::to_string(brackets_.back().column));
          brackets_.pop_back();
        }
        return make(TokenKind::Op, op, line, column);
      }
    }
    if (c == '!')
      error(line, column, "unexpected '!' (did you mean 'not' or '!='?)");
    if (c == '$' || c == '?' || c == '`')
      error(line, column, "unexpected character " + describeChar(c));
    error(line, column,
          "unexpected character " + describeChar(c) +
              (static_cast<unsigned char>(c) >= 0x80
                   ? " (non-ASCII characters are only allowed in strings and "
                     "comments)"
                   : ""));
  }
}

Token Lexer::lexNumber() {
  unsigned line = line_, column = column_;
  size_t start = pos_;
  auto digitsOf = [&](auto isDigit) {
    while (pos_ < end_ && (isDigit(peek()) || peek() == '_'))
      advance();
  };
  auto isDecimal = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  };
  bool isFloat = false;
  int base = 10;
  if (peek() == '0' && std::strchr("xXoObB", peek(1)) && peek(1) != '\0') {
    char kind =
        static_cast<char>(std::tolower(static_cast<unsigned char>(peek(1))));
    base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
    advance();
    advance();
    digitsOf([&](char c) {
      if (base == 16)
        return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      return c >= '0' && c < static_cast<char>('0' + base);
    });
  } else {
    digitsOf(isDecimal);
    if (peek() == '.' && !(peek(1) == '.' && peek(2) == '.')) {
      isFloat = true;
      advance();
      digitsOf(isDecimal);
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (isDecimal(peek(1)) ||
         ((peek(1) == '+' || peek(1) == '-') && isDecimal(peek(2))))) {
      isFloat = true;
      advance();
      if (peek() == '+' || peek() == '-')
        advance();
      digitsOf(isDecimal);
    }
  }
  if (peek() == 'j' || peek() == 'J')
    error(line, column, "complex numbers are not supported in HAT configs");
  if (isIdentifierChar(peek()) || peek() == '.')
    if (!(peek() == '.' && !isFloat))
      error(line, column, "invalid number literal");
  std::string literal;
  for (size_t i = start; i < pos_; ++i)
    if (text_[i] != '_')
      literal += text_[i];
  Token token = make(isFloat ? TokenKind::Float : TokenKind::Int,
                     text_.substr(start, pos_ - start), line, column);
  if (isFloat) {
    token.floatValue = std::strtod(literal.c_str(), nullptr);
    return token;
  }
  std::string digits = base == 10 ? literal : literal.substr(2);
  if (digits.empty())
    error(line, column, "invalid number literal '" + token.text + "'");
  if (base == 10 && digits.size() > 1 && digits[0] == '0' &&
      digits.find_first_not_of('0') != std::string::npos)
    error(line, column,
          "leading zeros in decimal integer literals are not "
          "permitted; use an 0o prefix for octal integers");
  uint64_t value = 0;
  for (char d : digits) {
    unsigned digit =
        std::isdigit(static_cast<unsigned char>(d))
            ? d - '0'
            : std::tolower(static_cast<unsigned char>(d)) - 'a' + 10;
    if (value > (static_cast<uint64_t>(INT64_MAX) - digit) / base)
      error(line, column,
            "integer literal '" + token.text +
                "' is too large (HAT config integers are 64-bit)");
    value = value * base + digit;
  }
  token.intValue = static_cast<int64_t>(value);
  return token;
}

Token Lexer::lexString(size_t prefixLength, unsigned line, unsigned column) {
  bool raw = false, formatted = false;
  for (size_t i = 0; i < prefixLength; ++i) {
    char p =
        static_cast<char>(std::tolower(static_cast<unsigned char>(peek())));
    if (p == 'r')
      raw = true;
    else if (p == 'f')
      formatted = true;
    else if (p == 'b')
      error(line, column, "bytes literals are not supported in HAT configs");
    advance();
  }
  char quote = peek();
  bool triple = peek(1) == quote && peek(2) == quote;
  for (int i = 0; i < (triple ? 3 : 1); ++i)
    advance();
  size_t contentBegin = pos_;
  unsigned contentLine = line_, contentColumn = column_;
  while (true) {
    if (pos_ >= end_)
      error(line, column,
            triple ? "unterminated triple-quoted string literal"
                   : "unterminated string literal");
    char c = peek();
    if (c == '\\') {
      advance();
      if (pos_ < end_)
        advance();
      continue;
    }
    if (!triple && (c == '\n' || c == '\r'))
      error(line, column, "unterminated string literal");
    if (c == quote && (!triple || (peek(1) == quote && peek(2) == quote)))
      break;
    advance();
  }
  size_t contentEnd = pos_;
  for (int i = 0; i < (triple ? 3 : 1); ++i)
    advance();
  Token token = make(TokenKind::String, "", line, column);
  token.isFString = formatted;
  token.isRaw = raw;
  token.contentBegin = contentBegin;
  token.contentEnd = contentEnd;
  token.contentLine = contentLine;
  token.contentColumn = contentColumn;
  std::string content = text_.substr(contentBegin, contentEnd - contentBegin);
  if (formatted || raw)
    token.text = std::move(content);
  else
    token.text = decodeEscapes(content, file_, line, column);
  return token;
}

static void appendUtf8(std::string &out, uint32_t codePoint) {
  if (codePoint < 0x80) {
    out += static_cast<char>(codePoint);
  } else if (codePoint < 0x800) {
    out += static_cast<char>(0xC0 | (codePoint >> 6));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else if (codePoint < 0x10000) {
    out += static_cast<char>(0xE0 | (codePoint >> 12));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (codePoint >> 18));
    out += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  }
}

std::string decodeEscapes(const std::string &raw,
                          const std::shared_ptr<const SourceFile> &file,
                          unsigned line, unsigned column) {
  std::string out;
  SourceLoc loc{file, line, column};
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out += c;
      continue;
    }
    char e = raw[++i];
    auto hexDigits = [&](size_t count) -> uint32_t {
      uint32_t value = 0;
      for (size_t k = 1; k <= count; ++k) {
        if (i + k >= raw.size() ||
            !std::isxdigit(static_cast<unsigned char>(raw[i + k])))
          fail(loc, "truncated \\" + std::string(1, e) + " escape in string");
        char h = raw[i + k];
        value = value * 16 +
                (std::isdigit(static_cast<unsigned char>(h))
                     ? h - '0'
                     : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
      }
      i += count;
      return value;
    };
    switch (e) {
    case '\n':
      break;
    case '\r':
      if (i + 1 < raw.size() && raw[i + 1] == '\n')
        ++i;
      break;
    case '\\':
    case '\'':
    case '"':
      out += e;
      break;
    case 'a':
      out += '\a';
      break;
    case 'b':
      out += '\b';
      break;
    case 'f':
      out += '\f';
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case 't':
      out += '\t';
      break;
    case 'v':
      out += '\v';
      break;
    case 'x':
      out += static_cast<char>(hexDigits(2));
      break;
    case 'u':
    case 'U': {
      uint32_t codePoint = hexDigits(e == 'u' ? 4 : 8);
      if (codePoint > 0x10FFFF)
        fail(loc, "invalid \\U escape: code point out of range");
      appendUtf8(out, codePoint);
      break;
    }
    case 'N':
      fail(loc, "\\N{...} escapes are not supported in HAT configs");
    default:
      if (e >= '0' && e <= '7') {
        unsigned value = e - '0';
        for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' &&
                        raw[i + 1] <= '7';
             ++k)
          value = value * 8 + (raw[++i] - '0');
        if (value > 0xFF)
          appendUtf8(out, value);
        else
          out += static_cast<char>(value);
      } else {
        // Python keeps unknown escapes verbatim.
        out += '\\';
        out += e;
      }
    }
  }
  return out;
}

} // namespace hat::config
