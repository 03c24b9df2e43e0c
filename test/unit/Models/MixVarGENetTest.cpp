//===- MixVarGENetTest.cpp - HAT's MixVarGENet from its net_config --------===//
//
// The builder against the structure of HAT's MixVarGENet (mixvargenet.py,
// basic_mixvargenet_module.py): parameter and layer counts of the model
// card's network, the multi-stride features GaNet takes (output_list), and
// the errors for net_configs it cannot build.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Models/Module.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace hat;

namespace {

/// The model card's net_config, written as HAT's configs write it.
const char *const kNetConfig = R"(
from hat.models.backbones.mixvargenet import MixVarGENetConfig
net_config = [
    [MixVarGENetConfig(in_channels=32, out_channels=32, head_op="mixvarge_f2",
                       stack_ops=[], stride=1, stack_factor=1,
                       fusion_strides=[], extra_downsample_num=0)],
    [MixVarGENetConfig(32, 32, "mixvarge_f4", ["mixvarge_f4", "mixvarge_f4"],
                       2, 1, [], 0)],
    [MixVarGENetConfig(in_channels=32, out_channels=64, head_op="mixvarge_f4",
                       stack_ops=["mixvarge_f4", "mixvarge_f4"], stride=2)],
    [MixVarGENetConfig(in_channels=64, out_channels=96,
                       head_op="mixvarge_f2_gb16",
                       stack_ops=["mixvarge_f2_gb16"] * 6, stride=2)],
    [MixVarGENetConfig(in_channels=96, out_channels=160,
                       head_op="mixvarge_f2_gb16",
                       stack_ops=["mixvarge_f2_gb16", "mixvarge_f2_gb16"],
                       stride=2)],
]
)";

config::Expected<models::ModulePtr> build(const std::string &text,
                                          const std::string &category) {
  auto module = config::loadConfigSource(text, "test_config.py");
  if (!module)
    return module.error();
  const config::Value *model = (*module)->get("model");
  if (!model)
    return config::Diagnostic("no model");
  return models::buildModule(*model, category);
}

struct Lowered {
  int64_t parameters = -1, convs = 0, groupedConvs = 0, adds = 0;
  /// Result shapes (plain vectors: a type would outlive its MLIRContext).
  std::vector<std::vector<int64_t>> results;
};

Lowered lower(const std::string &text, std::vector<int64_t> input,
              const std::string &category = "model") {
  Lowered out;
  auto model = build(text, category);
  EXPECT_TRUE(model.ok()) << (model ? "" : model.error().str());
  if (!model)
    return out;
  mlir::MLIRContext context;
  auto count = models::countParameters(context, *model, input);
  EXPECT_TRUE(count.ok()) << (count ? "" : count.error().str());
  if (count)
    out.parameters = *count;
  auto module = models::lowerModel(context, *model, {{"img", input}});
  EXPECT_TRUE(module.ok()) << (module ? "" : module.error().str());
  if (!module)
    return out;
  (**module).walk([&](mlir::Operation *op) {
    if (auto conv = llvm::dyn_cast<Conv2dOp>(op)) {
      ++out.convs;
      out.groupedConvs += conv.getGroups() > 1;
    }
    out.adds += llvm::isa<AddOp>(op);
  });
  (**module).walk([&](mlir::func::FuncOp f) {
    for (mlir::Type t : f.getResultTypes()) {
      llvm::ArrayRef<int64_t> s =
          llvm::cast<mlir::RankedTensorType>(t).getShape();
      out.results.emplace_back(s.begin(), s.end());
    }
  });
  return out;
}

std::string buildError(const std::string &text) {
  auto model = build(text, "model");
  EXPECT_FALSE(model.ok());
  return model ? std::string() : model.error().str();
}

} // namespace

TEST(MixVarGENet, ModelCardNetworkCounts) {
  // Counted by hand from HAT's block definitions at num_classes=1000:
  // stem 3->32 (864 + BN 64); per basic block conv1 3x3 to factor x in
  // (grouped by 16 for _gb16) + BN, conv2 1x1 to out + BN, a 1x1 downsample
  // with bias + BN where stride or width change; the top 160->1024->1000
  // (1x1 convs + BN). Backbone 1,112,128 + top 1,191,888 = 2,304,016;
  // bias=True adds one bias per main conv output channel: 2,310,744.
  Lowered card = lower(std::string(kNetConfig) +
                           "model = dict(type='Classifier', backbone=dict("
                           "type='MixVarGENet', net_config=net_config, "
                           "num_classes=1000, bn_kwargs={}))\n",
                       {1, 3, 224, 224});
  EXPECT_EQ(card.parameters, 2304016);
  // Basic blocks: 1 + 3 + 3 + 7 + 3 = 17 (34 convs); downsamples: the four
  // stage heads that halve the resolution (the first keeps 32 channels at
  // stride 1); stem 1; top 2: 41 convs, 10 of them grouped (the conv1 of
  // the ten _gb16 blocks), and one residual add per basic block.
  EXPECT_EQ(card.convs, 41);
  EXPECT_EQ(card.groupedConvs, 10);
  EXPECT_EQ(card.adds, 17);
  ASSERT_EQ(card.results.size(), 1u);
  EXPECT_EQ(card.results[0], (std::vector<int64_t>{1, 1000}));

  // The default net_config is the same network.
  EXPECT_EQ(lower("model = dict(type='Classifier', backbone=dict("
                  "type='MixVarGENet', num_classes=1000))\n",
                  {1, 3, 224, 224})
                .parameters,
            2304016);
  EXPECT_EQ(lower(std::string(kNetConfig) +
                      "model = dict(type='Classifier', backbone=dict("
                      "type='MixVarGENet', net_config=net_config, "
                      "num_classes=1000, bias=True))\n",
                  {1, 3, 224, 224})
                .parameters,
            2310744);
}

TEST(MixVarGENet, GaNetFeaturesFromOutputList) {
  // GaNet's backbone: no top, stages 2, 3, 4 (strides 8, 16, 32) of a
  // 320x800 image, with 64, 96 and 160 channels.
  Lowered ganet = lower(std::string(kNetConfig) +
                            "model = dict(type='MixVarGENet', "
                            "net_config=net_config, disable_quanti_input="
                            "False, input_channels=3, "
                            "input_sequence_length=1, num_classes=1000, "
                            "bn_kwargs={}, include_top=False, bias=True, "
                            "output_list=[2, 3, 4])\n",
                        {1, 3, 320, 800}, "backbone");
  ASSERT_EQ(ganet.results.size(), 3u);
  const int64_t channels[] = {64, 96, 160};
  for (int i = 0; i < 3; ++i) {
    const int64_t stride = 8 << i;
    EXPECT_EQ(
        ganet.results[i],
        (std::vector<int64_t>{1, channels[i], 320 / stride, 800 / stride}))
        << "output " << i;
  }
  // An empty output_list gives every stage, strides 2 ... 32.
  Lowered all = lower("model = dict(type='MixVarGENet', include_top=False)\n",
                      {1, 3, 64, 64}, "backbone");
  ASSERT_EQ(all.results.size(), 5u);
  EXPECT_EQ(all.results[0][2], 32);
  EXPECT_EQ(all.results[4][1], 160);
}

TEST(MixVarGENet, UnsupportedNetConfigsAreErrors) {
  const std::string prefix =
      "from hat.models.backbones.mixvargenet import MixVarGENetConfig\n";
  auto model = [&](const std::string &block, const std::string &extra = "") {
    return prefix +
           "model = dict(type='Classifier', backbone=dict(type="
           "'MixVarGENet', net_config=[[" +
           block + "]]" + extra + "))\n";
  };
  EXPECT_NE(buildError(model("MixVarGENetConfig(32, 64, 'mixvarge_f2', [], 2, "
                             "fusion_strides=[4])"))
                .find("fusion_strides [4] (cross-stage fusion) is not "
                      "supported"),
            std::string::npos);
  EXPECT_NE(buildError(model("MixVarGENetConfig(32, 64, 'mixvarge_f2', [], 2, "
                             "extra_downsample_num=1)"))
                .find("extra_downsample_num=1"),
            std::string::npos);
  std::string unknownOp =
      buildError(model("MixVarGENetConfig(32, 64, 'repmixvarge_f2', [], 2)"));
  EXPECT_NE(unknownOp.find("unknown head_op 'repmixvarge_f2'"),
            std::string::npos)
      << unknownOp;
  // The error points at the config line of the block.
  EXPECT_NE(unknownOp.find("test_config.py:2"), std::string::npos) << unknownOp;
  EXPECT_NE(buildError(model("MixVarGENetConfig(24, 64, 'mixvarge_f2_gb16', "
                             "[], 2)"))
                .find("24 input channels do not divide"),
            std::string::npos);
  EXPECT_NE(buildError(model("MixVarGENetConfig(32, 64, 'mixvarge_f2', [], "
                             "2)], [MixVarGENetConfig(32, 64, 'mixvarge_f2', "
                             "[], 2)"))
                .find("net_config[1][0] has in_channels=32 but the previous "
                      "block gives 64"),
            std::string::npos);
  EXPECT_NE(buildError(model("MixVarGENetConfig(32, 64, 'mixvarge_f2', [], 2)",
                             ", disable_quanti_input=True"))
                .find("disable_quanti_input=True"),
            std::string::npos);
  EXPECT_NE(buildError(model("MixVarGENetConfig(32, 64, 'mixvarge_f2', [], 2)",
                             ", output_list=[3]"))
                .find("output_list entry 3 is not a stage index"),
            std::string::npos);
  EXPECT_NE(buildError(model("dict(in_channels=32)"))
                .find("must be MixVarGENetConfig(...) or IdentityConfig(...)"),
            std::string::npos);
}
