//===- BiFPN.cpp - EfficientDet's bidirectional feature pyramid -----------===//
//
// `dict(type="BiFPN", in_strides=[2, 4, 8, 16, 32], out_strides=[8, ..., 128],
// stride2channels={...}, out_channels=64, num_outs=5, stack=3, start_level=2,
// end_level=-1, fpn_name="bifpn_sum")`, laid out as EfficientDet's BiFPN with
// the BPU-friendly choices docs/detection.md ("Model") records:
//
//  * inputs: backbone levels start_level..end_level (end_level -1: the last,
//    inclusive); a 1x1 conv + BN brings a level to out_channels when it has
//    another width; levels beyond the backbone come from the last one by a
//    3x3/2 max pool (after the 1x1 conv + BN for the first);
//  * each of the `stack` layers: a top-down path (nearest upsampling of the
//    coarser level) then a bottom-up path (3x3/2 max pool of the finer
//    output); every node fuses its inputs with hat.weighted_sum (learnable
//    non-negative weights, fast normalised fusion w_i / (sum w + 1e-4)),
//    then ReLU, then a separable conv (depthwise 3x3, pointwise 1x1) + BN.
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include <map>

using namespace mlir;

namespace hat::models {

namespace {

std::string strideName(int64_t stride) { return "s" + std::to_string(stride); }

struct BiFPN : Module {
  std::vector<int64_t> inStrides, outStrides;
  std::map<int64_t, int64_t> stride2channels;
  int64_t outChannels, numOuts, stack, startLevel, endLevel;

  std::string typeName() const override { return "BiFPN"; }

  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("BiFPN", "takes the backbone's multi-stride features, not one "
                     "tensor");
    return x;
  }

  Value resampleConv(NetBuilder &nb, Value x, const std::string &name) {
    if (NetBuilder::channels(x) == outChannels)
      return x;
    NetBuilder::Scope s(nb, name);
    return nb.batchNorm(nb.conv2d(x, outChannels, 1, 1, 0, 1, false, 1, "conv"),
                        "bn");
  }

  Value downsample(NetBuilder &nb, Value x, const std::string &name) {
    Value y = nb.maxPool(x, 3, 2, 1);
    if (y != x)
      nb.nameLayer(y, name);
    return y;
  }

  Value upsampleTo(NetBuilder &nb, Value x, Value like,
                   const std::string &name) {
    auto s = NetBuilder::shape(like);
    Value y = nb.resize(x, s[2], s[3], /*bilinear=*/false);
    nb.nameLayer(y, name);
    return y;
  }

  /// weighted_sum -> ReLU -> depthwise 3x3 -> pointwise 1x1 -> BN.
  Value fuse(NetBuilder &nb, const std::vector<Value> &inputs,
             const std::string &name) {
    NetBuilder::Scope s(nb, name);
    Value y = nb.weightedSum(inputs, 1e-4f, "fusion");
    y = nb.activation(y, Activation::Relu);
    y = nb.conv2d(y, outChannels, 3, 1, 1, outChannels, false, 1, "dw_conv");
    y = nb.conv2d(y, outChannels, 1, 1, 0, 1, false, 1, "pw_conv");
    return nb.batchNorm(y, "bn");
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (inputs.size() != inStrides.size()) {
      nb.fail("neck", "BiFPN expects " + std::to_string(inStrides.size()) +
                          " features (in_strides), got " +
                          std::to_string(inputs.size()));
      return inputs;
    }
    for (size_t i = 0; i < inputs.size(); ++i)
      if (NetBuilder::channels(inputs[i]) != stride2channels.at(inStrides[i])) {
        nb.fail("neck", "feature at stride " + std::to_string(inStrides[i]) +
                            " has " +
                            std::to_string(NetBuilder::channels(inputs[i])) +
                            " channels, stride2channels says " +
                            std::to_string(stride2channels.at(inStrides[i])));
        return inputs;
      }
    NetBuilder::Scope neck(nb, "neck");
    std::vector<Value> p;
    {
      NetBuilder::Scope s(nb, "resample");
      for (int64_t l = startLevel; l <= endLevel; ++l)
        p.push_back(resampleConv(nb, inputs[l], strideName(inStrides[l])));
      while ((int64_t)p.size() < numOuts) {
        Value from = p.size() == size_t(endLevel - startLevel + 1)
                         ? resampleConv(nb, inputs[endLevel],
                                        strideName(outStrides[p.size()]))
                         : p.back();
        p.push_back(
            downsample(nb, from, strideName(outStrides[p.size()]) + ".pool"));
      }
    }
    const size_t levels = p.size();
    for (int64_t k = 0; k < stack; ++k) {
      NetBuilder::Scope layer(nb, "stack." + std::to_string(k));
      std::vector<Value> td(levels);
      td[levels - 1] = p[levels - 1];
      for (size_t i = levels - 1; i-- > 0;)
        td[i] = fuse(
            nb,
            {p[i], upsampleTo(nb, td[i + 1], p[i],
                              "td." + strideName(outStrides[i]) + ".upsample")},
            "td." + strideName(outStrides[i]));
      std::vector<Value> out(levels);
      out[0] = td[0];
      for (size_t i = 1; i < levels; ++i) {
        std::vector<Value> in{p[i]};
        if (i + 1 < levels)
          in.push_back(td[i]);
        in.push_back(
            downsample(nb, out[i - 1],
                       "out." + strideName(outStrides[i]) + ".downsample"));
        out[i] = fuse(nb, in, "out." + strideName(outStrides[i]));
      }
      p = std::move(out);
    }
    return p;
  }
};

config::Expected<std::any> buildBiFPN(const config::BuildArgs &args) {
  auto net = std::make_shared<BiFPN>();
  auto inStrides = intListArg(args, "in_strides", {});
  auto outStrides = intListArg(args, "out_strides", {});
  auto s2c = intDictArg(args, "stride2channels");
  auto outChannels = intArg(args, "out_channels", 0);
  auto numOuts = intArg(args, "num_outs", 0);
  auto stack = intArg(args, "stack", 3);
  auto startLevel = intArg(args, "start_level", 0);
  auto endLevel = intArg(args, "end_level", -1);
  auto fpnName = strArg(args, "fpn_name", "bifpn_sum");
  for (auto *e : {&inStrides, &outStrides})
    if (!*e)
      return e->error();
  if (!s2c)
    return s2c.error();
  for (auto *e : {&outChannels, &numOuts, &stack, &startLevel, &endLevel})
    if (!*e)
      return e->error();
  if (!fpnName)
    return fpnName.error();
  if (*fpnName != "bifpn_sum")
    return args.error("fpn_name '" + *fpnName +
                      "' is not supported; BiFPN implements 'bifpn_sum' "
                      "(fast normalised weighted-sum fusion)");
  const int64_t numIn = (int64_t)inStrides->size();
  if (numIn < 1)
    return args.error("in_strides must name the backbone's feature strides");
  for (int64_t s : *inStrides)
    if (!s2c->count(s))
      return args.error("stride2channels has no entry for input stride " +
                        std::to_string(s));
  int64_t end = *endLevel < 0 ? numIn + *endLevel : *endLevel;
  if (*startLevel < 0 || *startLevel > end || end >= numIn)
    return args.error("start_level " + std::to_string(*startLevel) +
                      " and end_level " + std::to_string(*endLevel) +
                      " do not select levels of the " + std::to_string(numIn) +
                      " in_strides");
  int64_t used = end - *startLevel + 1;
  if (*numOuts < used)
    return args.error("num_outs " + std::to_string(*numOuts) +
                      " is smaller than the " + std::to_string(used) +
                      " backbone levels start_level..end_level select");
  if ((int64_t)outStrides->size() != *numOuts)
    return args.error("out_strides has " + std::to_string(outStrides->size()) +
                      " entries, num_outs is " + std::to_string(*numOuts));
  for (int64_t i = 0; i < *numOuts; ++i) {
    int64_t expected =
        i < used ? (*inStrides)[*startLevel + i] : (*outStrides)[i - 1] * 2;
    if ((*outStrides)[i] != expected)
      return args.error("out_strides[" + std::to_string(i) + "] is " +
                        std::to_string((*outStrides)[i]) + ", expected " +
                        std::to_string(expected) +
                        " (the selected in_strides, then doubling for each "
                        "extra level)");
  }
  if (*outChannels < 1 || *stack < 1)
    return args.error("out_channels and stack must be >= 1");
  net->inStrides = *inStrides;
  net->outStrides = *outStrides;
  net->stride2channels = *s2c;
  net->outChannels = *outChannels;
  net->numOuts = *numOuts;
  net->stack = *stack;
  net->startLevel = *startLevel;
  net->endLevel = end;
  return moduleResult(net);
}

HAT_REGISTER("neck", {"BiFPN"},
             config::KwargSpec{
                 {"in_strides", "out_strides", "stride2channels",
                  "out_channels", "num_outs"},
                 {"stack", "start_level", "end_level", "fpn_name"}},
             buildBiFPN);

} // namespace
} // namespace hat::models
