//===- Crc32c.cpp - CRC-32C (Castagnoli) ----------------------------------===//

#include "hat/Telemetry/Crc32c.h"

#include <array>

namespace hat::telemetry {

namespace {
constexpr uint32_t kReflectedPolynomial = 0x82F63B78u;

std::array<uint32_t, 256> makeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ kReflectedPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
} // namespace

uint32_t crc32c(const void *data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = makeTable();
  const auto *bytes = static_cast<const unsigned char *>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

} // namespace hat::telemetry
