//===- Logger.h - Progress, log lines and a JSON-lines log ------*- C++ -*-===//
//
// On a terminal the current loop shows one progress line (bar, ETA, running
// loss) that log lines scroll above; elsewhere (CI, redirected output) only
// plain log lines are printed. Every logged value also goes to a JSON-lines
// file when one is open, for plotting and for tests.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_ENGINE_LOGGER_H
#define HAT_ENGINE_LOGGER_H

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace hat::engine {

class Logger {
public:
  Logger();
  ~Logger();

  /// Appends JSON lines to `path` (created with its directory). Throws
  /// std::runtime_error naming the file when it cannot be opened; a failed
  /// write in logValues throws too.
  void openJsonLog(const std::string &path);
  void info(const std::string &message);
  void warning(const std::string &message);
  /// `prefix  name=value ...` as a log line and one JSON record with the
  /// stage, epoch and step.
  void logValues(const std::string &prefix, const std::string &stage,
                 int64_t epoch, int64_t step,
                 const std::vector<std::pair<std::string, double>> &values);

  /// Progress of the current loop (a bar on a terminal only).
  void progressBegin(const std::string &label, int64_t total);
  void progressUpdate(int64_t done, double runningLoss, double imagesPerSec);
  void progressEnd();
  bool isTerminal() const { return terminal; }

private:
  void clearProgress();
  void drawProgress();
  bool terminal;
  FILE *json = nullptr;
  std::string jsonPath;
  std::string label;
  int64_t total = 0, done = 0;
  double loss = 0, speed = 0;
  bool progressShown = false;
  std::chrono::steady_clock::time_point start, lastDraw;
};

} // namespace hat::engine

#endif // HAT_ENGINE_LOGGER_H
