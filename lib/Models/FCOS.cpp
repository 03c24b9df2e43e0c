//===- FCOS.cpp - FCOS detector, FCOSHead, FCOSMultiStrideFilter ----------===//
//
// `dict(type="FCOS", backbone=..., neck=..., head=..., targets=...,
// post_process=..., loss_cls=..., loss_centerness=..., loss_reg=...)`.
// The lowered network ends at the head's output maps, in every form (train,
// predict, deploy): targets and losses are the engine's, and decoding + NMS
// (FCOSMultiStrideFilter) run on the CPU after the network, as on the board,
// reading the function's `hat.post_process` description. The output contract
// (names, units) is in docs/detection.md ("Model").
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/ResultAttributes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

using namespace mlir;

namespace hat::models {

namespace {

std::string strideName(int64_t stride) { return "s" + std::to_string(stride); }

/// FCOSMultiStrideFilter's settings; the decoder (lib/Detection) applies
/// them to the network's outputs.
struct FcosFilter {
  std::vector<int64_t> strides;
  std::optional<double> threshold, scoreThreshold, iouThreshold;
  std::optional<std::vector<int64_t>> maxShape;
  bool forCompile = false;
};
using FcosFilterPtr = std::shared_ptr<FcosFilter>;

struct FCOSHead : Module {
  int64_t numClasses;
  std::vector<int64_t> inStrides, outStrides;
  std::map<int64_t, int64_t> stride2channels;
  int64_t featChannels, stackedConvs;
  bool upscaleBboxPred, int8Output, int16Output, dequantOutput;

  std::string typeName() const override { return "FCOSHead"; }

  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("FCOSHead", "takes one feature per stride, not one tensor");
    return x;
  }

  /// Marks a head output for hat-float2qat: i16 (int16_output) or i8
  /// (int8_output) instead of the pass's output dtype.
  void markOutputDType(NetBuilder &nb, Value v) {
    if (!int16Output && !int8Output)
      return;
    if (Operation *op = v.getDefiningOp())
      op->setAttr("hat.qdtype", QDTypeAttr::get(nb.getBuilder().getContext(),
                                                int16Output ? QDType::qint16
                                                            : QDType::qint8));
  }

  /// Outputs: cls_s<k> for every level, then bbox_s<k>, then centerness_s<k>.
  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (inputs.size() != inStrides.size()) {
      nb.fail("head", "FCOSHead expects " + std::to_string(inStrides.size()) +
                          " features (in_strides), got " +
                          std::to_string(inputs.size()));
      return inputs;
    }
    NetBuilder::Scope head(nb, "head");
    const int64_t inChannels = stride2channels.at(inStrides[0]);
    // FCOS shares its towers and predictors across levels; BN is per level
    // (as EfficientDet's head): levels differ in statistics, and the folded
    // conv of each level is its own integer layer anyway.
    auto tower = [&](const std::string &name) {
      std::vector<NetBuilder::ConvParams> convs;
      NetBuilder::Scope s(nb, name);
      for (int64_t k = 0; k < stackedConvs; ++k)
        convs.push_back(nb.convParams(k == 0 ? inChannels : featChannels,
                                      featChannels, 3, 1, false,
                                      std::to_string(k) + ".conv", 0.01));
      return convs;
    };
    std::vector<NetBuilder::ConvParams> clsTower = tower("cls_convs");
    std::vector<NetBuilder::ConvParams> regTower = tower("reg_convs");
    // Focal-loss prior: sigmoid(bias) = 0.01 at the start.
    const float prior = (float)-std::log((1.0 - 0.01) / 0.01);
    NetBuilder::ConvParams clsConv = nb.convParams(
        featChannels, numClasses, 3, 1, true, "conv_cls", 0.01, prior);
    NetBuilder::ConvParams regConv =
        nb.convParams(featChannels, 4, 3, 1, true, "conv_reg", 0.01);
    NetBuilder::ConvParams ctrConv =
        nb.convParams(featChannels, 1, 3, 1, true, "conv_centerness", 0.01);

    auto runTower = [&](Value x, const std::vector<NetBuilder::ConvParams> &ps,
                        const std::string &name, int64_t stride) {
      for (size_t k = 0; k < ps.size(); ++k) {
        NetBuilder::Scope s(nb, name + "." + std::to_string(k));
        x = nb.conv2d(x, ps[k], 1, "conv");
        x = nb.activation(nb.batchNorm(x, "bn_" + strideName(stride)),
                          Activation::Relu);
      }
      return x;
    };
    std::vector<Value> cls, bbox, ctr;
    for (size_t l = 0; l < inputs.size(); ++l) {
      const int64_t stride = outStrides[l];
      if (NetBuilder::channels(inputs[l]) != inChannels) {
        nb.fail("head", "feature at stride " + std::to_string(stride) +
                            " has " +
                            std::to_string(NetBuilder::channels(inputs[l])) +
                            " channels, the shared towers take " +
                            std::to_string(inChannels));
        return inputs;
      }
      Value c = runTower(inputs[l], clsTower, "cls_convs", stride);
      Value r = runTower(inputs[l], regTower, "reg_convs", stride);
      Value logits = nb.conv2d(c, clsConv, 1, "conv_cls");
      markOutputDType(nb, logits);
      cls.push_back(logits);
      // ltrb distances in units of the stride are >= 0: ReLU, fused into the
      // conv by the integer model.
      Value regOut = nb.conv2d(r, regConv, 1, "conv_reg");
      Value dist = nb.activation(regOut, Activation::Relu);
      // conv + relu is one quantized unit; its dtype sits on the conv. The
      // upscale by the stride is exact in the integer model (it multiplies
      // the scale), so the dtype stays the conv's.
      markOutputDType(nb, regOut);
      if (upscaleBboxPred)
        dist = nb.scale(dist, (float)stride,
                        "conv_reg.stride_" + strideName(stride));
      bbox.push_back(dist);
      Value centerness = nb.conv2d(r, ctrConv, 1, "conv_centerness");
      markOutputDType(nb, centerness);
      ctr.push_back(centerness);
    }
    std::vector<Value> out = cls;
    out.insert(out.end(), bbox.begin(), bbox.end());
    out.insert(out.end(), ctr.begin(), ctr.end());
    return out;
  }

  std::vector<std::string> outputNames() const override {
    std::vector<std::string> names;
    for (const char *branch : {"cls_", "bbox_", "centerness_"})
      for (int64_t s : outStrides)
        names.push_back(branch + strideName(s));
    return names;
  }
};

struct FCOS : Module {
  ModulePtr backbone, neck, head;
  FcosFilterPtr filter;
  config::Value targets, lossCls, lossCenterness, lossReg;

  std::string typeName() const override { return "FCOS"; }
  FCOSHead &fcosHead() const { return static_cast<FCOSHead &>(*head); }

  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("FCOS", "has several outputs (one per head branch and level)");
    return x;
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    std::vector<Value> features = backbone->forwardMulti(nb, inputs);
    if (neck)
      features = neck->forwardMulti(nb, features);
    return head->forwardMulti(nb, features);
  }

  std::vector<std::string> outputNames() const override {
    return head->outputNames();
  }

  std::vector<NamedAttrList> outputAttributes(MLIRContext *ctx) const override {
    Builder b(ctx);
    const FCOSHead &h = fcosHead();
    std::vector<NamedAttrList> attrs;
    for (const char *branch : {"cls", "bbox", "centerness"})
      for (int64_t s : h.outStrides) {
        NamedAttrList a;
        a.append("hat.stride", b.getI64IntegerAttr(s));
        a.append("hat.branch", b.getStringAttr(branch));
        if (std::string(branch) == "bbox")
          // What one unit of the map is: the decoder multiplies by the stride
          // unless the head already did (upscale_bbox_pred).
          a.append("hat.bbox_units",
                   b.getStringAttr(h.upscaleBboxPred ? "pixels" : "stride"));
        // dequant_output=False: the integer model returns the head's int8 /
        // int16 maps with their scale and the CPU post-process dequantizes
        // them (hat-qat2quantize reads this marker).
        if (!h.dequantOutput)
          a.append(kKeepQuantizedAttr, b.getUnitAttr());
        attrs.push_back(std::move(a));
      }
    return attrs;
  }

  NamedAttrList functionAttributes(MLIRContext *ctx) const override {
    Builder b(ctx);
    const FCOSHead &h = fcosHead();
    nlohmann::ordered_json j;
    j["type"] = "FCOSMultiStrideFilter";
    j["num_classes"] = h.numClasses;
    j["strides"] = filter ? filter->strides : h.outStrides;
    j["bbox_units"] = h.upscaleBboxPred ? "pixels" : "stride";
    j["dequant_output"] = h.dequantOutput;
    if (filter) {
      j["for_compile"] = filter->forCompile;
      if (filter->threshold)
        j["threshold"] = *filter->threshold;
      if (filter->scoreThreshold)
        j["score_threshold"] = *filter->scoreThreshold;
      if (filter->iouThreshold)
        j["iou_threshold"] = *filter->iouThreshold;
      if (filter->maxShape)
        j["max_shape"] = *filter->maxShape;
    }
    std::vector<std::string> names = outputNames();
    const size_t n = h.outStrides.size();
    j["outputs"] = {
        {"cls", std::vector<std::string>(names.begin(), names.begin() + n)},
        {"bbox",
         std::vector<std::string>(names.begin() + n, names.begin() + 2 * n)},
        {"centerness",
         std::vector<std::string>(names.begin() + 2 * n, names.end())}};
    NamedAttrList attrs;
    attrs.append("hat.post_process", b.getStringAttr(j.dump()));
    return attrs;
  }
};

config::Expected<std::any> buildFCOSHead(const config::BuildArgs &args) {
  auto net = std::make_shared<FCOSHead>();
  auto numClasses = intArg(args, "num_classes", 0);
  auto inStrides = intListArg(args, "in_strides", {});
  auto outStrides = intListArg(args, "out_strides", {});
  auto s2c = intDictArg(args, "stride2channels");
  auto featChannels = intArg(args, "feat_channels", 256);
  auto stackedConvs = intArg(args, "stacked_convs", 4);
  auto upscale = boolArg(args, "upscale_bbox_pred", false);
  auto int8Out = boolArg(args, "int8_output", true);
  auto int16Out = boolArg(args, "int16_output", false);
  auto dequantOut = boolArg(args, "dequant_output", true);
  for (auto *e : {&numClasses, &featChannels, &stackedConvs})
    if (!*e)
      return e->error();
  for (auto *e : {&inStrides, &outStrides})
    if (!*e)
      return e->error();
  if (!s2c)
    return s2c.error();
  for (auto *e : {&upscale, &int8Out, &int16Out, &dequantOut})
    if (!*e)
      return e->error();
  if (*numClasses < 1 || *featChannels < 1 || *stackedConvs < 0)
    return args.error("num_classes and feat_channels must be >= 1 and "
                      "stacked_convs >= 0");
  if (inStrides->empty() || *inStrides != *outStrides)
    return args.error("in_strides and out_strides must list the same "
                      "strides (the head keeps each level's resolution)");
  int64_t channels = -1;
  for (int64_t s : *inStrides) {
    auto it = s2c->find(s);
    if (it == s2c->end())
      return args.error("stride2channels has no entry for stride " +
                        std::to_string(s));
    if (channels >= 0 && it->second != channels)
      return args.error("stride2channels must give every level the same "
                        "width: FCOSHead shares its convs across levels");
    channels = it->second;
  }
  if (*stackedConvs == 0 && channels != *featChannels)
    return args.error("with stacked_convs=0 the input width must equal "
                      "feat_channels");
  if (*int8Out && *int16Out)
    return args.error("int8_output and int16_output are exclusive");
  net->numClasses = *numClasses;
  net->inStrides = *inStrides;
  net->outStrides = *outStrides;
  net->stride2channels = *s2c;
  net->featChannels = *featChannels;
  net->stackedConvs = *stackedConvs;
  net->upscaleBboxPred = *upscale;
  net->int8Output = *int8Out;
  net->int16Output = *int16Out;
  net->dequantOutput = *dequantOut;
  return moduleResult(net);
}

config::Expected<std::any> buildFcosFilter(const config::BuildArgs &args) {
  auto f = std::make_shared<FcosFilter>();
  auto strides = intListArg(args, "strides", {});
  if (!strides)
    return strides.error();
  auto forCompile = boolArg(args, "for_compile", false);
  if (!forCompile)
    return forCompile.error();
  f->strides = *strides;
  f->forCompile = *forCompile;
  for (auto [name, slot] : {std::pair{"threshold", &f->threshold},
                            std::pair{"score_threshold", &f->scoreThreshold},
                            std::pair{"iou_threshold", &f->iouThreshold}}) {
    if (!args.has(name))
      continue;
    auto v = floatArg(args, name, 0.0);
    if (!v)
      return v.error();
    *slot = *v;
  }
  if (f->iouThreshold && !(*f->iouThreshold > 0.0 && *f->iouThreshold <= 1.0))
    return args.error("iou_threshold must be in (0, 1]");
  if (f->scoreThreshold &&
      !(*f->scoreThreshold >= 0.0 && *f->scoreThreshold <= 1.0))
    return args.error("score_threshold must be in [0, 1]");
  if (args.has("max_shape")) {
    auto shape = intListArg(args, "max_shape", {});
    if (!shape)
      return shape.error();
    if (shape->size() != 2 || (*shape)[0] < 1 || (*shape)[1] < 1)
      return args.error("max_shape must be (height, width)");
    f->maxShape = *shape;
  }
  if (f->strides.empty())
    return args.error("strides must list the head's output strides");
  return std::any(f);
}

config::Expected<std::any> buildFCOS(const config::BuildArgs &args) {
  auto net = std::make_shared<FCOS>();
  auto parts = buildDetectorParts(args, "FCOS", "FCOSHead");
  if (!parts)
    return parts.error();
  net->backbone = parts->backbone;
  net->neck = parts->neck;
  net->head = parts->head;
  if (args.has("post_process")) {
    auto built = config::Registry::instance().build(args.get("post_process"),
                                                    "post_process");
    if (!built)
      return built.error();
    auto *filter = std::any_cast<FcosFilterPtr>(&*built);
    if (!filter)
      return args.error("post_process must be an FCOSMultiStrideFilter");
    if ((*filter)->strides != net->fcosHead().outStrides)
      return args.error("post_process strides differ from the head's "
                        "out_strides");
    net->filter = *filter;
  }
  // Kept for the engine (targets and losses are applied to the outputs
  // during training, not lowered into the network).
  net->targets = args.get("targets");
  net->lossCls = args.get("loss_cls");
  net->lossCenterness = args.get("loss_centerness");
  net->lossReg = args.get("loss_reg");
  return moduleResult(net);
}

HAT_REGISTER("head", {"FCOSHead"},
             config::KwargSpec{{"num_classes", "in_strides", "out_strides",
                                "stride2channels"},
                               {"feat_channels", "stacked_convs",
                                "upscale_bbox_pred", "int8_output",
                                "int16_output", "dequant_output"}},
             buildFCOSHead);

HAT_REGISTER("post_process", {"FCOSMultiStrideFilter"},
             config::KwargSpec{{"strides"},
                               {"threshold", "for_compile", "score_threshold",
                                "iou_threshold", "max_shape"}},
             buildFcosFilter);

HAT_REGISTER("model", {"FCOS"},
             config::KwargSpec{{"backbone", "head"},
                               {"neck", "targets", "post_process", "loss_cls",
                                "loss_centerness", "loss_reg"}},
             buildFCOS);

} // namespace
} // namespace hat::models
