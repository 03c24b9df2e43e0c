//===- TinyResNet.cpp - A small residual CNN for 28x28 inputs -------------===//
//
// The Fashion-MNIST workhorse: a stem conv and one residual BasicBlock per
// stage (the first keeps the resolution, the others halve it), then global
// pooling and a linear classifier. ~0.1M parameters with the default
// channels, which trains to >92% on Fashion-MNIST in a few CPU epochs.
//
//===----------------------------------------------------------------------===//

#include "Blocks.h"
#include "ModelArgs.h"

using namespace mlir;

namespace hat::models {
namespace {

struct TinyResNet : Module {
  std::vector<int64_t> channels;
  int64_t numClasses;
  bool includeTop;
  BatchNormKwargs bn;

  std::string typeName() const override { return "TinyResNet"; }

  Value forward(NetBuilder &nb, Value x) override {
    nb.setBatchNormKwargs(bn.eps, bn.momentum);
    x = nb.convBnAct(x, channels.front(), 3, 1, 1, Activation::Relu, "conv1",
                     "bn1");
    for (size_t stage = 0; stage < channels.size(); ++stage) {
      NetBuilder::Scope s(nb, "layer" + std::to_string(stage + 1));
      x = basicBlock(nb, x, channels[stage], stage == 0 ? 1 : 2);
    }
    if (!includeTop)
      return x;
    x = nb.flatten(nb.globalAvgPool(x));
    return nb.linear(x, numClasses, true, "fc");
  }
};

config::Expected<std::any> buildTinyResNet(const config::BuildArgs &args) {
  auto net = std::make_shared<TinyResNet>();
  auto channels = intListArg(args, "channels", {16, 32, 64}, kMaxChannels);
  auto numClasses = intArg(args, "num_classes", 10, kMaxClasses);
  auto includeTop = boolArg(args, "include_top", true);
  auto bn = bnKwargsArg(args);
  if (!channels)
    return channels.error();
  if (!numClasses)
    return numClasses.error();
  if (!includeTop)
    return includeTop.error();
  if (!bn)
    return bn.error();
  if (channels->empty())
    return args.error("'channels' must not be empty");
  for (int64_t c : *channels)
    if (c < 1)
      return args.error("channels must be >= 1");
  net->channels = *channels;
  net->numClasses = *numClasses;
  net->includeTop = *includeTop;
  net->bn = *bn;
  return moduleResult(net);
}

HAT_REGISTER("backbone", {"TinyResNet"},
             config::KwargSpec{
                 {}, {"channels", "num_classes", "include_top", "bn_kwargs"}},
             buildTinyResNet);

} // namespace
} // namespace hat::models
