//===- CulaneFiles.cpp - .lines.txt files, lists, whole-dataset runs ------===//

#include "hat/Lane/CulaneFiles.h"

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace hat::lane {

namespace {

std::string describe(const std::string &file, std::size_t line,
                     const std::string &reason) {
  return file + (line ? ":" + std::to_string(line) : std::string()) + ": " +
         reason;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// A decimal number as the official tool's `stream >> double` reads it
// (digits, sign, point, exponent); hex, "nan" and "inf" are refused.
bool parseDecimal(const std::string &token, double &value) {
  if (token.find_first_not_of("0123456789+-.eE") != std::string::npos)
    return false;
  errno = 0;
  char *end = nullptr;
  value = std::strtod(token.c_str(), &end);
  return end == token.c_str() + token.size() && errno != ERANGE &&
         std::isfinite(value);
}

// Reads a whole file; false when it does not exist, throws when it exists
// but can't be read.
bool readWholeFile(const std::string &path, std::string &text) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status))
    return false;
  if (std::filesystem::is_directory(status))
    throw LaneFormatError(path, 0, "is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw LaneFormatError(path, 0, "cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    throw LaneFormatError(path, 0, "read error");
  text = buffer.str();
  return true;
}

// Calls fn(line text, 1-based number) for each line as std::getline sees
// them: a final newline does not start another line.
template <typename Fn> void forEachLine(const std::string &text, Fn &&fn) {
  std::size_t start = 0, number = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    fn(text.substr(start, end - start), ++number);
    start = end + 1;
  }
}

std::vector<std::string> splitTokens(const std::string &line) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isSpace(line[i]))
      ++i;
    const std::size_t start = i;
    while (i < line.size() && !isSpace(line[i]))
      ++i;
    if (i > start)
      tokens.push_back(line.substr(start, i - start));
  }
  return tokens;
}

} // namespace

LaneFormatError::LaneFormatError(const std::string &file, std::size_t line,
                                 const std::string &reason)
    : std::runtime_error(describe(file, line, reason)) {}

std::vector<Lane> parseLanesText(const std::string &text,
                                 const std::string &file) {
  std::vector<Lane> lanes;
  forEachLine(text, [&](const std::string &line, std::size_t number) {
    const std::vector<std::string> tokens = splitTokens(line);
    if (tokens.size() % 2 != 0)
      throw LaneFormatError(file, number,
                            std::to_string(tokens.size()) +
                                " numbers, expected x y pairs");
    Lane lane;
    lane.reserve(tokens.size() / 2);
    for (std::size_t k = 0; k < tokens.size(); k += 2) {
      double xy[2];
      for (int axis = 0; axis < 2; ++axis)
        if (!parseDecimal(tokens[k + axis], xy[axis]))
          throw LaneFormatError(file, number,
                                "'" + tokens[k + axis] +
                                    "' is not a finite decimal number");
      // Points are floats, as the official tool's cv::Point2f.
      if (std::fabs(xy[0]) > std::numeric_limits<float>::max() ||
          std::fabs(xy[1]) > std::numeric_limits<float>::max())
        throw LaneFormatError(file, number,
                              "coordinate beyond the float range");
      lane.push_back({static_cast<float>(xy[0]), static_cast<float>(xy[1])});
    }
    lanes.push_back(std::move(lane));
  });
  return lanes;
}

std::vector<Lane> readLanesFile(const std::string &path) {
  std::string text;
  if (!readWholeFile(path, text))
    throw LaneFormatError(path, 0, "no such file");
  return parseLanesText(text, path);
}

std::string formatLanesText(const std::vector<Lane> &lanes) {
  std::string text;
  char number[64];
  for (const Lane &lane : lanes) {
    for (std::size_t k = 0; k < lane.size(); ++k) {
      std::snprintf(number, sizeof number, "%s%.9g %.9g", k ? " " : "",
                    static_cast<double>(lane[k].x),
                    static_cast<double>(lane[k].y));
      text += number;
    }
    text += '\n';
  }
  return text;
}

std::vector<ListEntry> readImageList(const std::string &path) {
  std::string text;
  if (!readWholeFile(path, text))
    throw LaneFormatError(path, 0, "no such list file");
  std::vector<ListEntry> entries;
  std::unordered_map<std::string, std::size_t> firstLine;
  forEachLine(text, [&](const std::string &line, std::size_t number) {
    const std::vector<std::string> tokens = splitTokens(line);
    if (tokens.empty())
      return;
    auto [it, inserted] = firstLine.emplace(tokens[0], number);
    if (!inserted)
      throw LaneFormatError(path, number,
                            "image '" + tokens[0] +
                                "' is already named on line " +
                                std::to_string(it->second));
    entries.push_back({tokens[0], number});
  });
  return entries;
}

std::string culaneLanesPath(const std::string &root, const std::string &image) {
  const std::size_t slash = image.find_last_of('/');
  const std::size_t dot = image.find_last_of('.');
  const std::string stem =
      dot != std::string::npos && (slash == std::string::npos || dot > slash)
          ? image.substr(0, dot)
          : image;
  const bool needSlash = !root.empty() && root.back() != '/' && !stem.empty() &&
                         stem.front() != '/';
  return root + (needSlash ? "/" : "") + stem + ".lines.txt";
}

CulaneDatasetResult evaluateCulaneDataset(const CulaneDatasetOptions &options) {
  validateCulaneOptions(options.metric);
  const std::vector<ListEntry> entries = readImageList(options.listFile);

  CulaneDatasetResult result;
  // Categories of each image, from the split lists.
  std::unordered_map<std::string, std::vector<int>> categoriesOf;
  if (!options.categoryDir.empty()) {
    const std::vector<std::string> &names = culaneTestCategories();
    for (std::size_t k = 0; k < names.size(); ++k) {
      CulaneCategoryResult category;
      category.name = names[k];
      category.listFile = options.categoryDir + "/test" + std::to_string(k) +
                          "_" + names[k] + ".txt";
      for (const ListEntry &entry : readImageList(category.listFile))
        categoriesOf[entry.image].push_back(static_cast<int>(k));
      result.categories.push_back(std::move(category));
    }
    std::unordered_map<std::string, bool> listed;
    for (const ListEntry &entry : entries)
      listed.emplace(entry.image, true);
    for (const auto &[image, categories] : categoriesOf)
      if (!listed.count(image))
        for (int k : categories)
          ++result.categories[k].notInList;
  }

  std::vector<CulaneImageResult> images(entries.size());
  std::vector<char> predictionMissing(entries.size(), 0);
  // The first bad image in list order is reported, whatever the threads do:
  // items are claimed in order and only those after a failure are skipped.
  std::atomic<std::size_t> next{0}, firstFailure{entries.size()};
  std::exception_ptr failure;
  std::mutex failureMutex;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= entries.size() || i > firstFailure.load())
        return;
      try {
        const std::string gtPath =
            culaneLanesPath(options.gtRoot, entries[i].image);
        const std::string predPath =
            culaneLanesPath(options.predRoot, entries[i].image);
        std::string gtText, predText;
        if (!readWholeFile(gtPath, gtText))
          throw LaneFormatError(options.listFile, entries[i].line,
                                "no ground truth for '" + entries[i].image +
                                    "' (" + gtPath + " does not exist)");
        const std::vector<Lane> gt = parseLanesText(gtText, gtPath);
        std::vector<Lane> pred;
        if (readWholeFile(predPath, predText))
          pred = parseLanesText(predText, predPath);
        else
          predictionMissing[i] = 1;
        images[i] = evaluateCulaneImage(gt, pred, options.metric);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failureMutex);
        if (i < firstFailure.load()) {
          firstFailure = i;
          failure = std::current_exception();
        }
      }
    }
  };
  unsigned threads = options.threads
                         ? options.threads
                         : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < entries.size(); ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &thread : pool)
    thread.join();
  if (failure)
    std::rethrow_exception(failure);

  for (std::size_t i = 0; i < entries.size(); ++i) {
    result.total.add(images[i]);
    if (predictionMissing[i]) {
      ++result.missingPredictions;
      if (result.missingPredictionExamples.size() < 5)
        result.missingPredictionExamples.push_back(
            culaneLanesPath(options.predRoot, entries[i].image));
    }
    if (options.keepImages)
      result.images.emplace_back(entries[i].image, images[i]);
    if (options.categoryDir.empty())
      continue;
    auto it = categoriesOf.find(entries[i].image);
    if (it == categoriesOf.end()) {
      ++result.uncategorized;
      continue;
    }
    for (int k : it->second)
      result.categories[k].counts.add(images[i]);
  }
  return result;
}

} // namespace hat::lane
