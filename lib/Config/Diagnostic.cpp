//===- Diagnostic.cpp - Located errors ------------------------------------===//

#include "hat/Config/Diagnostic.h"

#include <algorithm>
#include <cctype>

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

std::string Diagnostic::str() const {
  std::string out;
  if (hasLocation()) {
    out +=
        file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  } else if (!file.empty()) {
    out += file + ": ";
  }
  out += "error: " + message + "\n";
  if (hasLocation() && !sourceLine.empty()) {
    out += sourceLine + "\n";
    // Keep tabs so that the caret lines up under the same terminal columns.
    std::string pad;
    for (size_t i = 0; i + 1 < column && i < sourceLine.size(); ++i)
      pad += sourceLine[i] == '\t' ? '\t' : ' ';
    out += pad + "^\n";
  }
  for (const std::string &note : notes)
    out += "note: " + note + "\n";
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
