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
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hat::engine {

/// Receives every value logValues() logs (the TensorBoard event writer).
class LogSink {
public:
  virtual ~LogSink() = default;
  virtual void
  write(const std::string &prefix, const std::string &stage, int64_t epoch,
        int64_t step,
        const std::vector<std::pair<std::string, double>> &values) = 0;
};

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

  /// Adds a sink that sees every logValues() call; clearSinks() drops them
  /// (hat-train opens one per stage).
  void addSink(std::shared_ptr<LogSink> sink) {
    sinks.push_back(std::move(sink));
  }
  void clearSinks() { sinks.clear(); }

  /// Progress of the current loop (a bar on a terminal only).
  void progressBegin(const std::string &label, int64_t total);
  void progressUpdate(int64_t done, double runningLoss, double imagesPerSec);
  void progressEnd();
  bool isTerminal() const { return terminal; }

  /// Data-parallel ranks: messages of rank R > 0 carry "[rank R]"; with
  /// `zeroOnly` (the config's log_rank_zero_only) ranks > 0 print only
  /// warnings and keep no JSON log.
  void setRank(int rank, bool zeroOnly);
  bool muted() const { return rankMuted; }

private:
  void clearProgress();
  void drawProgress();
  bool terminal;
  FILE *json = nullptr;
  std::vector<std::shared_ptr<LogSink>> sinks;
  std::string jsonPath;
  std::string label;
  int64_t total = 0, done = 0;
  double loss = 0, speed = 0;
  bool progressShown = false;
  int rank = 0;
  bool rankMuted = false;
  std::chrono::steady_clock::time_point start, lastDraw;
};

} // namespace hat::engine

#endif // HAT_ENGINE_LOGGER_H
