//===- EventFile.cpp - TensorBoard event files (scalars) ------------------===//

#include "hat/Telemetry/EventFile.h"

#include "event.pb.h"
#include "hat/Telemetry/Crc32c.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace hat::telemetry {

namespace {
void appendLE(std::string &out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(char((v >> (8 * i)) & 0xFF));
}

uint64_t readLE(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= uint64_t(p[i]) << (8 * i);
  return v;
}

double nowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
} // namespace

std::string frameRecord(const std::string &payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  appendLE(out, payload.size(), 8);
  appendLE(out, maskCrc(crc32c(out.data(), 8)), 4);
  out += payload;
  appendLE(out, maskCrc(crc32c(payload.data(), payload.size())), 4);
  return out;
}

std::unique_ptr<EventWriter> EventWriter::create(const std::string &directory,
                                                 std::string &error) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    error = "cannot create " + directory + ": " + ec.message();
    return nullptr;
  }
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  auto seconds = (long long)nowSeconds();
  std::unique_ptr<EventWriter> writer(new EventWriter());
  // A name already taken (two writers in one second) gets the next suffix.
  for (int n = 0;; ++n) {
    std::string name = "events.out.tfevents." + std::to_string(seconds) + "." +
                       host + "." + std::to_string(getpid()) + "." +
                       std::to_string(n);
    std::string path = (std::filesystem::path(directory) / name).string();
    if (std::filesystem::exists(path))
      continue;
    writer->filePath = path;
    break;
  }
  writer->file = std::fopen(writer->filePath.c_str(), "wb");
  if (!writer->file) {
    error = "cannot write " + writer->filePath + ": " + std::strerror(errno);
    return nullptr;
  }
  proto::Event event;
  event.set_wall_time(nowSeconds());
  event.set_step(0);
  event.set_file_version("brain.Event:2");
  writer->writeEvent(event.SerializeAsString());
  writer->flush();
  return writer;
}

EventWriter::~EventWriter() {
  if (file)
    std::fclose(file);
}

void EventWriter::writeEvent(const std::string &payload) {
  std::string record = frameRecord(payload);
  std::fwrite(record.data(), 1, record.size(), file);
}

void EventWriter::addScalar(const std::string &tag, int64_t step, double value,
                            double wallTime) {
  addScalars({{tag, value}}, step, wallTime);
}

void EventWriter::addScalars(
    const std::vector<std::pair<std::string, double>> &values, int64_t step,
    double wallTime) {
  if (values.empty())
    return;
  proto::Event event;
  event.set_wall_time(wallTime < 0 ? nowSeconds() : wallTime);
  event.set_step(step);
  proto::Summary *summary = event.mutable_summary();
  for (const auto &[tag, value] : values) {
    proto::SummaryValue *v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(float(value));
  }
  writeEvent(event.SerializeAsString());
}

void EventWriter::flush() { std::fflush(file); }

EventFileContents readEventFile(const std::string &path) {
  EventFileContents out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = path + ": cannot open";
    return out;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  const auto *bytes = reinterpret_cast<const unsigned char *>(data.data());
  size_t offset = 0;
  auto fail = [&](const std::string &what) {
    out.error = path + ": record " + std::to_string(out.records) + " at byte " +
                std::to_string(offset) + ": " + what;
  };
  while (offset < data.size()) {
    if (data.size() - offset < 12) {
      fail("truncated header (" + std::to_string(data.size() - offset) +
           " bytes left, 12 needed)");
      return out;
    }
    uint64_t length = readLE(bytes + offset, 8);
    uint32_t lengthCrc = uint32_t(readLE(bytes + offset + 8, 4));
    if (unmaskCrc(lengthCrc) != crc32c(bytes + offset, 8)) {
      fail("length checksum mismatch");
      return out;
    }
    if (length > data.size() - offset - 12 ||
        data.size() - offset - 12 - length < 4) {
      fail("truncated record: length " + std::to_string(length) + ", " +
           std::to_string(data.size() - offset - 12) + " bytes left");
      return out;
    }
    const unsigned char *payload = bytes + offset + 12;
    uint32_t dataCrc = uint32_t(readLE(payload + length, 4));
    if (unmaskCrc(dataCrc) != crc32c(payload, length)) {
      fail("data checksum mismatch");
      return out;
    }
    proto::Event event;
    if (!event.ParseFromArray(payload, int(length))) {
      fail("not an Event protobuf");
      return out;
    }
    if (event.what_case() == proto::Event::kFileVersion)
      out.fileVersion = event.file_version();
    else if (event.what_case() == proto::Event::kSummary)
      for (const proto::SummaryValue &v : event.summary().value())
        out.scalars.push_back(ScalarEvent{event.wall_time(), event.step(),
                                          v.tag(), v.simple_value()});
    ++out.records;
    offset += 12 + length + 4;
  }
  return out;
}

std::vector<std::string> listEventFiles(const std::string &directory) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto &entry : std::filesystem::directory_iterator(directory, ec))
    if (entry.is_regular_file() &&
        entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(entry.path().string());
  // The name holds the creation second; ties keep their counter order.
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace hat::telemetry
