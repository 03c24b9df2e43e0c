//===- Rng.cpp - Per-sample random stream ---------------------------------===//
#include "hat/Data/Rng.h"

namespace hat::data {

uint64_t splitMix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

SampleRng::SampleRng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t &word : state_)
    word = splitMix64(state);
}

SampleRng::SampleRng(uint64_t seed, uint64_t epoch, uint64_t index) {
  // Mix the three parts through splitmix so nearby (epoch, index) pairs give
  // unrelated streams.
  uint64_t state = seed;
  uint64_t mixed = splitMix64(state) ^ epoch;
  mixed = splitMix64(mixed) ^ index;
  for (uint64_t &word : state_)
    word = splitMix64(mixed);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t SampleRng::next() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double SampleRng::uniform() { return (next() >> 11) * 0x1.0p-53; }

int64_t SampleRng::uniformInt(int64_t low, int64_t high) {
  if (high <= low)
    return low;
  const uint64_t range = static_cast<uint64_t>(high - low) + 1;
  // Rejection sampling keeps the draw unbiased.
  const uint64_t limit = range == 0 ? 0 : (~uint64_t(0) / range) * range;
  uint64_t value;
  do
    value = next();
  while (limit != 0 && value >= limit);
  return low + static_cast<int64_t>(range == 0 ? value : value % range);
}

} // namespace hat::data
