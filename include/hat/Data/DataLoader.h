//===- DataLoader.h - Threaded, deterministic batch loader ----------------===//
#ifndef HAT_DATA_DATALOADER_H
#define HAT_DATA_DATALOADER_H

#include "hat/Data/Datasets.h"
#include "hat/Data/Samplers.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hat::data {

/// A collated batch in plain contiguous buffers the executor can wrap as
/// tensors without copying. Per-image variable-length annotations are
/// concatenated with offsets (image i owns rows boxOffsets[i]..[i+1]).
struct Batch {
  std::array<int64_t, 4> imageShape{0, 0, 0, 0};     // N, C, H, W
  std::vector<float> images;                         // NCHW
  std::vector<int64_t> labels;                       // N, -1 when none
  std::vector<int64_t> imageIds;                     // N
  std::vector<int64_t> sampleIndices;                // N, dataset indices
  std::vector<std::array<float, 2>> scaleFactors;    // N, (x, y) resize factors
  std::vector<std::array<int64_t, 2>> originalSizes; // N, (h, w) as stored
  /// N, (x1, y1, x2, y2): where each image's content lies in the batch
  /// tensor, i.e. excluding Pad's and collate_2d's padding. Clip decoded
  /// boxes to it; divide by scaleFactors to return to original pixels.
  std::vector<std::array<float, 4>> validRegions;
  std::vector<float> boxes;              // total x 4 (x1 y1 x2 y2)
  std::vector<int64_t> boxLabels;        // total
  std::vector<uint8_t> boxIsCrowd;       // total
  std::vector<int64_t> boxOffsets;       // N + 1
  std::vector<float> lanePoints;         // points x 2
  std::vector<int64_t> lanePointOffsets; // lanes + 1
  std::vector<int64_t> laneOffsets;      // N + 1 (into lanes)
  /// N, (x, y): stored = current / scaleFactors + cropOffsets (HAT's
  /// crop_offset), and the lanes as stored, laid out as the lanes above.
  std::vector<std::array<float, 2>> cropOffsets;
  std::vector<float> originalLanePoints;
  std::vector<int64_t> originalLanePointOffsets;
  std::vector<int64_t> originalLaneOffsets;
  std::vector<std::string> colorSpaces; // N
  /// Some sample came from a lane dataset: the lanes above are ground truth.
  bool hasLanes = false;
  std::size_t skipped = 0; // samples of this batch dropped by on_error=skip

  int64_t size() const { return imageShape[0]; }
};

/// hat.data.collates.collate_2d: stacks images into NCHW and concatenates
/// annotations. Images of different sizes are padded bottom/right with 0 to
/// the largest height and width of the batch (their validRegions say where
/// each image is). Throws DataError when channel counts differ.
Batch collate2d(std::vector<Sample> &samples);

struct DataLoaderOptions {
  DatasetPtr dataset;
  int batch_size = 1;
  bool shuffle = false; // ignored when a sampler is given (it orders itself)
  SamplerPtr sampler;
  int num_workers = 0; // worker threads; 0 loads in the calling thread
  bool drop_last = false;
  bool pin_memory = false; // accepted; pinning is the executor's copy
  std::string collate_fn = "collate_2d";
  int prefetch_factor = 2; // batches in flight per worker
  uint64_t seed = 0;
  /// "fail": the first bad sample ends the epoch with its DataError.
  /// "skip": bad samples are dropped, counted and remembered.
  std::string on_error = "fail";
};

/// Counts of what the loader has yielded. Skips are counted when their
/// batch is yielded, in sampler order, so the same epoch gives the same
/// stats whatever num_workers is.
struct LoaderStats {
  std::size_t samples = 0, skipped = 0, batches = 0;
  std::vector<std::string> errors; // first 100 skip reasons, in sample order
};

/// torch.utils.data.DataLoader over threads. Samples are decoded and
/// transformed in worker threads that fill at most
/// num_workers * prefetch_factor batches ahead; batches come out in sampler
/// order, and each sample's augmentation is seeded from (seed, epoch, index),
/// so an epoch's batches are bit-identical for any num_workers.
class DataLoader {
public:
  explicit DataLoader(DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader &) = delete;
  DataLoader &operator=(const DataLoader &) = delete;

  /// Batches per epoch (len(loader)).
  std::size_t size() const;
  /// Starts (or restarts) an epoch, stopping any epoch in flight.
  void startEpoch(uint64_t epoch);
  /// Next batch of the current epoch; false at its end. Rethrows a worker's
  /// DataError under on_error=fail.
  bool next(Batch &batch);

  LoaderStats stats() const;
  const DataLoaderOptions &options() const { return options_; }

private:
  struct Epoch;
  /// Builds one batch; under on_error=skip the reasons of the samples it
  /// dropped go to skipReasons (the stats take them when the batch is
  /// yielded, so they follow batch order for any num_workers).
  Batch buildBatch(const std::vector<std::size_t> &indices, std::size_t first,
                   std::size_t count, uint64_t epoch,
                   std::vector<std::string> &skipReasons);
  void stopEpoch();

  DataLoaderOptions options_;
  SamplerPtr sampler_;
  std::unique_ptr<Epoch> epoch_;
  mutable std::mutex statsMutex_;
  LoaderStats stats_;
};

} // namespace hat::data

#endif // HAT_DATA_DATALOADER_H
