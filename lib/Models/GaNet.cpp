//===- GaNet.cpp - GaNet lane detector: FPN, GaNetNeck, GaNetHead ---------===//
//
// HAT's GaNet (`configs/lane_pred/ganet/ganet_mixvargenet_culane.py`):
//
//   model = dict(type="GaNet", backbone=dict(type="MixVarGENet", ...,
//                output_list=[2, 3, 4]),
//                neck=dict(type="GaNetNeck",
//                          fpn_module=dict(type="FPN", in_strides=[8, 16, 32],
//                                          in_channels=[64, 96, 32],
//                                          out_strides=[8, 16, 32],
//                                          out_channels=[32, 32, 32]),
//                          attn_in_channels=[160], attn_out_channels=[32],
//                          attn_ratios=[4], pos_shape=(1, 10, 25)),
//                head=dict(type="GaNetHead", in_channel=32),
//                targets=dict(type="GaNetTarget", ...),
//                post_process=dict(type="GaNetDecoder", ...),
//                losses=dict(type="GaNetLoss", ...))
//
// written from HAT's public GaNetNeck / AttentionLayer, FPN and GaNetHead
// sources (docs/lane.md, "Model"). The neck runs its attention layers on the
// coarsest feature, then the FPN; the head reads the finest FPN output
// (stride 8, HAT's `downscale`) and returns three maps: the keypoint heatmap
// logits `kpts_hm` [N, 1, H/8, W/8], the offsets to the lane's start point
// `pts_offset` [N, 2, ...] and the point offsets `int_offset` [N, 2, ...].
// Targets, losses and the decoder act on those maps outside the network.
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include "hat/Dialect/HatOps.h"
#include "hat/Models/Module.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

using namespace mlir;

namespace hat::models {
namespace {

/// DETR's PositionEmbeddingSine(num_pos_feats = channels / 2, temperature
/// 10000, normalize=False) of an all-valid mask: channel 2k (k < F/2) of the
/// y half is sin(y / t_k), channel 2k+1 cos(y / t_k), with y = row + 1 and
/// t_k = 10000^(2k / F); the x half follows with x = column + 1. [C, H, W].
std::vector<float> sinePositionEmbedding(int64_t channels, int64_t h,
                                         int64_t w) {
  const int64_t f = channels / 2;
  std::vector<float> out(size_t(channels * h * w));
  for (int64_t c = 0; c < channels; ++c) {
    const bool xHalf = c >= f;
    const int64_t k = xHalf ? c - f : c;
    const float t =
        std::pow(10000.0f, float(2 * (k / 2)) / float(std::max<int64_t>(f, 1)));
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const float v = float(xHalf ? x + 1 : y + 1) / t;
        out[size_t((c * h + y) * w + x)] =
            k % 2 == 0 ? std::sin(v) : std::cos(v);
      }
  }
  return out;
}

/// A 1x1 conv with bias, weights normal(0, 0.01) as HAT's FPN and attention
/// initialise theirs.
Value conv1x1(NetBuilder &nb, Value x, int64_t out, const std::string &name) {
  NetBuilder::ConvParams p =
      nb.convParams(NetBuilder::channels(x), out, 1, 1, true, name, 0.01);
  return nb.conv2d(x, p, 1, name);
}

/// HAT's FPN: a 1x1 lateral conv per level (`conv_extract`), from the
/// coarsest level down: the fused coarser map goes through a 1x1 conv
/// (`conv1x1_up`) to the finer level's width, is resized (bilinear) to the
/// lateral's size and added; `fix_out_channel` adds a 1x1 conv per output.
struct FPN : Module {
  std::vector<int64_t> inStrides, inChannels, outStrides, outChannels;
  std::optional<int64_t> fixOutChannel;

  std::string typeName() const override { return "FPN"; }
  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("FPN", "takes the backbone's multi-stride features, not one map");
    return x;
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &features) override {
    if (features.size() != inStrides.size()) {
      nb.fail("FPN", "expects " + std::to_string(inStrides.size()) +
                         " features (in_strides), got " +
                         std::to_string(features.size()));
      return features;
    }
    for (size_t i = 0; i < features.size(); ++i)
      if (NetBuilder::channels(features[i]) != inChannels[i]) {
        nb.fail("FPN", "feature at stride " + std::to_string(inStrides[i]) +
                           " has " +
                           std::to_string(NetBuilder::channels(features[i])) +
                           " channels, in_channels says " +
                           std::to_string(inChannels[i]));
        return features;
      }
    const size_t levels = outStrides.size();
    const size_t first = features.size() - levels; // out_strides are the tail
    std::vector<Value> fused(levels);
    // idx 0 is the coarsest level.
    for (size_t idx = 0; idx < levels; ++idx) {
      const size_t level = levels - 1 - idx;
      Value lateral = conv1x1(nb, features[first + level], outChannels[level],
                              "conv_extract." + std::to_string(idx));
      if (idx > 0) {
        Value up = conv1x1(nb, fused[level + 1], outChannels[level],
                           "conv1x1_up." + std::to_string(idx - 1));
        ArrayRef<int64_t> s = NetBuilder::shape(lateral);
        up = nb.resize(up, s[2], s[3], /*bilinear=*/true);
        nb.nameLayer(up, "upsample." + std::to_string(idx - 1));
        lateral = nb.add(lateral, up);
      }
      fused[level] = lateral;
    }
    if (fixOutChannel)
      for (size_t idx = 0; idx < levels; ++idx) {
        const size_t level = levels - 1 - idx;
        fused[level] = conv1x1(nb, fused[level], *fixOutChannel,
                               "conv1x1." + std::to_string(idx));
      }
    return fused;
  }
};

/// HAT's AttentionLayer (position attention): pre_conv (3x3 + BN + ReLU),
/// + a sine position embedding of `pos_shape`, energy = key^T x query over
/// the H x W positions, softmax over dim 1, value x attention, gamma * that
/// + the input, final_conv (3x3 + BN + ReLU).
struct AttentionSpec {
  int64_t in, out, ratio;
};

Value attentionLayer(NetBuilder &nb, Value x, const AttentionSpec &a,
                     ArrayRef<int64_t> posShape) {
  auto convBnRelu = [&](Value v, int64_t out, const std::string &name) {
    NetBuilder::Scope s(nb, name);
    v = nb.conv2d(v, out, 3, 1, 1, 1, /*bias=*/true, 1, "conv");
    return nb.activation(nb.batchNorm(v, "bn"), Activation::Relu);
  };
  if (NetBuilder::channels(x) != a.in) {
    nb.fail("attn", "input has " + std::to_string(NetBuilder::channels(x)) +
                        " channels, attn_in_channels says " +
                        std::to_string(a.in));
    return x;
  }
  x = convBnRelu(x, a.out, "pre_conv");
  if (nb.failed())
    return x;
  ArrayRef<int64_t> s = NetBuilder::shape(x);
  const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  if (posShape[1] != h || posShape[2] != w) {
    nb.fail("attn", "pos_shape (" + std::to_string(posShape[0]) + ", " +
                        std::to_string(posShape[1]) + ", " +
                        std::to_string(posShape[2]) +
                        ") does not match the feature's " + std::to_string(h) +
                        " x " + std::to_string(w) +
                        " (the input size / 32): set pos_shape=(1, " +
                        std::to_string(h) + ", " + std::to_string(w) + ")");
    return x;
  }
  Value pos =
      nb.constant("pos_embed", {1, c, h, w}, sinePositionEmbedding(c, h, w));
  x = nb.add(x, pos);
  const int64_t hidden = a.out / a.ratio;
  Value query =
      nb.reshape(conv1x1(nb, x, hidden, "query_conv"), {n, 1, hidden, h * w});
  Value key = nb.transpose(conv1x1(nb, x, hidden, "key_conv"), {0, 2, 3, 1});
  Value energy = nb.matmul(key, query, "energy"); // [N, H, W, HW]
  energy = nb.reshape(energy, {n, h * w, h * w});
  Value attention = nb.reshape(nb.softmax(energy, 1), {n, 1, h * w, h * w});
  Value value =
      nb.reshape(conv1x1(nb, x, a.out, "value_conv"), {n, c, 1, h * w});
  Value out = nb.reshape(nb.matmul(value, attention, "context"), {n, c, h, w});
  Value gamma = nb.trainableParam("gamma", {1}, {0.f});
  if (nb.failed())
    return x;
  out = nb.add(nb.mul(gamma, out), x);
  return convBnRelu(out, a.out, "final_conv");
}

struct GaNetNeck : Module {
  ModulePtr fpn;
  std::vector<AttentionSpec> attention;
  std::vector<int64_t> posShape;
  int64_t numFeats = 3;

  std::string typeName() const override { return "GaNetNeck"; }
  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("GaNetNeck", "takes the backbone's multi-stride features");
    return x;
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (int64_t(inputs.size()) < numFeats) {
      nb.fail("neck", "GaNetNeck uses the last " + std::to_string(numFeats) +
                          " backbone features (num_feats), got " +
                          std::to_string(inputs.size()));
      return inputs;
    }
    NetBuilder::Scope scope(nb, "neck");
    std::vector<Value> feats(inputs.end() - numFeats, inputs.end());
    for (size_t i = 0; i < attention.size(); ++i) {
      NetBuilder::Scope s(nb, "attn_module." + std::to_string(i));
      feats.back() = attentionLayer(nb, feats.back(), attention[i], posShape);
    }
    NetBuilder::Scope s(nb, "fpn_module");
    return fpn->forwardMulti(nb, feats);
  }
};

/// HAT's GaNetHead: three branches of 3x3 conv + ReLU and a 1x1 conv
/// (keypoint heatmap: 1 channel, bias -2.19; start-point offsets and point
/// offsets: 2 channels each) on the finest FPN map.
struct GaNetHead : Module {
  int64_t inChannel = 0;

  std::string typeName() const override { return "GaNetHead"; }
  Value forward(NetBuilder &nb, Value x) override {
    return forwardMulti(nb, {x}).front();
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    Value x = inputs.front();
    if (NetBuilder::channels(x) != inChannel) {
      nb.fail("head", "GaNetHead in_channel is " + std::to_string(inChannel) +
                          ", its input has " +
                          std::to_string(NetBuilder::channels(x)));
      return {x, x, x};
    }
    NetBuilder::Scope scope(nb, "head");
    auto branch = [&](const std::string &name, int64_t out, float bias) {
      NetBuilder::Scope s(nb, name);
      Value y = nb.conv2d(x, inChannel, 3, 1, 1, 1, /*bias=*/true, 1, "0");
      y = nb.activation(y, Activation::Relu);
      NetBuilder::ConvParams p =
          nb.convParams(inChannel, out, 1, 1, true, "1", 0.01, bias);
      Value map = nb.conv2d(y, p, 1, "1");
      // HAT's out qconfig: the maps leave the BPU in 16 bits.
      if (Operation *op = map.getDefiningOp())
        op->setAttr("hat.qdtype", QDTypeAttr::get(nb.getBuilder().getContext(),
                                                  QDType::qint16));
      return map;
    };
    Value kpts = branch("keypts_head", 1, -2.19f);
    Value ptsOffset = branch("offset_head", 2, 0.f);
    Value intOffset = branch("reg_head", 2, 0.f);
    return {kpts, ptsOffset, intOffset};
  }

  std::vector<std::string> outputNames() const override {
    return {"kpts_hm", "pts_offset", "int_offset"};
  }
};

/// GaNetDecoder's kwargs, kept for the CPU decoder (hat/Lane/GaNetCodec.h).
struct GaNetDecoderSpec {
  double rootThr = 1.0, kptThr = 0.4, clusterThr = 4.0;
  int64_t downscale = 8;
  /// HAT drops a lane of at most `min_points` keypoints (the codec's
  /// minPoints is the smallest count kept: min_points + 1).
  int64_t minPoints = 10;
};
using GaNetDecoderPtr = std::shared_ptr<GaNetDecoderSpec>;

struct GaNet : Module {
  ModulePtr backbone, neck, head;
  GaNetDecoderPtr decoder;

  std::string typeName() const override { return "GaNet"; }
  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("GaNet", "has several outputs (heatmap and two offset maps)");
    return x;
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    std::vector<Value> features = backbone->forwardMulti(nb, inputs);
    if (neck)
      features = neck->forwardMulti(nb, features);
    // The finest map (stride 8) carries the keypoints.
    return head->forwardMulti(nb, {features.front()});
  }

  std::vector<std::string> outputNames() const override {
    return head->outputNames();
  }

  std::vector<NamedAttrList> outputAttributes(MLIRContext *ctx) const override {
    Builder b(ctx);
    std::vector<NamedAttrList> attrs;
    for (const char *branch : {"kpts_hm", "pts_offset", "int_offset"}) {
      NamedAttrList a;
      a.append("hat.branch", b.getStringAttr(branch));
      a.append("hat.stride",
               b.getI64IntegerAttr(decoder ? decoder->downscale : 8));
      attrs.push_back(std::move(a));
    }
    return attrs;
  }

  NamedAttrList functionAttributes(MLIRContext *ctx) const override {
    NamedAttrList attrs;
    if (!decoder)
      return attrs;
    nlohmann::ordered_json j;
    j["type"] = "GaNetDecoder";
    j["root_thr"] = decoder->rootThr;
    j["kpt_thr"] = decoder->kptThr;
    j["cluster_thr"] = decoder->clusterThr;
    j["downscale"] = decoder->downscale;
    j["min_points"] = decoder->minPoints;
    j["heatmap_is_logit"] = true;
    j["outputs"] = {{"kpts_hm", "kpts_hm"},
                    {"pts_offset", "pts_offset"},
                    {"int_offset", "int_offset"}};
    attrs.append("hat.post_process", Builder(ctx).getStringAttr(j.dump()));
    return attrs;
  }

  // No losses() for the classification-loss list: the engine builds
  // GaNetLoss from `targets` and `losses` itself (buildGaNetLoss), as it
  // does FCOS's.
};

config::Expected<std::any> buildFPN(const config::BuildArgs &args) {
  auto net = std::make_shared<FPN>();
  auto inStrides = intListArg(args, "in_strides", {});
  auto inChannels = intListArg(args, "in_channels", {}, kMaxChannels);
  auto outStrides = intListArg(args, "out_strides", {});
  auto outChannels = intListArg(args, "out_channels", {}, kMaxChannels);
  for (auto *e : {&inStrides, &inChannels, &outStrides, &outChannels})
    if (!*e)
      return e->error();
  if (args.has("fix_out_channel") && !args.get("fix_out_channel").isNone()) {
    auto fix = intArg(args, "fix_out_channel", 0, kMaxChannels);
    if (!fix)
      return fix.error();
    if (*fix < 1)
      return args.error("fix_out_channel must be >= 1");
    net->fixOutChannel = *fix;
  }
  if (args.has("bn_kwargs") && !args.get("bn_kwargs").isNone())
    return args.error("FPN with bn_kwargs (BN after each 1x1 conv) is not "
                      "supported yet; HAT's GaNet config uses none");
  if (inStrides->empty() || inStrides->size() != inChannels->size())
    return args.error("in_strides and in_channels must have the same, "
                      "non-zero length");
  if (outStrides->empty() || outStrides->size() != outChannels->size())
    return args.error("out_strides and out_channels must have the same, "
                      "non-zero length");
  for (size_t i = 0; i < inStrides->size(); ++i)
    if ((*inStrides)[i] < 2 || ((*inStrides)[i] & ((*inStrides)[i] - 1)) ||
        (i > 0 && (*inStrides)[i] != 2 * (*inStrides)[i - 1]))
      return args.error("in_strides must be consecutive powers of two "
                        "(2, 4, 8, ...) in ascending order");
  if (outStrides->size() > inStrides->size() ||
      !std::equal(outStrides->begin(), outStrides->end(),
                  inStrides->end() - outStrides->size()))
    return args.error("out_strides must be the last strides of in_strides "
                      "(the largest stride of both must be equal)");
  for (int64_t c : *inChannels)
    if (c < 1)
      return args.error("in_channels must be >= 1");
  for (int64_t c : *outChannels)
    if (c < 1)
      return args.error("out_channels must be >= 1");
  net->inStrides = *inStrides;
  net->inChannels = *inChannels;
  net->outStrides = *outStrides;
  net->outChannels = *outChannels;
  return moduleResult(net);
}

config::Expected<std::any> buildGaNetNeck(const config::BuildArgs &args) {
  auto net = std::make_shared<GaNetNeck>();
  auto fpn = buildModule(args.get("fpn_module"), "neck");
  if (!fpn)
    return fpn.error();
  if ((*fpn)->typeName() != "FPN")
    return args.error("fpn_module must be an FPN, got " + (*fpn)->typeName());
  net->fpn = *fpn;
  auto ins = intListArg(args, "attn_in_channels", {}, kMaxChannels);
  auto outs = intListArg(args, "attn_out_channels", {}, kMaxChannels);
  auto ratios = intListArg(args, "attn_ratios", {});
  auto pos = intListArg(args, "pos_shape", {1, 10, 25}, 1 << 16);
  auto numFeats = intArg(args, "num_feats", 3, 64);
  for (auto *e : {&ins, &outs, &ratios, &pos})
    if (!*e)
      return e->error();
  if (!numFeats)
    return numFeats.error();
  if (ins->size() != outs->size() || ins->size() != ratios->size())
    return args.error("attn_in_channels, attn_out_channels and attn_ratios "
                      "must have the same length");
  if (pos->size() != 3 || (*pos)[0] != 1 || (*pos)[1] < 1 || (*pos)[2] < 1)
    return args.error("pos_shape must be (1, H, W) with H, W >= 1");
  for (size_t i = 0; i < ins->size(); ++i) {
    const int64_t in = (*ins)[i], out = (*outs)[i], ratio = (*ratios)[i];
    if (in < 1 || out < 2 || out % 2 != 0 || ratio < 1 || out % ratio != 0)
      return args.error(
          "attention layer " + std::to_string(i) +
          ": attn_in_channels must be >= 1, attn_out_channels even (the "
          "sine position embedding has two halves) and divisible by its "
          "attn_ratio");
    if (i > 0 && in != (*outs)[i - 1])
      return args.error("attention layer " + std::to_string(i) +
                        " takes attn_in_channels " + std::to_string(in) +
                        ", the previous layer gives " +
                        std::to_string((*outs)[i - 1]));
    net->attention.push_back({in, out, ratio});
  }
  if (*numFeats < 1)
    return args.error("num_feats must be >= 1");
  net->posShape = *pos;
  net->numFeats = *numFeats;
  return moduleResult(net);
}

config::Expected<std::any> buildGaNetHead(const config::BuildArgs &args) {
  auto net = std::make_shared<GaNetHead>();
  auto in = intArg(args, "in_channel", 0, kMaxChannels);
  if (!in)
    return in.error();
  if (*in < 1)
    return args.error("in_channel must be >= 1");
  net->inChannel = *in;
  return moduleResult(net);
}

config::Expected<std::any> buildGaNetDecoder(const config::BuildArgs &args) {
  auto d = std::make_shared<GaNetDecoderSpec>();
  auto root = floatArg(args, "root_thr", 1.0);
  auto kpt = floatArg(args, "kpt_thr", 0.4);
  auto cluster = floatArg(args, "cluster_thr", 4.0);
  auto down = intArg(args, "downscale", 8, 1024);
  auto minPoints = intArg(args, "min_points", 10, 1 << 20);
  for (auto *e : {&root, &kpt, &cluster})
    if (!*e)
      return e->error();
  for (auto *e : {&down, &minPoints})
    if (!*e)
      return e->error();
  if (*minPoints < 0)
    return args.error("min_points must be >= 0");
  if (!(*kpt > 0.0 && *kpt < 1.0))
    return args.error("kpt_thr must be in (0, 1)");
  if (!(*cluster > 0.0) || !std::isfinite(*root))
    return args.error("cluster_thr must be > 0 and root_thr finite");
  if (*down < 1)
    return args.error("downscale must be >= 1");
  d->rootThr = *root;
  d->kptThr = *kpt;
  d->clusterThr = *cluster;
  d->downscale = *down;
  d->minPoints = *minPoints;
  return std::any(d);
}

/// Checks a sub-config the engine builds later (targets, losses): a dict of
/// `type` plus only the kwargs that type takes, so a misspelt key fails when
/// the model is built, not silently.
std::optional<config::Diagnostic>
checkComponent(const config::BuildArgs &args, const std::string &key,
               const std::string &type,
               const std::vector<std::string> &kwargs) {
  config::Value v = args.get(key);
  if (v.isNone())
    return std::nullopt;
  if (!v.isDict())
    return args.error("'" + key + "' must be dict(type=\"" + type +
                      "\", ...), got " + v.typeName());
  const config::DictData &d = v.asDict();
  auto located = [&](const std::string &m) {
    return d.loc.valid() ? config::Diagnostic(d.loc, m) : args.error(m);
  };
  const config::Value *t = d.find(config::Value::string("type"));
  if (!t || !t->isStr() || t->asStr() != type)
    return located("'" + key + "' of GaNet must have type=\"" + type + "\"");
  for (const auto &[k, value] : d.entries) {
    std::string name = k.isStr() ? k.asStr() : k.repr();
    if (name != "type" &&
        std::find(kwargs.begin(), kwargs.end(), name) == kwargs.end())
      return located(type + " has no argument '" + name + "'");
  }
  return std::nullopt;
}

config::Expected<std::any> buildGaNet(const config::BuildArgs &args) {
  auto net = std::make_shared<GaNet>();
  auto parts = buildDetectorParts(args, "GaNet", "GaNetHead");
  if (!parts)
    return parts.error();
  net->backbone = parts->backbone;
  net->neck = parts->neck;
  net->head = parts->head;
  if (args.has("post_process") && !args.get("post_process").isNone()) {
    auto built = config::Registry::instance().build(args.get("post_process"),
                                                    "post_process");
    if (!built)
      return built.error();
    auto *decoder = std::any_cast<GaNetDecoderPtr>(&*built);
    if (!decoder)
      return args.error("post_process must be a GaNetDecoder");
    net->decoder = *decoder;
  }
  // Applied by the engine to the outputs while training, not lowered.
  if (auto e = checkComponent(args, "targets", "GaNetTarget",
                              {"hm_down_scale", "radius"}))
    return *e;
  if (auto e = checkComponent(
          args, "losses", "GaNetLoss",
          {"loss_kpts_cls", "loss_pts_offset_reg", "loss_int_offset_reg"}))
    return *e;
  return moduleResult(net);
}

HAT_REGISTER("neck", {"FPN"},
             config::KwargSpec{
                 {"in_strides", "in_channels", "out_strides", "out_channels"},
                 {"fix_out_channel", "bn_kwargs"}},
             buildFPN);

HAT_REGISTER("neck", {"GaNetNeck"},
             config::KwargSpec{{"fpn_module", "attn_in_channels",
                                "attn_out_channels", "attn_ratios"},
                               {"pos_shape", "num_feats"}},
             buildGaNetNeck);

HAT_REGISTER("head", {"GaNetHead"}, config::KwargSpec{{"in_channel"}, {}},
             buildGaNetHead);

HAT_REGISTER("post_process", {"GaNetDecoder"},
             config::KwargSpec{{},
                               {"root_thr", "kpt_thr", "cluster_thr",
                                "downscale", "min_points"}},
             buildGaNetDecoder);

HAT_REGISTER("model", {"GaNet"},
             config::KwargSpec{{"backbone", "head"},
                               {"neck", "targets", "post_process", "losses"}},
             buildGaNet);

} // namespace
} // namespace hat::models
