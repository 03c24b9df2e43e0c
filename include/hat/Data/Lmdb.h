//===- Lmdb.h - Atomic LMDB writer and verified reader --------------------===//
#ifndef HAT_DATA_LMDB_H
#define HAT_DATA_LMDB_H

#include "hat/Data/Record.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct MDB_env;
struct MDB_txn;

namespace hat::data {

/// Writes an LMDB into a temporary directory beside `outDir` and renames it
/// into place only in commit(), after the meta record is written. A pack that
/// crashes or throws leaves at most a `.tmp-*` directory, never an LMDB that
/// opens as valid (it would lack the meta record anyway).
class LmdbWriter {
public:
  /// Refuses an existing `outDir` unless `overwrite`.
  LmdbWriter(std::string outDir, bool overwrite);
  ~LmdbWriter();
  LmdbWriter(const LmdbWriter &) = delete;
  LmdbWriter &operator=(const LmdbWriter &) = delete;

  /// Stores raw bytes; commits the write transaction every few thousand puts
  /// to bound its dirty pages.
  void put(const std::string &key, const std::vector<uint8_t> &value);
  void putRecord(const RecordData &record) {
    put(record.key, encodeRecord(record));
  }
  /// Writes the meta record, syncs, closes and renames into place.
  void commit(const DatasetMeta &meta);

  const std::string &outDir() const { return outDir_; }
  const std::string &tempDir() const { return tempDir_; }

private:
  void flushTxn();
  std::string outDir_, tempDir_;
  bool overwrite_;
  MDB_env *env_ = nullptr;
  MDB_txn *txn_ = nullptr;
  unsigned dbi_ = 0;
  std::size_t putsInTxn_ = 0;
  bool committed_ = false;
};

/// Read-only, thread-safe view of a packed LMDB. The constructor checks the
/// meta record and schema version and throws DataError naming the path.
class LmdbReader {
public:
  explicit LmdbReader(std::string path);
  ~LmdbReader();
  LmdbReader(const LmdbReader &) = delete;
  LmdbReader &operator=(const LmdbReader &) = delete;

  const DatasetMeta &meta() const { return meta_; }
  std::size_t size() const { return static_cast<std::size_t>(meta_.count); }
  const std::string &path() const { return path_; }

  /// Raw value of `key`; false when absent. Safe from any thread.
  bool get(const std::string &key, std::vector<uint8_t> &value) const;
  /// Decoded record `index`; throws DataError (path, key, reason).
  RecordData record(std::size_t index) const;

private:
  std::string path_;
  MDB_env *env_ = nullptr;
  unsigned dbi_ = 0;
  DatasetMeta meta_;
};

/// True when `path` looks like an LMDB directory (holds data.mdb).
bool isLmdbDirectory(const std::string &path);

} // namespace hat::data

#endif // HAT_DATA_LMDB_H
