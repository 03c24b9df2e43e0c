//===- DataLoaderTest.cpp - Determinism, samplers, errors, prefetch -------===//
#include "hat/Data/DataLoader.h"
#include "TestUtil.h"
#include "hat/Data/Error.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace hat::data;

namespace {

// Procedural images with boxes; index % badEvery == badEvery - 1 throws a
// DataError when badEvery > 0; counts loads for the prefetch test.
class SyntheticDataset : public Dataset {
public:
  SyntheticDataset(std::size_t count, std::vector<TransformPtr> transforms,
                   std::size_t badEvery = 0)
      : Dataset(std::move(transforms)), count_(count), badEvery_(badEvery) {}
  std::size_t size() const override { return count_; }
  const std::vector<std::string> &classNames() const override { return names_; }
  Sample load(std::size_t index) const override {
    ++loads;
    if (badEvery_ && index % badEvery_ == badEvery_ - 1)
      throw DataError("synthetic", recordKey(index), "broken on purpose");
    Sample sample;
    const int width = 40 + static_cast<int>(index % 5) * 8;
    sample.image = cv::Mat(36, width, CV_8UC3);
    // Seeded by index: cv::randu's generator is per thread.
    cv::RNG noise(index + 1);
    noise.fill(sample.image, cv::RNG::UNIFORM, 0, 255);
    cv::rectangle(sample.image, cv::Rect(5, 5, 20, 20),
                  cv::Scalar(index % 256, 50, 90), cv::FILLED);
    sample.boxes.push_back({5, 5, 25, 25});
    sample.boxLabels.push_back(static_cast<int>(index % 3));
    sample.boxIsCrowd.push_back(0);
    sample.lanes.push_back({{1, 30}, {10, 2}});
    sample.label = static_cast<int>(index % 3);
    sample.index = index;
    sample.key = recordKey(index);
    sample.originalSize = sample.image.size();
    return sample;
  }
  mutable std::atomic<std::size_t> loads{0};

private:
  std::size_t count_, badEvery_;
  std::vector<std::string> names_{"a", "b", "c"};
};

std::vector<TransformPtr> detectionPipeline() {
  return {std::make_shared<Resize>(ResizeOptions{
              {32, 32}, std::array<double, 2>{0.5, 2.0}, true, "bilinear"}),
          std::make_shared<RandomCrop>(RandomCropOptions{{32, 32}, false}),
          std::make_shared<Pad>(
              PadOptions{std::array<int, 2>{32, 32}, std::nullopt, 0}),
          std::make_shared<RandomFlip>(RandomFlipOptions{0.5, 0.0}),
          std::make_shared<AugmentHSV>(AugmentHSVOptions{0.015, 0.7, 0.4, 1.0}),
          std::make_shared<ToTensor>(ToTensorOptions{true}),
          std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}})};
}

std::vector<Batch> runEpoch(DataLoader &loader, uint64_t epoch) {
  loader.startEpoch(epoch);
  std::vector<Batch> batches;
  Batch batch;
  while (loader.next(batch))
    batches.push_back(std::move(batch));
  return batches;
}

void expectSameBatches(const std::vector<Batch> &a,
                       const std::vector<Batch> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].imageShape, b[i].imageShape);
    EXPECT_EQ(a[i].images, b[i].images) << "batch " << i;
    EXPECT_EQ(a[i].sampleIndices, b[i].sampleIndices);
    EXPECT_EQ(a[i].boxes, b[i].boxes);
    EXPECT_EQ(a[i].boxOffsets, b[i].boxOffsets);
    EXPECT_EQ(a[i].lanePoints, b[i].lanePoints);
  }
}

} // namespace

TEST(DataLoader, SameBatchesForAnyNumberOfWorkers) {
  auto dataset = std::make_shared<SyntheticDataset>(70, detectionPipeline());
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 2, 4}) {
    DataLoaderOptions options;
    options.dataset = dataset;
    options.batch_size = 8;
    options.shuffle = true;
    options.num_workers = workers;
    options.seed = 1234;
    DataLoader loader(options);
    EXPECT_EQ(loader.size(), 9u);
    runs.push_back(runEpoch(loader, 3));
  }
  ASSERT_EQ(runs[0].size(), 9u);
  EXPECT_EQ(runs[0][0].imageShape, (std::array<int64_t, 4>{8, 3, 32, 32}));
  EXPECT_EQ(runs[0].back().size(), 6);
  for (std::size_t r = 1; r < runs.size(); ++r)
    expectSameBatches(runs[0], runs[r]);

  // Another epoch reshuffles and re-augments.
  DataLoaderOptions options;
  options.dataset = dataset;
  options.batch_size = 8;
  options.shuffle = true;
  options.num_workers = 2;
  options.seed = 1234;
  DataLoader loader(options);
  std::vector<Batch> other = runEpoch(loader, 4);
  EXPECT_NE(other[0].sampleIndices, runs[0][0].sampleIndices);
  std::vector<Batch> again = runEpoch(loader, 3);
  expectSameBatches(runs[0], again);
}

TEST(DataLoader, CollatesAnnotationsWithOffsets) {
  auto dataset = std::make_shared<SyntheticDataset>(
      5, std::vector<TransformPtr>{std::make_shared<Resize>(
             ResizeOptions{{36, 40}, std::nullopt, false, "bilinear"})});
  DataLoaderOptions options;
  options.dataset = dataset;
  options.batch_size = 5;
  DataLoader loader(options);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_EQ(batch.imageShape, (std::array<int64_t, 4>{5, 3, 36, 40}));
  EXPECT_EQ(batch.images.size(), 5u * 3 * 36 * 40);
  EXPECT_EQ(batch.boxOffsets, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(batch.boxes.size(), 20u);
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{0, 1, 2, 0, 1}));
  EXPECT_EQ(batch.laneOffsets, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(batch.lanePointOffsets.back(), 10);
  // CHW layout: channel 1 (G) of the filled rectangle of sample 0 is 50.
  EXPECT_FLOAT_EQ(batch.images[1 * 36 * 40 + 10 * 40 + 10], 50.f);
  EXPECT_FALSE(loader.next(batch));

  EXPECT_EQ(batch.validRegions[4], (std::array<float, 4>{0, 0, 40, 36}));
  EXPECT_EQ(batch.originalSizes[4], (std::array<int64_t, 2>{36, 72}));
  // No crop: the origin stays at the stored image's; this dataset records
  // no stored lanes, so each image has none.
  EXPECT_EQ(batch.cropOffsets,
            (std::vector<std::array<float, 2>>(5, {0.f, 0.f})));
  EXPECT_EQ(batch.originalLaneOffsets, (std::vector<int64_t>(6, 0)));
}

TEST(DataLoader, CollatePadsUnequalImagesAndRecordsWhereEachIs) {
  // Widths 40 and 48, height 36: both go into a 36 x 48 batch, the first
  // padded with zeros on the right.
  DataLoaderOptions unequal;
  unequal.dataset =
      std::make_shared<SyntheticDataset>(5, std::vector<TransformPtr>{});
  unequal.batch_size = 2;
  DataLoader loader(unequal);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_EQ(batch.imageShape, (std::array<int64_t, 4>{2, 3, 36, 48}));
  const std::size_t plane = 36 * 48;
  // Channel 1 of the filled rectangle (5..24) is 50 in both images.
  EXPECT_FLOAT_EQ(batch.images[1 * plane + 10 * 48 + 10], 50.f);
  EXPECT_FLOAT_EQ(batch.images[3 * plane + 1 * plane + 10 * 48 + 10], 50.f);
  // Image 0's columns 40..47 are padding.
  for (int c = 0; c < 3; ++c)
    for (int x = 40; x < 48; ++x)
      EXPECT_EQ(batch.images[c * plane + 20 * 48 + x], 0.f) << c << " " << x;
  EXPECT_EQ(batch.validRegions, (std::vector<std::array<float, 4>>{
                                    {0, 0, 40, 36}, {0, 0, 48, 36}}));
  EXPECT_EQ(batch.originalSizes,
            (std::vector<std::array<int64_t, 2>>{{36, 40}, {36, 48}}));
  // Boxes stay per image (offsets), in their own image's pixels.
  EXPECT_EQ(batch.boxOffsets, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(std::vector<float>(batch.boxes.begin(), batch.boxes.begin() + 4),
            (std::vector<float>{5, 5, 25, 25}));

  // Pad's region survives collate: a 30 x 20 image padded to 32 x 32 and a
  // 32 x 40 one; the first keeps its Pad region, not the collated size.
  std::vector<Sample> samples(2);
  samples[0].image = cv::Mat(20, 30, CV_8UC3, cv::Scalar(1, 2, 3));
  samples[1].image = cv::Mat(32, 40, CV_8UC3, cv::Scalar(4, 5, 6));
  for (Sample &sample : samples)
    sample.originalSize = sample.image.size();
  SampleRng rng(1);
  Pad(PadOptions{std::array<int, 2>{32, 32}, std::nullopt, 0})
      .apply(samples[0], rng);
  Batch padded = collate2d(samples);
  EXPECT_EQ(padded.imageShape, (std::array<int64_t, 4>{2, 3, 32, 40}));
  EXPECT_EQ(padded.validRegions[0], (std::array<float, 4>{0, 0, 30, 20}));
  EXPECT_EQ(padded.validRegions[1], (std::array<float, 4>{0, 0, 40, 32}));

  // Different channel counts cannot be stacked: a DataError naming the key.
  samples[1].image = cv::Mat(32, 40, CV_8UC1, cv::Scalar(7));
  samples[1].key = "0000000001";
  try {
    collate2d(samples);
    FAIL() << "a grey image was stacked with a colour one";
  } catch (const DataError &error) {
    EXPECT_NE(std::string(error.what()).find("0000000001"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("1 channels"), std::string::npos)
        << error.what();
  }
}

TEST(DataLoader, DistributedSamplerShardsLikeTorch) {
  std::vector<std::size_t> all;
  for (int rank = 0; rank < 3; ++rank) {
    DistributedSampler sampler({3, rank, false, 0, false});
    std::vector<std::size_t> mine = sampler.indices(10, 0);
    EXPECT_EQ(mine.size(), 4u);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  // Padding repeats the first indices: 0..9 then 0, 1.
  EXPECT_EQ(all,
            (std::vector<std::size_t>{0, 3, 6, 9, 1, 4, 7, 0, 2, 5, 8, 1}));
  DistributedSampler dropping({3, 2, false, 0, true});
  EXPECT_EQ(dropping.indices(10, 0), (std::vector<std::size_t>{2, 5, 8}));

  std::set<std::size_t> covered;
  for (int rank = 0; rank < 2; ++rank) {
    DistributedSampler sampler({2, rank, true, 9, false});
    for (std::size_t index : sampler.indices(101, 5))
      covered.insert(index);
    EXPECT_EQ(sampler.indices(101, 5), sampler.indices(101, 5));
    EXPECT_NE(sampler.indices(101, 5), sampler.indices(101, 6));
  }
  EXPECT_EQ(covered.size(), 101u);
  EXPECT_THROW(DistributedSampler({2, 2, true, 0, false}),
               std::invalid_argument);

  DataLoaderOptions options;
  options.dataset = std::make_shared<SyntheticDataset>(
      10, std::vector<TransformPtr>{std::make_shared<Pad>(
              PadOptions{std::array<int, 2>{36, 72}, std::nullopt, 0})});
  options.sampler = std::make_shared<DistributedSampler>(
      DistributedSamplerOptions{3, 1, false, 0, false});
  options.shuffle = true; // HAT configs set both; the sampler decides
  options.batch_size = 3;
  options.num_workers = 2;
  DataLoader loader(options);
  EXPECT_EQ(loader.size(), 2u);
  std::vector<Batch> batches = runEpoch(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].sampleIndices, (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(batches[1].sampleIndices, (std::vector<int64_t>{0}));
}

TEST(DataLoader, ShardSamplerSplitsExactlyWithoutPadding) {
  // Data-parallel validation: 10 samples over 3 ranks are 4 + 3 + 3, each
  // exactly once, in the inner sampler's order.
  auto inner = std::make_shared<RandomSampler>(RandomSamplerOptions{4});
  std::vector<std::size_t> order = inner->indices(10, 2), all;
  for (int rank = 0; rank < 3; ++rank) {
    std::vector<std::size_t> mine = ShardSampler(inner, rank, 3).indices(10, 2);
    EXPECT_EQ(mine.size(), rank == 0 ? 4u : 3u);
    for (std::size_t k = 0; k < mine.size(); ++k)
      EXPECT_EQ(mine[k], order[rank + 3 * k]);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, SequentialSampler().indices(10, 0));
  EXPECT_THROW(ShardSampler(inner, 3, 3), std::invalid_argument);
  EXPECT_THROW(ShardSampler(nullptr, 0, 1), std::invalid_argument);
}

TEST(DataLoader, ErrorPolicyFailOrSkipAndCount) {
  std::vector<std::string> serialErrors;
  for (int workers : {0, 2}) {
    DataLoaderOptions options;
    options.dataset = std::make_shared<SyntheticDataset>(
        40,
        std::vector<TransformPtr>{std::make_shared<Pad>(
            PadOptions{std::array<int, 2>{36, 72}, std::nullopt, 0})},
        7);
    options.batch_size = 4;
    options.num_workers = workers;
    options.on_error = "skip";
    DataLoader skipping(options);
    std::size_t samples = 0, skipped = 0;
    for (const Batch &batch : runEpoch(skipping, 0)) {
      samples += batch.size();
      skipped += batch.skipped;
    }
    EXPECT_EQ(samples, 35u);
    EXPECT_EQ(skipped, 5u);
    EXPECT_EQ(skipping.stats().skipped, 5u);
    ASSERT_FALSE(skipping.stats().errors.empty());
    // The reasons come in sample order, whichever worker met them first.
    EXPECT_NE(skipping.stats().errors[0].find("key '0000000006'"),
              std::string::npos);
    EXPECT_EQ(skipping.stats().samples, 35u);
    if (workers == 0)
      serialErrors = skipping.stats().errors;
    else
      EXPECT_EQ(skipping.stats().errors, serialErrors);

    options.on_error = "fail";
    DataLoader failing(options);
    failing.startEpoch(0);
    Batch batch;
    EXPECT_TRUE(failing.next(batch)); // indices 0..3
    try {
      failing.next(batch);
      FAIL() << "bad sample 6 did not fail the epoch";
    } catch (const DataError &error) {
      EXPECT_NE(std::string(error.what()).find("broken on purpose"),
                std::string::npos);
      EXPECT_EQ(error.key(), "0000000006");
    }
    EXPECT_FALSE(failing.next(batch)); // the epoch is over, nothing hangs
  }
}

TEST(DataLoader, PrefetchIsBounded) {
  auto dataset = std::make_shared<SyntheticDataset>(
      400, std::vector<TransformPtr>{std::make_shared<Pad>(
               PadOptions{std::array<int, 2>{36, 72}, std::nullopt, 0})});
  DataLoaderOptions options;
  options.dataset = dataset;
  options.batch_size = 4;
  options.num_workers = 2;
  options.prefetch_factor = 2;
  options.drop_last = true;
  DataLoader loader(options);
  loader.startEpoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Two workers, two batches each, of four samples.
  EXPECT_LE(dataset->loads.load(), 16u);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(dataset->loads.load(), 20u);
  // Abandoning an epoch half-way (destructor) joins the workers.
}

TEST(DataLoader, DropLastAndOptionsValidation) {
  auto dataset = std::make_shared<SyntheticDataset>(
      10, std::vector<TransformPtr>{std::make_shared<Pad>(
              PadOptions{std::array<int, 2>{36, 72}, std::nullopt, 0})});
  DataLoaderOptions options;
  options.dataset = dataset;
  options.batch_size = 4;
  options.drop_last = true;
  options.pin_memory = true;
  DataLoader loader(options);
  EXPECT_EQ(loader.size(), 2u);
  EXPECT_EQ(runEpoch(loader, 0).size(), 2u);
  options.on_error = "ignore";
  EXPECT_THROW(DataLoader{options}, std::invalid_argument);
  options.on_error = "fail";
  options.collate_fn = "default_collate";
  EXPECT_THROW(DataLoader{options}, std::invalid_argument);
}
