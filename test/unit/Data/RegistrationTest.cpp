//===- RegistrationTest.cpp - Data objects built from config source -------===//
//
// The data area's registry builders: a Fashion-MNIST DataLoader built from
// config text yields the batches its config describes, every transform built
// from a config dict behaves as the one built from its options struct, and
// config mistakes become located Diagnostics instead of exceptions.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"
#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"
#include "hat/Data/DataLoader.h"

#include <gtest/gtest.h>

#include <any>
#include <cstdlib>
#include <functional>

using namespace hat::data;
using hat::config::Diagnostic;
using hat::config::Expected;
using hat::config::loadConfigSource;
using hat::config::Registry;
using hat::config::Value;

namespace {

/// Evaluates `source` as test.py and builds its variable `name` as a
/// `category`; the Diagnostic of either step on failure.
Expected<std::any> buildFromSource(const std::string &source,
                                   const std::string &name,
                                   const std::string &category) {
  auto module = loadConfigSource(source, "test.py");
  if (!module)
    return module.error();
  const Value *value = (*module)->get(name);
  if (!value)
    return Diagnostic("test config defines no '" + name + "'");
  return Registry::instance().build(*value, category);
}

std::shared_ptr<DataLoader> buildLoader(const std::string &source) {
  Expected<std::any> built =
      buildFromSource(source, "data_loader", "data_loader");
  if (!built) {
    ADD_FAILURE() << built.error().str();
    return nullptr;
  }
  return std::any_cast<std::shared_ptr<DataLoader>>(*built);
}

/// The error of building `name` from `source`; fails the test when it builds.
Diagnostic buildError(const std::string &source, const std::string &name,
                      const std::string &category) {
  Expected<std::any> built = buildFromSource(source, name, category);
  if (built) {
    ADD_FAILURE() << "built without error";
    return Diagnostic();
  }
  return built.error();
}

std::vector<Batch> firstBatches(DataLoader &loader, std::size_t count) {
  loader.startEpoch(0);
  std::vector<Batch> batches;
  Batch batch;
  while (batches.size() < count && loader.next(batch))
    batches.push_back(std::move(batch));
  return batches;
}

const char *kFashionMnistLoader = R"(
import torch
import hat

batch_size_per_gpu = 8
data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="FashionMNIST",
        data_path="/usr/share/datasets/fashion-mnist",
        split="val",
        transforms=[
            dict(type="Resize", img_scale=(32, 32), keep_ratio=False),
            dict(type="RandomFlip", px=0.5),
            dict(type="ToTensor"),
            dict(type="Normalize", mean=128.0, std=128.0),
        ],
    ),
    sampler=dict(type=torch.utils.data.DistributedSampler, num_replicas=2,
                 rank=1, seed=7),
    batch_size=batch_size_per_gpu,
    shuffle=True,
    num_workers=2,
    pin_memory=True,
    collate_fn=hat.data.collates.collate_2d,
)
)";

} // namespace

TEST(DataRegistration, FashionMnistLoaderFromConfigSource) {
  if (!test::haveFashionMnist())
    GTEST_SKIP() << "Fashion-MNIST (dataset-fashion-mnist) is not installed";
  std::shared_ptr<DataLoader> loader = buildLoader(kFashionMnistLoader);
  ASSERT_TRUE(loader);
  EXPECT_EQ(loader->options().batch_size, 8);
  EXPECT_EQ(loader->options().num_workers, 2);
  EXPECT_TRUE(loader->options().pin_memory);
  EXPECT_EQ(loader->options().collate_fn, "collate_2d");
  // t10k: 10000 samples, rank 1 of 2 sees 5000 -> 625 batches of 8.
  EXPECT_EQ(loader->options().dataset->size(), 10000u);
  EXPECT_EQ(loader->size(), 625u);

  std::vector<Batch> batches = firstBatches(*loader, 3);
  ASSERT_EQ(batches.size(), 3u);
  for (const Batch &batch : batches) {
    EXPECT_EQ(batch.imageShape, (std::array<int64_t, 4>{8, 1, 32, 32}));
    ASSERT_EQ(batch.labels.size(), 8u);
    for (int64_t label : batch.labels) {
      EXPECT_GE(label, 0);
      EXPECT_LT(label, 10);
    }
    for (float pixel : batch.images) {
      ASSERT_GE(pixel, -1.0f);
      ASSERT_LE(pixel, 127.0f / 128.0f);
    }
  }
  // The sampler is the configured one: rank 1 of the seed-7 permutation.
  DistributedSampler expected({2, 1, true, 7, false});
  std::vector<std::size_t> order = expected.indices(10000, 0);
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_EQ(batches[0].sampleIndices[i], (int64_t)order[i]);

  // The same config builds a loader with bit-identical batches.
  std::shared_ptr<DataLoader> again = buildLoader(kFashionMnistLoader);
  ASSERT_TRUE(again);
  std::vector<Batch> batchesAgain = firstBatches(*again, 3);
  ASSERT_EQ(batchesAgain.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(batches[i].images, batchesAgain[i].images) << "batch " << i;
    EXPECT_EQ(batches[i].labels, batchesAgain[i].labels);
    EXPECT_EQ(batches[i].sampleIndices, batchesAgain[i].sampleIndices);
  }
}

TEST(DataRegistration, DistributedSamplerTakesProcessDefaults) {
  const char *source = R"(
import torch
sampler = dict(type=torch.utils.data.DistributedSampler, shuffle=False)
)";
  setDistributedDefaults(2, 4);
  Expected<std::any> sampler = buildFromSource(source, "sampler", "sampler");
  setDistributedDefaults(0, 1);
  ASSERT_TRUE(sampler) << sampler.error().str();
  // Rank 2 of 4, unshuffled: 2, 6, 10.
  EXPECT_EQ(std::any_cast<SamplerPtr>(*sampler)->indices(12, 0),
            (std::vector<std::size_t>{2, 6, 10}));
  EXPECT_THROW(setDistributedDefaults(1, 1), std::invalid_argument);
}

TEST(DataRegistration, LoaderTakesABareSamplerClass) {
  if (!test::haveFashionMnist())
    GTEST_SKIP() << "Fashion-MNIST (dataset-fashion-mnist) is not installed";
  const char *source = R"(
import torch
data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", train=False),
    sampler=torch.utils.data.DistributedSampler,
    batch_size=100,
    collate_fn="collate_2d",
)
)";
  setDistributedDefaults(1, 4);
  std::shared_ptr<DataLoader> loader = buildLoader(source);
  setDistributedDefaults(0, 1);
  ASSERT_TRUE(loader);
  ASSERT_TRUE(loader->options().sampler);
  EXPECT_EQ(loader->options().sampler->indices(10000, 0),
            DistributedSampler({4, 1, true, 0, false}).indices(10000, 0));
  EXPECT_EQ(loader->size(), 25u);
}

TEST(DataRegistration, SamplersAndCollateBySymbolOrString) {
  const char *source = R"(
import torch
import hat
random = dict(type="RandomSampler", seed=3)
sequential = dict(type=torch.utils.data.SequentialSampler)
collate = dict(type="collate_2d")
)";
  Expected<std::any> random = buildFromSource(source, "random", "sampler");
  ASSERT_TRUE(random) << random.error().str();
  EXPECT_EQ(std::any_cast<SamplerPtr>(*random)->indices(50, 1),
            RandomSampler({3}).indices(50, 1));
  Expected<std::any> sequential =
      buildFromSource(source, "sequential", "sampler");
  ASSERT_TRUE(sequential) << sequential.error().str();
  EXPECT_EQ(std::any_cast<SamplerPtr>(*sequential)->indices(3, 0),
            (std::vector<std::size_t>{0, 1, 2}));
  Expected<std::any> collate = buildFromSource(source, "collate", "collate");
  ASSERT_TRUE(collate) << collate.error().str();
  EXPECT_EQ(std::any_cast<std::string>(*collate), "collate_2d");
}

namespace {

/// A BGR sample with texture, a box and a lane, so colour and geometry
/// transforms both have something to change.
Sample richSample() {
  Sample sample;
  sample.image = test::coordinateImage(96, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 96; ++x)
      sample.image.at<cv::Vec3b>(y, x)[2] = static_cast<uint8_t>(x * y % 251);
  sample.originalSize = sample.image.size();
  sample.boxes.push_back({10, 8, 50, 40});
  sample.boxLabels.push_back(1);
  sample.boxCategoryIds.push_back(2);
  sample.boxIsCrowd.push_back(0);
  sample.lanes.push_back({{5, 60}, {40, 10}});
  return sample;
}

void expectSameResult(const Transform &fromConfig, const Transform &direct,
                      const std::string &what) {
  SCOPED_TRACE(what);
  EXPECT_STREQ(fromConfig.name(), direct.name());
  for (uint64_t seed : {1u, 2u, 3u}) {
    Sample a = richSample(), b = richSample();
    SampleRng rngA(seed, 0, 5), rngB(seed, 0, 5);
    fromConfig.apply(a, rngA);
    direct.apply(b, rngB);
    ASSERT_EQ(a.image.size(), b.image.size());
    ASSERT_EQ(a.image.type(), b.image.type());
    EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0.0);
    EXPECT_EQ(a.colorSpace, b.colorSpace);
    EXPECT_EQ(a.boxes, b.boxes);
    ASSERT_EQ(a.lanes.size(), b.lanes.size());
    for (std::size_t i = 0; i < a.lanes.size(); ++i)
      EXPECT_EQ(a.lanes[i], b.lanes[i]);
    EXPECT_EQ(a.scaleX, b.scaleX);
    EXPECT_EQ(a.scaleY, b.scaleY);
  }
}

} // namespace

TEST(DataRegistration, TransformsFromConfigMatchTheirOptionsStructs) {
  struct Case {
    std::string config;
    std::function<TransformPtr()> direct;
  };
  std::vector<Case> cases = {
      {"dict(type='Resize', img_scale=(48, 40), ratio_range=(0.5, 2.0), "
       "keep_ratio=True, interpolation='nearest')",
       [] {
         return std::make_shared<Resize>(ResizeOptions{
             {48, 40}, std::array<double, 2>{0.5, 2.0}, true, "nearest"});
       }},
      {"dict(type='Resize', img_scale=[(40, 20), (30, 40)], "
       "interpolation='nearest')",
       [] {
         ResizeOptions options;
         options.img_scales = {{40, 20}, {30, 40}};
         options.interpolation = "nearest";
         return std::make_shared<Resize>(options);
       }},
      {"dict(type='Resize', img_scale=[(20, 40), (30, 60), (24, 24)], "
       "multiscale_mode='value', keep_ratio=False)",
       [] {
         ResizeOptions options;
         options.img_scales = {{20, 40}, {30, 60}, {24, 24}};
         options.multiscale_mode = "value";
         options.keep_ratio = false;
         return std::make_shared<Resize>(options);
       }},
      {"dict(type='Resize', img_scale=[(36, 28)], keep_ratio=False)",
       [] {
         return std::make_shared<Resize>(
             ResizeOptions{{36, 28}, std::nullopt, false, "bilinear"});
       }},
      {"dict(type='Pad', size_divisor=40, pad_val=3)",
       [] {
         return std::make_shared<Pad>(PadOptions{std::nullopt, 40, 3.0});
       }},
      {"dict(type='RandomCrop', size=(32, 48), allow_negative_crop=True)",
       [] {
         return std::make_shared<RandomCrop>(RandomCropOptions{{32, 48}, true});
       }},
      {"dict(type='Pad', divisor=40, pad_val=3)",
       [] {
         return std::make_shared<Pad>(PadOptions{std::nullopt, 40, 3.0});
       }},
      {"dict(type='Pad', size=100)",
       [] {
         return std::make_shared<Pad>(
             PadOptions{std::array<int, 2>{100, 100}, std::nullopt, 0.0});
       }},
      {"dict(type='RandomFlip', px=0.5, py=0.5)",
       [] {
         return std::make_shared<RandomFlip>(RandomFlipOptions{0.5, 0.5});
       }},
      {"dict(type='AugmentHSV', hgain=0.015, sgain=0.7, vgain=0.4)",
       [] {
         return std::make_shared<AugmentHSV>(
             AugmentHSVOptions{0.015, 0.7, 0.4, 1.0});
       }},
      {"dict(type='ToTensor', to_yuv=True)",
       [] { return std::make_shared<ToTensor>(ToTensorOptions{true}); }},
      {"dict(type='Normalize', mean=[100, 110.5, 120], std=(50, 60, 70))",
       [] {
         return std::make_shared<Normalize>(
             NormalizeOptions{{100, 110.5, 120}, {50, 60, 70}});
       }},
      {"dict(type='BgrToYuv444', rgb_input=False)",
       [] { return std::make_shared<BgrToYuv444>(BgrToYuv444Options{false}); }},
      {"dict(type='RandomResizedCrop', size=(24, 32), scale=(0.2, 1.0), "
       "ratio=(0.5, 2), interpolation='bilinear')",
       [] {
         return std::make_shared<RandomResizedCrop>(RandomResizedCropOptions{
             {24, 32}, {0.2, 1.0}, {0.5, 2.0}, "bilinear"});
       }},
      {"dict(type='ColorJitter', brightness=0.4, contrast=0.3, "
       "saturation=0.2, hue=0, p=0.8)",
       [] {
         return std::make_shared<ColorJitter>(
             ColorJitterOptions{0.4, 0.3, 0.2, 0.8});
       }},
      // HAT's GaNet / CuLane pipeline, with its kwargs.
      {"dict(type='FixedCrop', size=(4, 6, 80, 50))",
       [] {
         return std::make_shared<FixedCrop>(FixedCropOptions{{4, 6, 80, 50}});
       }},
      {"dict(type='FixedCrop', size=(80, 50))",
       [] {
         return std::make_shared<FixedCrop>(FixedCropOptions{{0, 0, 80, 50}});
       }},
      {"dict(type='RandomResizedCrop', height=32, width=80, scale=(0.8, 1.2),"
       " ratio=(1.7, 2.7), p=0.6)",
       [] {
         RandomResizedCropOptions options;
         options.size = {32, 80};
         options.scale = {0.8, 1.2};
         options.ratio = {1.7, 2.7};
         options.p = 0.6;
         return std::make_shared<RandomResizedCrop>(options);
       }},
      {"dict(type='RandomSelectOne', transforms=[dict(type='RGBShift', "
       "r_shift_limit=(-10, 10), g_shift_limit=(-10, 10), "
       "b_shift_limit=(-10, 10), p=1.0), dict(type='HueSaturationValue', "
       "hue_range=(-10, 10), sat_range=(-15, 15), val_range=(-10, 10), "
       "p=1.0)], p=0.7)",
       [] {
         RandomSelectOneOptions options;
         options.transforms = {
             std::make_shared<RGBShift>(
                 RGBShiftOptions{{-10, 10}, {-10, 10}, {-10, 10}, 1.0}),
             std::make_shared<HueSaturationValue>(HueSaturationValueOptions{
                 {-10, 10}, {-15, 15}, {-10, 10}, 1.0})};
         options.p = 0.7;
         return std::make_shared<RandomSelectOne>(options);
       }},
      {"dict(type='RandomSelectOne', transforms=[dict(type='MeanBlur', "
       "ksize=3, p=1.0), dict(type='MedianBlur', ksize=3, p=1.0)], p=0.9, "
       "p_trans=[1, 3])",
       [] {
         RandomSelectOneOptions options;
         options.transforms = {
             std::make_shared<MeanBlur>(BlurOptions{3, 1.0}),
             std::make_shared<MedianBlur>(BlurOptions{3, 1.0})};
         options.p = 0.9;
         options.p_trans = {1, 3};
         return std::make_shared<RandomSelectOne>(options);
       }},
      {"dict(type='RGBShift', r_shift_limit=5, g_shift_limit=(0, 9), p=0.5)",
       [] {
         return std::make_shared<RGBShift>(
             RGBShiftOptions{{-5, 5}, {0, 9}, {-20, 20}, 0.5});
       }},
      {"dict(type='JPEGCompress', p=1.0, max_quality=85, min_quality=95)",
       [] {
         return std::make_shared<JPEGCompress>(
             JPEGCompressOptions{1.0, 85, 95});
       }},
      {"dict(type='RandomBrightnessContrast', brightness_limit=(-0.2, 0.2), "
       "contrast_limit=(-0.0, 0.0), p=0.5)",
       [] {
         return std::make_shared<RandomBrightnessContrast>(
             RandomBrightnessContrastOptions{{-0.2, 0.2}, {0, 0}, true, 0.5});
       }},
      {"dict(type='ShiftScaleRotate', shift_limit=(-0.1, 0.1), "
       "scale_limit=(0.8, 1.2), rotate_limit=(-10, 10), interpolation=1, "
       "border_mode=0, p=0.6)",
       [] {
         ShiftScaleRotateOptions options;
         options.shift_limit = {-0.1, 0.1};
         options.scale_limit = {0.8, 1.2};
         options.rotate_limit = {-10, 10};
         options.interpolation = 1;
         options.border_mode = 0;
         options.p = 0.6;
         return std::make_shared<ShiftScaleRotate>(options);
       }},
      {"dict(type='ShiftScaleRotate', shift_limit=0.05, scale_limit=0.1, "
       "rotate_limit=20, p=1.0)",
       [] {
         ShiftScaleRotateOptions options;
         options.shift_limit = {-0.05, 0.05};
         options.scale_limit = {0.9, 1.1};
         options.rotate_limit = {-20, 20};
         options.p = 1.0;
         return std::make_shared<ShiftScaleRotate>(options);
       }},
      {"dict(type='TorchVisionAdapter', interface='Normalize', mean=128.0, "
       "std=128.0)",
       [] {
         return std::make_shared<Normalize>(NormalizeOptions{{128.0}, {128.0}});
       }},
  };
  for (const Case &testCase : cases) {
    Expected<std::any> built = buildFromSource(
        "transform = " + testCase.config + "\n", "transform", "transform");
    ASSERT_TRUE(built) << testCase.config << ": " << built.error().str();
    TransformPtr fromConfig = std::any_cast<TransformPtr>(*built);
    expectSameResult(*fromConfig, *testCase.direct(), testCase.config);
  }
  // Defaults come from the options structs.
  Expected<std::any> resize =
      buildFromSource("t = dict(type='Resize')\n", "t", "transform");
  ASSERT_TRUE(resize) << resize.error().str();
  expectSameResult(*std::any_cast<TransformPtr>(*resize),
                   Resize(ResizeOptions{}), "Resize defaults");
}

TEST(DataRegistration, DetectionTransformKwargErrors) {
  auto message = [](const std::string &config) {
    Diagnostic error = buildError("t = " + config + "\n", "t", "transform");
    return error.str();
  };
  EXPECT_NE(message("dict(type='Pad', divisor=32, size_divisor=32)")
                .find("give one of divisor and size_divisor"),
            std::string::npos);
  EXPECT_NE(message("dict(type='Resize', img_scale=[(32, 32), (48, 48, 48)])")
                .find("'img_scale' must be an int, a (height, width) pair of "
                      "ints or a list of such pairs"),
            std::string::npos);
  EXPECT_NE(message("dict(type='Resize', img_scale=[(32, 32), (48, 48)], "
                    "ratio_range=(0.5, 2.0))")
                .find("ratio_range scales a single img_scale"),
            std::string::npos);
  EXPECT_NE(message("dict(type='Resize', multiscale_mode='ranges')")
                .find("'multiscale_mode' must be one of 'range', 'value'"),
            std::string::npos);
}

TEST(DataRegistration, LaneTransformKwargErrors) {
  auto message = [](const std::string &config) {
    Diagnostic error = buildError("t = " + config + "\n", "t", "transform");
    EXPECT_EQ(error.file, "test.py");
    EXPECT_EQ(error.line, 1u);
    return error.str();
  };
  auto has = [](const std::string &text, const std::string &part) {
    EXPECT_NE(text.find(part), std::string::npos) << text;
  };
  has(message("dict(type='FixedCrop', size=(0, 270, 1640))"),
      "'size' must be (x1, y1, w, h) or (w, h) ints");
  has(message("dict(type='FixedCrop')"), "size");
  has(message("dict(type='FixedCrop', size=(0, 0, 0, 10))"), "w, h > 0");
  has(message("dict(type='RandomSelectOne', transforms=[], p=0.5)"),
      "transforms is empty");
  has(message("dict(type='RandomSelectOne', transforms=[dict(type='MeanBlur'"
              ")], p_trans=[0.5, 0.5])"),
      "p_trans has 2 weights for 1 transforms");
  has(message("dict(type='RandomSelectOne', transforms=[dict(type='Blur')])"),
      "Blur");
  has(message("dict(type='RGBShift', r_shift_limit=(10, -10))"),
      "r_shift_limit must be (low, high)");
  has(message("dict(type='HueSaturationValue', p=1.5)"), "p must be in [0, 1]");
  has(message("dict(type='JPEGCompress', max_quality=101)"), "1..100");
  has(message("dict(type='MedianBlur', ksize=4)"), "ksize must be odd");
  has(message("dict(type='MeanBlur', ksize='3')"), "'ksize' must be an int");
  has(message("dict(type='ShiftScaleRotate', interpolation=3)"),
      "interpolation must be an OpenCV flag");
  has(message("dict(type='ShiftScaleRotate', border_mode=7)"),
      "'border_mode' must be an int from 0 to 4");
  has(message("dict(type='ShiftScaleRotate', scale_limit=(0.0, 1.2))"),
      "scale_limit is the range of the scale factor");
  has(message("dict(type='RandomResizedCrop', height=320)"),
      "'width' is missing");
  has(message("dict(type='RandomResizedCrop', size=32, height=32, width=8)"),
      "not both");
  has(message("dict(type='TorchVisionAdapter', interface='ColorJitter')"),
      "only interface=\"Normalize\"");
  has(message("dict(type='ColorJitter', p=0.5, transforms=[])"), "transforms");

  // Order checks in a dataset's transforms, at the offending dict.
  Diagnostic afterTensor = buildError(R"(
dataset = dict(type="FashionMNIST", transforms=[
    dict(type="ToTensor"),
    dict(type="RandomSelectOne", transforms=[dict(type="MeanBlur")]),
])
)",
                                      "dataset", "dataset");
  EXPECT_EQ(afterTensor.line, 4u);
  has(afterTensor.str(), "RandomSelectOne works on 8-bit images");
  Diagnostic yuvAfterNormalize = buildError(R"(
dataset = dict(type="FashionMNIST", transforms=[
    dict(type="ToTensor"),
    dict(type="Normalize", mean=128.0, std=128.0),
    dict(type="BgrToYuv444"),
])
)",
                                            "dataset", "dataset");
  EXPECT_EQ(yuvAfterNormalize.line, 5u);
  has(yuvAfterNormalize.str(), "BgrToYuv444 needs pixel values");
}

TEST(DataRegistration, WrongKwargTypeNamesTypeKwargExpectedAndGot) {
  Diagnostic error = buildError(R"(
import torch
data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", split="val"),
    batch_size="8",
)
)",
                                "data_loader", "data_loader");
  EXPECT_EQ(error.file, "test.py");
  EXPECT_EQ(error.line, 3u);
  EXPECT_NE(error.message.find("torch.utils.data.DataLoader: 'batch_size' "
                               "must be an int, got str '8'"),
            std::string::npos)
      << error.str();

  // In a nested transform: the location is the transform's own dict.
  error = buildError(R"(
dataset = dict(
    type="FashionMNIST",
    transforms=[
        dict(type="ToTensor"),
        dict(type="Resize",
             img_scale=(32, "32")),
    ],
)
)",
                     "dataset", "dataset");
  EXPECT_EQ(error.file, "test.py");
  EXPECT_EQ(error.line, 6u);
  EXPECT_NE(error.message.find("Resize: 'img_scale' must be an int or a "
                               "(height, width) pair of ints, got tuple"),
            std::string::npos)
      << error.str();
  ASSERT_EQ(error.notes.size(), 1u);
  EXPECT_EQ(error.notes[0], "in 'transforms[1]' of FashionMNIST");

  error =
      buildError("t = dict(type='RandomFlip', px=True)\n", "t", "transform");
  EXPECT_NE(error.message.find("'px' must be a number, got bool True"),
            std::string::npos)
      << error.str();
  error = buildError("t = dict(type='Resize', interpolation='lanczos')\n", "t",
                     "transform");
  EXPECT_NE(error.message.find("'interpolation' must be one of 'nearest'"),
            std::string::npos)
      << error.str();
  // Values the constructor refuses become diagnostics too.
  error = buildError("t = dict(type='Pad', size=(4, 4), divisor=8)\n", "t",
                     "transform");
  EXPECT_EQ(error.line, 1u);
  EXPECT_EQ(error.message, "Pad: give exactly one of size and divisor")
      << error.str();
  error =
      buildError("t = dict(type='ColorJitter', hue=0.1)\n", "t", "transform");
  EXPECT_NE(error.message.find("'hue' jitter is not supported"),
            std::string::npos)
      << error.str();
}

TEST(DataRegistration, UnknownTransformAndKwargSuggestNames) {
  Diagnostic error = buildError(R"(
dataset = dict(
    type="FashionMNIST",
    transforms=[
        dict(type="Resise", img_scale=(32, 32)),
    ],
)
)",
                                "dataset", "dataset");
  EXPECT_EQ(error.file, "test.py");
  EXPECT_EQ(error.line, 5u);
  EXPECT_NE(error.message.find("unknown transform type 'Resise'; did you "
                               "mean 'Resize'"),
            std::string::npos)
      << error.str();

  error = buildError("s = dict(type='DistributedSampler', rnak=1)\n", "s",
                     "sampler");
  EXPECT_EQ(error.line, 1u);
  EXPECT_NE(error.message.find("unknown kwarg 'rnak'; did you mean 'rank'"),
            std::string::npos)
      << error.str();

  error = buildError(R"(
dataset = dict(type="FashionMNIST", transforms=[
    dict(type="ToTensor"),
    dict(type="AugmentHSV"),
])
)",
                     "dataset", "dataset");
  EXPECT_EQ(error.line, 4u);
  EXPECT_NE(error.message.find("AugmentHSV works on 8-bit images; put it "
                               "before ToTensor/Normalize"),
            std::string::npos)
      << error.str();
}

TEST(DataRegistration, MissingDataIsADiagnosticNamingTypeAndPath) {
  test::TempDir dir;
  const std::string missing = dir / "no_such_lmdb";
  Diagnostic error = buildError("import torch\n"
                                "data_loader = dict(\n"
                                "    type=torch.utils.data.DataLoader,\n"
                                "    dataset=dict(type='Coco', data_path='" +
                                    missing + "'),\n)\n",
                                "data_loader", "data_loader");
  EXPECT_EQ(error.file, "test.py");
  EXPECT_EQ(error.line, 4u);
  EXPECT_EQ(error.message, "Coco: cannot open data_path '" + missing +
                               "': no such LMDB directory")
      << error.str();
  ASSERT_EQ(error.notes.size(), 1u);
  EXPECT_EQ(error.notes[0], "in 'dataset' of torch.utils.data.DataLoader");

  error = buildError("d = dict(type='FashionMNIST', data_path='" + missing +
                         "', train=False)\n",
                     "d", "dataset");
  EXPECT_EQ(error.line, 1u);
  EXPECT_NE(error.message.find("FashionMNIST: cannot open data_path '" +
                               missing + "'"),
            std::string::npos)
      << error.str();
  EXPECT_NE(error.message.find("t10k-images-idx3-ubyte.gz"), std::string::npos)
      << error.str();

  error = buildError("d = dict(type='FashionMNIST', split='val', train=True)\n",
                     "d", "dataset");
  EXPECT_NE(error.message.find("'split' is 'val' but 'train' is True"),
            std::string::npos)
      << error.str();
  error = buildError("d = dict(type='ImageNetFromLMDB')\n", "d", "dataset");
  EXPECT_NE(error.message.find("missing required kwarg 'data_path'"),
            std::string::npos)
      << error.str();
}

TEST(DataRegistration, SeedFcosConfigDataLoadersPassEveryCheck) {
  const char *sourceDir = std::getenv("HAT_SOURCE_DIR");
  std::string path =
      std::string(sourceDir ? sourceDir : HAT_SOURCE_DIR_DEFAULT) +
      "/test/Inputs/configs/fcos_efficientnetb0_mscoco.py";
  auto module = hat::config::loadConfigFile(path);
  ASSERT_TRUE(module) << module.error().str();
  // Every transform, the sampler and the collate of the seed build as
  // written; the loaders then stop only at the COCO LMDB, which this
  // machine does not have.
  for (const char *name :
       {"data_loader", "val_data_loader", "calibration_data_loader"}) {
    SCOPED_TRACE(name);
    const Value *loader = (*module)->get(name);
    ASSERT_TRUE(loader && loader->isDict());
    const hat::config::DictData &dataset =
        loader->asDict().find("dataset")->asDict();
    for (const Value &transform : dataset.find("transforms")->sequenceItems()) {
      Expected<std::any> built =
          Registry::instance().build(transform, "transform");
      EXPECT_TRUE(built) << built.error().str();
    }
    if (const Value *sampler = loader->asDict().find("sampler")) {
      Expected<std::any> built =
          Registry::instance().build(*sampler, "sampler");
      EXPECT_TRUE(built) << built.error().str();
    }
    Expected<std::any> built =
        Registry::instance().build(*loader, "data_loader");
    ASSERT_FALSE(built);
    EXPECT_EQ(built.error().file, path);
    EXPECT_EQ(built.error().line, dataset.loc.line);
    EXPECT_NE(built.error().message.find(
                  "Coco: cannot open data_path './tmp_data/mscoco/"),
              std::string::npos)
        << built.error().str();
  }
}
