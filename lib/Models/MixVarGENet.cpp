//===- MixVarGENet.cpp - HAT's MixVarGENet backbone -----------------------===//
//
// HAT's MixVarGENet, described by `net_config`: a list of stages, each a
// list of MixVarGENetConfig(in_channels, out_channels, head_op, stack_ops,
// stride, stack_factor, fusion_strides, extra_downsample_num) blocks. The
// network is
//
//   mod1     3x3 stride-2 conv + BN (no activation) to the first block's
//            in_channels
//   mod2...  one module per stage; block j of a stage is a head basic block
//            (in -> out, the stage's stride) followed by its stack_ops basic
//            blocks (out -> out, stride 1; with stack_factor f the inner ones
//            run at f * out channels)
//   output   (include_top) 1x1 conv to fc_filter + BN + ReLU, 7x7 average
//            pool, 1x1 conv to num_classes + BN
//
// A basic block ("mixvarge_<kernels>_f<factor>[_gb16]") is a 3x3 conv to
// factor * in channels (out channels when factor is 1), grouped in groups of
// 16 input channels for `_gb16`, + BN + ReLU, then a 1x1 conv (3x3 for
// `k3k3`) to out channels + BN; the shortcut is the input, or a 1x1 conv +
// BN when the stride or the width changes (always for `_r`), added before a
// ReLU. Downsample convolutions always carry a bias (HAT's ConvModule2d
// default), the others only with `bias=True`.
//
// Without the top, the outputs are the stages listed in `output_list` (every
// stage when it is empty): the multi-stride features a neck consumes.
//
// The default net_config is the network of Horizon's MixVarGENet model card
// (ImageNet, 1x3x224x224), also used by HAT's GaNet and StereoNet+ configs:
// stages of 32, 32, 64, 96, 160 channels at strides 2 ... 32 (f2, f4, f4,
// f2_gb16, f2_gb16 head ops with 0, 2, 2, 6, 2 stacked blocks); with the top
// and bias=False it has 2,304,016 parameters at 1000 classes.
//
// Not supported (a config using them gets an error naming the block):
// cross-stage fusion (fusion_strides, extra_downsample_num), the
// re-parameterised `repmixvarge_*` ops, input sequences, warping modules and
// pre-quantized inputs (disable_quanti_input=True).
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include <cmath>

using namespace mlir;

namespace hat::models {
namespace {

/// One entry of HAT's block table.
struct BasicOp {
  const char *name;
  int64_t factor;
  int64_t conv1GroupBase; ///< 0: a dense conv
  int64_t conv2GroupBase; ///< 0: a dense conv
  int64_t conv2Kernel;
  bool mergeBranch; ///< a conv shortcut even when shapes match
};

const BasicOp kBasicOps[] = {
    {"mixvarge_f1", 1, 0, 0, 1, false},
    {"mixvarge_f2", 2, 0, 0, 1, false},
    {"mixvarge_f4", 4, 0, 0, 1, false},
    {"mixvarge_f1_gb16", 1, 16, 0, 1, false},
    {"mixvarge_f2_gb16", 2, 16, 0, 1, false},
    {"mixvarge_f4_gb16", 4, 16, 0, 1, false},
    {"mixvarge_k3k3_f2", 2, 0, 0, 3, false},
    {"mixvarge_k3k3_f2_gb16", 2, 16, 16, 3, false},
    {"mixvarge_f2_r", 2, 0, 0, 1, true},
    {"mixvarge_f2_r_gb16", 2, 16, 0, 1, true},
};

const BasicOp *findBasicOp(const std::string &name) {
  for (const BasicOp &op : kBasicOps)
    if (name == op.name)
      return &op;
  return nullptr;
}

std::string knownBasicOps() {
  std::string known;
  for (const BasicOp &op : kBasicOps)
    known += std::string(known.empty() ? "" : ", ") + op.name;
  return known;
}

/// One MixVarGENetConfig (or IdentityConfig: a pass-through block).
struct BlockConfig {
  bool identity = false;
  int64_t inChannels = 0, outChannels = 0, stride = 1, stackFactor = 1;
  const BasicOp *head = nullptr;
  std::vector<const BasicOp *> stack;
};

using NetConfig = std::vector<std::vector<BlockConfig>>;

/// The model card's network (module comment).
NetConfig defaultNetConfig() {
  const BasicOp *f2 = findBasicOp("mixvarge_f2");
  const BasicOp *f4 = findBasicOp("mixvarge_f4");
  const BasicOp *g2 = findBasicOp("mixvarge_f2_gb16");
  auto block = [](int64_t in, int64_t out, const BasicOp *head,
                  std::vector<const BasicOp *> stack, int64_t stride) {
    BlockConfig b;
    b.inChannels = in;
    b.outChannels = out;
    b.head = head;
    b.stack = std::move(stack);
    b.stride = stride;
    return std::vector<BlockConfig>{b};
  };
  return {block(32, 32, f2, {}, 1), block(32, 32, f4, {f4, f4}, 2),
          block(32, 64, f4, {f4, f4}, 2),
          block(64, 96, g2, std::vector<const BasicOp *>(6, g2), 2),
          block(96, 160, g2, {g2, g2}, 2)};
}

struct MixVarGENet : Module {
  NetConfig net;
  int64_t numClasses = 1000, fcFilter = 1024;
  bool includeTop = true, flatOutput = true, bias = false;
  std::vector<int64_t> outputList;
  double inputResizeScale = 0; ///< 0: no resize
  int64_t expectedInputChannels = 3;
  BatchNormKwargs bn;

  std::string typeName() const override { return "MixVarGENet"; }

  /// HAT's ConvModule2d: conv `<name>.0` + BN `<name>.1` (+ activation).
  Value convModule(NetBuilder &nb, Value x, int64_t out, int64_t kernel,
                   int64_t stride, int64_t groups, bool withBias,
                   Activation act, const std::string &name) {
    Value y = nb.conv2d(x, out, kernel, stride, kernel / 2, groups, withBias, 1,
                        name + ".0");
    return nb.activation(nb.batchNorm(y, name + ".1"), act);
  }

  Value basicBlock(NetBuilder &nb, Value x, int64_t out, int64_t stride,
                   const BasicOp &op) {
    const int64_t in = NetBuilder::channels(x);
    const int64_t mid = op.factor == 1 ? out : in * op.factor;
    const int64_t groups1 = op.conv1GroupBase ? in / op.conv1GroupBase : 1;
    const int64_t groups2 = op.conv2GroupBase ? out / op.conv2GroupBase : 1;
    Value identity = x;
    if (op.mergeBranch || stride != 1 || in != out)
      identity = convModule(nb, x, out, 1, stride, 1, /*withBias=*/true,
                            Activation::None, "downsample");
    Value y = convModule(nb, x, mid, 3, stride, groups1, bias, Activation::Relu,
                         "conv.0");
    y = convModule(nb, y, out, op.conv2Kernel, 1, groups2, bias,
                   Activation::None, "conv.1");
    return nb.activation(nb.add(y, identity), Activation::Relu);
  }

  Value block(NetBuilder &nb, Value x, const BlockConfig &cfg) {
    if (cfg.identity)
      return x;
    {
      NetBuilder::Scope s(nb, "head_layer");
      x = basicBlock(nb, x, cfg.outChannels, cfg.stride, *cfg.head);
    }
    const size_t n = cfg.stack.size();
    for (size_t i = 0; i < n; ++i) {
      NetBuilder::Scope s(nb, "stack_layers." + std::to_string(i));
      // The stack widens to stack_factor * out inside and returns to out.
      const int64_t out = n > 1 && i + 1 < n ? cfg.stackFactor * cfg.outChannels
                                             : cfg.outChannels;
      x = basicBlock(nb, x, out, 1, *cfg.stack[i]);
    }
    return x;
  }

  /// With the top: the logits. Without: the last listed stage output
  /// (forwardMulti() gives every listed stage).
  Value forward(NetBuilder &nb, Value x) override {
    return features(nb, x).back();
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (inputs.size() != 1) {
      nb.fail("mixvargenet", "takes one input");
      return inputs;
    }
    return features(nb, inputs[0]);
  }

  std::vector<Value> features(NetBuilder &nb, Value x) {
    nb.setBatchNormKwargs(bn.eps, bn.momentum);
    if (NetBuilder::channels(x) != expectedInputChannels) {
      nb.fail("mod1",
              "input_channels=" + std::to_string(expectedInputChannels) +
                  " but the input has " +
                  std::to_string(NetBuilder::channels(x)) + " channels");
      return {x};
    }
    if (inputResizeScale > 0) {
      auto shape = NetBuilder::shape(x);
      x = nb.resize(x, int64_t(std::floor(double(shape[2]) * inputResizeScale)),
                    int64_t(std::floor(double(shape[3]) * inputResizeScale)),
                    false);
    }
    x = convModule(nb, x, net.front().front().inChannels, 3, 2, 1, bias,
                   Activation::None, "mod1");
    std::vector<Value> outputs;
    for (size_t stage = 0; stage < net.size(); ++stage) {
      NetBuilder::Scope s(nb, "mod" + std::to_string(stage + 2));
      for (size_t j = 0; j < net[stage].size(); ++j) {
        NetBuilder::Scope b(nb, std::to_string(j));
        x = block(nb, x, net[stage][j]);
      }
      if (outputList.empty() || llvm::is_contained(outputList, int64_t(stage)))
        outputs.push_back(x);
    }
    if (!includeTop)
      return outputs;
    {
      NetBuilder::Scope s(nb, "output");
      x = convModule(nb, x, fcFilter, 1, 1, 1, bias, Activation::Relu, "0");
      auto shape = NetBuilder::shape(x);
      if (!nb.failed() && (shape[2] != 7 || shape[3] != 7)) {
        nb.fail("1", "the top's AvgPool2d(7) needs a 7x7 stride-32 feature "
                     "(a 224x224 input), got " +
                         std::to_string(shape[2]) + "x" +
                         std::to_string(shape[3]) +
                         "; use include_top=False for other sizes");
        return {x};
      }
      x = nb.avgPool(x, 7, 1, 0);
      nb.nameLayer(x, "1");
      x = convModule(nb, x, numClasses, 1, 1, 1, bias, Activation::None, "2");
    }
    if (flatOutput)
      x = nb.flatten(x);
    return {x};
  }
};

/// Reads the int field `name` of a MixVarGENetConfig call (keyword or
/// positional at `position`), `fallback` when absent.
config::Expected<int64_t> callInt(const config::CallData &call,
                                  const std::string &name, size_t position,
                                  std::optional<int64_t> fallback) {
  const config::Value *v = nullptr;
  for (auto &[k, value] : call.kwargs)
    if (k == name)
      v = &value;
  if (!v && position < call.args.size())
    v = &call.args[position];
  if (!v || v->isNone()) {
    if (fallback)
      return *fallback;
    return config::Diagnostic(call.loc,
                              call.callee + ": missing '" + name + "'");
  }
  if (!v->isInt() || v->isBool())
    return config::Diagnostic(call.loc, call.callee + ": '" + name +
                                            "' must be an int, got " +
                                            v->typeName() + " " + v->repr());
  return v->asInt();
}

const config::Value *callField(const config::CallData &call,
                               const std::string &name, size_t position) {
  for (auto &[k, value] : call.kwargs)
    if (k == name)
      return &value;
  return position < call.args.size() ? &call.args[position] : nullptr;
}

config::Expected<BlockConfig> parseBlock(const config::Value &v,
                                         const std::string &where) {
  if (!v.isCall())
    return config::Diagnostic(
        where + " must be MixVarGENetConfig(...) or IdentityConfig(...), got " +
        v.typeName() + " " + v.repr());
  const config::CallData &call = v.asCall();
  const std::string fn = call.callee.substr(call.callee.rfind('.') + 1);
  // The dataclasses' fields in declaration (positional) order.
  static const std::vector<std::string> kBlockFields = {
      "in_channels", "out_channels", "head_op",        "stack_ops",
      "stride",      "stack_factor", "fusion_strides", "extra_downsample_num"};
  static const std::vector<std::string> kIdentityFields = {
      "in_channels", "out_channels", "stride"};
  const std::vector<std::string> &fields =
      fn == "IdentityConfig" ? kIdentityFields : kBlockFields;
  const size_t numFields = fields.size();
  if (fn != "MixVarGENetConfig" && fn != "IdentityConfig")
    return config::Diagnostic(call.loc, where +
                                            " must be MixVarGENetConfig(...) "
                                            "or IdentityConfig(...), got " +
                                            call.callee + "(...)");
  if (call.args.size() > numFields)
    return config::Diagnostic(call.loc, fn + " takes at most " +
                                            std::to_string(numFields) +
                                            " positional arguments");
  for (auto &[k, value] : call.kwargs) {
    if (!llvm::is_contained(fields, k))
      return config::Diagnostic(call.loc, fn + ": unknown field '" + k + "'");
  }
  BlockConfig b;
  auto in = callInt(call, "in_channels", 0, std::nullopt);
  auto out = callInt(call, "out_channels", 1, std::nullopt);
  if (!in)
    return in.error();
  if (!out)
    return out.error();
  b.inChannels = *in;
  b.outChannels = *out;
  if (b.inChannels < 1 || b.outChannels < 1 || b.inChannels > kMaxChannels ||
      b.outChannels > kMaxChannels)
    return config::Diagnostic(call.loc, fn + ": channels must be in 1.." +
                                            std::to_string(kMaxChannels));
  if (fn == "IdentityConfig") {
    auto stride = callInt(call, "stride", 2, std::nullopt);
    if (!stride)
      return stride.error();
    if (b.inChannels != b.outChannels || *stride != 1)
      return config::Diagnostic(
          call.loc, "IdentityConfig passes its input through: in_channels "
                    "must equal out_channels and stride must be 1");
    b.identity = true;
    return b;
  }
  auto stride = callInt(call, "stride", 4, std::nullopt);
  auto factor = callInt(call, "stack_factor", 5, 1);
  auto extra = callInt(call, "extra_downsample_num", 7, 0);
  for (auto *e : {&stride, &factor, &extra})
    if (!*e)
      return e->error();
  if (*stride != 1 && *stride != 2)
    return config::Diagnostic(call.loc, fn + ": stride must be 1 or 2, got " +
                                            std::to_string(*stride));
  if (*factor < 1 || *factor > 64)
    return config::Diagnostic(call.loc, fn + ": stack_factor must be in 1..64");
  b.stride = *stride;
  b.stackFactor = *factor;
  if (*extra != 0)
    return config::Diagnostic(
        call.loc, fn + ": extra_downsample_num=" + std::to_string(*extra) +
                      " (cross-stage fusion) is not supported by this "
                      "MixVarGENet builder; use 0");
  if (const config::Value *fusion = callField(call, "fusion_strides", 6))
    if (!fusion->isNone() && (!(fusion->isList() || fusion->isTuple()) ||
                              !fusion->sequenceItems().empty()))
      return config::Diagnostic(
          call.loc, fn + ": fusion_strides " + fusion->repr() +
                        " (cross-stage fusion) is not supported by this "
                        "MixVarGENet builder; use []");
  auto opNamed =
      [&](const config::Value &name,
          const std::string &field) -> config::Expected<const BasicOp *> {
    if (!name.isStr())
      return config::Diagnostic(
          call.loc, fn + ": '" + field + "' must be a string, got " +
                        name.typeName() + " " + name.repr());
    if (const BasicOp *op = findBasicOp(name.asStr()))
      return op;
    return config::Diagnostic(call.loc,
                              fn + ": unknown " + field + " '" + name.asStr() +
                                  "' (supported: " + knownBasicOps() + ")");
  };
  const config::Value *head = callField(call, "head_op", 2);
  if (!head)
    return config::Diagnostic(call.loc, fn + ": missing 'head_op'");
  auto headOp = opNamed(*head, "head_op");
  if (!headOp)
    return headOp.error();
  b.head = *headOp;
  const config::Value *stack = callField(call, "stack_ops", 3);
  if (!stack)
    return config::Diagnostic(call.loc, fn + ": missing 'stack_ops'");
  if (!stack->isNone()) {
    if (!stack->isList() && !stack->isTuple())
      return config::Diagnostic(call.loc, fn +
                                              ": 'stack_ops' must be a list "
                                              "of op names, got " +
                                              stack->repr());
    if (stack->sequenceItems().size() > size_t(kMaxBlocksPerStage))
      return config::Diagnostic(
          call.loc, fn + ": more than " + std::to_string(kMaxBlocksPerStage) +
                        " stack_ops");
    for (const config::Value &item : stack->sequenceItems()) {
      auto op = opNamed(item, "stack_ops entry");
      if (!op)
        return op.error();
      b.stack.push_back(*op);
    }
  }
  // Grouped convolutions split their input in groups of 16 channels; HAT
  // truncates in / 16 silently, a wrong group count here is an error.
  auto checkGroups = [&](const BasicOp &op, int64_t in,
                         int64_t out) -> std::optional<config::Diagnostic> {
    const int64_t mid = op.factor == 1 ? out : in * op.factor;
    if (op.conv1GroupBase &&
        (in % op.conv1GroupBase || mid % (in / op.conv1GroupBase)))
      return config::Diagnostic(
          call.loc, fn + ": " + op.name + " groups its 3x3 conv by " +
                        std::to_string(op.conv1GroupBase) +
                        " input channels; " + std::to_string(in) +
                        " input channels do not divide");
    if (op.conv2GroupBase &&
        (out % op.conv2GroupBase || mid % (out / op.conv2GroupBase)))
      return config::Diagnostic(
          call.loc, fn + ": " + op.name + " groups its second conv by " +
                        std::to_string(op.conv2GroupBase) +
                        " output channels; " + std::to_string(out) +
                        " output channels do not divide");
    return std::nullopt;
  };
  if (auto e = checkGroups(*b.head, b.inChannels, b.outChannels))
    return *e;
  const size_t n = b.stack.size();
  for (size_t i = 0; i < n; ++i) {
    const int64_t wide = b.stackFactor * b.outChannels;
    const int64_t in = n > 1 && i > 0 ? wide : b.outChannels;
    const int64_t out = n > 1 && i + 1 < n ? wide : b.outChannels;
    if (auto e = checkGroups(*b.stack[i], in, out))
      return *e;
  }
  return b;
}

config::Expected<NetConfig> netConfigArg(const config::BuildArgs &args) {
  config::Value v = args.get("net_config");
  if (v.isNone())
    return defaultNetConfig();
  if (!v.isList() && !v.isTuple())
    return kwargError(args, "net_config",
                      "a list of stages (lists of MixVarGENetConfig)", v);
  NetConfig net;
  for (const config::Value &stage : v.sequenceItems()) {
    const std::string where = "net_config[" + std::to_string(net.size()) + "]";
    if (!stage.isList() && !stage.isTuple())
      return args.error(where + " must be a list of MixVarGENetConfig, got " +
                        stage.typeName() + " " + stage.repr());
    std::vector<BlockConfig> blocks;
    for (const config::Value &item : stage.sequenceItems()) {
      auto b =
          parseBlock(item, where + "[" + std::to_string(blocks.size()) + "]");
      if (!b)
        return b.error();
      blocks.push_back(*b);
    }
    if (blocks.empty())
      return args.error(where + " is an empty stage");
    net.push_back(std::move(blocks));
  }
  if (net.empty())
    return args.error("net_config is empty");
  // Each block must take the channels the previous one gives (HAT would
  // fail inside the forward pass).
  int64_t channels = net.front().front().inChannels;
  for (size_t s = 0; s < net.size(); ++s)
    for (size_t j = 0; j < net[s].size(); ++j) {
      if (net[s][j].inChannels != channels)
        return args.error(
            "net_config[" + std::to_string(s) + "][" + std::to_string(j) +
            "] has in_channels=" + std::to_string(net[s][j].inChannels) +
            " but the previous block gives " + std::to_string(channels));
      channels = net[s][j].outChannels;
    }
  return net;
}

config::Expected<std::any> buildMixVarGENet(const config::BuildArgs &args) {
  auto net = std::make_shared<MixVarGENet>();
  auto netConfig = netConfigArg(args);
  auto numClasses = intArg(args, "num_classes", 1000, kMaxClasses);
  auto fcFilter = intArg(args, "fc_filter", 1024, kMaxChannels);
  auto includeTop = boolArg(args, "include_top", true);
  auto flatOutput = boolArg(args, "flat_output", true);
  auto bias = boolArg(args, "bias", false);
  auto inputChannels = intArg(args, "input_channels", 3, kMaxChannels);
  auto sequenceLength = intArg(args, "input_sequence_length", 1);
  auto disableQuantiInput = boolArg(args, "disable_quanti_input", false);
  auto outputList = intListArg(args, "output_list", {});
  auto bn = bnKwargsArg(args);
  if (!netConfig)
    return netConfig.error();
  for (auto *e : {&numClasses, &fcFilter, &inputChannels, &sequenceLength})
    if (!*e)
      return e->error();
  for (auto *e : {&includeTop, &flatOutput, &bias, &disableQuantiInput})
    if (!*e)
      return e->error();
  if (!outputList)
    return outputList.error();
  if (!bn)
    return bn.error();
  if (*numClasses < 1 || *fcFilter < 1 || *inputChannels < 1)
    return args.error("num_classes, fc_filter and input_channels must be >= 1");
  if (*sequenceLength != 1)
    return args.error(
        "input_sequence_length=" + std::to_string(*sequenceLength) +
        " (a concatenated image sequence) is not supported; "
        "use 1");
  if (*disableQuantiInput)
    return args.error(
        "disable_quanti_input=True (an input quantized by an upstream "
        "module) is not supported: the model's input is quantized by the "
        "compiler's own quantize layer; use False");
  for (int64_t idx : *outputList)
    if (idx < 0 || idx >= int64_t(netConfig->size()))
      return args.error("output_list entry " + std::to_string(idx) +
                        " is not a stage index (net_config has " +
                        std::to_string(netConfig->size()) + " stages)");
  config::Value scale = args.get("input_resize_scale");
  if (!scale.isNone()) {
    if (!scale.isNumber() || scale.isBool() || scale.asNumber() <= 0)
      return kwargError(args, "input_resize_scale", "a positive number", scale);
    net->inputResizeScale = scale.asNumber();
  }
  net->net = *netConfig;
  net->numClasses = *numClasses;
  net->fcFilter = *fcFilter;
  net->includeTop = *includeTop;
  net->flatOutput = *flatOutput;
  net->bias = *bias;
  net->outputList = *outputList;
  net->bn = *bn;
  // input_channels is the input's channel count: the stem conv takes
  // whatever the deploy input has, so only check that they agree there.
  net->expectedInputChannels = *inputChannels;
  return moduleResult(net);
}

HAT_REGISTER("backbone", {"MixVarGENet"},
             config::KwargSpec{{},
                               {"net_config", "num_classes", "bn_kwargs",
                                "output_list", "disable_quanti_input",
                                "fc_filter", "include_top", "flat_output",
                                "bias", "input_channels",
                                "input_sequence_length", "input_resize_scale"}},
             buildMixVarGENet);

} // namespace
} // namespace hat::models
