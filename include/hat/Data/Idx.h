//===- Idx.h - Reader for (gzip'd) IDX files of MNIST-style datasets ------===//
#ifndef HAT_DATA_IDX_H
#define HAT_DATA_IDX_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hat::data {

/// An unsigned-byte IDX tensor: dims (e.g. {60000, 28, 28}) and row-major data.
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
  std::size_t itemSize() const;
};

/// Largest element count an IDX header may declare (MNIST-style files are
/// tens of MB; this bounds a corrupt header, whose dims could overflow).
inline constexpr std::size_t kMaxIdxBytes = std::size_t(8) << 30;

/// Reads an IDX file, gzip'd or not (zlib reads both); throws DataError.
IdxArray readIdx(const std::string &path);

/// Fashion-MNIST of Debian's dataset-fashion-mnist package.
inline constexpr const char *kDefaultFashionMnistDir =
    "/usr/share/datasets/fashion-mnist";
/// The ten Fashion-MNIST class names, label order.
const std::vector<std::string> &fashionMnistClassNames();

/// Images and labels of a split ("train", or "val"/"test" = t10k).
struct FashionMnistSplit {
  IdxArray images, labels;
};
FashionMnistSplit readFashionMnist(const std::string &dir,
                                   const std::string &split);

} // namespace hat::data

#endif // HAT_DATA_IDX_H
