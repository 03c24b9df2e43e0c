//===- Rng.h - Per-sample random stream -----------------------------------===//
#ifndef HAT_DATA_RNG_H
#define HAT_DATA_RNG_H

#include <cstdint>

namespace hat::data {

/// splitmix64 step; also used to derive independent seeds.
uint64_t splitMix64(uint64_t &state);

/// xoshiro256** seeded from (seed, epoch, sample index). Each sample gets its
/// own stream, so augmentation does not depend on which worker thread ran it
/// or in which order. The distributions are written out here rather than
/// taken from <random> because libstdc++ and libc++ differ in them.
class SampleRng {
public:
  SampleRng(uint64_t seed, uint64_t epoch, uint64_t index);
  explicit SampleRng(uint64_t seed);

  uint64_t next();
  /// Uniform in [0, 1).
  double uniform();
  /// Uniform in [low, high).
  double uniform(double low, double high) {
    return low + (high - low) * uniform();
  }
  /// Uniform integer in [low, high] (inclusive).
  int64_t uniformInt(int64_t low, int64_t high);
  /// True with probability p.
  bool bernoulli(double p) { return uniform() < p; }

private:
  uint64_t state_[4];
};

} // namespace hat::data

#endif // HAT_DATA_RNG_H
