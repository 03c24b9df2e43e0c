//===- CheckpointTest.cpp - Checkpoint integrity, stages, ckpt_dir lock ---===//
//
// A checkpoint round-trips bit for bit; every damaged copy (byte flips,
// truncation, an older unchecked format) is refused naming the file; NaN
// weights are refused naming the tensor; --resume across stages says so;
// a ckpt_dir another process holds is refused naming that process.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Engine.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/file.h>
#include <unistd.h>

using namespace hat;

namespace {

std::string tempDir(const std::string &name) {
  std::string dir = ::testing::TempDir() + "/hat-ckpt-" + name + "-" +
                    std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

engine::CheckpointData sample(const std::string &stage = "float") {
  engine::CheckpointData d;
  d.stage = stage;
  d.epoch = 2;
  d.globalStep = 17;
  d.metricsJson = "{\"accuracy\": 0.5}";
  torch::manual_seed(3);
  d.model.emplace_back("conv.weight", torch::randn({8, 4, 3, 3}));
  d.model.emplace_back("conv.bias", torch::randn({8}));
  return d;
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string loadError(const std::string &path, const std::string &stage = "") {
  try {
    engine::loadCheckpoint(path, nullptr, stage);
  } catch (const engine::EngineError &e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, RoundTripsExactly) {
  const std::string dir = tempDir("roundtrip"), path = dir + "/c.pth.tar";
  engine::CheckpointData d = sample();
  engine::saveCheckpoint(path, d, nullptr);
  EXPECT_FALSE(
      std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));
  engine::CheckpointData back = engine::loadCheckpoint(path);
  EXPECT_EQ(back.stage, "float");
  EXPECT_EQ(back.epoch, 2);
  EXPECT_EQ(back.globalStep, 17);
  ASSERT_EQ(back.model.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.model[i].first, d.model[i].first);
    EXPECT_TRUE(torch::equal(back.model[i].second, d.model[i].second));
  }
  EXPECT_EQ(readBytes(path).substr(0, 8), "HATCKPT2");
}

TEST(Checkpoint, EveryByteFlipIsRefused) {
  const std::string dir = tempDir("flip"), path = dir + "/c.pth.tar";
  engine::saveCheckpoint(path, sample(), nullptr);
  const std::string good = readBytes(path);
  std::mt19937 rng(5);
  const std::string damaged = dir + "/damaged.pth.tar";
  for (int i = 0; i < 300; ++i) {
    std::string bytes = good;
    // Every header byte, then random positions in the payload.
    const size_t at = i < 24 ? size_t(i) : rng() % bytes.size();
    bytes[at] = char(uint8_t(bytes[at]) ^ uint8_t(1 + rng() % 255));
    writeBytes(damaged, bytes);
    const std::string error = loadError(damaged);
    ASSERT_FALSE(error.empty()) << "flip at " << at << " loaded";
    EXPECT_NE(error.find(damaged), std::string::npos) << error;
  }
  // A payload flip is a checksum mismatch, said as such.
  std::string bytes = good;
  bytes[bytes.size() / 2] ^= 0x10;
  writeBytes(damaged, bytes);
  EXPECT_NE(loadError(damaged).find("is corrupt: checksum mismatch"),
            std::string::npos)
      << loadError(damaged);
}

TEST(Checkpoint, TruncationIsRefused) {
  const std::string dir = tempDir("trunc"), path = dir + "/c.pth.tar";
  engine::saveCheckpoint(path, sample(), nullptr);
  const std::string good = readBytes(path);
  writeBytes(path, good.substr(0, good.size() / 2));
  EXPECT_NE(loadError(path).find("is truncated or damaged: its header records"),
            std::string::npos)
      << loadError(path);
  writeBytes(path, good.substr(0, 10));
  EXPECT_NE(loadError(path).find("not a HAT checkpoint"), std::string::npos)
      << loadError(path);
}

TEST(Checkpoint, UncheckedFormatIsRefused) {
  // A plain LibTorch archive (HAT's format 1 had no header).
  const std::string dir = tempDir("old"), path = dir + "/c.pth.tar";
  torch::serialize::OutputArchive archive;
  archive.write("hat_checkpoint_version", c10::IValue(int64_t(1)));
  archive.save_to(path);
  EXPECT_NE(loadError(path).find("has no integrity header: written by an "
                                 "older HAT (format 1)"),
            std::string::npos)
      << loadError(path);
}

TEST(Checkpoint, NonFiniteWeightsAreRefusedByName) {
  const std::string dir = tempDir("nan"), path = dir + "/c.pth.tar";
  for (float bad : {NAN, INFINITY}) {
    engine::CheckpointData d = sample();
    d.model[1].second[3] = bad;
    engine::saveCheckpoint(path, d, nullptr);
    EXPECT_NE(loadError(path).find("model tensor 'conv.bias' contains NaN or "
                                   "Inf values"),
              std::string::npos)
        << loadError(path);
  }
}

TEST(Checkpoint, ResumeAcrossStagesSaysSo) {
  const std::string dir = tempDir("stage"), path = dir + "/c.pth.tar";
  engine::saveCheckpoint(path, sample("qat"), nullptr);
  EXPECT_NE(loadError(path, "float")
                .find("is from the 'qat' stage, this run is the 'float' stage"),
            std::string::npos)
      << loadError(path, "float");
  EXPECT_EQ(loadError(path, "qat"), "");
}

TEST(Checkpoint, WriteFailureIsAnErrorAndLeavesNoTemporary) {
  // A directory where the temporary cannot be created: the error names the
  // checkpoint (the full-disk case is test/tools/hat-train/full-disk.test).
  const std::string dir = tempDir("nodir");
  const std::string path = dir + "/missing/sub/c.pth.tar";
  std::filesystem::create_directories(dir + "/missing");
  writeBytes(dir + "/missing/sub", "a file, not a directory");
  try {
    engine::saveCheckpoint(path, sample(), nullptr);
    FAIL() << "saved into a file";
  } catch (const engine::EngineError &e) {
    EXPECT_NE(std::string(e.what()).find("cannot write checkpoint " + path),
              std::string::npos)
        << e.what();
  }
}

TEST(CheckpointDir, AnotherHolderIsNamed) {
  const std::string dir = tempDir("lock");
  const std::string lock = dir + "/.hat-train.lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::write(fd, "4242\n", 5), 5);
  try {
    engine::prepareCheckpointDir(dir);
    FAIL() << "took a held lock";
  } catch (const engine::EngineError &e) {
    EXPECT_NE(std::string(e.what()).find("is in use by another hat-train "
                                         "(process 4242"),
              std::string::npos)
        << e.what();
  }
  ::close(fd);
  // Released: this process takes it, records its id, and may ask again.
  engine::prepareCheckpointDir(dir);
  engine::prepareCheckpointDir(dir);
  EXPECT_EQ(readBytes(lock), std::to_string(getpid()) + "\n");
}

} // namespace

namespace {

TEST(Logger, JsonLinesWriteNonFiniteAsNullAndEscapeKeys) {
  const std::string dir = tempDir("log"), path = dir + "/x-log.jsonl";
  {
    engine::Logger log;
    log.openJsonLog(path);
    log.logValues("Val \"x\"", "float", 1, 7,
                  {{"loss", NAN}, {"a\"b\\c", 1.5}, {"inf", INFINITY}});
  }
  const std::string text = readBytes(path);
  nlohmann::json record = nlohmann::json::parse(text);
  EXPECT_TRUE(record["loss"].is_null()) << text;
  EXPECT_TRUE(record["inf"].is_null()) << text;
  EXPECT_EQ(record["a\"b\\c"], 1.5) << text;
  EXPECT_EQ(record["prefix"], "Val \"x\"");
  EXPECT_EQ(record["step"], 7);
}

TEST(Logger, UnopenableLogIsAnError) {
  engine::Logger log;
  EXPECT_THROW(log.openJsonLog("/proc/hat-no-such-dir/x.jsonl"),
               std::runtime_error);
}

} // namespace
