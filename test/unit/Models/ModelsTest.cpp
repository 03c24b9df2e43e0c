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
