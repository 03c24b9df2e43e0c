//===- FcosTest.cpp - The FCOS train model on the executor ----------------===//
//
// The detector the engine will train: the seed's FCOS structure (narrow
// BiFPN and head) lowered from config text, run forward and backward on
// LibTorch. Every result is a named map, every parameter (fusion weights and
// shared head weights included) gets a finite gradient, and eval mode agrees
// with the reference interpreter.
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestUtil.h"

#include "hat/Config/Config.h"
#include "hat/Models/Module.h"

namespace hat::exec::test {
namespace {

const char *kTinyFcos = R"(
model = dict(
    type="FCOS",
    backbone=dict(type="efficientnet", model_type="b0", include_top=False,
                  activation="relu", use_se_block=False),
    neck=dict(type="BiFPN", in_strides=[2, 4, 8, 16, 32],
              out_strides=[8, 16, 32, 64, 128],
              stride2channels={2: 16, 4: 24, 8: 40, 16: 112, 32: 320},
              out_channels=8, num_outs=5, stack=2, start_level=2,
              end_level=-1, fpn_name="bifpn_sum"),
    head=dict(type="FCOSHead", num_classes=3, in_strides=[8, 16, 32, 64, 128],
              out_strides=[8, 16, 32, 64, 128],
              stride2channels={8: 8, 16: 8, 32: 8, 64: 8, 128: 8},
              feat_channels=8, stacked_convs=2, int8_output=False,
              int16_output=True, dequant_output=True),
    # Built by the engine, never lowered.
    targets=dict(type="DynamicFcosTarget", strides=[8, 16, 32, 64, 128]),
    post_process=dict(type="FCOSMultiStrideFilter",
                      strides=[8, 16, 32, 64, 128], threshold=-2.944,
                      for_compile=False, score_threshold=0.05,
                      iou_threshold=0.6, max_shape=(64, 64)),
    loss_cls=dict(type="FocalLoss", loss_name="cls"),
    loss_centerness=dict(type="CrossEntropyLoss", use_sigmoid=True),
    loss_reg=dict(type="GIoULoss", loss_name="reg"),
)
)";

class FcosTest : public ExecutorTest {};

TEST_F(FcosTest, TrainModelForwardBackward) {
  auto source = config::loadConfigSource(kTinyFcos, "fcos_tiny.py");
  ASSERT_TRUE(source.ok()) << source.error().str();
  auto model = models::buildModule(*(*source)->get("model"), "model");
  ASSERT_TRUE(model.ok()) << model.error().str();
  auto lowered = models::lowerModel(context, *model, {{"img", {1, 3, 64, 64}}});
  ASSERT_TRUE(lowered.ok()) << lowered.error().str();
  mlir::func::FuncOp func = eval::findEntryFunction(**lowered, "");
  ASSERT_TRUE(func);
  ASSERT_EQ(func.getNumResults(), 15u);

  ExecutorOptions options;
  options.fakeQuantMode = FakeQuantMode::Float;
  auto executor = makeExecutor(func, options);
  ASSERT_TRUE(executor);
  executor->train(true);
  // Batch 2 through a function lowered for batch 1 (dynamic batch).
  at::Tensor images = randn({2, 3, 64, 64});
  std::vector<at::Tensor> outs = executor->forward({images});
  ASSERT_EQ(outs.size(), 15u);
  const int64_t sizes[] = {8, 4, 2, 1, 1};
  const int64_t channels[] = {3, 4, 1};
  at::Tensor loss = at::zeros({}, at::TensorOptions(at::kFloat));
  for (size_t i = 0; i < 15; ++i) {
    auto name = func.getResultAttrOfType<mlir::StringAttr>(i, "hat.name");
    ASSERT_TRUE(name) << "result " << i;
    const char *branch[] = {"cls_s", "bbox_s", "centerness_s"};
    const int64_t strides[] = {8, 16, 32, 64, 128};
    EXPECT_EQ(name.str(), branch[i / 5] + std::to_string(strides[i % 5]));
    EXPECT_EQ(
        shapeOf(outs[i]),
        (std::vector<int64_t>{2, channels[i / 5], sizes[i % 5], sizes[i % 5]}))
        << name.str();
    if (i / 5 == 1) { // ltrb distances are >= 0
      EXPECT_GE(outs[i].min().item<float>(), 0.f) << name.str();
    }
    loss = loss + (outs[i] * outs[i]).mean();
  }
  loss.backward();
  int fusionWeights = 0, sharedHead = 0;
  for (auto &[name, t] : executor->namedParameters()) {
    ASSERT_TRUE(t.grad().defined()) << "no gradient for " << name;
    EXPECT_TRUE(at::isfinite(t.grad()).all().item<bool>()) << name;
    fusionWeights += name.find(".fusion.weight") != std::string::npos;
    sharedHead += name == "head.conv_cls.weight" ||
                  name == "head.cls_convs.0.conv.weight";
  }
  // 2 layers x (4 top-down + 4 bottom-up) fusions; the shared head weights
  // are one parameter each, not one per level.
  EXPECT_EQ(fusionWeights, 16);
  EXPECT_EQ(sharedHead, 2);

  // Eval mode (running BN statistics, updated by the training step and
  // written back into the IR) against the reference interpreter.
  executor->eval();
  executor->writeBack();
  at::Tensor one = randn({1, 3, 64, 64});
  std::vector<at::Tensor> evalOuts;
  {
    at::NoGradGuard noGrad;
    evalOuts = executor->forward({one});
  }
  std::vector<at::Tensor> ref = runEval(func, {one});
  ASSERT_EQ(ref.size(), 15u);
  for (size_t i = 0; i < 15; ++i)
    EXPECT_TRUE(allClose(evalOuts[i], ref[i], 1e-3, 1e-4)) << "result " << i;
}

TEST_F(FcosTest, IntegerModelBitExactWithEvaluator) {
  // int_infer of the detector: fuse-bn + float2qat, calibration on the
  // executor, qat2quantize (BiFPN fusions become qadd chains, head outputs
  // i16); the executor's integer forward equals the reference interpreter
  // bit for bit on all 15 results (and so hat-run's, which the lit test
  // tools/hat-run/fcos-pipeline.test checks against hat-eval).
  auto source = config::loadConfigSource(kTinyFcos, "fcos_tiny.py");
  ASSERT_TRUE(source.ok()) << source.error().str();
  auto model = models::buildModule(*(*source)->get("model"), "model");
  ASSERT_TRUE(model.ok()) << model.error().str();
  auto lowered = models::lowerModel(context, *model, {{"img", {1, 3, 64, 64}}});
  ASSERT_TRUE(lowered.ok()) << lowered.error().str();
  mlir::ModuleOp module = **lowered;
  runPipeline(module, "func.func(hat-fuse-bn,hat-float2qat)");
  {
    ExecutorOptions options;
    options.fakeQuantMode = FakeQuantMode::Calibrate;
    auto calibrator = makeExecutor(entry(module), options);
    ASSERT_TRUE(calibrator);
    calibrator->eval();
    at::NoGradGuard noGrad;
    for (int i = 0; i < 2; ++i)
      calibrator->forward({randn({2, 3, 64, 64})});
    calibrator->writeBack();
  }
  runPipeline(module, "func.func(hat-qat2quantize)");
  int fusions = 0, i16Results = 0;
  module.walk([&](QAddOp) { ++fusions; });
  module.walk([&](DequantizeOp d) {
    i16Results += llvm::cast<mlir::RankedTensorType>(d.getInput().getType())
                      .getElementType()
                      .isInteger(16);
  });
  EXPECT_GE(fusions, 16);
  EXPECT_EQ(i16Results, 15);
  auto executor = makeExecutor(entry(module));
  ASSERT_TRUE(executor);
  executor->eval();
  at::Tensor image = randn({1, 3, 64, 64});
  std::vector<at::Tensor> outs;
  {
    at::NoGradGuard noGrad;
    outs = executor->forward({image});
  }
  std::vector<at::Tensor> ref = runEval(entry(module), {image});
  ASSERT_EQ(outs.size(), 15u);
  ASSERT_EQ(ref.size(), 15u);
  for (size_t i = 0; i < 15; ++i)
    EXPECT_TRUE(bitEqual(outs[i], ref[i])) << "result " << i;
}

} // namespace
} // namespace hat::exec::test
