//===- EfficientNet.cpp - EfficientNet-B0..B7 backbones -------------------===//
//
// MBConv blocks with optional squeeze-and-excitation, scaled by the
// compound width/depth coefficients of `model_type`. HAT deploys it with
// `activation="relu"` and no SE for the oldest BPUs; with SE and swish,
// B0 at 1000 classes has 5,288,548 parameters (torchvision's layout).
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include <cmath>

using namespace mlir;

namespace hat::models {

namespace {

struct Scaling {
  const char *name;
  double width, depth;
};
const Scaling kScalings[] = {
    {"b0", 1.0, 1.0}, {"b1", 1.0, 1.1}, {"b2", 1.1, 1.2}, {"b3", 1.2, 1.4},
    {"b4", 1.4, 1.8}, {"b5", 1.6, 2.2}, {"b6", 1.8, 2.6}, {"b7", 2.0, 3.1}};

struct EfficientNet : Module {
  Scaling scaling;
  int64_t numClasses;
  Activation act;
  bool useSE;
  bool includeTop;
  BatchNormKwargs bn;

  std::string typeName() const override { return "EfficientNet"; }

  int64_t filters(int64_t c) const {
    return makeDivisible(c * scaling.width, 8);
  }
  int64_t repeats(int64_t n) const {
    return (int64_t)std::ceil(n * scaling.depth);
  }

  Value squeezeExcite(NetBuilder &nb, Value x, int64_t squeezed) {
    NetBuilder::Scope s(nb, "se");
    int64_t c = NetBuilder::channels(x);
    Value g = nb.globalAvgPool(x);
    g = nb.activation(nb.conv2d(g, squeezed, 1, 1, 0, 1, true, 1, "fc1"), act);
    g = nb.activation(nb.conv2d(g, c, 1, 1, 0, 1, true, 1, "fc2"),
                      Activation::Sigmoid);
    return nb.mul(x, g);
  }

  /// With the top: the logits. Without (`include_top=False`): the last
  /// feature of the stride-32 stage (forwardMulti() gives every stride).
  Value forward(NetBuilder &nb, Value x) override {
    std::vector<Value> out = features(nb, x);
    return out.back();
  }

  /// Without the top, one feature per stride (2, 4, 8, 16, 32), each the
  /// output of the last block before the resolution halves again: 16, 24,
  /// 40, 112 and 320 channels for B0, as HAT's `include_top=False`.
  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (inputs.size() != 1) {
      nb.fail("efficientnet", "takes one input");
      return inputs;
    }
    return features(nb, inputs[0]);
  }

  std::vector<Value> features(NetBuilder &nb, Value x) {
    nb.setBatchNormKwargs(bn.eps, bn.momentum);
    std::vector<Value> strideFeatures;
    // expand ratio, kernel, stride, output channels, repeats
    const int64_t stages[][5] = {{1, 3, 1, 16, 1},  {6, 3, 2, 24, 2},
                                 {6, 5, 2, 40, 2},  {6, 3, 2, 80, 3},
                                 {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4},
                                 {6, 3, 1, 320, 1}};
    {
      NetBuilder::Scope s(nb, "stem");
      x = nb.convBnAct(x, filters(32), 3, 2, 1, act);
    }
    int blockIndex = 0;
    const size_t numStages = std::size(stages);
    for (size_t stageIndex = 0; stageIndex < numStages; ++stageIndex) {
      auto &stage = stages[stageIndex];
      int64_t out = filters(stage[3]);
      for (int64_t i = 0; i < repeats(stage[4]); ++i) {
        NetBuilder::Scope block(nb, "blocks." + std::to_string(blockIndex++));
        int64_t stride = i == 0 ? stage[2] : 1;
        int64_t in = NetBuilder::channels(x);
        int64_t expanded = in * stage[0];
        Value y = x;
        if (stage[0] != 1) {
          NetBuilder::Scope s(nb, "expand");
          y = nb.convBnAct(y, expanded, 1, 1, 1, act);
        }
        {
          NetBuilder::Scope s(nb, "depthwise");
          y = nb.convBnAct(y, expanded, stage[1], stride, expanded, act);
        }
        if (useSE)
          y = squeezeExcite(nb, y, std::max<int64_t>(1, in / 4));
        {
          NetBuilder::Scope s(nb, "project");
          y = nb.convBnAct(y, out, 1, 1, 1, Activation::None);
        }
        x = (stride == 1 && in == out) ? nb.add(x, y) : y;
      }
      if (stageIndex + 1 == numStages || stages[stageIndex + 1][2] == 2)
        strideFeatures.push_back(x);
    }
    if (!includeTop)
      return strideFeatures;
    {
      NetBuilder::Scope s(nb, "head");
      x = nb.convBnAct(x, filters(1280), 1, 1, 1, act);
    }
    x = nb.flatten(nb.globalAvgPool(x));
    return {nb.linear(x, numClasses, true, "classifier")};
  }
};

config::Expected<std::any> buildEfficientNet(const config::BuildArgs &args) {
  auto net = std::make_shared<EfficientNet>();
  auto modelType = strArg(args, "model_type", "b0");
  auto numClasses = intArg(args, "num_classes", 1000);
  auto act = activationArg(args, "activation", Activation::Silu);
  auto useSE = boolArg(args, "use_se_block", true);
  auto includeTop = boolArg(args, "include_top", true);
  auto bn = bnKwargsArg(args);
  if (!modelType)
    return modelType.error();
  if (!numClasses)
    return numClasses.error();
  if (!act)
    return act.error();
  if (!useSE)
    return useSE.error();
  if (!includeTop)
    return includeTop.error();
  if (!bn)
    return bn.error();
  const Scaling *scaling = nullptr;
  for (const Scaling &s : kScalings)
    if (*modelType == s.name)
      scaling = &s;
  if (!scaling)
    return args.error("unknown model_type '" + *modelType +
                      "' (expected b0 ... b7)");
  net->scaling = *scaling;
  net->numClasses = *numClasses;
  net->act = *act;
  net->useSE = *useSE;
  net->includeTop = *includeTop;
  net->bn = *bn;
  return moduleResult(net);
}

HAT_REGISTER("backbone", {"EfficientNet", "efficientnet"},
             config::KwargSpec{{},
                               {"model_type", "num_classes", "activation",
                                "use_se_block", "include_top", "bn_kwargs"}},
             buildEfficientNet);

} // namespace
} // namespace hat::models
