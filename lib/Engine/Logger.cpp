//===- Logger.cpp - Progress, log lines and a JSON-lines log --------------===//

#include "hat/Engine/Logger.h"

#include <cmath>
#include <ctime>
#include <filesystem>
#include <unistd.h>

namespace hat::engine {

namespace {
std::string timestamp() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return buf;
}

std::string jsonEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if ((unsigned char)c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out;
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
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      ec);
  json = std::fopen(path.c_str(), "a");
  if (!json)
    warning("cannot open the JSON log " + path);
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
  std::fprintf(json,
               "{\"time\": \"%s\", \"stage\": \"%s\", \"epoch\": %lld, "
               "\"step\": %lld, \"prefix\": \"%s\"",
               timestamp().c_str(), jsonEscape(stage).c_str(), (long long)epoch,
               (long long)step, jsonEscape(prefix).c_str());
  for (auto &[name, value] : values)
    std::fprintf(json, ", \"%s\": %.9g", jsonEscape(name).c_str(),
                 std::isfinite(value) ? value : 0.0);
  std::fputs("}\n", json);
  std::fflush(json);
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
