//===- IntegrityTest.cpp - Pack manifest, damaged packs, failed writes ----===//
#include "TestUtil.h"
#include "hat/Data/Error.h"
#include "hat/Data/Idx.h"
#include "hat/Data/Lmdb.h"
#include "hat/Data/Record.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <zlib.h>

using namespace hat::data;
using hat::data::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const DataError &error) {
    return error.what();
  }
  return "";
}

/// A pack of `count` records with `imageBytes` bytes of image each, so that
/// it spans many LMDB pages.
void writePack(const std::string &out, std::size_t count,
               std::size_t imageBytes = 3000, bool overwrite = false) {
  LmdbWriter writer(out, overwrite);
  for (std::size_t i = 0; i < count; ++i) {
    RecordData record;
    record.key = recordKey(i);
    record.fileName = "x" + std::to_string(i);
    record.image.assign(imageBytes, static_cast<uint8_t>(i));
    record.width = record.height = 4;
    record.channels = 1;
    record.label = 0;
    writer.putRecord(record);
  }
  DatasetMeta meta;
  meta.format = "imagefolder";
  meta.split = "train";
  meta.count = count;
  meta.classNames = {"a"};
  writer.commit(meta);
}

/// Rewrites the manifest so that it vouches for data.mdb as it is now: the
/// reader's own LMDB-level checks are all that stands between it and LMDB.
void blessDataFile(const std::string &pack) {
  PackIntegrity now = hashPackFile(pack + "/data.mdb");
  std::ifstream in(pack + "/" + kPackManifestName);
  nlohmann::json manifest = nlohmann::json::parse(in);
  manifest["data_mdb_bytes"] = now.bytes;
  manifest["data_mdb_hash"] = formatPackHash(now.hash);
  std::ofstream(pack + "/" + kPackManifestName) << manifest.dump();
}

void flipByte(const std::string &path, std::size_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5A);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(&byte, 1);
}

TEST(PackIntegrity, ManifestRecordsSizeAndHash) {
  TempDir dir;
  writePack(dir / "pack", 20);
  const PackIntegrity actual = hashPackFile(dir / "pack/data.mdb");
  EXPECT_EQ(actual.bytes, fs::file_size(dir / "pack/data.mdb"));
  LmdbReader reader(dir / "pack");
  EXPECT_TRUE(reader.hashChecked());
  EXPECT_EQ(reader.integrity().bytes, actual.bytes);
  EXPECT_EQ(reader.integrity().hash, actual.hash);
  std::string why;
  EXPECT_TRUE(isHatPackDirectory(dir / "pack", &why)) << why;
}

TEST(PackIntegrity, HashSeesEveryByteAndTheLength) {
  TempDir dir;
  std::vector<char> data(100000, 'a');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 31 + 7);
  auto hashOf = [&](const std::vector<char> &bytes) {
    std::ofstream(dir / "f", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return hashPackFile(dir / "f").hash;
  };
  const uint64_t base = hashOf(data);
  for (std::size_t offset : {0ul, 1ul, 31ul, 32ul, 4096ul, 99999ul}) {
    std::vector<char> changed = data;
    changed[offset] ^= 1;
    EXPECT_NE(hashOf(changed), base) << "offset " << offset;
  }
  std::vector<char> shorter(data.begin(), data.end() - 1);
  EXPECT_NE(hashOf(shorter), base);
  std::vector<char> zeros(64, 0), moreZeros(65, 0);
  EXPECT_NE(hashOf(zeros), hashOf(moreZeros));
}

TEST(PackIntegrity, DamagedBytesAreRefusedOnOpen) {
  TempDir dir;
  writePack(dir / "pack", 40);
  const std::string data = dir / "pack/data.mdb";
  // B-tree pages, record bytes, the meta pages: all caught before LMDB
  // follows a pointer.
  for (std::size_t offset :
       {std::size_t(20), std::size_t(4096 + 16),
        static_cast<std::size_t>(fs::file_size(data) / 2)}) {
    fs::copy(dir / "pack", dir / "damaged", fs::copy_options::recursive);
    flipByte(dir / "damaged/data.mdb", offset);
    const std::string error =
        errorOf([&] { LmdbReader reader(dir / "damaged"); });
    EXPECT_NE(error.find("does not match the pack manifest"), std::string::npos)
        << "offset " << offset << ": " << error;
    fs::remove_all(dir / "damaged");
  }
}

TEST(PackIntegrity, TruncationPastTheLastPageIsRefusedEvenWithABlessedSize) {
  TempDir dir;
  writePack(dir / "pack", 60);
  const std::string data = dir / "pack/data.mdb";
  const uintmax_t size = fs::file_size(data);
  ASSERT_GT(size, 8u * 4096u);
  fs::resize_file(data, size / 2);
  EXPECT_NE(errorOf([&] {
              LmdbReader reader(dir / "pack");
            }).find("the pack is truncated"),
            std::string::npos);
  // With a manifest that agrees with the short file, the environment's last
  // page (mdb_env_info) still shows it: SIGBUS before this check.
  blessDataFile(dir / "pack");
  const std::string error = errorOf([&] { LmdbReader reader(dir / "pack"); });
  EXPECT_NE(error.find("data.mdb is truncated: its last page ends at byte"),
            std::string::npos)
      << error;
}

TEST(PackIntegrity, OverwriteReplacesOnlyHatPacks) {
  TempDir dir;
  std::ofstream(dir / "file") << "precious";
  EXPECT_NE(errorOf([&] {
              LmdbWriter writer(dir / "file", true);
            }).find("this is a regular file; not touched"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "file"));
  fs::create_directories(dir / "photos");
  std::ofstream(dir / "photos/a.jpg") << "x";
  EXPECT_NE(errorOf([&] {
              LmdbWriter writer(dir / "photos", true);
            }).find("holds 'a.jpg'"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "photos/a.jpg"));
  // An LMDB without the manifest is not recognizably ours either.
  writePack(dir / "pack", 3);
  fs::copy(dir / "pack", dir / "bare", fs::copy_options::recursive);
  fs::remove(dir / ("bare/" + std::string(kPackManifestName)));
  EXPECT_NE(errorOf([&] {
              LmdbWriter writer(dir / "bare", true);
            }).find("has no hat-pack.json"),
            std::string::npos);
  // A pack is replaced, atomically, and nothing is left beside it.
  writePack(dir / "pack", 5, 100, /*overwrite=*/true);
  EXPECT_EQ(LmdbReader(dir / "pack").size(), 5u);
  std::size_t entries = std::distance(fs::directory_iterator(dir.path()), {});
  EXPECT_EQ(entries, 4u); // file, photos, pack, bare
}

// In a death-test child: packs under a 256 KiB file-size limit and returns
// 0 when that failed with the commit error and left the directory empty.
int packOnAFullDisk(const std::string &dir, const std::string &out) {
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit limit{256 * 1024, 256 * 1024};
  setrlimit(RLIMIT_FSIZE, &limit);
  const std::string error = errorOf([&] { writePack(out, 4000); });
  std::fprintf(stderr, "%s\n", error.c_str());
  // LMDB reports the short write as EFBIG or EIO.
  return error.find("mdb_txn_commit") != std::string::npos && fs::is_empty(dir)
             ? 0
             : 1;
}

// A full disk fails mdb_txn_commit, which frees the transaction itself: the
// writer used to abort it again in its destructor (double free, SIGABRT)
// and leave OUT.tmp-PID. RLIMIT_FSIZE makes the writes fail without root.
TEST(PackIntegrityDeathTest, FailedCommitOnAFullDiskIsAnErrorNotADoubleFree) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  EXPECT_EXIT(std::exit(packOnAFullDisk(dir.path(), dir / "pack")),
              ::testing::ExitedWithCode(0), "mdb_txn_commit: ");
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

void writeGzip(const std::string &path, const std::vector<uint8_t> &bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

TEST(Idx, ElementCountOverflowIsAnErrorNotAWrap) {
  TempDir dir;
  // Four dims of 2^32 - 1 multiply to more than 2^64: the product used to
  // wrap to a small number and the reader then misread the file.
  std::vector<uint8_t> header = {0, 0, 8, 4};
  for (int d = 0; d < 4; ++d)
    header.insert(header.end(), {0xFF, 0xFF, 0xFF, 0xFF});
  writeGzip(dir / "x.gz", header);
  EXPECT_NE(errorOf([&] {
              readIdx(dir / "x.gz");
            }).find("IDX header declares more than"),
            std::string::npos);
  // A header claiming 2 GiB of a 20-byte file is truncated, not allocated.
  std::vector<uint8_t> lying = {0, 0, 8, 1, 0x80, 0, 0, 0, 1, 2, 3};
  writeGzip(dir / "y.gz", lying);
  EXPECT_NE(errorOf([&] { readIdx(dir / "y.gz"); }).find("truncated"),
            std::string::npos);
}

} // namespace
