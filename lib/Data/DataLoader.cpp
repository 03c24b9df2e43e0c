//===- DataLoader.cpp - Threaded, deterministic batch loader --------------===//
#include "hat/Data/DataLoader.h"
#include "hat/Data/Error.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <thread>

namespace hat::data {

//===----------------------------------------------------------------------===//
// collate_2d
//===----------------------------------------------------------------------===//

namespace {
/// One image's lanes appended to a batch's flat layout: the points (x, y),
/// where each lane ends, where the image's lanes end.
void appendLanes(const std::vector<std::vector<cv::Point2f>> &lanes,
                 std::vector<float> &points, std::vector<int64_t> &pointOffsets,
                 std::vector<int64_t> &laneOffsets) {
  for (const auto &lane : lanes) {
    for (const cv::Point2f &point : lane) {
      points.push_back(point.x);
      points.push_back(point.y);
    }
    pointOffsets.push_back(static_cast<int64_t>(points.size() / 2));
  }
  laneOffsets.push_back(static_cast<int64_t>(pointOffsets.size() - 1));
}
} // namespace

Batch collate2d(std::vector<Sample> &samples) {
  Batch batch;
  const int64_t count = static_cast<int64_t>(samples.size());
  batch.boxOffsets.push_back(0);
  batch.laneOffsets.push_back(0);
  batch.lanePointOffsets.push_back(0);
  batch.originalLaneOffsets.push_back(0);
  batch.originalLanePointOffsets.push_back(0);
  if (count == 0)
    return batch;
  // Images of different sizes share the largest height and width; the
  // rest is padded with 0 bottom and right (as mmdet's collate does).
  const int channels = samples.front().image.channels();
  int height = 0, width = 0;
  for (const Sample &sample : samples) {
    const cv::Mat &image = sample.image;
    if (image.channels() != channels)
      throw DataError("collate_2d", sample.key,
                      "image has " + std::to_string(image.channels()) +
                          " channels but the batch's first has " +
                          std::to_string(channels));
    height = std::max(height, image.rows);
    width = std::max(width, image.cols);
  }
  batch.imageShape = {count, channels, height, width};
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  batch.images.assign(static_cast<std::size_t>(count) * channels * plane, 0.f);
  for (int64_t n = 0; n < count; ++n) {
    Sample &sample = samples[n];
    const cv::Mat &image = sample.image;
    cv::Mat floats = image;
    if (image.depth() != CV_32F)
      image.convertTo(floats, CV_32F);
    // HWC -> CHW straight into the batch buffer: split writes each channel
    // plane in place (into the top-left of a larger plane when padded).
    float *destination = batch.images.data() + n * channels * plane;
    std::vector<cv::Mat> planes;
    for (int c = 0; c < channels; ++c)
      planes.push_back(
          cv::Mat(height, width, CV_32FC1, destination + c * plane)(
              cv::Rect(0, 0, image.cols, image.rows)));
    cv::split(floats, planes);
    batch.originalSizes.push_back(
        {sample.originalSize.height, sample.originalSize.width});
    batch.validRegions.push_back(sample.validRegion.value_or(
        Box{0, 0, float(image.cols), float(image.rows)}));

    batch.labels.push_back(sample.label);
    batch.imageIds.push_back(sample.imageId);
    batch.sampleIndices.push_back(static_cast<int64_t>(sample.index));
    batch.scaleFactors.push_back(
        {static_cast<float>(sample.scaleX), static_cast<float>(sample.scaleY)});
    batch.colorSpaces.push_back(sample.colorSpace);
    for (std::size_t b = 0; b < sample.boxes.size(); ++b) {
      batch.boxes.insert(batch.boxes.end(), sample.boxes[b].begin(),
                         sample.boxes[b].end());
      batch.boxLabels.push_back(
          b < sample.boxLabels.size() ? sample.boxLabels[b] : -1);
      batch.boxIsCrowd.push_back(
          b < sample.boxIsCrowd.size() ? sample.boxIsCrowd[b] : 0);
    }
    batch.boxOffsets.push_back(static_cast<int64_t>(batch.boxLabels.size()));
    batch.hasLanes |= sample.hasLanes;
    appendLanes(sample.lanes, batch.lanePoints, batch.lanePointOffsets,
                batch.laneOffsets);
    batch.cropOffsets.push_back({static_cast<float>(sample.originX),
                                 static_cast<float>(sample.originY)});
    appendLanes(sample.originalLanes, batch.originalLanePoints,
                batch.originalLanePointOffsets, batch.originalLaneOffsets);
  }
  return batch;
}

//===----------------------------------------------------------------------===//
// DataLoader
//===----------------------------------------------------------------------===//

struct DataLoader::Epoch {
  struct Result {
    Batch batch;
    std::vector<std::string> skipReasons;
    std::exception_ptr error;
  };
  uint64_t number = 0;
  std::vector<std::size_t> indices;
  std::size_t numBatches = 0;
  std::size_t window = 1; // batches claimed but not yet consumed, at most

  std::mutex mutex;
  std::condition_variable changed;
  std::size_t nextToClaim = 0, nextToYield = 0;
  std::map<std::size_t, Result> ready;
  bool stop = false;
  std::vector<std::thread> workers;
};

DataLoader::DataLoader(DataLoaderOptions options)
    : options_(std::move(options)) {
  if (!options_.dataset)
    throw std::invalid_argument("DataLoader: dataset is required");
  if (options_.batch_size < 1)
    throw std::invalid_argument("DataLoader: batch_size must be >= 1");
  if (options_.num_workers < 0)
    throw std::invalid_argument("DataLoader: num_workers must be >= 0");
  if (options_.prefetch_factor < 1)
    throw std::invalid_argument("DataLoader: prefetch_factor must be >= 1");
  if (options_.collate_fn != "collate_2d" &&
      options_.collate_fn != "hat.data.collates.collate_2d")
    throw std::invalid_argument("DataLoader: unsupported collate_fn '" +
                                options_.collate_fn + "' (collate_2d)");
  if (options_.on_error != "fail" && options_.on_error != "skip")
    throw std::invalid_argument(
        "DataLoader: on_error must be 'fail' or 'skip'");
  sampler_ = options_.sampler;
  if (!sampler_) {
    if (options_.shuffle)
      sampler_ =
          std::make_shared<RandomSampler>(RandomSamplerOptions{options_.seed});
    else
      sampler_ = std::make_shared<SequentialSampler>();
  }
  // Workers parallelise over samples; OpenCV's own thread pool inside each
  // of them would only oversubscribe the cores. This is process-wide.
  if (options_.num_workers > 0)
    cv::setNumThreads(0);
}

DataLoader::~DataLoader() { stopEpoch(); }

std::size_t DataLoader::size() const {
  const std::size_t samples =
      sampler_->indices(options_.dataset->size(), 0).size();
  const std::size_t batch = static_cast<std::size_t>(options_.batch_size);
  return options_.drop_last ? samples / batch : (samples + batch - 1) / batch;
}

Batch DataLoader::buildBatch(const std::vector<std::size_t> &indices,
                             std::size_t first, std::size_t count,
                             uint64_t epoch,
                             std::vector<std::string> &skipReasons) {
  std::vector<Sample> samples;
  samples.reserve(count);
  std::size_t skipped = 0;
  for (std::size_t i = first; i < first + count; ++i) {
    const std::size_t index = indices[i];
    std::string reason;
    try {
      samples.push_back(options_.dataset->get(index, options_.seed, epoch));
      continue;
    } catch (const DataError &error) {
      if (options_.on_error == "fail")
        throw;
      reason = error.what();
    } catch (const cv::Exception &error) {
      // OpenCV failures inside decoding or a transform are data problems.
      reason = "sample " + std::to_string(index) + ": OpenCV: " + error.what();
      if (options_.on_error == "fail")
        throw DataError("dataset", recordKey(index), reason);
    }
    ++skipped;
    skipReasons.push_back(std::move(reason));
  }
  Batch batch = collate2d(samples);
  batch.skipped = skipped;
  return batch;
}

void DataLoader::stopEpoch() {
  if (!epoch_)
    return;
  {
    std::lock_guard<std::mutex> lock(epoch_->mutex);
    epoch_->stop = true;
  }
  epoch_->changed.notify_all();
  for (std::thread &worker : epoch_->workers)
    worker.join();
  epoch_.reset();
}

void DataLoader::startEpoch(uint64_t epoch) {
  stopEpoch();
  epoch_ = std::make_unique<Epoch>();
  Epoch &state = *epoch_;
  state.number = epoch;
  state.indices = sampler_->indices(options_.dataset->size(), epoch);
  const std::size_t batch = static_cast<std::size_t>(options_.batch_size);
  state.numBatches = options_.drop_last
                         ? state.indices.size() / batch
                         : (state.indices.size() + batch - 1) / batch;
  state.window = static_cast<std::size_t>(std::max(1, options_.num_workers) *
                                          options_.prefetch_factor);
  for (int w = 0; w < options_.num_workers; ++w) {
    state.workers.emplace_back([this, &state] {
      cv::setNumThreads(0);
      const std::size_t batchSize =
          static_cast<std::size_t>(options_.batch_size);
      for (;;) {
        std::size_t claimed;
        {
          std::unique_lock<std::mutex> lock(state.mutex);
          // Bounded prefetch: never run more than `window` batches ahead of
          // the consumer, so memory stays flat however slow training is.
          state.changed.wait(lock, [&] {
            return state.stop || state.nextToClaim >= state.numBatches ||
                   state.nextToClaim < state.nextToYield + state.window;
          });
          if (state.stop || state.nextToClaim >= state.numBatches)
            return;
          claimed = state.nextToClaim++;
        }
        Epoch::Result result;
        try {
          const std::size_t first = claimed * batchSize;
          const std::size_t count =
              std::min(batchSize, state.indices.size() - first);
          result.batch = buildBatch(state.indices, first, count, state.number,
                                    result.skipReasons);
        } catch (...) {
          result.error = std::current_exception();
        }
        {
          std::lock_guard<std::mutex> lock(state.mutex);
          state.ready.emplace(claimed, std::move(result));
        }
        state.changed.notify_all();
      }
    });
  }
}

bool DataLoader::next(Batch &batch) {
  if (!epoch_)
    startEpoch(0);
  Epoch &state = *epoch_;
  const std::size_t batchSize = static_cast<std::size_t>(options_.batch_size);
  for (;;) {
    if (state.nextToYield >= state.numBatches)
      return false;
    Epoch::Result result;
    if (state.workers.empty()) {
      const std::size_t first = state.nextToYield * batchSize;
      const std::size_t count =
          std::min(batchSize, state.indices.size() - first);
      ++state.nextToYield;
      try {
        result.batch = buildBatch(state.indices, first, count, state.number,
                                  result.skipReasons);
      } catch (...) {
        state.nextToYield = state.numBatches; // the epoch ends with the error
        throw;
      }
    } else {
      std::unique_lock<std::mutex> lock(state.mutex);
      state.changed.wait(
          lock, [&] { return state.ready.count(state.nextToYield) > 0; });
      auto found = state.ready.find(state.nextToYield);
      result = std::move(found->second);
      state.ready.erase(found);
      ++state.nextToYield;
      lock.unlock();
      state.changed.notify_all();
    }
    if (result.error) {
      // The epoch is over: stop the workers before the error reaches the
      // caller, so no thread keeps decoding behind its back.
      {
        std::lock_guard<std::mutex> lock(state.mutex);
        state.stop = true;
      }
      state.changed.notify_all();
      for (std::thread &worker : state.workers)
        worker.join();
      state.workers.clear();
      state.nextToYield = state.numBatches; // later next() calls end the epoch
      std::rethrow_exception(result.error);
    }
    {
      std::lock_guard<std::mutex> lock(statsMutex_);
      stats_.skipped += result.skipReasons.size();
      for (std::string &reason : result.skipReasons)
        if (stats_.errors.size() < 100)
          stats_.errors.push_back(std::move(reason));
      stats_.samples += static_cast<std::size_t>(result.batch.size());
      if (result.batch.size() > 0)
        ++stats_.batches;
    }
    // Every sample of this batch was skipped: go on with the next one.
    if (result.batch.size() == 0)
      continue;
    batch = std::move(result.batch);
    return true;
  }
}

LoaderStats DataLoader::stats() const {
  std::lock_guard<std::mutex> lock(statsMutex_);
  return stats_;
}

} // namespace hat::data
