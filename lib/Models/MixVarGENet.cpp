//===- MixVarGENet.cpp - A small MixVarGENet-style backbone ---------------===//
//
// HAT's MixVarGENet mixes plain 3x3 convolutions (cheap on the BPU at low
// channel counts) with VarGNet blocks: grouped 3x3 convolutions of fixed
// group width (8 channels per group) followed by a pointwise projection,
// with a residual connection. This is a compact version of that design,
// parameterised by per-stage channels, strides and block counts; it is not
// a reproduction of a published MixVarGENet checkpoint.
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

using namespace mlir;

namespace hat::models {
namespace {

constexpr int64_t kGroupWidth = 8;

struct MixVarGENet : Module {
  std::vector<int64_t> channels, strides, blocks;
  /// Stages before this index use plain convolutions, the rest VarG blocks.
  int64_t plainStages;
  int64_t numClasses;
  bool includeTop;
  BatchNormKwargs bn;

  std::string typeName() const override { return "MixVarGENet"; }

  Value plainBlock(NetBuilder &nb, Value x, int64_t out, int64_t stride) {
    Value y =
        nb.convBnAct(x, out, 3, stride, 1, Activation::Relu, "conv1", "bn1");
    y = nb.convBnAct(y, out, 3, 1, 1, Activation::None, "conv2", "bn2");
    if (stride == 1 && NetBuilder::channels(x) == out)
      y = nb.add(y, x);
    return nb.activation(y, Activation::Relu);
  }

  Value varGBlock(NetBuilder &nb, Value x, int64_t out, int64_t stride) {
    int64_t in = NetBuilder::channels(x);
    int64_t groups = std::max<int64_t>(1, in / kGroupWidth);
    Value y = nb.convBnAct(x, in, 3, stride, groups, Activation::Relu, "gconv",
                           "gbn");
    y = nb.convBnAct(y, out, 1, 1, 1, Activation::None, "pwconv", "pwbn");
    Value shortcut = x;
    if (stride != 1 || in != out) {
      NetBuilder::Scope s(nb, "shortcut");
      shortcut = nb.convBnAct(x, out, 1, stride, 1, Activation::None);
    }
    return nb.activation(nb.add(y, shortcut), Activation::Relu);
  }

  Value forward(NetBuilder &nb, Value x) override {
    nb.setBatchNormKwargs(bn.eps, bn.momentum);
    {
      NetBuilder::Scope s(nb, "stem");
      x = nb.convBnAct(x, channels.front(), 3, 2, 1, Activation::Relu);
    }
    for (size_t stage = 0; stage < channels.size(); ++stage) {
      NetBuilder::Scope st(nb, "stage" + std::to_string(stage + 1));
      for (int64_t i = 0; i < blocks[stage]; ++i) {
        NetBuilder::Scope b(nb, std::to_string(i));
        int64_t stride = i == 0 ? strides[stage] : 1;
        x = (int64_t)stage < plainStages
                ? plainBlock(nb, x, channels[stage], stride)
                : varGBlock(nb, x, channels[stage], stride);
      }
    }
    if (!includeTop)
      return x;
    x = nb.flatten(nb.globalAvgPool(x));
    return nb.linear(x, numClasses, true, "fc");
  }
};

config::Expected<std::any> buildMixVarGENet(const config::BuildArgs &args) {
  auto net = std::make_shared<MixVarGENet>();
  auto channels = intListArg(args, "channels", {32, 64, 96, 160}, kMaxChannels);
  auto strides = intListArg(args, "strides", {1, 2, 2, 2}, 64);
  auto blocks = intListArg(args, "blocks", {1, 2, 2, 2}, kMaxBlocksPerStage);
  auto plain = intArg(args, "plain_stages", 1);
  auto numClasses = intArg(args, "num_classes", 1000, kMaxClasses);
  auto includeTop = boolArg(args, "include_top", true);
  auto bn = bnKwargsArg(args);
  for (auto *e : {&channels, &strides, &blocks})
    if (!*e)
      return e->error();
  if (!plain)
    return plain.error();
  if (!numClasses)
    return numClasses.error();
  if (!includeTop)
    return includeTop.error();
  if (!bn)
    return bn.error();
  if (channels->empty() || channels->size() != strides->size() ||
      channels->size() != blocks->size())
    return args.error("'channels', 'strides' and 'blocks' must "
                      "be non-empty lists of the same length");
  for (int64_t c : *channels)
    if (c < kGroupWidth || c % kGroupWidth != 0)
      return args.error("stage channels must be positive "
                        "multiples of 8 (the VarG group width), got " +
                        std::to_string(c));
  for (size_t i = 0; i < strides->size(); ++i)
    if ((*strides)[i] < 1 || (*blocks)[i] < 1)
      return args.error("strides and blocks must be >= 1");
  net->channels = *channels;
  net->strides = *strides;
  net->blocks = *blocks;
  net->plainStages = *plain;
  net->numClasses = *numClasses;
  net->includeTop = *includeTop;
  net->bn = *bn;
  return moduleResult(net);
}

HAT_REGISTER("backbone", {"MixVarGENet"},
             config::KwargSpec{{},
                               {"channels", "strides", "blocks", "plain_stages",
                                "num_classes", "include_top", "bn_kwargs"}},
             buildMixVarGENet);

} // namespace
} // namespace hat::models
