//===- Crc32c.h - CRC-32C (Castagnoli) and TFRecord masking -----*- C++ -*-===//
//
// TensorBoard's event files frame every record with CRC-32C checksums
// (polynomial 0x1EDC6F41, reflected 0x82F63B78, initial and final XOR
// 0xFFFFFFFF; CRC32C("123456789") = 0xE3069283). Debian ships no C library
// for it, so this is the table-driven form of that definition.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TELEMETRY_CRC32C_H
#define HAT_TELEMETRY_CRC32C_H

#include <cstddef>
#include <cstdint>

namespace hat::telemetry {

/// CRC-32C of `size` bytes; `crc` continues a previous result (0 to start).
uint32_t crc32c(const void *data, size_t size, uint32_t crc = 0);

/// The masking TFRecord applies so that CRCs of data containing CRCs stay
/// well distributed: rotate right by 15 bits, add 0xA282EAD8.
inline uint32_t maskCrc(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}
inline uint32_t unmaskCrc(uint32_t masked) {
  uint32_t rot = masked - 0xA282EAD8u;
  return (rot >> 17) | (rot << 15);
}

} // namespace hat::telemetry

#endif // HAT_TELEMETRY_CRC32C_H
