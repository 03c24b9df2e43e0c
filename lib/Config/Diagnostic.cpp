//===- Diagnostic.cpp - Located errors ------------------------------------===//

#include "hat/Config/Diagnostic.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

namespace hat::config {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  lineStarts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n')
      lineStarts_.push_back(i + 1);
}

std::string SourceFile::line(unsigned line) const {
  if (line == 0 || line > lineStarts_.size())
    return {};
  size_t begin = lineStarts_[line - 1];
  size_t end = text_.find('\n', begin);
  if (end == std::string::npos)
    end = text_.size();
  std::string result = text_.substr(begin, end - begin);
  if (!result.empty() && result.back() == '\r')
    result.pop_back();
  return result;
}

Diagnostic::Diagnostic(const SourceLoc &loc, std::string message)
    : message(std::move(message)) {
  if (loc.file) {
    file = loc.file->name();
    line = loc.line;
    column = loc.column;
    sourceLine = loc.file->line(loc.line);
  }
}

namespace {

/// Length of the valid UTF-8 sequence starting at `text[i]`, 0 if none
/// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8Length(const std::string &text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  size_t length = (c >= 0xC2 && c <= 0xDF)   ? 2
                  : (c >= 0xE0 && c <= 0xEF) ? 3
                  : (c >= 0xF0 && c <= 0xF4) ? 4
                                             : 0;
  if (length == 0 || i + length > text.size())
    return 0;
  unsigned char second = static_cast<unsigned char>(text[i + 1]);
  if ((c == 0xE0 && second < 0xA0) || (c == 0xED && second > 0x9F) ||
      (c == 0xF0 && second < 0x90) || (c == 0xF4 && second > 0x8F))
    return 0;
  for (size_t k = 1; k < length; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80)
      return 0;
  return length;
}

/// Appends text[begin, end) with control bytes and invalid UTF-8 written as
/// `\xNN` (tabs and newlines kept with `keepLayout`), so that a binary file
/// cannot put raw bytes on the terminal. When
/// `caretByte` lies in the range, `caretPad` receives the whitespace that
/// puts a caret under it (tabs kept so that terminals line up).
void appendPrintable(std::string &out, const std::string &text, size_t begin,
                     size_t end, bool keepLayout, size_t caretByte = SIZE_MAX,
                     std::string *caretPad = nullptr) {
  for (size_t i = begin; i < end;) {
    if (caretPad && i == caretByte)
      caretPad = nullptr;
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::string shown;
    size_t consumed = 1;
    if (c == '\t' && keepLayout) {
      shown = "\t";
    } else if (c == '\n' && keepLayout) {
      shown = "\n"; // multi-line messages stay multi-line
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02x", c);
      shown = buffer;
    } else if (c < 0x80) {
      shown = std::string(1, static_cast<char>(c));
    } else if (size_t length = utf8Length(text, i);
               length && i + length <= end) {
      shown = text.substr(i, length);
      consumed = length;
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02x", c);
      shown = buffer;
    }
    out += shown;
    if (caretPad) {
      if (shown == "\t")
        *caretPad += '\t';
      else
        caretPad->append(
            shown.size() == consumed && consumed > 1 ? 1 : shown.size(), ' ');
    }
    i += consumed;
  }
}

/// Source lines longer than this are shown as a window around the column.
constexpr size_t kMaxShownLineBytes = 160;
/// Messages longer than this are cut (a repr of a 2 MB string, say).
constexpr size_t kMaxShownMessageBytes = 2000;

} // namespace

std::string printableText(const std::string &text, size_t maxBytes) {
  std::string out;
  size_t end = std::min(text.size(), maxBytes);
  // Do not cut inside a UTF-8 sequence.
  while (end < text.size() && end > 0 &&
         (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  appendPrintable(out, text, 0, end, /*keepLayout=*/true);
  if (end < text.size())
    out += "... (" + std::to_string(text.size() - end) + " more bytes)";
  return out;
}

std::string Diagnostic::str() const {
  std::string out;
  if (hasLocation()) {
    out +=
        file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  } else if (!file.empty()) {
    out += file + ": ";
  }
  out += "error: " + printableText(message, kMaxShownMessageBytes) + "\n";
  if (hasLocation() && !sourceLine.empty()) {
    size_t caret = column > 0 ? column - 1 : 0;
    size_t begin = 0, end = sourceLine.size();
    if (end > kMaxShownLineBytes) {
      // A window of the line around the column, cut at UTF-8 boundaries.
      begin =
          caret > kMaxShownLineBytes / 2 ? caret - kMaxShownLineBytes / 2 : 0;
      end = std::min(sourceLine.size(), begin + kMaxShownLineBytes);
      auto isContinuation = [&](size_t i) {
        return i < sourceLine.size() &&
               (static_cast<unsigned char>(sourceLine[i]) & 0xC0) == 0x80;
      };
      while (begin > 0 && isContinuation(begin))
        --begin;
      while (end < sourceLine.size() && isContinuation(end))
        ++end;
    }
    std::string shown, pad;
    if (begin > 0) {
      shown += "...";
      pad += "   ";
    }
    appendPrintable(shown, sourceLine, begin, end, /*keepLayout=*/true,
                    std::min(caret, end), &pad);
    if (end < sourceLine.size())
      shown += "...";
    out += shown + "\n" + pad + "^\n";
  }
  for (const std::string &note : notes)
    out += "note: " + printableText(note, kMaxShownMessageBytes) + "\n";
  return out;
}

static size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      // Case differences are the most common typo ("fcoshead"), so they
      // cost less than a different letter.
      size_t substitute =
          a[i - 1] == b[j - 1] ? 0
          : std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]))
              ? 0
              : 1;
      current[j] = std::min(
          {previous[j] + 1, current[j - 1] + 1, previous[j - 1] + substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::vector<std::string>
closestNames(const std::string &name,
             const std::vector<std::string> &candidates, size_t limit) {
  std::vector<std::pair<size_t, std::string>> scored;
  // About one edit in three characters still reads as a typo.
  size_t maxDistance = std::max<size_t>(1, (name.size() + 2) / 3);
  for (const std::string &candidate : candidates) {
    if (candidate == name)
      continue;
    size_t distance = editDistance(name, candidate);
    if (distance <= maxDistance)
      scored.emplace_back(distance, candidate);
  }
  std::stable_sort(
      scored.begin(), scored.end(),
      [](const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<std::string> result;
  for (auto &[distance, candidate] : scored) {
    if (result.size() == limit)
      break;
    if (std::find(result.begin(), result.end(), candidate) == result.end())
      result.push_back(candidate);
  }
  return result;
}

std::string didYouMean(const std::vector<std::string> &suggestions) {
  if (suggestions.empty())
    return {};
  std::string out = "; did you mean ";
  for (size_t i = 0; i < suggestions.size(); ++i) {
    if (i > 0)
      out += i + 1 == suggestions.size() ? " or " : ", ";
    out += "'" + suggestions[i] + "'";
  }
  return out + "?";
}

} // namespace hat::config
