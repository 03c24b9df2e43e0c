//===- Lmdb.cpp - Atomic LMDB writer and verified reader ------------------===//
#include "hat/Data/Lmdb.h"
#include "hat/Data/Error.h"

#include <lmdb.h>

#include "hat/Support/WriteFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <system_error>
#include <tuple>
#include <unistd.h>

namespace fs = std::filesystem;

namespace hat::data {

namespace {
// Reserved address space, not disk: LMDB files grow as written. 256 GiB holds
// a JPEG-packed ImageNet with room to spare.
constexpr std::size_t kMapSize = std::size_t(256) << 30;
// Commit the write transaction every this many puts to bound dirty pages.
constexpr std::size_t kPutsPerTxn = 2048;
// Identifies the manifest's JSON as ours (and its layout's version).
constexpr const char *kManifestMarker = "hat-pack LMDB manifest";
constexpr int kManifestVersion = 1;

void check(int rc, const std::string &path, const std::string &what) {
  if (rc != MDB_SUCCESS)
    throw DataError(path, "", what + ": " + mdb_strerror(rc));
}

// Four lanes of 64-bit multiply-rotate rounds over little-endian words,
// folded and avalanched at the end: several GB/s, and any changed byte
// changes the result with overwhelming probability.
class PackHasher {
public:
  void update(const uint8_t *data, std::size_t size) {
    bytes_ += size;
    if (!pending_.empty()) {
      std::size_t take = std::min(size, std::size_t(32) - pending_.size());
      pending_.insert(pending_.end(), data, data + take);
      data += take;
      size -= take;
      if (pending_.size() == 32) {
        block(pending_.data());
        pending_.clear();
      }
    }
    for (; size >= 32; data += 32, size -= 32)
      block(data);
    pending_.insert(pending_.end(), data, data + size);
  }
  uint64_t finish() const {
    uint64_t h = rotl(lane_[0], 1) + rotl(lane_[1], 7) + rotl(lane_[2], 12) +
                 rotl(lane_[3], 18);
    for (uint64_t lane : lane_)
      h = (h ^ round(0, lane)) * kP1 + kP4;
    h += bytes_;
    std::size_t i = 0;
    for (; i + 8 <= pending_.size(); i += 8)
      h = rotl(h ^ round(0, word(pending_.data() + i)), 27) * kP1 + kP4;
    for (; i < pending_.size(); ++i)
      h = rotl(h ^ (pending_[i] * kP5), 11) * kP1;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
  }
  uint64_t bytes() const { return bytes_; }

private:
  static constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
  static constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
  static constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
  static constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;
  static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
  static uint64_t word(const uint8_t *p) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; --b)
      w = (w << 8) | p[b];
    return w;
  }
  static uint64_t round(uint64_t acc, uint64_t input) {
    return rotl(acc + input * kP2, 31) * kP1;
  }
  void block(const uint8_t *p) {
    for (int l = 0; l < 4; ++l)
      lane_[l] = round(lane_[l], word(p + 8 * l));
  }
  uint64_t lane_[4] = {kP1 + kP2, kP2, 0, 0 - kP1};
  uint64_t bytes_ = 0;
  std::vector<uint8_t> pending_;
};

fs::path manifestPath(const std::string &dir) {
  return fs::path(dir) / kPackManifestName;
}

void writeManifest(const std::string &dir, const PackIntegrity &integrity,
                   uint32_t schemaVersion) {
  nlohmann::ordered_json manifest = {
      {"manifest", kManifestMarker},
      {"manifest_version", kManifestVersion},
      {"record_schema_version", schemaVersion},
      {"data_mdb_bytes", integrity.bytes},
      {"data_mdb_hash", formatPackHash(integrity.hash)},
  };
  const std::string path = manifestPath(dir).string();
  std::string failure = writeFileAtomically(path, manifest.dump(2) + "\n");
  if (!failure.empty())
    throw DataError(path, "", "cannot write the pack manifest: " + failure);
}

/// Reads and checks the manifest; throws DataError naming it.
PackIntegrity readManifest(const std::string &dir) {
  const std::string path = manifestPath(dir).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw DataError(dir, "",
                    std::string("no ") + kPackManifestName +
                        ": an unfinished pack, an LMDB not written by "
                        "hat-pack, or one packed before packs carried an "
                        "integrity manifest (re-pack it with hat-pack)");
  if (fs::file_size(path, ec) > (1 << 16))
    throw DataError(path, "", "pack manifest is too large to be one");
  nlohmann::json manifest;
  try {
    std::ifstream in(path);
    manifest = nlohmann::json::parse(in);
  } catch (const std::exception &error) {
    throw DataError(path, "",
                    std::string("pack manifest is not valid JSON: ") +
                        error.what());
  }
  auto fieldError = [&](const std::string &what) {
    return DataError(path, "", "pack manifest: " + what);
  };
  if (!manifest.is_object() ||
      manifest.value("manifest", "") != kManifestMarker)
    throw fieldError("not a hat-pack manifest");
  if (manifest.value("manifest_version", 0) != kManifestVersion)
    throw fieldError(
        "manifest version " +
        manifest.value("manifest_version", nlohmann::json()).dump() +
        ", this build reads " + std::to_string(kManifestVersion));
  const auto &bytes = manifest["data_mdb_bytes"];
  const auto &hash = manifest["data_mdb_hash"];
  if (!bytes.is_number_unsigned())
    throw fieldError("'data_mdb_bytes' is not a byte count");
  if (!hash.is_string() || hash.get<std::string>().size() != 16 ||
      hash.get<std::string>().find_first_not_of("0123456789abcdef") !=
          std::string::npos)
    throw fieldError("'data_mdb_hash' is not 16 hex digits");
  PackIntegrity integrity;
  integrity.bytes = bytes.get<uint64_t>();
  integrity.hash = std::stoull(hash.get<std::string>(), nullptr, 16);
  return integrity;
}

/// Files hashed and found intact by this process (device, inode, size,
/// mtime), so that a pack opened by several datasets is read once.
struct VerifiedFiles {
  std::mutex mutex;
  std::set<std::tuple<dev_t, ino_t, off_t, time_t, long>> files;
};
VerifiedFiles &verifiedFiles() {
  static VerifiedFiles instance;
  return instance;
}
} // namespace

PackIntegrity hashPackFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw DataError(path, "",
                    std::string("cannot open: ") + std::strerror(errno));
  PackHasher hasher;
  std::vector<uint8_t> buffer(std::size_t(1) << 20);
  for (;;) {
    ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int error = errno;
      ::close(fd);
      throw DataError(path, "",
                      std::string("cannot read: ") + std::strerror(error));
    }
    if (got == 0)
      break;
    hasher.update(buffer.data(), static_cast<std::size_t>(got));
  }
  ::close(fd);
  return {hasher.bytes(), hasher.finish()};
}

std::string formatPackHash(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx",
                static_cast<unsigned long long>(hash));
  return text;
}

bool isLmdbDirectory(const std::string &path) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / "data.mdb", ec);
}

bool isHatPackDirectory(const std::string &path, std::string *why) {
  auto no = [&](const std::string &reason) {
    if (why)
      *why = reason;
    return false;
  };
  std::error_code ec;
  fs::file_status status = fs::symlink_status(path, ec);
  if (fs::is_symlink(status))
    return no("is a symbolic link");
  if (!fs::is_directory(status))
    return no(fs::is_regular_file(status) ? "is a regular file"
                                          : "is not a directory");
  bool hasData = false, hasManifest = false;
  for (const auto &entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "data.mdb" && entry.is_regular_file())
      hasData = true;
    else if (name == kPackManifestName && entry.is_regular_file())
      hasManifest = true;
    else if (name != "lock.mdb")
      return no("holds '" + name + "', which hat-pack does not write");
  }
  if (ec)
    return no("cannot be listed: " + ec.message());
  if (!hasData || !hasManifest)
    return no(std::string("has no ") +
              (hasData ? kPackManifestName : "data.mdb"));
  try {
    readManifest(path);
  } catch (const DataError &error) {
    return no(error.reason());
  }
  return true;
}

LmdbWriter::LmdbWriter(std::string outDir, bool overwrite)
    : outDir_(std::move(outDir)), overwrite_(overwrite) {
  while (outDir_.size() > 1 && outDir_.back() == '/')
    outDir_.pop_back();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(outDir_, ec))) {
    if (!overwrite_)
      throw DataError(outDir_, "",
                      "output already exists (pass --overwrite to replace it)");
    std::string why;
    if (!isHatPackDirectory(outDir_, &why))
      throw DataError(outDir_, "",
                      "--overwrite only replaces a hat-pack LMDB, and this " +
                          why +
                          "; not touched (remove it yourself if it "
                          "really should go)");
  }
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
  try {
    check(mdb_env_create(&env_), tempDir_, "mdb_env_create");
    check(mdb_env_set_mapsize(env_, kMapSize), tempDir_, "mdb_env_set_mapsize");
    // No syncs while writing: commit() syncs once, and until the rename
    // nothing depends on the temporary LMDB surviving a crash.
    check(
        mdb_env_open(env_, tempDir_.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0664),
        tempDir_, "mdb_env_open");
    check(mdb_txn_begin(env_, nullptr, 0, &txn_), tempDir_, "mdb_txn_begin");
    MDB_dbi dbi;
    check(mdb_dbi_open(txn_, nullptr, 0, &dbi), tempDir_, "mdb_dbi_open");
    dbi_ = dbi;
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    if (txn_)
      mdb_txn_abort(txn_);
    txn_ = nullptr;
    closeEnv();
    fs::remove_all(tempDir_, ec);
    throw;
  }
}

void LmdbWriter::closeEnv() {
  if (env_)
    mdb_env_close(env_);
  env_ = nullptr;
}

LmdbWriter::~LmdbWriter() {
  if (txn_)
    mdb_txn_abort(txn_);
  closeEnv();
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tempDir_, ec);
  }
}

void LmdbWriter::flushTxn() {
  // mdb_txn_commit frees the transaction whether or not it succeeds (a full
  // disk fails here): forget it first so the destructor cannot free it again.
  MDB_txn *txn = txn_;
  txn_ = nullptr;
  check(mdb_txn_commit(txn), tempDir_, "mdb_txn_commit");
  check(mdb_txn_begin(env_, nullptr, 0, &txn_), tempDir_, "mdb_txn_begin");
  putsInTxn_ = 0;
}

void LmdbWriter::put(const std::string &key,
                     const std::vector<uint8_t> &value) {
  if (!txn_)
    throw DataError(tempDir_, key, "write after a failed commit");
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
  MDB_txn *txn = txn_;
  txn_ = nullptr; // freed by mdb_txn_commit, even when it fails
  check(mdb_txn_commit(txn), tempDir_, "mdb_txn_commit");
  check(mdb_env_sync(env_, 1), tempDir_, "mdb_env_sync");
  closeEnv();
  std::error_code ec;
  // The lock file only matters to concurrent writers; readers open with
  // MDB_NOLOCK so a read-only copy of the LMDB works.
  fs::remove(fs::path(tempDir_) / "lock.mdb", ec);
  writeManifest(tempDir_,
                hashPackFile((fs::path(tempDir_) / "data.mdb").string()),
                meta.schemaVersion);
  if (fs::exists(fs::symlink_status(outDir_, ec))) {
    if (!overwrite_)
      throw DataError(outDir_, "",
                      "output appeared while packing; not replaced");
    std::string why;
    if (!isHatPackDirectory(outDir_, &why))
      throw DataError(outDir_, "",
                      "output changed while packing and " + why +
                          "; not replaced");
    // Move the old pack aside first so that a failure leaves one of the two
    // complete packs at `outDir`.
    const std::string old = outDir_ + ".old-" + std::to_string(::getpid());
    fs::remove_all(old, ec);
    fs::rename(outDir_, old, ec);
    if (ec)
      throw DataError(outDir_, "",
                      "cannot move old output aside: " + ec.message());
    fs::rename(tempDir_, outDir_, ec);
    if (ec) {
      std::error_code restore;
      fs::rename(old, outDir_, restore);
      throw DataError(outDir_, "",
                      "cannot rename " + tempDir_ + ": " + ec.message());
    }
    fs::remove_all(old, ec);
    committed_ = true;
    return;
  }
  fs::rename(tempDir_, outDir_, ec);
  if (ec)
    throw DataError(outDir_, "",
                    "cannot rename " + tempDir_ + ": " + ec.message());
  committed_ = true;
}

LmdbReader::LmdbReader(std::string path, bool hashAlways)
    : path_(std::move(path)) {
  std::error_code ec;
  if (!fs::is_directory(path_, ec))
    throw DataError(path_, "", "no such LMDB directory");
  if (!isLmdbDirectory(path_))
    throw DataError(path_, "", "not an LMDB (no data.mdb)");
  // LMDB maps data.mdb and trusts every byte of it: a short file is a SIGBUS
  // and a damaged page a wild pointer. Check the file before LMDB reads it.
  integrity_ = readManifest(path_);
  const std::string dataPath = (fs::path(path_) / "data.mdb").string();
  struct stat info {};
  if (::stat(dataPath.c_str(), &info) != 0)
    throw DataError(dataPath, "",
                    std::string("cannot stat: ") + std::strerror(errno));
  if (static_cast<uint64_t>(info.st_size) != integrity_.bytes)
    throw DataError(dataPath, "",
                    "data.mdb is " + std::to_string(info.st_size) +
                        " bytes but the pack manifest says " +
                        std::to_string(integrity_.bytes) +
                        (static_cast<uint64_t>(info.st_size) < integrity_.bytes
                             ? ": the pack is truncated (re-pack or copy it "
                               "again)"
                             : ": the pack was modified after packing"));
  if (hashAlways || integrity_.bytes <= kHashOnOpenLimitBytes) {
    auto identity = std::make_tuple(info.st_dev, info.st_ino, info.st_size,
                                    info.st_mtim.tv_sec, info.st_mtim.tv_nsec);
    VerifiedFiles &verified = verifiedFiles();
    bool known;
    {
      std::lock_guard<std::mutex> lock(verified.mutex);
      known = verified.files.count(identity) != 0;
    }
    if (!known || hashAlways) {
      PackIntegrity actual = hashPackFile(dataPath);
      if (actual.bytes != integrity_.bytes || actual.hash != integrity_.hash)
        throw DataError(dataPath, "",
                        "content hash " + formatPackHash(actual.hash) +
                            " does not match the pack manifest's " +
                            formatPackHash(integrity_.hash) +
                            ": the pack is damaged (re-pack or copy it "
                            "again)");
      std::lock_guard<std::mutex> lock(verified.mutex);
      verified.files.insert(identity);
    }
    hashChecked_ = true;
  }
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
  auto fail = [&](const std::string &key, const std::string &reason) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw DataError(path_, key, reason);
  };
  // Every page up to the environment's last must lie inside the file; a
  // page beyond it is a SIGBUS on first touch.
  MDB_envinfo envInfo{};
  MDB_stat envStat{};
  if (mdb_env_info(env_, &envInfo) != MDB_SUCCESS ||
      mdb_env_stat(env_, &envStat) != MDB_SUCCESS)
    fail("", "cannot read the LMDB environment header");
  const uint64_t needed =
      (static_cast<uint64_t>(envInfo.me_last_pgno) + 1) * envStat.ms_psize;
  if (needed > static_cast<uint64_t>(info.st_size))
    fail("", "data.mdb is truncated: its last page ends at byte " +
                 std::to_string(needed) + " but the file has " +
                 std::to_string(info.st_size) + " bytes");
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
