//===- Lmdb.cpp - Atomic LMDB writer and verified reader ------------------===//
#include "hat/Data/Lmdb.h"
#include "hat/Data/Error.h"

#include <lmdb.h>

#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace fs = std::filesystem;

namespace hat::data {

namespace {
// Reserved address space, not disk: LMDB files grow as written. 256 GiB holds
// a JPEG-packed ImageNet with room to spare.
constexpr std::size_t kMapSize = std::size_t(256) << 30;
// Commit the write transaction every this many puts to bound dirty pages.
constexpr std::size_t kPutsPerTxn = 2048;

void check(int rc, const std::string &path, const std::string &what) {
  if (rc != MDB_SUCCESS)
    throw DataError(path, "", what + ": " + mdb_strerror(rc));
}
} // namespace

bool isLmdbDirectory(const std::string &path) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / "data.mdb", ec);
}

LmdbWriter::LmdbWriter(std::string outDir, bool overwrite)
    : outDir_(std::move(outDir)), overwrite_(overwrite) {
  while (outDir_.size() > 1 && outDir_.back() == '/')
    outDir_.pop_back();
  std::error_code ec;
  if (fs::exists(outDir_, ec) && !overwrite_)
    throw DataError(outDir_, "",
                    "output already exists (pass --overwrite to replace it)");
  fs::path parent = fs::absolute(outDir_).parent_path();
  fs::create_directories(parent, ec);
  if (ec)
    throw DataError(parent.string(), "",
                    "cannot create output directory: " + ec.message());
  tempDir_ = outDir_ + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tempDir_, ec);
  fs::create_directories(tempDir_, ec);
  if (ec)
    throw DataError(tempDir_, "", "cannot create directory: " + ec.message());
  check(mdb_env_create(&env_), tempDir_, "mdb_env_create");
  check(mdb_env_set_mapsize(env_, kMapSize), tempDir_, "mdb_env_set_mapsize");
  // No syncs while writing: commit() syncs once, and until the rename nothing
  // depends on the temporary LMDB surviving a crash.
  check(mdb_env_open(env_, tempDir_.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0664),
        tempDir_, "mdb_env_open");
  check(mdb_txn_begin(env_, nullptr, 0, &txn_), tempDir_, "mdb_txn_begin");
  MDB_dbi dbi;
  check(mdb_dbi_open(txn_, nullptr, 0, &dbi), tempDir_, "mdb_dbi_open");
  dbi_ = dbi;
}

LmdbWriter::~LmdbWriter() {
  if (txn_)
    mdb_txn_abort(txn_);
  if (env_)
    mdb_env_close(env_);
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tempDir_, ec);
  }
}

void LmdbWriter::flushTxn() {
  check(mdb_txn_commit(txn_), tempDir_, "mdb_txn_commit");
  txn_ = nullptr;
  check(mdb_txn_begin(env_, nullptr, 0, &txn_), tempDir_, "mdb_txn_begin");
  putsInTxn_ = 0;
}

void LmdbWriter::put(const std::string &key,
                     const std::vector<uint8_t> &value) {
  MDB_val mdbKey{key.size(), const_cast<char *>(key.data())};
  MDB_val mdbValue{value.size(), const_cast<uint8_t *>(value.data())};
  int rc = mdb_put(txn_, dbi_, &mdbKey, &mdbValue, 0);
  if (rc != MDB_SUCCESS)
    throw DataError(tempDir_, key, std::string("mdb_put: ") + mdb_strerror(rc));
  if (++putsInTxn_ >= kPutsPerTxn)
    flushTxn();
}

void LmdbWriter::commit(const DatasetMeta &meta) {
  put(kMetaKey, encodeMeta(meta));
  check(mdb_txn_commit(txn_), tempDir_, "mdb_txn_commit");
  txn_ = nullptr;
  check(mdb_env_sync(env_, 1), tempDir_, "mdb_env_sync");
  mdb_env_close(env_);
  env_ = nullptr;
  std::error_code ec;
  // The lock file only matters to concurrent writers; readers open with
  // MDB_NOLOCK so a read-only copy of the LMDB works.
  fs::remove(fs::path(tempDir_) / "lock.mdb", ec);
  if (fs::exists(outDir_, ec)) {
    if (!overwrite_)
      throw DataError(outDir_, "",
                      "output appeared while packing; not replaced");
    fs::remove_all(outDir_, ec);
    if (ec)
      throw DataError(outDir_, "", "cannot remove old output: " + ec.message());
  }
  fs::rename(tempDir_, outDir_, ec);
  if (ec)
    throw DataError(outDir_, "",
                    "cannot rename " + tempDir_ + ": " + ec.message());
  committed_ = true;
}

LmdbReader::LmdbReader(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (!fs::is_directory(path_, ec))
    throw DataError(path_, "", "no such LMDB directory");
  if (!isLmdbDirectory(path_))
    throw DataError(path_, "", "not an LMDB (no data.mdb)");
  check(mdb_env_create(&env_), path_, "mdb_env_create");
  check(mdb_env_set_maxreaders(env_, 1024), path_, "mdb_env_set_maxreaders");
  // NOTLS: read transactions are per call, from any loader thread. NOLOCK:
  // packed LMDBs are immutable, and it allows read-only directories.
  // NORDAHEAD: access is random, readahead only wastes page cache.
  int rc =
      mdb_env_open(env_, path_.c_str(),
                   MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK | MDB_NORDAHEAD, 0444);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw DataError(path_, "",
                    std::string("cannot open LMDB (corrupt or truncated?): ") +
                        mdb_strerror(rc));
  }
  MDB_txn *txn = nullptr;
  check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), path_, "mdb_txn_begin");
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
  MDB_stat stat{};
  if (rc == MDB_SUCCESS)
    rc = mdb_stat(txn, dbi, &stat);
  mdb_txn_abort(txn);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw DataError(path_, "",
                    std::string("cannot read LMDB: ") + mdb_strerror(rc));
  }
  dbi_ = dbi;

  auto fail = [&](const std::string &key, const std::string &reason) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw DataError(path_, key, reason);
  };
  std::vector<uint8_t> metaBytes;
  if (!get(kMetaKey, metaBytes))
    fail(kMetaKey, "no meta record: an unfinished pack, or an LMDB not "
                   "written by hat-pack (re-pack it with hat-pack)");
  std::string reason;
  if (!decodeMeta(metaBytes.data(), metaBytes.size(), meta_, reason))
    fail(kMetaKey, reason);
  if (meta_.schemaVersion != kRecordSchemaVersion)
    fail(kMetaKey, "record schema v" + std::to_string(meta_.schemaVersion) +
                       ", this build reads v" +
                       std::to_string(kRecordSchemaVersion) +
                       "; re-pack the dataset with this hat-pack");
  if (stat.ms_entries != meta_.count + 1)
    fail(kMetaKey, "meta says " + std::to_string(meta_.count) +
                       " records but the LMDB holds " +
                       std::to_string(stat.ms_entries - 1));
}

LmdbReader::~LmdbReader() {
  if (env_)
    mdb_env_close(env_);
}

bool LmdbReader::get(const std::string &key,
                     std::vector<uint8_t> &value) const {
  MDB_txn *txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS)
    throw DataError(path_, key,
                    std::string("mdb_txn_begin: ") + mdb_strerror(rc));
  MDB_val mdbKey{key.size(), const_cast<char *>(key.data())};
  MDB_val mdbValue{};
  rc = mdb_get(txn, dbi_, &mdbKey, &mdbValue);
  if (rc == MDB_SUCCESS) {
    const auto *begin = static_cast<const uint8_t *>(mdbValue.mv_data);
    value.assign(begin, begin + mdbValue.mv_size);
  }
  mdb_txn_abort(txn);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != MDB_SUCCESS)
    throw DataError(path_, key, std::string("mdb_get: ") + mdb_strerror(rc));
  return true;
}

RecordData LmdbReader::record(std::size_t index) const {
  const std::string key = recordKey(index);
  if (index >= size())
    throw DataError(path_, key,
                    "index out of range (" + std::to_string(size()) +
                        " records)");
  std::vector<uint8_t> bytes;
  if (!get(key, bytes))
    throw DataError(path_, key, "record missing");
  RecordData record;
  std::string reason;
  if (!decodeRecord(bytes.data(), bytes.size(), record, reason))
    throw DataError(path_, key, reason);
  return record;
}

} // namespace hat::data
