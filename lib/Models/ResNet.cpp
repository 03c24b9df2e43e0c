//===- ResNet.cpp - ResNet18/34/50 backbones ------------------------------===//
//
// torchvision's ResNet layout and parameter names (conv1, bn1, layerN.i.*,
// fc), so a float checkpoint maps one to one. ResNet18 at 1000 classes has
// 11,689,512 parameters.
//
//===----------------------------------------------------------------------===//

#include "Blocks.h"
#include "ModelArgs.h"

using namespace mlir;

namespace hat::models {
namespace {

struct ResNet : Module {
  std::string name;
  bool bottleneck;
  std::vector<int64_t> blocks;
  int64_t numClasses;
  bool includeTop;
  BatchNormKwargs bn;

  std::string typeName() const override { return name; }

  Value bottleneckBlock(NetBuilder &nb, Value x, int64_t planes,
                        int64_t stride) {
    int64_t out = planes * 4;
    Value identity = x;
    Value y = nb.conv2d(x, planes, 1, 1, 0, 1, false, 1, "conv1");
    y = nb.activation(nb.batchNorm(y, "bn1"), Activation::Relu);
    y = nb.conv2d(y, planes, 3, stride, 1, 1, false, 1, "conv2");
    y = nb.activation(nb.batchNorm(y, "bn2"), Activation::Relu);
    y = nb.batchNorm(nb.conv2d(y, out, 1, 1, 0, 1, false, 1, "conv3"), "bn3");
    if (stride != 1 || NetBuilder::channels(x) != out) {
      NetBuilder::Scope s(nb, "downsample");
      identity =
          nb.batchNorm(nb.conv2d(x, out, 1, stride, 0, 1, false, 1, "0"), "1");
    }
    return nb.activation(nb.add(y, identity), Activation::Relu);
  }

  /// The outputs of layer1 .. layer4 (strides 4, 8, 16, 32).
  std::vector<Value> stages(NetBuilder &nb, Value x) {
    nb.setBatchNormKwargs(bn.eps, bn.momentum);
    x = nb.conv2d(x, 64, 7, 2, 3, 1, false, 1, "conv1");
    x = nb.activation(nb.batchNorm(x, "bn1"), Activation::Relu);
    x = nb.maxPool(x, 3, 2, 1);
    std::vector<Value> outputs;
    int64_t planes = 64;
    for (size_t stage = 0; stage < blocks.size(); ++stage, planes *= 2) {
      NetBuilder::Scope layer(nb, "layer" + std::to_string(stage + 1));
      for (int64_t i = 0; i < blocks[stage]; ++i) {
        NetBuilder::Scope block(nb, std::to_string(i));
        int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
        x = bottleneck ? bottleneckBlock(nb, x, planes, stride)
                       : basicBlock(nb, x, planes, stride);
      }
      outputs.push_back(x);
    }
    return outputs;
  }

  /// With the top: the logits; without: the stride-32 feature
  /// (forwardMulti() gives every stage's).
  Value forward(NetBuilder &nb, Value x) override {
    x = stages(nb, x).back();
    if (!includeTop)
      return x;
    x = nb.flatten(nb.globalAvgPool(x));
    return nb.linear(x, numClasses, true, "fc");
  }

  /// Without the top, one feature per stage, strides 4, 8, 16, 32 (64 to
  /// 512 channels for ResNet18/34, 256 to 2048 for ResNet50), as a
  /// multi-scale detector (Deformable DETR) reads them.
  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (inputs.size() != 1) {
      nb.fail(name, "takes one input");
      return inputs;
    }
    if (includeTop)
      return {forward(nb, inputs[0])};
    return stages(nb, inputs[0]);
  }
};

config::Expected<std::any> buildResNet(const config::BuildArgs &args) {
  auto numClasses = intArg(args, "num_classes", 1000, kMaxClasses);
  auto includeTop = boolArg(args, "include_top", true);
  auto bn = bnKwargsArg(args);
  if (!numClasses)
    return numClasses.error();
  if (!includeTop)
    return includeTop.error();
  if (!bn)
    return bn.error();
  if (*numClasses < 1)
    return args.error("'num_classes' must be >= 1");
  auto net = std::make_shared<ResNet>();
  net->name = args.typeName();
  net->bottleneck = net->name == "ResNet50";
  net->blocks = net->name == "ResNet18" ? std::vector<int64_t>{2, 2, 2, 2}
                                        : std::vector<int64_t>{3, 4, 6, 3};
  net->numClasses = *numClasses;
  net->includeTop = *includeTop;
  net->bn = *bn;
  return moduleResult(net);
}

HAT_REGISTER("backbone", {"ResNet18", "ResNet34", "ResNet50"},
             config::KwargSpec{{}, {"num_classes", "include_top", "bn_kwargs"}},
             buildResNet);

} // namespace
} // namespace hat::models
