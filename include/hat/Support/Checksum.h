//===- Checksum.h - CRC-32 over byte buffers --------------------*- C++ -*-===//
//
// The integrity check of HAT's binary files (HBM, checkpoints): CRC-32 (the
// IEEE 802.3 / zlib polynomial, reflected), which detects every single-bit
// error, every burst up to 32 bits and all but 2^-32 of random damage.
// Header-only and dependency-free so the MLIR-free runtime can use it;
// slicing-by-8 keeps it at about a byte per cycle for large checkpoints.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_SUPPORT_CHECKSUM_H
#define HAT_SUPPORT_CHECKSUM_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hat {

namespace detail {
using Crc32Tables = std::array<std::array<uint32_t, 256>, 8>;

inline const Crc32Tables &crc32Tables() {
  static const Crc32Tables tables = [] {
    Crc32Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s)
        t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    return t;
  }();
  return tables;
}
} // namespace detail

/// CRC-32 of `size` bytes, continuing from `crc` (0 to start), so a file may
/// be checksummed in pieces: crc32(b, nb, crc32(a, na)) == crc32(a ++ b).
inline uint32_t crc32(const void *data, size_t size, uint32_t crc = 0) {
  const detail::Crc32Tables &t = detail::crc32Tables();
  const auto *p = static_cast<const uint8_t *>(data);
  crc = ~crc;
  while (size >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    // Little-endian byte order of the loads is what the tables assume.
    lo ^= crc;
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
          t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
          t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size--)
    crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

} // namespace hat

#endif // HAT_SUPPORT_CHECKSUM_H
