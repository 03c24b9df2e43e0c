//===- Samplers.cpp - Index orders for the DataLoader ---------------------===//
#include "hat/Data/Samplers.h"
#include "hat/Data/Rng.h"

#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>

namespace hat::data {

Sampler::~Sampler() = default;

namespace {
std::mutex distributedDefaultsMutex;
DistributedDefaults distributedDefaultsValue;
} // namespace

void setDistributedDefaults(int rank, int worldSize) {
  if (worldSize < 1 || rank < 0 || rank >= worldSize)
    throw std::invalid_argument("setDistributedDefaults: rank " +
                                std::to_string(rank) + " is not in [0, " +
                                std::to_string(worldSize) + ")");
  std::lock_guard<std::mutex> lock(distributedDefaultsMutex);
  distributedDefaultsValue = {rank, worldSize};
}

DistributedDefaults distributedDefaults() {
  std::lock_guard<std::mutex> lock(distributedDefaultsMutex);
  return distributedDefaultsValue;
}

std::vector<std::size_t> permutation(std::size_t n, uint64_t seed,
                                     uint64_t epoch) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Index ~0 keeps the shuffle stream apart from every sample's stream.
  SampleRng rng(seed, epoch, ~uint64_t(0));
  for (std::size_t i = n; i > 1; --i)
    std::swap(order[i - 1], order[static_cast<std::size_t>(rng.uniformInt(
                                0, static_cast<int64_t>(i - 1)))]);
  return order;
}

std::vector<std::size_t> SequentialSampler::indices(std::size_t datasetSize,
                                                    uint64_t) const {
  std::vector<std::size_t> order(datasetSize);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<std::size_t> RandomSampler::indices(std::size_t datasetSize,
                                                uint64_t epoch) const {
  return permutation(datasetSize, options_.seed, epoch);
}

DistributedSampler::DistributedSampler(DistributedSamplerOptions options)
    : options_(options) {
  if (options_.num_replicas < 1)
    throw std::invalid_argument(
        "DistributedSampler: num_replicas must be >= 1");
  if (options_.rank < 0 || options_.rank >= options_.num_replicas)
    throw std::invalid_argument(
        "DistributedSampler: rank " + std::to_string(options_.rank) +
        " is not in [0, " + std::to_string(options_.num_replicas) + ")");
}

std::vector<std::size_t> DistributedSampler::indices(std::size_t datasetSize,
                                                     uint64_t epoch) const {
  std::vector<std::size_t> order =
      options_.shuffle ? permutation(datasetSize, options_.seed, epoch)
                       : SequentialSampler().indices(datasetSize, epoch);
  const std::size_t replicas = static_cast<std::size_t>(options_.num_replicas);
  std::size_t perReplica;
  if (options_.drop_last) {
    perReplica = datasetSize / replicas;
    order.resize(perReplica * replicas);
  } else {
    perReplica = (datasetSize + replicas - 1) / replicas;
    const std::size_t total = perReplica * replicas;
    // Pad by wrapping around, repeatedly if the dataset is tiny.
    for (std::size_t i = 0; order.size() < total && datasetSize > 0; ++i)
      order.push_back(order[i % datasetSize]);
  }
  std::vector<std::size_t> mine;
  mine.reserve(perReplica);
  for (std::size_t i = static_cast<std::size_t>(options_.rank);
       i < order.size(); i += replicas)
    mine.push_back(order[i]);
  return mine;
}

ShardSampler::ShardSampler(SamplerPtr inner, int rank, int worldSize)
    : inner_(std::move(inner)), rank_(rank), worldSize_(worldSize) {
  if (!inner_)
    throw std::invalid_argument("ShardSampler: no sampler to shard");
  if (worldSize < 1 || rank < 0 || rank >= worldSize)
    throw std::invalid_argument("ShardSampler: rank " + std::to_string(rank) +
                                " is not in [0, " + std::to_string(worldSize) +
                                ")");
}

std::vector<std::size_t> ShardSampler::indices(std::size_t datasetSize,
                                               uint64_t epoch) const {
  std::vector<std::size_t> all = inner_->indices(datasetSize, epoch), mine;
  for (std::size_t i = static_cast<std::size_t>(rank_); i < all.size();
       i += static_cast<std::size_t>(worldSize_))
    mine.push_back(all[i]);
  return mine;
}

} // namespace hat::data
