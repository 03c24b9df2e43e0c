//===- MobileNetV2.cpp - MobileNetV2 backbone -----------------------------===//
//
// torchvision's MobileNetV2 (features.N / classifier.1 names) with HAT's
// `alpha` width multiplier; 3,504,872 parameters at alpha 1, 1000 classes.
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include <cmath>

using namespace mlir;

namespace hat::models {

namespace {

struct MobileNetV2 : Module {
  double alpha;
  int64_t numClasses;
  bool includeTop;
  BatchNormKwargs bn;

  std::string typeName() const override { return "MobileNetV2"; }

  Value forward(NetBuilder &nb, Value x) override {
    nb.setBatchNormKwargs(bn.eps, bn.momentum);
    // t (expansion), c (channels), n (repeats), s (first stride)
    const int64_t settings[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
                                   {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
                                   {6, 320, 1, 1}};
    int64_t inputChannels = makeDivisible(32 * alpha);
    int64_t lastChannels = makeDivisible(1280 * std::max(1.0, alpha));
    int index = 0;
    NetBuilder::Scope features(nb, "features");
    {
      NetBuilder::Scope s(nb, std::to_string(index++));
      x = nb.convBnAct(x, inputChannels, 3, 2, 1, Activation::Relu6, "0", "1");
    }
    for (auto &setting : settings) {
      int64_t out = makeDivisible(setting[1] * alpha);
      for (int64_t i = 0; i < setting[2]; ++i) {
        NetBuilder::Scope block(nb, std::to_string(index++));
        NetBuilder::Scope conv(nb, "conv");
        int64_t stride = i == 0 ? setting[3] : 1;
        int64_t in = NetBuilder::channels(x);
        int64_t hidden = in * setting[0];
        Value y = x;
        int layer = 0;
        if (setting[0] != 1) {
          NetBuilder::Scope s(nb, std::to_string(layer++));
          y = nb.convBnAct(y, hidden, 1, 1, 1, Activation::Relu6, "0", "1");
        }
        {
          NetBuilder::Scope s(nb, std::to_string(layer++));
          y = nb.convBnAct(y, hidden, 3, stride, hidden, Activation::Relu6, "0",
                           "1");
        }
        y = nb.conv2d(y, out, 1, 1, 0, 1, false, 1, std::to_string(layer++));
        y = nb.batchNorm(y, std::to_string(layer++));
        x = (stride == 1 && in == out) ? nb.add(x, y) : y;
      }
    }
    {
      NetBuilder::Scope s(nb, std::to_string(index++));
      x = nb.convBnAct(x, lastChannels, 1, 1, 1, Activation::Relu6, "0", "1");
    }
    if (!includeTop)
      return x;
    x = nb.flatten(nb.globalAvgPool(x));
    return nb.linear(x, numClasses, true, "classifier.1");
  }
};

config::Expected<std::any> buildMobileNetV2(const config::BuildArgs &args) {
  auto net = std::make_shared<MobileNetV2>();
  auto numClasses = intArg(args, "num_classes", 1000, kMaxClasses);
  auto alpha = floatArg(args, "alpha", 1.0);
  auto includeTop = boolArg(args, "include_top", true);
  auto bn = bnKwargsArg(args);
  if (!numClasses)
    return numClasses.error();
  if (!alpha)
    return alpha.error();
  if (!includeTop)
    return includeTop.error();
  if (!bn)
    return bn.error();
  if (!(*alpha > 0) || *alpha > 64)
    return args.error("'alpha' must be > 0 and at most 64, got " +
                      std::to_string(*alpha));
  net->numClasses = *numClasses;
  net->alpha = *alpha;
  net->includeTop = *includeTop;
  net->bn = *bn;
  return moduleResult(net);
}

HAT_REGISTER("backbone", {"MobileNetV2"},
             config::KwargSpec{
                 {}, {"num_classes", "alpha", "include_top", "bn_kwargs"}},
             buildMobileNetV2);

} // namespace
} // namespace hat::models
