//===- Checkpoint.cpp - Atomic checkpoints of model, optimizer, progress --===//
//
// A checkpoint is a LibTorch archive (the zip format torch::save writes)
// holding the model's named tensors as two lists (names, tensors), the
// optimizer's archive, and the stage/epoch/step/metrics, behind a 24-byte
// header: the magic "HATCKPT2", the archive's size (uint64) and its CRC-32
// (uint32), little-endian, and 4 reserved zero bytes. The archive is built in
// memory, written to a temporary file in the same directory with checked
// write()s and fsync, and renamed, so a crash or a full disk mid-write leaves
// the previous checkpoint intact (and no temporary file). Loading checks the
// header, size and CRC before LibTorch sees a byte, then refuses NaN/Inf
// weights naming the tensor. HAT's `.pth.tar` names are kept, but the content
// is this format, not a Python pickle.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Engine.h"
#include "hat/Support/Checksum.h"
#include "hat/Support/WriteFile.h"

#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hat::engine {

namespace {
/// The archive's own version record; the file header carries the checksum.
constexpr int64_t kFormatVersion = 2;
constexpr char kMagic[8] = {'H', 'A', 'T', 'C', 'K', 'P', 'T', '2'};
constexpr size_t kHeaderBytes = 24;

void putLE(std::string &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(char(uint8_t(value >> (8 * i))));
}

uint64_t getLE(const char *p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= uint64_t(uint8_t(p[i])) << (8 * i);
  return value;
}

/// Writes `bytes` to `path` (a new file), checking every write, fsync and
/// close. Returns 0 or the errno of the first failure.
int writeNewFile(const std::string &path, const std::string &bytes) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  errno = 0;
  int failure = 0;
  if (!hat::detail::writeAll(fd, bytes).empty())
    failure = errno ? errno : EIO; // a zero-byte write sets no errno
  if (!failure && ::fsync(fd) != 0)
    failure = errno;
  if (::close(fd) != 0 && !failure)
    failure = errno;
  return failure;
}

/// Throws unless every floating tensor of `named` is finite.
void requireFinite(const std::string &path, const std::string &what,
                   const exec::NamedTensors &named) {
  for (const auto &[name, tensor] : named)
    if (tensor.is_floating_point() && tensor.numel() > 0 &&
        !torch::isfinite(tensor).all().item<bool>())
      throw EngineError("checkpoint " + path + ": " + what + " tensor '" +
                        name +
                        "' contains NaN or Inf values (the run that "
                        "saved it diverged); refusing to load it");
}
} // namespace

void saveCheckpoint(const std::string &path, const CheckpointData &data,
                    torch::optim::Optimizer *optimizer) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path())
    fs::create_directories(target.parent_path(), ec);
  torch::serialize::OutputArchive archive;
  archive.write("hat_checkpoint_version", c10::IValue(kFormatVersion));
  archive.write("stage", c10::IValue(data.stage));
  archive.write("epoch", c10::IValue(data.epoch));
  archive.write("global_step", c10::IValue(data.globalStep));
  archive.write("metrics", c10::IValue(data.metricsJson));
  auto writeTensors = [&](const std::string &prefix,
                          const exec::NamedTensors &named) {
    c10::List<std::string> names;
    c10::List<at::Tensor> tensors;
    for (auto &[name, tensor] : named) {
      names.push_back(name);
      tensors.push_back(tensor.detach().cpu());
    }
    archive.write(prefix + "_names", c10::IValue(names));
    archive.write(prefix + "_tensors", c10::IValue(tensors));
  };
  writeTensors("model", data.model);
  if (!data.live.empty())
    writeTensors("live", data.live);
  if (optimizer) {
    torch::serialize::OutputArchive optimizerArchive;
    optimizer->save(optimizerArchive);
    archive.write("optimizer", optimizerArchive);
  }
  // Serialized in memory: LibTorch's file writer throws from its destructor
  // when a write fails (a full disk), which terminates the process.
  std::string file(kHeaderBytes, '\0');
  try {
    archive.save_to([&](const void *data, size_t size) -> size_t {
      file.append(static_cast<const char *>(data), size);
      return size;
    });
  } catch (const std::exception &e) {
    std::string what = e.what();
    throw EngineError("cannot serialize checkpoint " + path + ": " +
                      what.substr(0, what.find('\n')));
  }
  const size_t payload = file.size() - kHeaderBytes;
  std::string header(kMagic, kMagic + 8);
  putLE(header, payload, 8);
  putLE(header, hat::crc32(file.data() + kHeaderBytes, payload), 4);
  putLE(header, 0, 4);
  file.replace(0, kHeaderBytes, header);

  if (std::string reason = hat::writeFileAtomically(path, file);
      !reason.empty())
    throw EngineError("cannot write checkpoint " + path + ": " + reason +
                      " (the previous checkpoint, if any, is unchanged)");
}

CheckpointData loadCheckpoint(const std::string &path,
                              torch::optim::Optimizer *optimizer,
                              const std::string &expectedStage) {
  if (!std::filesystem::exists(path))
    throw EngineError("checkpoint " + path +
                      " does not exist (did the previous stage run and save "
                      "it?)");
  std::string file;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw EngineError("checkpoint " + path +
                        " cannot be read: " + std::strerror(errno));
    file.assign(std::istreambuf_iterator<char>(in),
                std::istreambuf_iterator<char>());
    if (in.bad())
      throw EngineError("checkpoint " + path + " cannot be read");
  }
  if (file.size() < kHeaderBytes ||
      std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    if (file.compare(0, 4, "PK\x03\x04") == 0)
      throw EngineError("checkpoint " + path +
                        " has no integrity header: written by an older HAT "
                        "(format 1) or by another program; re-run the stage "
                        "that saves it");
    throw EngineError("checkpoint " + path +
                      " is not a HAT checkpoint (no HATCKPT2 header)");
  }
  const uint64_t recordedSize = getLE(file.data() + 8, 8);
  const size_t payload = file.size() - kHeaderBytes;
  if (recordedSize != payload)
    throw EngineError("checkpoint " + path + " is truncated or damaged: " +
                      "its header records " + std::to_string(recordedSize) +
                      " bytes, the file holds " + std::to_string(payload));
  if (getLE(file.data() + 20, 4) != 0)
    throw EngineError("checkpoint " + path +
                      " is corrupt: its header is damaged (reserved bytes "
                      "are not zero)");
  const uint32_t recordedCrc = uint32_t(getLE(file.data() + 16, 4));
  if (recordedCrc != hat::crc32(file.data() + kHeaderBytes, payload))
    throw EngineError("checkpoint " + path +
                      " is corrupt: checksum mismatch (the file changed "
                      "after it was written)");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.data() + kHeaderBytes, payload);
  } catch (const std::exception &e) {
    std::string what = e.what();
    throw EngineError("checkpoint " + path +
                      " is corrupt or not a HAT checkpoint: " +
                      what.substr(0, what.find('\n')));
  }
  CheckpointData data;
  try {
    c10::IValue v;
    if (!archive.try_read("hat_checkpoint_version", v))
      throw EngineError("checkpoint " + path +
                        " is not a HAT checkpoint (no version record)");
    if (v.toInt() != kFormatVersion)
      throw EngineError("checkpoint " + path + " has format version " +
                        std::to_string(v.toInt()) + ", this build reads " +
                        std::to_string(kFormatVersion));
    archive.read("stage", v);
    data.stage = v.toStringRef();
    if (!expectedStage.empty() && data.stage != expectedStage)
      throw EngineError("checkpoint " + path + " is from the '" + data.stage +
                        "' stage, this run is the '" + expectedStage +
                        "' stage: --resume continues the stage that saved "
                        "the checkpoint (load another stage's weights with "
                        "a LoadCheckpoint converter)");
    archive.read("epoch", v);
    data.epoch = v.toInt();
    archive.read("global_step", v);
    data.globalStep = v.toInt();
    archive.read("metrics", v);
    data.metricsJson = v.toStringRef();
    auto readTensors = [&](const std::string &prefix, exec::NamedTensors &out,
                           bool required) {
      c10::IValue names, tensors;
      if (!archive.try_read(prefix + "_names", names) ||
          !archive.try_read(prefix + "_tensors", tensors)) {
        if (required)
          throw EngineError("checkpoint " + path + " has no " + prefix +
                            " tensors");
        return;
      }
      auto nameList = names.toList();
      auto tensorList = tensors.toTensorList();
      if (nameList.size() != tensorList.size())
        throw EngineError("checkpoint " + path + " is corrupt: " +
                          std::to_string(nameList.size()) + " names for " +
                          std::to_string(tensorList.size()) + " tensors");
      for (size_t i = 0; i < nameList.size(); ++i)
        out.emplace_back(nameList.get(i).toStringRef(), tensorList[i]);
    };
    readTensors("model", data.model, /*required=*/true);
    readTensors("live", data.live, /*required=*/false);
    requireFinite(path, "model", data.model);
    requireFinite(path, "live", data.live);
    if (optimizer) {
      torch::serialize::InputArchive optimizerArchive;
      if (!archive.try_read("optimizer", optimizerArchive))
        throw EngineError("checkpoint " + path +
                          " has no optimizer state to resume from");
      optimizer->load(optimizerArchive);
    }
  } catch (const EngineError &) {
    throw;
  } catch (const std::exception &e) {
    std::string what = e.what();
    throw EngineError("checkpoint " + path +
                      " is corrupt: " + what.substr(0, what.find('\n')));
  }
  return data;
}

} // namespace hat::engine

namespace hat::engine {

void prepareCheckpointDir(const std::string &dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw EngineError("ckpt_dir " + dir + " cannot be created: " +
                      (ec ? ec.message() : std::string("not a directory")));
  // Held for the life of the process (every stage of `--stage all`): flock
  // locks belong to the open file, so reopening in this process would
  // conflict with itself.
  static std::map<std::string, int> held;
  const std::string key = fs::weakly_canonical(dir, ec).string();
  if (held.count(key))
    return;
  const std::string lockPath = dir + "/.hat-train.lock";
  const int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw EngineError("ckpt_dir " + dir + " is not writable: cannot create " +
                      lockPath + ": " + std::strerror(errno) +
                      " (checked before training)");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    char text[32] = {0};
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    ::close(fd);
    const std::string pid = n > 0 ? std::string(text, size_t(n))
                                        .substr(0, std::string(text).find('\n'))
                                  : std::string("unknown");
    if (why == EWOULDBLOCK)
      throw EngineError("ckpt_dir " + dir +
                        " is in use by another hat-train (process " + pid +
                        ", lock " + lockPath +
                        "); two runs on one ckpt_dir would overwrite each "
                        "other's checkpoints: wait for it or set another "
                        "ckpt_dir");
    throw EngineError("cannot lock " + lockPath + ": " + std::strerror(why));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    const int why = errno;
    ::close(fd);
    throw EngineError("ckpt_dir " + dir + " is not writable: " +
                      std::strerror(why) + " (checked before training)");
  }
  // A directory that takes the lock file may still refuse new files (a
  // full disk, quota): probe with a real file and its rename, as the
  // checkpoint writer will do.
  const std::string probe =
      dir + "/.hat-train.probe." + std::to_string(getpid());
  const int failure = writeNewFile(probe, "probe\n");
  if (failure == 0 && std::rename(probe.c_str(), (probe + ".r").c_str()) == 0)
    fs::remove(probe + ".r", ec);
  else {
    fs::remove(probe, ec);
    ::close(fd);
    throw EngineError("ckpt_dir " + dir + " is not writable: " +
                      std::strerror(failure ? failure : errno) +
                      " (checked before training)");
  }
  held[key] = fd;
}

} // namespace hat::engine
