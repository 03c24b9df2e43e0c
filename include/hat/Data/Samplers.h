//===- Samplers.h - Index orders for the DataLoader -----------------------===//
#ifndef HAT_DATA_SAMPLERS_H
#define HAT_DATA_SAMPLERS_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace hat::data {

/// The dataset indices one epoch visits, in order. Pure function of
/// (dataset size, epoch), so every rank and every run agrees.
class Sampler {
public:
  virtual ~Sampler();
  virtual std::vector<std::size_t> indices(std::size_t datasetSize,
                                           uint64_t epoch) const = 0;
};
using SamplerPtr = std::shared_ptr<const Sampler>;

class SequentialSampler : public Sampler {
public:
  std::vector<std::size_t> indices(std::size_t datasetSize,
                                   uint64_t epoch) const override;
};

struct RandomSamplerOptions {
  uint64_t seed = 0;
};
/// A permutation drawn from (seed, epoch).
class RandomSampler : public Sampler {
public:
  explicit RandomSampler(RandomSamplerOptions options) : options_(options) {}
  std::vector<std::size_t> indices(std::size_t datasetSize,
                                   uint64_t epoch) const override;

private:
  RandomSamplerOptions options_;
};

struct DistributedSamplerOptions {
  int num_replicas = 1; // world size
  int rank = 0;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
};
/// torch.utils.data.DistributedSampler: the (optionally shuffled) order is
/// padded by wrapping around (or truncated with drop_last) to a multiple of
/// num_replicas, and rank r takes every num_replicas-th index from r.
class DistributedSampler : public Sampler {
public:
  explicit DistributedSampler(DistributedSamplerOptions options);
  std::vector<std::size_t> indices(std::size_t datasetSize,
                                   uint64_t epoch) const override;

private:
  DistributedSamplerOptions options_;
};

/// Rank r's part of another sampler's order: positions r, r + world, ...,
/// with no padding and nothing dropped, so the ranks together visit every
/// index exactly once (ranks may get one index more than others).
/// Data-parallel validation uses it for loaders that have no
/// DistributedSampler, so metrics gathered over the ranks count each
/// sample once.
class ShardSampler : public Sampler {
public:
  ShardSampler(SamplerPtr inner, int rank, int worldSize);
  std::vector<std::size_t> indices(std::size_t datasetSize,
                                   uint64_t epoch) const override;

private:
  SamplerPtr inner_;
  int rank_, worldSize_;
};

/// The rank and world size a config-built DistributedSampler takes when its
/// config leaves out `rank` / `num_replicas` (torch reads them from the
/// initialised process group; here the engine sets them once it knows them,
/// before building data loaders). Process-wide; default rank 0 of 1.
struct DistributedDefaults {
  int rank = 0;
  int worldSize = 1;
};
void setDistributedDefaults(int rank, int worldSize);
DistributedDefaults distributedDefaults();

/// Fisher-Yates permutation of 0..n-1 from (seed, epoch).
std::vector<std::size_t> permutation(std::size_t n, uint64_t seed,
                                     uint64_t epoch);

} // namespace hat::data

#endif // HAT_DATA_SAMPLERS_H
