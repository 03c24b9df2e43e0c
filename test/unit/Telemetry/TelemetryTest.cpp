//===- TelemetryTest.cpp - CRC-32C, event framing, HTML helpers -----------===//

#include "hat/Telemetry/Crc32c.h"
#include "hat/Telemetry/EventFile.h"
#include "hat/Telemetry/Html.h"
#include "hat/Telemetry/RunReport.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace hat::telemetry;

namespace {

std::string tempDir(const std::string &name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("hat-telemetry-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeAll(const std::string &path, const std::string &data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

uint64_t le(const std::string &s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= uint64_t(uint8_t(s[at + i])) << (8 * i);
  return v;
}

} // namespace

TEST(Crc32c, KnownVectors) {
  // The check value of the CRC-32C definition and RFC 3720's B.4 vectors.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string zeros(32, '\0'), ones(32, '\xFF'), inc(32, '\0'), dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = char(i);
    dec[i] = char(31 - i);
  }
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(dec.data(), 32), 0x113FDB5Cu);
  // Continuing a CRC over a split buffer gives the CRC of the whole.
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283u);
}

TEST(Crc32c, Masking) {
  for (uint32_t v : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x12345678u})
    EXPECT_EQ(unmaskCrc(maskCrc(v)), v);
  // rotr(0xE3069283, 15) + 0xA282EAD8, by hand: 0x2507C60D + 0xA282EAD8.
  EXPECT_EQ(maskCrc(0xE3069283u), 0xC78AB0E5u);
}

TEST(EventFile, RecordFraming) {
  std::string payload = "hello event";
  std::string rec = frameRecord(payload);
  ASSERT_EQ(rec.size(), 8 + 4 + payload.size() + 4);
  EXPECT_EQ(le(rec, 0, 8), payload.size());
  EXPECT_EQ(uint32_t(le(rec, 8, 4)), maskCrc(crc32c(rec.data(), 8)));
  EXPECT_EQ(rec.substr(12, payload.size()), payload);
  EXPECT_EQ(uint32_t(le(rec, 12 + payload.size(), 4)),
            maskCrc(crc32c(payload.data(), payload.size())));
  // An empty payload is a valid record too.
  EXPECT_EQ(frameRecord("").size(), 16u);
}

TEST(EventFile, WriteReadRoundTrip) {
  std::string dir = tempDir("roundtrip");
  std::string error;
  auto writer = EventWriter::create(dir + "/run", error);
  ASSERT_TRUE(writer) << error;
  writer->addScalar("train/loss", 1, 2.5, 1000.0);
  writer->addScalars({{"train/loss", 1.25}, {"train/lr", 0.1}}, 2, 1001.0);
  writer->addScalar("Validation/accuracy", 2, 0.875, 1002.0);
  std::string path = writer->path();
  writer.reset();
  EXPECT_NE(path.find("/events.out.tfevents."), std::string::npos);
  ASSERT_EQ(listEventFiles(dir + "/run"), std::vector<std::string>{path});

  EventFileContents c = readEventFile(path);
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.fileVersion, "brain.Event:2");
  EXPECT_EQ(c.records, 4u);
  ASSERT_EQ(c.scalars.size(), 4u);
  EXPECT_EQ(c.scalars[0].tag, "train/loss");
  EXPECT_EQ(c.scalars[0].step, 1);
  EXPECT_FLOAT_EQ(c.scalars[0].value, 2.5f);
  EXPECT_DOUBLE_EQ(c.scalars[0].wallTime, 1000.0);
  EXPECT_EQ(c.scalars[2].tag, "train/lr");
  EXPECT_FLOAT_EQ(c.scalars[2].value, 0.1f);
  EXPECT_EQ(c.scalars[3].tag, "Validation/accuracy");
  EXPECT_EQ(c.scalars[3].step, 2);

  // The first record is the version event: wall_time (field 1, fixed64),
  // step 0 (proto3 default: absent), file_version (field 3, length
  // delimited) -- the wire format TensorBoard reads.
  std::string bytes = readAll(path);
  uint64_t len = le(bytes, 0, 8);
  std::string first = bytes.substr(12, len);
  ASSERT_GE(first.size(), 9u + 2u + 13u);
  EXPECT_EQ(uint8_t(first[0]), 0x09); // field 1, wire type 1
  EXPECT_EQ(uint8_t(first[9]), 0x1A); // field 3, wire type 2
  EXPECT_EQ(uint8_t(first[10]), 13);
  EXPECT_EQ(first.substr(11, 13), "brain.Event:2");
  std::filesystem::remove_all(dir);
}

TEST(EventFile, CorruptionIsReportedWithRecordAndOffset) {
  std::string dir = tempDir("corrupt");
  std::string error;
  auto writer = EventWriter::create(dir, error);
  ASSERT_TRUE(writer) << error;
  writer->addScalar("a/b", 7, 1.0, 5.0);
  std::string path = writer->path();
  writer.reset();
  std::string good = readAll(path);
  size_t firstLen = 16 + le(good, 0, 8);

  std::string flipped = good;
  flipped[firstLen + 14] ^= 0x01; // a payload byte of record 1
  writeAll(path, flipped);
  EventFileContents c = readEventFile(path);
  EXPECT_NE(c.error.find("record 1 at byte " + std::to_string(firstLen) +
                         ": data checksum mismatch"),
            std::string::npos)
      << c.error;
  EXPECT_EQ(c.fileVersion, "brain.Event:2"); // record 0 still read

  std::string badLength = good;
  badLength[firstLen] ^= 0x40;
  writeAll(path, badLength);
  EXPECT_NE(readEventFile(path).error.find("length checksum mismatch"),
            std::string::npos);

  writeAll(path, good.substr(0, good.size() - 3));
  EXPECT_NE(readEventFile(path).error.find("truncated record"),
            std::string::npos);
  writeAll(path, good.substr(0, firstLen + 5));
  EXPECT_NE(readEventFile(path).error.find("truncated header"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Html, EscapesEverything) {
  EXPECT_EQ(htmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  std::string chart = svgLineChart("<t>", {{"s&1", {{0, 1}, {1, 2}}}}, "x<",
                                   "y>", 0.5, {"<l0>", "l1"});
  EXPECT_EQ(chart.find("<t>"), std::string::npos);
  EXPECT_NE(chart.find("&lt;t&gt;"), std::string::npos);
  EXPECT_NE(chart.find("&lt;l0&gt;"), std::string::npos);
  EXPECT_NE(chart.find("s&amp;1"), std::string::npos);
  std::string bars = svgBarChart("b", {{"<x>", 0.5}, {"y", -0.25}}, "v");
  EXPECT_NE(bars.find("&lt;x&gt;"), std::string::npos);
  EXPECT_EQ(bars.find("<x>"), std::string::npos);
}

TEST(RunReport, GroupsScalarsAndKeepsTheLaterDuplicate) {
  std::vector<ScalarEvent> events = {{1, 2, "a/loss", 3},
                                     {1, 1, "a/loss", 4},
                                     {2, 2, "a/loss", 5},
                                     {1, 1, "b/lr", 0.1f}};
  auto groups = groupScalarsByTag(events);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].first, "a/loss");
  ASSERT_EQ(groups[0].second.size(), 2u);
  EXPECT_EQ(groups[0].second[0].step, 1);
  EXPECT_EQ(groups[0].second[1].value, 5); // step 2 logged again: last wins
}

TEST(RunReport, PageHasCurvesTableConfigAndPerfLink) {
  std::string dir = tempDir("report");
  std::string error;
  auto writer = EventWriter::create(dir + "/tensorboard/float", error);
  ASSERT_TRUE(writer) << error;
  for (int s = 1; s <= 5; ++s)
    writer->addScalars({{"train/loss", 2.0 / s}, {"train/lr", 0.1}}, s);
  writer->addScalar("Validation/accuracy", 5, 0.9);
  writer.reset();
  writeAll(dir + "/float-metrics.json",
           "{\"stage\": \"float\", \"metrics\": {\"accuracy\": 0.9}, "
           "\"epochs\": 1, \"steps\": 5, \"wall_time_s\": 2.5, "
           "\"images_per_sec\": 100}");
  std::filesystem::create_directories(dir + "/compile");
  writeAll(dir + "/compile/model.perf.html", "<html></html>");
  RunReportInput in;
  in.stage = "float";
  in.configPath = "cfg<1>.py";
  in.configJson = "{\"task\": \"<script>\"}";
  in.ckptDir = dir;
  in.eventDirectory = dir + "/tensorboard/float";
  in.perfReport = dir + "/compile/model.perf.html";
  ASSERT_EQ(writeRunReport(in, dir + "/float-report.html"), "");
  std::string html = readAll(dir + "/float-report.html");
  EXPECT_NE(html.find("accuracy=0.9"), std::string::npos);
  EXPECT_NE(html.find(">Loss<"), std::string::npos);
  EXPECT_NE(html.find(">Learning rate<"), std::string::npos);
  EXPECT_NE(html.find(">Validation metrics<"), std::string::npos);
  EXPECT_NE(html.find("href=\"compile/model.perf.html\""), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("cfg&lt;1&gt;.py"), std::string::npos);
  std::filesystem::remove_all(dir);
}
