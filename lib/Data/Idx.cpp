//===- Idx.cpp - Reader for (gzip'd) IDX files ----------------------------===//
#include "hat/Data/Idx.h"
#include "hat/Data/Error.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <memory>

namespace hat::data {

std::size_t IdxArray::itemSize() const {
  std::size_t size = 1;
  for (std::size_t i = 1; i < dims.size(); ++i)
    size *= dims[i];
  return size;
}

IdxArray readIdx(const std::string &path) {
  // gzread passes uncompressed files through unchanged.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"),
                                                  gzclose);
  if (!file)
    throw DataError(path, "", "cannot open IDX file");
  // Large buffers for the 47 MB Fashion-MNIST files; zlib's default (8 KiB)
  // for small ones, where a 1 MiB buffer (3 MiB with the output buffer of
  // a gzip'd file) would be allocated for a few bytes.
  struct stat info {};
  const std::size_t fileBytes =
      ::stat(path.c_str(), &info) == 0 && info.st_size > 0
          ? static_cast<std::size_t>(info.st_size)
          : std::size_t(1) << 20;
  gzbuffer(file.get(), static_cast<unsigned>(std::clamp<std::size_t>(
                           fileBytes, 8 << 10, 1 << 20)));
  auto readExactly = [&](void *buffer, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      unsigned chunk =
          static_cast<unsigned>(std::min<std::size_t>(size - done, 1u << 30));
      int got = gzread(file.get(), static_cast<char *>(buffer) + done, chunk);
      if (got <= 0) {
        int errnum = 0;
        const char *message = gzerror(file.get(), &errnum);
        throw DataError(path, "",
                        std::string("truncated or corrupt IDX file") +
                            (errnum ? std::string(": ") + message : ""));
      }
      done += static_cast<std::size_t>(got);
    }
  };
  uint8_t magic[4];
  readExactly(magic, 4);
  // Magic: two zero bytes, the element type (0x08 = unsigned byte), rank.
  if (magic[0] != 0 || magic[1] != 0)
    throw DataError(path, "", "not an IDX file (bad magic)");
  if (magic[2] != 0x08)
    throw DataError(path, "",
                    "IDX element type " + std::to_string(magic[2]) +
                        " unsupported (only unsigned byte)");
  IdxArray array;
  std::size_t total = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t be[4];
    readExactly(be, 4);
    uint32_t dim = (uint32_t(be[0]) << 24) | (uint32_t(be[1]) << 16) |
                   (uint32_t(be[2]) << 8) | uint32_t(be[3]);
    array.dims.push_back(dim);
    // Four 2^32 dims overflow size_t: check the product, and bound it.
    if (__builtin_mul_overflow(total, static_cast<std::size_t>(dim), &total) ||
        total > kMaxIdxBytes)
      throw DataError(path, "",
                      "IDX header declares more than " +
                          std::to_string(kMaxIdxBytes >> 30) +
                          " GiB of elements (dimension " + std::to_string(d) +
                          " is " + std::to_string(dim) + ")");
  }
  // Grow as data arrives (64 KiB, then doubling), so a header that lies
  // about the size of a short file is reported as truncated having
  // allocated at most twice what the file holds, not what it claims. (Fixed
  // 64 MiB chunks cost every such header a 64 MiB zero-filled allocation:
  // 80 inputs/s for the idx fuzzer instead of thousands.)
  while (array.data.size() < total) {
    const std::size_t done = array.data.size();
    const std::size_t chunk = std::min(
        std::max<std::size_t>(done, std::size_t(64) << 10), total - done);
    array.data.resize(done + chunk);
    readExactly(array.data.data() + done, chunk);
  }
  return array;
}

const std::vector<std::string> &fashionMnistClassNames() {
  static const std::vector<std::string> names = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

FashionMnistSplit readFashionMnist(const std::string &dir,
                                   const std::string &split) {
  std::string prefix;
  if (split == "train")
    prefix = "train";
  else if (split == "val" || split == "test")
    prefix = "t10k";
  else
    throw DataError(
        dir, "", "unknown Fashion-MNIST split '" + split + "' (train or val)");
  FashionMnistSplit out;
  out.images = readIdx(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  out.labels = readIdx(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (out.images.dims.size() != 3 || out.labels.dims.size() != 1 ||
      out.images.dims[0] != out.labels.dims[0])
    throw DataError(dir, "",
                    "Fashion-MNIST " + prefix +
                        " images and labels do not match in shape");
  if (out.images.dims[1] < 1 || out.images.dims[2] < 1 ||
      out.images.dims[1] > 4096 || out.images.dims[2] > 4096)
    throw DataError(dir + "/" + prefix + "-images-idx3-ubyte.gz", "",
                    "images are " + std::to_string(out.images.dims[1]) + "x" +
                        std::to_string(out.images.dims[2]) +
                        "; expected 1 to 4096 pixels a side (Fashion-MNIST is "
                        "28x28)");
  return out;
}

} // namespace hat::data
