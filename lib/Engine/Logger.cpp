//===- Logger.cpp - Progress, log lines and a JSON-lines log --------------===//

#include "hat/Engine/Logger.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

namespace hat::engine {

namespace {
std::string timestamp() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return buf;
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "--:--";
  int64_t s = (int64_t)seconds;
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600),
                  (long long)(s / 60 % 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", (long long)(s / 60),
                  (long long)(s % 60));
  return buf;
}
} // namespace

Logger::Logger() : terminal(isatty(fileno(stderr))) {}

Logger::~Logger() {
  if (json)
    std::fclose(json);
}

void Logger::setRank(int r, bool zeroOnly) {
  rank = r;
  rankMuted = r > 0 && zeroOnly;
}

void Logger::openJsonLog(const std::string &path) {
  if (json)
    std::fclose(json);
  json = nullptr;
  if (rankMuted)
    return;
  jsonPath = path;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      ec);
  json = std::fopen(path.c_str(), "a");
  if (!json)
    throw std::runtime_error("cannot open the JSON log " + path + ": " +
                             std::strerror(errno));
}

void Logger::clearProgress() {
  if (terminal && progressShown) {
    std::fputs("\r\033[K", stderr);
    progressShown = false;
  }
}

void Logger::info(const std::string &message) {
  if (rankMuted)
    return;
  clearProgress();
  std::string who = rank > 0 ? "[rank " + std::to_string(rank) + "] " : "";
  std::fprintf(stderr, "%s INFO %s%s\n", timestamp().c_str(), who.c_str(),
               message.c_str());
  drawProgress();
}

void Logger::warning(const std::string &message) {
  clearProgress();
  std::string who = rank > 0 ? "[rank " + std::to_string(rank) + "] " : "";
  std::fprintf(stderr, "%s WARNING %s%s\n", timestamp().c_str(), who.c_str(),
               message.c_str());
  drawProgress();
}

void Logger::logValues(
    const std::string &prefix, const std::string &stage, int64_t epoch,
    int64_t step, const std::vector<std::pair<std::string, double>> &values) {
  std::string line = prefix;
  for (auto &[name, value] : values) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    line += "  " + name + "=" + buf;
  }
  info(line);
  for (const auto &sink : sinks)
    sink->write(prefix, stage, epoch, step, values);
  if (!json)
    return;
  nlohmann::ordered_json record = {{"time", timestamp()},
                                   {"stage", stage},
                                   {"epoch", epoch},
                                   {"step", step},
                                   {"prefix", prefix}};
  // NaN and Inf become null (nlohmann's rule), never a made-up number.
  for (auto &[name, value] : values)
    record[name] = value;
  const std::string text =
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  // The log is part of the run's record: losing it is an error, not a
  // warning (a full disk here would also fail the next checkpoint).
  if (std::fwrite(text.data(), 1, text.size(), json) != text.size() ||
      std::fflush(json) != 0)
    throw std::runtime_error("cannot write the JSON log " + jsonPath + ": " +
                             std::strerror(errno));
}

void Logger::progressBegin(const std::string &l, int64_t t) {
  label = l;
  total = t;
  done = 0;
  loss = speed = 0;
  start = lastDraw = std::chrono::steady_clock::now();
}

void Logger::progressUpdate(int64_t d, double runningLoss,
                            double imagesPerSec) {
  done = d;
  loss = runningLoss;
  speed = imagesPerSec;
  auto now = std::chrono::steady_clock::now();
  if (terminal &&
      (now - lastDraw > std::chrono::milliseconds(200) || done == total)) {
    lastDraw = now;
    drawProgress();
  }
}

void Logger::drawProgress() {
  if (rankMuted || !terminal || total <= 0 || label.empty())
    return;
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  double eta = done > 0 ? elapsed / done * (total - done) : NAN;
  const int width = 28;
  int filled = (int)(width * (double)done / (double)total);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  std::fprintf(stderr,
               "\r\033[K%s [%s] %lld/%lld  loss %.4f  %.0f img/s  "
               "ETA %s",
               label.c_str(), bar.c_str(), (long long)done, (long long)total,
               loss, speed, formatDuration(eta).c_str());
  std::fflush(stderr);
  progressShown = true;
}

void Logger::progressEnd() {
  clearProgress();
  label.clear();
}

} // namespace hat::engine
