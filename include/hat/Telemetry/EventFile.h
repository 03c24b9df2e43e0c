//===- EventFile.h - TensorBoard event files (scalars) ----------*- C++ -*-===//
//
// An event file is a sequence of TFRecords:
//
//   uint64 length (little endian)
//   uint32 maskCrc(crc32c(length bytes))
//   byte   data[length]            a serialized Event protobuf
//   uint32 maskCrc(crc32c(data))
//
// The first Event carries file_version "brain.Event:2"; each later one a
// wall time, a step and a Summary of tagged scalars. The file is named
// `events.out.tfevents.<unix seconds>.<host>.<pid>.<n>` so TensorBoard
// picks it up from its directory (one directory per run).
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TELEMETRY_EVENTFILE_H
#define HAT_TELEMETRY_EVENTFILE_H

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace hat::telemetry {

struct ScalarEvent {
  double wallTime = 0;
  int64_t step = 0;
  std::string tag;
  float value = 0;
};

/// The TFRecord framing of one record's payload.
std::string frameRecord(const std::string &payload);

class EventWriter {
public:
  /// Creates `directory` and a new event file in it; null and `error` set
  /// when that fails.
  static std::unique_ptr<EventWriter> create(const std::string &directory,
                                             std::string &error);
  ~EventWriter();
  EventWriter(const EventWriter &) = delete;
  EventWriter &operator=(const EventWriter &) = delete;

  /// Appends one event with one scalar; `wallTime` < 0 means now.
  void addScalar(const std::string &tag, int64_t step, double value,
                 double wallTime = -1);
  /// Appends one event holding several scalars of the same step.
  void addScalars(const std::vector<std::pair<std::string, double>> &values,
                  int64_t step, double wallTime = -1);
  void flush();
  const std::string &path() const { return filePath; }

private:
  EventWriter() = default;
  void writeEvent(const std::string &payload);
  std::string filePath;
  FILE *file = nullptr;
};

/// What reading an event file found: the version record, every scalar, and
/// (non-empty) the first framing or decoding error, naming the record index
/// and byte offset; scalars before the error are kept.
struct EventFileContents {
  std::string fileVersion;
  std::vector<ScalarEvent> scalars;
  size_t records = 0;
  std::string error;
};
EventFileContents readEventFile(const std::string &path);

/// Every `events.out.tfevents.*` file of `directory`, oldest first.
std::vector<std::string> listEventFiles(const std::string &directory);

} // namespace hat::telemetry

#endif // HAT_TELEMETRY_EVENTFILE_H
