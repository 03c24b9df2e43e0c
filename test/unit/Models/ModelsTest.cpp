//===- ModelsTest.cpp - Model builders and lowering -----------------------===//
//
// Parameter counts against the published architectures, lowering through the
// registry from config text, and the quantization passes on lowered models.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Eval/Evaluator.h"
#include "hat/Models/Module.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

using namespace hat;

namespace {

config::Expected<models::ModulePtr> buildFromSource(const std::string &text) {
  auto module = config::loadConfigSource(text, "test_config.py");
  if (!module)
    return module.error();
  const config::Value *model = (*module)->get("model");
  if (!model)
    return config::Diagnostic("no model");
  return models::buildModule(*model, "model");
}

int64_t parameters(const std::string &backbone, std::vector<int64_t> input) {
  auto model = buildFromSource(
      "model = dict(type='Classifier', backbone=dict(" + backbone + "))\n");
  EXPECT_TRUE(model.ok()) << (model ? "" : model.error().str());
  if (!model)
    return -1;
  mlir::MLIRContext context;
  auto count = models::countParameters(context, *model, input);
  if (count)
    std::cout << backbone << ": " << *count << " parameters\n";
  EXPECT_TRUE(count.ok()) << (count ? "" : count.error().str());
  return count ? *count : -1;
}

void expectWithin(int64_t actual, int64_t published, double tolerance) {
  EXPECT_LE(std::fabs((double)actual - published), tolerance * published)
      << "got " << actual << ", published " << published;
}

TEST(Models, ResNet18ParameterCount) {
  // torchvision resnet18: 11,689,512.
  expectWithin(
      parameters("type='ResNet18', num_classes=1000", {1, 3, 224, 224}),
      11689512, 0.005);
}

TEST(Models, MobileNetV2ParameterCount) {
  // torchvision mobilenet_v2: 3,504,872.
  expectWithin(
      parameters("type='MobileNetV2', num_classes=1000", {1, 3, 224, 224}),
      3504872, 0.005);
  // A width multiplier shrinks it.
  EXPECT_LT(parameters("type='MobileNetV2', num_classes=1000, alpha=0.5",
                       {1, 3, 224, 224}),
            2500000);
}

TEST(Models, EfficientNetB0ParameterCount) {
  // torchvision efficientnet_b0 (with SE): 5,288,548.
  expectWithin(parameters("type='EfficientNet', model_type='b0', "
                          "num_classes=1000",
                          {1, 3, 224, 224}),
               5288548, 0.005);
  // Without SE blocks it is smaller.
  EXPECT_LT(parameters("type='EfficientNet', model_type='b0', "
                       "num_classes=1000, use_se_block=False, "
                       "activation='relu'",
                       {1, 3, 224, 224}),
            5288548 - 500000);
}

TEST(Models, TinyResNetAndMixVarGENetBuild) {
  int64_t tiny =
      parameters("type='TinyResNet', num_classes=10", {1, 1, 28, 28});
  EXPECT_GT(tiny, 50000);
  EXPECT_LT(tiny, 200000);
  EXPECT_GT(
      parameters("type='MixVarGENet', num_classes=1000", {1, 3, 224, 224}),
      100000);
}

TEST(Models, UnknownKwargIsNamed) {
  auto model = buildFromSource(
      "model = dict(type='Classifier', backbone=dict(type='ResNet18', "
      "num_clases=10))\n");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().str().find("num_clases"), std::string::npos)
      << model.error().str();
}

TEST(Models, WrongKwargTypeIsExplained) {
  auto model = buildFromSource(
      "model = dict(type='Classifier', backbone=dict(type='MobileNetV2', "
      "alpha='wide'))\n");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().str().find("MobileNetV2: 'alpha' must be a number, "
                                     "got str 'wide'"),
            std::string::npos)
      << model.error().str();
}

TEST(Models, BadInputShapeIsAnErrorNotACrash) {
  auto model = buildFromSource(
      "model = dict(type='Classifier', backbone=dict(type='ResNet18'))\n");
  ASSERT_TRUE(model.ok());
  mlir::MLIRContext context;
  auto ir = models::lowerModel(context, *model, {{"img", {1, 3, 224}}});
  ASSERT_FALSE(ir.ok());
  EXPECT_NE(ir.error().str().find("expected an NCHW input, got rank 3"),
            std::string::npos)
      << ir.error().str();
}

TEST(Models, DeployInputsShapes) {
  auto module = config::loadConfigSource(
      "import torch\n"
      "deploy_inputs = dict(img=torch.randn((2, 3, 64, 32)))\n"
      "bad = dict(img=torch.randn('x'))\n",
      "inputs.py");
  ASSERT_TRUE(module.ok());
  auto inputs = models::parseDeployInputs(*(*module)->get("deploy_inputs"));
  ASSERT_TRUE(inputs.ok());
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ((*inputs)[0].first, "img");
  EXPECT_EQ((*inputs)[0].second, (std::vector<int64_t>{2, 3, 64, 32}));
  EXPECT_FALSE(models::parseDeployInputs(*(*module)->get("bad")).ok());
}

TEST(Models, LoweredModelQuantizes) {
  // A lowered TinyResNet goes through fuse-bn and float2qat, and the
  // float model evaluates to finite logits.
  auto model = buildFromSource(
      "model = dict(type='Classifier', backbone=dict(type='TinyResNet', "
      "channels=[8, 16], num_classes=10))\n");
  ASSERT_TRUE(model.ok());
  mlir::MLIRContext context;
  auto ir = models::lowerModel(context, *model, {{"img", {2, 1, 28, 28}}});
  ASSERT_TRUE(ir.ok()) << ir.error().str();
  mlir::func::FuncOp func = eval::findEntryFunction(**ir, "");
  eval::FunctionEvaluator evaluator(func);
  auto input = eval::Tensor::f32({2, 1, 28, 28}, 0.5f);
  auto out = evaluator.run({input});
  ASSERT_TRUE(mlir::succeeded(out));
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{2, 10}));
  for (float v : (*out)[0].f)
    EXPECT_TRUE(std::isfinite(v));

  registerHatPasses();
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  ASSERT_TRUE(mlir::succeeded(mlir::parsePassPipeline(
      "func.func(hat-fuse-bn,hat-float2qat)", pm, llvm::errs())));
  ASSERT_TRUE(mlir::succeeded(pm.run(**ir)));
  int fakeQuants = 0, batchNorms = 0;
  (*ir)->walk([&](FakeQuantOp) { ++fakeQuants; });
  (*ir)->walk([&](BatchNormOp) { ++batchNorms; });
  EXPECT_EQ(batchNorms, 0);
  EXPECT_GT(fakeQuants, 10);
}

} // namespace

namespace {

/// Lowers `model` (config text defining `model`) for a square input and
/// returns the entry function's result shapes (plain vectors: types die
/// with the function's MLIRContext, which ASan caught being read after it).
std::vector<std::vector<int64_t>>
loweredResults(const std::string &text, int64_t size,
               const std::string &category = "model") {
  auto source = config::loadConfigSource(text, "test_config.py");
  EXPECT_TRUE(source.ok()) << (source ? "" : source.error().str());
  if (!source)
    return {};
  const config::Value *cfg = (*source)->get("model");
  EXPECT_TRUE(cfg);
  if (!cfg)
    return {};
  auto model = models::buildModule(*cfg, category);
  EXPECT_TRUE(model.ok()) << (model ? "" : model.error().str());
  if (!model)
    return {};
  mlir::MLIRContext context;
  auto module =
      models::lowerModel(context, *model, {{"img", {1, 3, size, size}}});
  EXPECT_TRUE(module.ok()) << (module ? "" : module.error().str());
  if (!module)
    return {};
  std::vector<std::vector<int64_t>> shapes;
  (**module).walk([&](mlir::func::FuncOp f) {
    for (mlir::Type t : f.getResultTypes()) {
      llvm::ArrayRef<int64_t> s =
          llvm::cast<mlir::RankedTensorType>(t).getShape();
      shapes.emplace_back(s.begin(), s.end());
    }
  });
  return shapes;
}

} // namespace

TEST(Models, EfficientNetFeaturesWithoutTop) {
  // include_top=False gives one feature per stride 2..32 with the widths
  // the seed's BiFPN stride2channels names (B0), and B3's.
  struct Case {
    std::string type;
    std::vector<int64_t> channels;
  };
  for (const Case &c : std::vector<Case>{{"b0", {16, 24, 40, 112, 320}},
                                         {"b3", {24, 32, 48, 136, 384}}}) {
    auto types = loweredResults(
        "model = dict(type='efficientnet', model_type='" + c.type +
            "', include_top=False, activation='relu', use_se_block=False)\n",
        128, "backbone");
    ASSERT_EQ(types.size(), 5u) << c.type;
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(types[i][1], c.channels[i]) << c.type << " #" << i;
      EXPECT_EQ(types[i][2], 128 >> (i + 1)) << c.type << " #" << i;
    }
  }
}

TEST(Models, ResNetStagesWithoutTop) {
  // include_top=False gives layer1 .. layer4 at strides 4 .. 32.
  struct Case {
    std::string type;
    std::vector<int64_t> channels;
  };
  for (const Case &c :
       std::vector<Case>{{"ResNet18", {64, 128, 256, 512}},
                         {"ResNet50", {256, 512, 1024, 2048}}}) {
    auto types = loweredResults("model = dict(type='" + c.type +
                                    "', include_top=False)\n",
                                64, "backbone");
    ASSERT_EQ(types.size(), 4u) << c.type;
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(types[i][1], c.channels[i]) << c.type << " #" << i;
      EXPECT_EQ(types[i][2], 64 >> (i + 2)) << c.type << " #" << i;
    }
  }
}

TEST(Models, FcosOutputsPerLevel) {
  // A BiFPN + FCOSHead at 96x96 (odd extra levels: 3 -> 2 -> 1): 3 branches
  // x 5 levels, each map at its stride; num_classes / 4 / 1 channels.
  auto types = loweredResults(R"(
model = dict(
    type="FCOS",
    backbone=dict(type="efficientnet", model_type="b0", include_top=False,
                  activation="relu", use_se_block=False),
    neck=dict(type="BiFPN", in_strides=[2, 4, 8, 16, 32],
              out_strides=[8, 16, 32, 64, 128],
              stride2channels={2: 16, 4: 24, 8: 40, 16: 112, 32: 320},
              out_channels=8, num_outs=5, stack=1, start_level=2,
              end_level=-1),
    head=dict(type="FCOSHead", num_classes=7, in_strides=[8, 16, 32, 64, 128],
              out_strides=[8, 16, 32, 64, 128],
              stride2channels={8: 8, 16: 8, 32: 8, 64: 8, 128: 8},
              feat_channels=8, stacked_convs=1),
)
)",
                              96);
  ASSERT_EQ(types.size(), 15u);
  const int64_t sizes[] = {12, 6, 3, 2, 1};
  const int64_t channels[] = {7, 4, 1};
  for (size_t b = 0; b < 3; ++b)
    for (size_t l = 0; l < 5; ++l) {
      const std::vector<int64_t> &t = types[b * 5 + l];
      EXPECT_EQ(t[1], channels[b]) << b << " " << l;
      EXPECT_EQ(t[2], sizes[l]) << b << " " << l;
      EXPECT_EQ(t[3], sizes[l]) << b << " " << l;
    }
}

namespace {

/// The float data of parameter `name` of the lowered module.
std::vector<float> paramData(mlir::ModuleOp module, const std::string &name) {
  std::vector<float> out;
  module.walk([&](hat::ParamOp p) {
    if (p.getName() != name)
      return;
    auto dense = llvm::cast<mlir::DenseElementsAttr>(p.getValue());
    for (float v : dense.getValues<float>())
      out.push_back(v);
  });
  return out;
}

TEST(Models, DeformableDetrConstantsFollowTheReference) {
  // 64x64 input: neck levels at strides 16 (4x4) and 32 (2x2); width 8 (4
  // sine features per axis), 2 heads, 2 levels, 2 points.
  auto source = config::loadConfigSource(R"(
model = dict(
    type="DeformableDETR",
    backbone=dict(type="ResNet18", include_top=False),
    neck=dict(type="ChannelMapper", in_channels=[256, 512], out_channels=8,
              num_outs=2),
    position_embedding=dict(type="PositionEmbeddingSine", num_feats=4),
    transformer=dict(type="DeformableDetrTransformer", embed_dims=8,
                     num_heads=2, num_levels=2, num_points=2,
                     num_encoder_layers=1, num_decoder_layers=1,
                     feedforward_channels=16),
    head=dict(type="DeformableDETRHead", num_classes=3, num_queries=5),
)
)",
                                         "test_config.py");
  ASSERT_TRUE(source.ok()) << source.error().str();
  auto model = models::buildModule(*(*source)->get("model"), "model");
  ASSERT_TRUE(model.ok()) << model.error().str();
  mlir::MLIRContext context;
  auto module = models::lowerModel(context, *model, {{"img", {1, 3, 64, 64}}});
  ASSERT_TRUE(module.ok()) << module.error().str();
  const int levels[2][2] = {{4, 4}, {2, 2}}; // H, W
  const int positions = 16 + 4, feats = 4, samples = 2 * 2 * 2;

  // PositionEmbeddingSine(normalize=True) on an all-valid mask: e = (index
  // + 1 - 0.5) / (extent + 1e-6) * 2 pi, channel i of a half sin / cos of
  // e / 10000^(2 floor(i/2) / F); y half first.
  std::vector<float> pos = paramData(**module, "pos_embed");
  ASSERT_EQ(pos.size(), size_t(positions * 2 * feats));
  int at = 0;
  for (auto [h, w] : levels)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x, ++at)
        for (int half = 0; half < 2; ++half)
          for (int i = 0; i < feats; ++i) {
            const double e =
                ((half ? x : y) + 0.5) / ((half ? w : h) + 1e-6) * 2 * M_PI;
            const double t = std::pow(10000.0, 2.0 * (i / 2) / feats);
            const double want = i % 2 ? std::cos(e / t) : std::sin(e / t);
            EXPECT_NEAR(pos[(at * 2 + half) * feats + i], want, 1e-6)
                << "position " << at << " channel " << half * feats + i;
          }

  // Encoder reference points: the cell centre, normalised, for every
  // (head, level, point) sample.
  std::vector<float> ref = paramData(**module, "encoder.reference_points");
  ASSERT_EQ(ref.size(), size_t(positions * samples * 2));
  at = 0;
  for (auto [h, w] : levels)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x, ++at)
        for (int k = 0; k < samples; ++k) {
          EXPECT_FLOAT_EQ(ref[(at * samples + k) * 2], (x + 0.5f) / w);
          EXPECT_FLOAT_EQ(ref[(at * samples + k) * 2 + 1], (y + 0.5f) / h);
        }

  // Sampling offsets start on Deformable DETR's grid: head m in direction
  // 2 pi m / M scaled to the unit square's border, point p at p + 1 pixels,
  // here divided by the level's width and height; weights zero.
  std::vector<float> bias =
      paramData(**module, "encoder.layers.0.self_attn.sampling_offsets.bias");
  ASSERT_EQ(bias.size(), size_t(samples * 2));
  const float direction[2][2] = {{1, 0}, {-1, 0}}; // cos/sin of 0 and pi
  for (int m = 0; m < 2; ++m)
    for (int l = 0; l < 2; ++l)
      for (int p = 0; p < 2; ++p) {
        const int k = (m * 2 + l) * 2 + p;
        EXPECT_NEAR(bias[k * 2], direction[m][0] * (p + 1) / levels[l][1],
                    1e-6);
        EXPECT_NEAR(bias[k * 2 + 1], direction[m][1] * (p + 1) / levels[l][0],
                    1e-6);
      }
  for (float v : paramData(
           **module, "encoder.layers.0.self_attn.sampling_offsets.weight"))
    ASSERT_EQ(v, 0.f);

  // The query embedding is a linear over the identity: row q of
  // `query_embed.pos.index` selects column q of its weight.
  std::vector<float> index = paramData(**module, "query_embed.pos.index");
  ASSERT_EQ(index.size(), 25u);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 5; ++c)
      EXPECT_EQ(index[r * 5 + c], r == c ? 1.f : 0.f);
  EXPECT_EQ(paramData(**module, "query_embed.pos.weight").size(), 8u * 5u);
  // The class bias starts at the focal prior 0.01, the boxes' (w, h) at
  // sigmoid(-2).
  for (float v : paramData(**module, "class_embed.bias"))
    EXPECT_NEAR(1.0 / (1.0 + std::exp(-v)), 0.01, 1e-6);
  EXPECT_EQ(paramData(**module, "bbox_embed.wh.bias"),
            (std::vector<float>{-2.f, -2.f}));
}

} // namespace
