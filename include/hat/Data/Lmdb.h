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

/// Name of the integrity manifest every pack holds beside data.mdb: the
/// size and content hash of data.mdb, and the marker by which `--overwrite`
/// recognizes a directory as a hat-pack LMDB it may replace.
inline constexpr const char *kPackManifestName = "hat-pack.json";

/// data.mdb files up to this size are hashed whenever a reader opens them
/// (about 0.1 s per GiB from the page cache, see docs/data.md); larger ones
/// get the size and structure checks on open and the hash with `--verify`.
inline constexpr uint64_t kHashOnOpenLimitBytes = uint64_t(8) << 30;

/// What the manifest records about data.mdb.
struct PackIntegrity {
  uint64_t bytes = 0;
  uint64_t hash = 0;
};

/// Size and 64-bit content hash of a file (four-lane multiply-rotate hash
/// over 64-bit words; detects damage, not tampering). Throws DataError.
PackIntegrity hashPackFile(const std::string &path);
/// The hash as 16 lowercase hex digits, as the manifest stores it.
std::string formatPackHash(uint64_t hash);

/// Writes an LMDB into a temporary directory beside `outDir` and renames it
/// into place only in commit(), after the meta record and the manifest are
/// written. A pack that crashes or throws leaves at most a `.tmp-*`
/// directory, never an LMDB that opens as valid (it would lack the meta
/// record and the manifest anyway).
class LmdbWriter {
public:
  /// Refuses an existing `outDir` unless `overwrite`, and even then unless
  /// it is itself a hat-pack LMDB (isHatPackDirectory): --overwrite never
  /// deletes a regular file or a directory of other files.
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
  /// Writes the meta record, syncs, closes, writes the manifest and renames
  /// into place.
  void commit(const DatasetMeta &meta);

  const std::string &outDir() const { return outDir_; }
  const std::string &tempDir() const { return tempDir_; }

private:
  void flushTxn();
  void closeEnv();
  std::string outDir_, tempDir_;
  bool overwrite_;
  MDB_env *env_ = nullptr;
  MDB_txn *txn_ = nullptr;
  unsigned dbi_ = 0;
  std::size_t putsInTxn_ = 0;
  bool committed_ = false;
};

/// Read-only, thread-safe view of a packed LMDB. The constructor checks,
/// before LMDB reads a page: the manifest, that data.mdb has the recorded
/// size, its content hash (always with `hashAlways`, else up to
/// kHashOnOpenLimitBytes), and that the file reaches the environment's last
/// page; then the meta record, schema version and count. Throws DataError
/// naming the path. LMDB trusts its file, so a damaged page that got past
/// these checks could crash it: the checks are what keeps a bad pack from
/// becoming a SIGBUS/SIGSEGV.
class LmdbReader {
public:
  explicit LmdbReader(std::string path, bool hashAlways = false);
  ~LmdbReader();
  LmdbReader(const LmdbReader &) = delete;
  LmdbReader &operator=(const LmdbReader &) = delete;

  const DatasetMeta &meta() const { return meta_; }
  std::size_t size() const { return static_cast<std::size_t>(meta_.count); }
  const std::string &path() const { return path_; }
  /// The manifest's record of data.mdb, and whether its hash was checked.
  const PackIntegrity &integrity() const { return integrity_; }
  bool hashChecked() const { return hashChecked_; }

  /// Raw value of `key`; false when absent. Safe from any thread.
  bool get(const std::string &key, std::vector<uint8_t> &value) const;
  /// Decoded record `index`; throws DataError (path, key, reason).
  RecordData record(std::size_t index) const;

private:
  std::string path_;
  MDB_env *env_ = nullptr;
  unsigned dbi_ = 0;
  DatasetMeta meta_;
  PackIntegrity integrity_;
  bool hashChecked_ = false;
};

/// True when `path` looks like an LMDB directory (holds data.mdb).
bool isLmdbDirectory(const std::string &path);

/// True when `path` is a directory written by hat-pack: it holds data.mdb and
/// a hat-pack manifest, and nothing else but LMDB's lock.mdb. Only such a
/// directory may be replaced by `--overwrite`. `why` says what is not.
bool isHatPackDirectory(const std::string &path, std::string *why = nullptr);

} // namespace hat::data

#endif // HAT_DATA_LMDB_H
