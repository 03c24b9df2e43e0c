//===- IdxFuzzer.cpp - libFuzzer target: the (gzip'd) IDX reader ----------===//
//
// readIdx reads a path through zlib, so each input is written to an
// in-memory file (memfd) and read back through /proc/self/fd: the same code
// path as a Fashion-MNIST file on disk, gzip'd or not. The only acceptable
// failure is a DataError naming the file; a loaded array must hold exactly
// the product of its dims.
//
//===----------------------------------------------------------------------===//

#include "hat/Data/Error.h"
#include "hat/Data/Idx.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
int memoryFile() {
  static int fd = [] {
    int descriptor = memfd_create("hat-fuzz-idx", 0);
    if (descriptor < 0)
      std::abort();
    return descriptor;
  }();
  return fd;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const int fd = memoryFile();
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    hat::data::IdxArray array = hat::data::readIdx(path);
    uint64_t total = 1;
    for (uint32_t dim : array.dims)
      total *= dim;
    if (array.data.size() != total)
      std::abort();
  } catch (const hat::data::DataError &error) {
    if (error.source() != path || error.reason().empty())
      std::abort();
  }
  return 0;
}
