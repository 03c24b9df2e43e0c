//===- RecordTest.cpp - Record schema, LMDB writer/reader, IDX ------------===//
#include "hat/Data/Record.h"
#include "TestUtil.h"
#include "hat/Data/Error.h"
#include "hat/Data/Idx.h"
#include "hat/Data/Lmdb.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <fstream>

using namespace hat::data;
using hat::data::test::TempDir;
namespace fs = std::filesystem;

namespace {

RecordData exampleRecord() {
  RecordData record;
  record.key = recordKey(3);
  record.fileName = "train2017/000000000004.jpg";
  record.encoding = ImageEncoding::Jpeg;
  record.image = {0xFF, 0xD8, 0xFF, 1, 2, 3, 4};
  record.width = 64;
  record.height = 48;
  record.channels = 3;
  record.label = 5;
  record.imageId = 4;
  record.objects.push_back({1.5f, 2.5f, 10.f, 20.f, 7, 6, true, 142.f});
  record.lanes.push_back({1, 2, 3, 4, 5, 6});
  return record;
}

DatasetMeta exampleMeta() {
  DatasetMeta meta;
  meta.format = "coco";
  meta.split = "train";
  meta.count = 2;
  meta.classNames = {"a", "b"};
  meta.categoryIds = {1, 3};
  return meta;
}

std::string errorOf(const std::function<void()> &action) {
  try {
    action();
  } catch (const DataError &error) {
    return error.what();
  }
  return "";
}

} // namespace

TEST(Record, RoundTripsEveryField) {
  const RecordData record = exampleRecord();
  const std::vector<uint8_t> bytes = encodeRecord(record);
  RecordData decoded;
  std::string reason;
  ASSERT_TRUE(decodeRecord(bytes.data(), bytes.size(), decoded, reason))
      << reason;
  EXPECT_EQ(decoded.key, record.key);
  EXPECT_EQ(decoded.fileName, record.fileName);
  EXPECT_EQ(decoded.encoding, ImageEncoding::Jpeg);
  EXPECT_EQ(decoded.image, record.image);
  EXPECT_EQ(decoded.width, 64);
  EXPECT_EQ(decoded.height, 48);
  EXPECT_EQ(decoded.channels, 3);
  EXPECT_EQ(decoded.label, 5);
  EXPECT_EQ(decoded.imageId, 4);
  ASSERT_EQ(decoded.objects.size(), 1u);
  EXPECT_FLOAT_EQ(decoded.objects[0].x1, 1.5f);
  EXPECT_FLOAT_EQ(decoded.objects[0].y2, 20.f);
  EXPECT_EQ(decoded.objects[0].categoryId, 7);
  EXPECT_EQ(decoded.objects[0].label, 6);
  EXPECT_TRUE(decoded.objects[0].iscrowd);
  EXPECT_EQ(decoded.lanes, record.lanes);
  // Encoding is a pure function of the record: packs are reproducible.
  EXPECT_EQ(encodeRecord(decoded), bytes);
}

TEST(Record, MetaRoundTripsAndIsNotARecord) {
  const std::vector<uint8_t> bytes = encodeMeta(exampleMeta());
  DatasetMeta meta;
  std::string reason;
  ASSERT_TRUE(decodeMeta(bytes.data(), bytes.size(), meta, reason)) << reason;
  EXPECT_EQ(meta.schemaVersion, kRecordSchemaVersion);
  EXPECT_EQ(meta.classNames, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(meta.categoryIds, (std::vector<int>{1, 3}));
  RecordData record;
  EXPECT_FALSE(decodeRecord(bytes.data(), bytes.size(), record, reason));
  EXPECT_NE(reason.find("meta record"), std::string::npos);
}

TEST(Record, CorruptBytesAreRejectedNotCrashed) {
  std::vector<uint8_t> bytes = encodeRecord(exampleRecord());
  std::string reason;
  RecordData record;
  // Truncations and flipped offsets must fail verification, never crash.
  for (std::size_t cut = 0; cut < bytes.size(); cut += 7) {
    std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + cut);
    decodeRecord(truncated.data(), truncated.size(), record, reason);
  }
  std::vector<uint8_t> garbage(64, 0xAB);
  EXPECT_FALSE(decodeRecord(garbage.data(), garbage.size(), record, reason));
  EXPECT_NE(reason.find("corrupt"), std::string::npos);
}

TEST(Lmdb, WriterIsAtomic) {
  TempDir dir;
  const std::string out = dir / "train_lmdb";
  {
    LmdbWriter writer(out, false);
    writer.putRecord(exampleRecord());
    EXPECT_TRUE(fs::exists(writer.tempDir()));
    EXPECT_FALSE(fs::exists(out));
  } // destroyed without commit, as after an exception
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::is_empty(dir.path()));
  {
    LmdbWriter writer(out, false);
    RecordData record = exampleRecord();
    record.key = recordKey(0);
    writer.putRecord(record);
    record.key = recordKey(1);
    writer.putRecord(record);
    writer.commit(exampleMeta());
  }
  LmdbReader reader(out);
  EXPECT_EQ(reader.size(), 2u);
  EXPECT_EQ(reader.record(1).image, exampleRecord().image);
  EXPECT_NE(
      errorOf([&] { LmdbWriter again(out, false); }).find("already exists"),
      std::string::npos);
}

TEST(Lmdb, RefusesOtherSchemaVersion) {
  TempDir dir;
  const std::string out = dir / "old_lmdb";
  {
    LmdbWriter writer(out, false);
    writer.putRecord(exampleRecord());
    DatasetMeta meta = exampleMeta();
    meta.schemaVersion = 0;
    meta.count = 1;
    writer.commit(meta);
  }
  const std::string error = errorOf([&] { LmdbReader reader(out); });
  EXPECT_NE(error.find(out), std::string::npos) << error;
  EXPECT_NE(error.find("__meta__"), std::string::npos) << error;
  EXPECT_NE(error.find("schema v0"), std::string::npos) << error;
}

TEST(Lmdb, RefusesLmdbWithoutMeta) {
  TempDir dir;
  // A raw LMDB, like one from another tool or an interrupted writer.
  MDB_env *env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, dir.path().c_str(), 0, 0664), 0);
  MDB_txn *txn;
  MDB_dbi dbi;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  std::string key = "0", value = "caffe datum";
  MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  // Without hat-pack's manifest it is refused before LMDB reads a page.
  const std::string error = errorOf([&] { LmdbReader reader(dir.path()); });
  EXPECT_NE(error.find("no hat-pack.json"), std::string::npos) << error;
  EXPECT_NE(
      errorOf([&] { LmdbReader reader(dir / "missing"); }).find("no such"),
      std::string::npos);
}

TEST(Lmdb, CorruptRecordNamesLmdbAndKey) {
  TempDir dir;
  const std::string out = dir / "lmdb";
  {
    LmdbWriter writer(out, false);
    RecordData record = exampleRecord();
    record.key = recordKey(0);
    writer.putRecord(record);
    writer.put(recordKey(1), std::vector<uint8_t>(40, 0x5A));
    writer.commit(exampleMeta());
  }
  LmdbReader reader(out);
  EXPECT_NO_THROW(reader.record(0));
  const std::string error = errorOf([&] { reader.record(1); });
  EXPECT_NE(error.find(out), std::string::npos) << error;
  EXPECT_NE(error.find("key '0000000001'"), std::string::npos) << error;
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
  EXPECT_NE(errorOf([&] { reader.record(2); }).find("out of range"),
            std::string::npos);
}

TEST(Idx, ReadsFashionMnistTestSplit) {
  if (!hat::data::test::haveFashionMnist())
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  FashionMnistSplit split = readFashionMnist(kDefaultFashionMnistDir, "val");
  EXPECT_EQ(split.images.dims, (std::vector<uint32_t>{10000, 28, 28}));
  EXPECT_EQ(split.labels.dims, (std::vector<uint32_t>{10000}));
  EXPECT_EQ(split.labels.data[0], 9); // the first t10k item is an ankle boot
  EXPECT_NE(errorOf([] { readIdx("/nonexistent.gz"); }).find("cannot open"),
            std::string::npos);
}

// Found by the IDX fuzzer (test/fuzz/IdxFuzzer.cpp): the element count was an
// unchecked product of the dims, and the reader allocated it before reading,
// so a 20-byte header threw std::bad_alloc (or wrapped around) instead of a
// DataError naming the file.
TEST(Idx, HugeOrOverflowingDimsAreDataErrors) {
  TempDir dir;
  auto writeIdx = [&](const std::string &name,
                      const std::vector<uint32_t> &dims) {
    std::string bytes = {0, 0, 8, char(dims.size())};
    for (uint32_t dim : dims)
      for (int shift = 24; shift >= 0; shift -= 8)
        bytes += char((dim >> shift) & 0xFF);
    bytes += "abc"; // far fewer data bytes than the dims claim
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  };
  auto dataError = [](const std::string &path) {
    try {
      readIdx(path);
    } catch (const DataError &error) {
      return error.source() + ": " + error.reason();
    } catch (const std::exception &other) {
      return std::string("not a DataError: ") + other.what();
    }
    return std::string("no error");
  };
  const std::string overflow =
      writeIdx("overflow.idx", {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF});
  std::string error = dataError(overflow);
  EXPECT_EQ(error.rfind(overflow + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("overflow"), std::string::npos) << error;

  // Past the 8 GiB cap: refused from the header alone.
  const std::string huge = writeIdx("huge.idx", {0xFFFFFFFF, 0xFFFF});
  error = dataError(huge);
  EXPECT_EQ(error.rfind(huge + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("more than 8 GiB"), std::string::npos) << error;

  // Under the cap but far more than the file holds: reported as truncated
  // (the reader grows as data arrives instead of allocating the claim).
  const std::string lying = writeIdx("lying.idx", {60000, 28, 28});
  error = dataError(lying);
  EXPECT_EQ(error.rfind(lying + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
}

// encodeRecord/encodeMeta passed strings as c_str(), so a file name with a
// NUL byte (legal in a COCO JSON string) was cut at the NUL; the record
// fuzzer's round-trip check states the property.
TEST(Record, StringsWithNulBytesRoundTrip) {
  RecordData record = exampleRecord();
  record.fileName = std::string("a\0b.jpg", 7);
  RecordData back;
  std::string reason;
  std::vector<uint8_t> bytes = encodeRecord(record);
  ASSERT_TRUE(decodeRecord(bytes.data(), bytes.size(), back, reason)) << reason;
  EXPECT_EQ(back.fileName, record.fileName);

  DatasetMeta meta = exampleMeta();
  meta.source = std::string("src\0dir", 7);
  DatasetMeta metaBack;
  bytes = encodeMeta(meta);
  ASSERT_TRUE(decodeMeta(bytes.data(), bytes.size(), metaBack, reason))
      << reason;
  EXPECT_EQ(metaBack.source, meta.source);
}
