//===- Idx.cpp - Reader for (gzip'd) IDX files ----------------------------===//
#include "hat/Data/Idx.h"
#include "hat/Data/Error.h"

#include <zlib.h>

#include <algorithm>
#include <limits>
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
  gzbuffer(file.get(), 1 << 20);
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
    if (dim != 0 && total > std::numeric_limits<std::size_t>::max() / dim)
      throw DataError(path, "",
                      "IDX dims overflow the element count (dim " +
                          std::to_string(d) + " is " + std::to_string(dim) +
                          ")");
    total *= dim;
  }
  // Read in growing chunks (1 MiB, then doubling): a header claiming more
  // bytes than the file holds fails on the truncation, having allocated at
  // most twice what the file really has, not what the header claims.
  while (array.data.size() < total) {
    const std::size_t done = array.data.size();
    const std::size_t chunk = std::min(
        std::max<std::size_t>(done, std::size_t(1) << 20), total - done);
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
  return out;
}

} // namespace hat::data
