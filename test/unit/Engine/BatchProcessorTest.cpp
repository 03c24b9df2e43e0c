//===- BatchProcessorTest.cpp - batch_transforms of the batch processor ---===//
#include "EngineTestUtil.h"
#include "hat/Engine/Engine.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

using namespace hat;
using engine::test::buildFromSource;

namespace {

/// One 2x2 RGB image after ToTensor: red, green, blue and white pixels.
data::Batch rgbBatch() {
  data::Batch batch;
  batch.imageShape = {1, 3, 2, 2};
  // NCHW planes R, G, B over the pixels (0,0) (1,0) (0,1) (1,1).
  batch.images = {255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255};
  batch.colorSpaces = {"rgb"};
  return batch;
}

} // namespace

TEST(BatchProcessor, BatchTransformsRunBeforeTheForward) {
  auto built = buildFromSource(R"(
processor = dict(
    type="BasicBatchProcessor",
    need_grad_update=False,
    batch_transforms=[
        dict(type="BgrToYuv444", rgb_input=True),
        dict(type="TorchVisionAdapter", interface="Normalize", mean=128.0,
             std=128.0),
    ],
)
)",
                               "processor", "batch_processor");
  ASSERT_TRUE(built) << built.error().str();
  auto processor = std::any_cast<engine::BatchProcessorPtr>(*built);
  ASSERT_EQ(processor->batchTransforms.size(), 2u);
  data::Batch batch = rgbBatch();
  config::Value value = processor->prepare(batch);
  at::Tensor img = metrics::asTensor(*value.asDict().find("img"));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{1, 3, 2, 2}));
  EXPECT_EQ(batch.colorSpaces[0], "yuv444");
  // Luma per pixel (full swing): red 77, green 149, blue 29, white 255.
  const float y[4] = {77, 149, 29, 255};
  for (int i = 0; i < 4; ++i)
    EXPECT_FLOAT_EQ(img[0][0][i / 2][i % 2].item<float>(), (y[i] - 128) / 128)
        << i;
  // Chroma from the block's mean colour (R, G, B) = (127.5, 127.5, 127.5):
  // neutral, U = V = 128 -> 0 after Normalize.
  EXPECT_FLOAT_EQ(img[0][1][1][1].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(img[0][2][0][0].item<float>(), 0.0f);
}

TEST(BatchProcessor, BatchTransformsThatCannotRunOnBatchesAreRefused) {
  auto flip = buildFromSource(R"(
processor = dict(
    type="BasicBatchProcessor",
    need_grad_update=False,
    batch_transforms=[dict(type="RandomFlip", px=0.5)],
)
)",
                              "processor", "batch_processor");
  ASSERT_FALSE(flip);
  EXPECT_EQ(flip.error().line, 5u);
  EXPECT_NE(
      flip.error().str().find("RandomFlip cannot run on a collated batch"),
      std::string::npos)
      << flip.error().str();
  auto notList = buildFromSource(
      "processor = dict(type='BasicBatchProcessor', need_grad_update=False, "
      "batch_transforms=dict(type='BgrToYuv444'))\n",
      "processor", "batch_processor");
  ASSERT_FALSE(notList);
  EXPECT_EQ(notList.error().line, 1u);
  EXPECT_NE(notList.error().str().find(
                "'batch_transforms' must be a list of transform dicts"),
            std::string::npos)
      << notList.error().str();
  auto unknown = buildFromSource(
      "processor = dict(type='BasicBatchProcessor', need_grad_update=False, "
      "batch_transforms=[dict(type='ToYuv')])\n",
      "processor", "batch_processor");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().str().find("ToYuv"), std::string::npos);
}
