//===- DeformableDETR.cpp - Deformable DETR and its parts -----------------===//
//
// `dict(type="DeformableDETR", backbone=..., neck=ChannelMapper(...),
// position_embedding=PositionEmbeddingSine(...),
// transformer=DeformableDetrTransformer(...), head=DeformableDETRHead(...),
// criterion=SetCriterion(...), post_process=DeformableDETRPostProcess(...))`
// (Zhu et al. 2021, single-stage, without iterative box refinement).
//
// The lowered network runs from the image to the decoder layers' class
// logits and boxes; the set criterion is the engine's and the top-k
// post-process runs on the CPU after the network (lib/Detection/DetrDecode),
// reading the function's `hat.post_process`.
//
// Where the graph differs from the PyTorch reference, and why (every
// difference keeps the function the reference computes, or is an
// initialisation-time choice):
//  * the query embedding (query_pos, tgt) and the level embedding are
//    linears over constant one-hot rows (NetBuilder::embedding), so the
//    integer model and the BPU meet them as activations;
//  * the sampling offsets' linear predicts offsets already divided by each
//    level's width and height (its initial grid bias is divided there), and
//    its output is added to the reference points laid out to the same
//    shape, so no per-level division runs at inference;
//  * the box head's last layer is two linears, (cx, cy) added to the
//    reference logits and (w, h), joined after their sigmoids:
//    sigmoid(delta + inverse_sigmoid(sigmoid(r))) without the inverse's
//    1e-5 clamp, which only differs for |r| > 11.5;
//  * input projections normalise with BN instead of GroupNorm (BN folds
//    into the conv of the integer model).
// The layout (names of parameters, activations and outputs) is in
// docs/detection.md, "Deformable DETR".
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

#include "hat/Dialect/HatOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <nlohmann/json.hpp>

#include <cmath>

using namespace mlir;

namespace hat::models {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// `ChannelMapper`: per input a k x k conv (no bias) + BN to `out_channels`,
/// then `num_outs - len(in_channels)` extra levels, each a 3x3 stride-2 conv
/// + BN of the previous extra level (the first of the last input feature,
/// mmdetection's Deformable DETR neck). Inputs are the backbone's last
/// len(in_channels) features.
struct ChannelMapper : Module {
  std::vector<int64_t> inChannels;
  int64_t outChannels = 256, kernel = 1, numOuts = 4;

  std::string typeName() const override { return "ChannelMapper"; }
  Value forward(NetBuilder &nb, Value x) override {
    return forwardMulti(nb, {x}).front();
  }
  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    if (inputs.size() < inChannels.size()) {
      nb.fail("neck", "ChannelMapper takes " +
                          std::to_string(inChannels.size()) +
                          " features, the backbone gives " +
                          std::to_string(inputs.size()));
      return inputs;
    }
    NetBuilder::Scope neck(nb, "neck");
    const size_t first = inputs.size() - inChannels.size();
    std::vector<Value> outs;
    for (size_t i = 0; i < inChannels.size(); ++i) {
      Value x = inputs[first + i];
      if (NetBuilder::channels(x) != inChannels[i]) {
        nb.fail("neck", "input " + std::to_string(i) + " has " +
                            std::to_string(NetBuilder::channels(x)) +
                            " channels, in_channels says " +
                            std::to_string(inChannels[i]));
        return inputs;
      }
      NetBuilder::Scope s(nb, "convs." + std::to_string(i));
      outs.push_back(nb.batchNorm(
          nb.conv2d(x, outChannels, kernel, 1, -1, 1, false, 1, "conv"), "bn"));
    }
    Value last = inputs.back();
    for (int64_t e = int64_t(inChannels.size()); e < numOuts; ++e) {
      NetBuilder::Scope s(nb, "extra_convs." +
                                  std::to_string(e - inChannels.size()));
      last = nb.batchNorm(
          nb.conv2d(last, outChannels, 3, 2, 1, 1, false, 1, "conv"), "bn");
      outs.push_back(last);
    }
    return outs;
  }
};

struct SineOptions {
  int64_t numFeats = 128;
  double temperature = 10000, scale = 2 * kPi, offset = -0.5;
  bool normalize = true;
};
using SinePtr = std::shared_ptr<SineOptions>;

struct TransformerOptions {
  int64_t embedDims = 256, numHeads = 8, numLevels = 4, numPoints = 4;
  int64_t encoderLayers = 6, decoderLayers = 6, feedforward = 1024;
};
using TransformerPtr = std::shared_ptr<TransformerOptions>;

struct HeadOptions {
  int64_t numClasses = 80, numQueries = 300;
  bool auxLoss = true;
};
using HeadPtr = std::shared_ptr<HeadOptions>;

struct PostProcessOptions {
  int64_t numSelect = 100;
};
using PostProcessPtr = std::shared_ptr<PostProcessOptions>;

/// Deformable DETR's PositionEmbeddingSine on an all-valid H x W map:
/// [H * W, 2 * numFeats], the y half first; channel i of a half is
/// sin(e / T^(2 floor(i/2) / F)) for even i and cos(...) for odd i, with
/// e = (row + 1 + offset) / (H + 1e-6) * scale (normalised).
std::vector<float> sinePositions(const SineOptions &o, int64_t h, int64_t w) {
  const int64_t f = o.numFeats;
  std::vector<float> out(size_t(h * w * 2 * f));
  auto embed = [&](int64_t index, int64_t extent) {
    double e = double(index + 1);
    if (o.normalize)
      e = (e + o.offset) / (double(extent) + 1e-6) * o.scale;
    return e;
  };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      float *row = &out[size_t((y * w + x) * 2 * f)];
      for (int64_t half = 0; half < 2; ++half) {
        const double e = half == 0 ? embed(y, h) : embed(x, w);
        for (int64_t i = 0; i < f; ++i) {
          const double t =
              std::pow(o.temperature, 2.0 * double(i / 2) / double(f));
          row[half * f + i] =
              float(i % 2 == 0 ? std::sin(e / t) : std::cos(e / t));
        }
      }
    }
  return out;
}

struct DeformableDETR : Module {
  ModulePtr backbone, neck;
  SineOptions sine;
  TransformerOptions tf;
  HeadOptions head;
  PostProcessOptions post;
  /// The lowered input's height and width (boxes are normalised to it).
  int64_t inputHeight = 0, inputWidth = 0;

  std::string typeName() const override { return "DeformableDETR"; }

  Value forward(NetBuilder &nb, Value x) override {
    nb.fail("DeformableDETR", "has several outputs (logits and boxes)");
    return x;
  }

  int64_t headDims() const { return tf.embedDims / tf.numHeads; }
  int64_t samplesPerQuery() const {
    return tf.numHeads * tf.numLevels * tf.numPoints;
  }

  static void markInt16(NetBuilder &nb, Value v) {
    if (Operation *op = v.getDefiningOp())
      op->setAttr("hat.qdtype", QDTypeAttr::get(nb.getBuilder().getContext(),
                                                QDType::qint16));
  }

  /// torch.nn.LayerNorm after a residual add; the sum is int16 in the
  /// integer model (the norm divides by its spread, which int8 would
  /// resolve too coarsely when one branch dominates).
  Value addNorm(NetBuilder &nb, Value residual, Value branch,
                const std::string &norm) {
    Value sum = nb.add(residual, branch);
    markInt16(nb, sum);
    return nb.layerNorm(sum, norm);
  }

  Value ffn(NetBuilder &nb, Value x) {
    Value h = nb.activation(nb.linear(x, tf.feedforward, true, "linear1"),
                            Activation::Relu);
    return nb.linear(h, tf.embedDims, true, "linear2");
  }

  /// MSDeformAttn(query [B, Lq, D], input [N, S, D], reference [1 or N, Lq,
  /// M*L*P*2] in [0, 1]) -> [N, Lq, D]; `levels` the H, W pairs.
  Value deformAttn(NetBuilder &nb, Value query, Value input, Value reference,
                   ArrayRef<int64_t> levels) {
    const int64_t d = tf.embedDims, m = tf.numHeads, l = tf.numLevels,
                  p = tf.numPoints, f = samplesPerQuery();
    ArrayRef<int64_t> qs = NetBuilder::shape(query),
                      vs = NetBuilder::shape(input);
    const int64_t lq = qs[1];
    // Offsets start on Deformable DETR's grid: head h looks in direction
    // angle 2 pi h / M, point k at k + 1 pixels, per level normalised by its
    // width and height.
    std::vector<float> offsetBias(size_t(f * 2));
    for (int64_t h = 0; h < m; ++h) {
      const double theta = 2 * kPi * double(h) / double(m);
      double gx = std::cos(theta), gy = std::sin(theta);
      const double norm = std::max(std::abs(gx), std::abs(gy));
      gx /= norm;
      gy /= norm;
      for (int64_t lv = 0; lv < l; ++lv)
        for (int64_t k = 0; k < p; ++k) {
          const size_t at = size_t(((h * l + lv) * p + k) * 2);
          offsetBias[at] =
              float(gx * double(k + 1) / double(levels[2 * lv + 1]));
          offsetBias[at + 1] =
              float(gy * double(k + 1) / double(levels[2 * lv]));
        }
    }
    Value offsets =
        nb.linearInit(query, f * 2, std::vector<float>(size_t(f * 2 * d), 0.f),
                      offsetBias, "sampling_offsets");
    Value locations = nb.add(offsets, reference);
    nb.nameLayer(locations, "sampling_locations");
    markInt16(nb, locations);
    const int64_t batch = NetBuilder::shape(locations)[0];
    locations = nb.reshape(locations, {batch, lq, m, l, p, 2});
    Value logits =
        nb.linearInit(query, f, std::vector<float>(size_t(f * d), 0.f),
                      std::vector<float>(size_t(f), 0.f), "attention_weights");
    Value weights = nb.softmax(nb.reshape(logits, {qs[0], lq, m, l * p}), 3);
    weights = nb.reshape(weights, {qs[0], lq, m, l, p});
    Value value = nb.linear(input, d, true, "value_proj");
    value = nb.reshape(value, {vs[0], vs[1], m, headDims()});
    Value sampled =
        nb.msDeformAttn(value, locations, weights, levels, "sampling");
    return nb.linear(sampled, d, true, "output_proj");
  }

  /// nn.MultiheadAttention(q, k, v) with separate projections: [B, Q, D].
  Value selfAttn(NetBuilder &nb, Value qk, Value v) {
    const int64_t d = tf.embedDims, m = tf.numHeads, dh = headDims();
    const int64_t q = NetBuilder::shape(qk)[1];
    auto heads = [&](Value x, const std::string &name) {
      Value y = nb.linear(x, d, true, name);
      return nb.transpose(nb.reshape(y, {NetBuilder::shape(y)[0], q, m, dh}),
                          {0, 2, 1, 3});
    };
    Value qh = heads(qk, "q_proj");
    qh = nb.scale(qh, float(1.0 / std::sqrt(double(dh))), "q_scale");
    Value kh = nb.transpose(heads(qk, "k_proj"), {0, 1, 3, 2});
    Value vh = heads(v, "v_proj");
    Value scores = nb.softmax(nb.matmul(qh, kh, "scores"), 3);
    Value ctx = nb.matmul(scores, vh, "context");
    const int64_t cb = NetBuilder::shape(ctx)[0];
    ctx = nb.reshape(nb.transpose(ctx, {0, 2, 1, 3}), {cb, q, d});
    return nb.linear(ctx, d, true, "out_proj");
  }

  /// The class and box heads every decoder layer's prediction shares
  /// (Deformable DETR without box refinement); the class bias starts at the
  /// focal prior 0.01, the box's last layer at 0 with the (w, h) bias -2.
  struct Heads {
    NetBuilder::LinearParams cls, mlp[2], xy, wh;
  };
  Heads makeHeads(NetBuilder &nb) {
    const int64_t d = tf.embedDims, c = head.numClasses;
    const double bound = 1.0 / std::sqrt(double(d));
    const float prior = float(-std::log((1.0 - 0.01) / 0.01));
    Heads h;
    h.cls =
        nb.linearParams(d, c, nb.uniform(c * d, bound),
                        std::vector<float>(size_t(c), prior), "class_embed");
    for (int k = 0; k < 2; ++k)
      h.mlp[k] =
          nb.linearParams(d, d, nb.uniform(d * d, bound), nb.uniform(d, bound),
                          "bbox_embed.layers." + std::to_string(k));
    h.xy = nb.linearParams(d, 2, std::vector<float>(size_t(2 * d), 0.f),
                           {0.f, 0.f}, "bbox_embed.xy");
    h.wh = nb.linearParams(d, 2, std::vector<float>(size_t(2 * d), 0.f),
                           {-2.f, -2.f}, "bbox_embed.wh");
    return h;
  }

  /// Class logits and normalised (cx, cy, w, h) of decoder layer `layer`.
  std::pair<Value, Value> predict(NetBuilder &nb, const Heads &heads, Value hs,
                                  Value refLogits, int64_t layer) {
    NetBuilder::Scope s(nb, "pred_" + std::to_string(layer));
    // The outputs and the box path are int16 in the integer model: an int8
    // box is a step of 1/127 of the input (a pixel at 128 px) and an int8
    // box logit moves the box centre by up to a pixel, which costs the high
    // IoU thresholds of mAP@[.5:.95] on small objects; int8 class logits tie
    // queries the top-k has to rank.
    Value logits = nb.linear(hs, heads.cls, "class_embed");
    markInt16(nb, logits);
    Value h = hs;
    for (int k = 0; k < 2; ++k)
      h = nb.activation(
          nb.linear(h, heads.mlp[k], "bbox_embed.layers." + std::to_string(k)),
          Activation::Relu);
    Value delta = nb.linear(h, heads.xy, "bbox_embed.xy");
    markInt16(nb, delta);
    Value xy = nb.add(delta, refLogits);
    markInt16(nb, xy);
    xy = nb.activation(xy, Activation::Sigmoid);
    markInt16(nb, xy);
    Value wh = nb.linear(h, heads.wh, "bbox_embed.wh");
    markInt16(nb, wh);
    wh = nb.activation(wh, Activation::Sigmoid);
    markInt16(nb, wh);
    Value box = nb.concat({xy, wh}, 2);
    markInt16(nb, box);
    return {logits, box};
  }

  std::vector<Value> forwardMulti(NetBuilder &nb,
                                  const std::vector<Value> &inputs) override {
    ArrayRef<int64_t> in = NetBuilder::shape(inputs.front());
    inputHeight = in[2];
    inputWidth = in[3];
    std::vector<Value> features = backbone->forwardMulti(nb, inputs);
    features = neck->forwardMulti(nb, features);
    if (nb.failed())
      return features;
    const int64_t d = tf.embedDims, l = tf.numLevels, f = samplesPerQuery();
    if (int64_t(features.size()) != l) {
      nb.fail("transformer", "num_levels is " + std::to_string(l) +
                                 ", the neck gives " +
                                 std::to_string(features.size()) + " levels");
      return features;
    }
    // Flatten the levels: src [N, S, D], with their H, W pairs.
    std::vector<int64_t> levels;
    std::vector<Value> flat;
    int64_t positions = 0;
    for (Value x : features) {
      ArrayRef<int64_t> s = NetBuilder::shape(x);
      if (s[1] != d) {
        nb.fail("transformer", "embed_dims is " + std::to_string(d) +
                                   ", the neck gives " + std::to_string(s[1]) +
                                   " channels");
        return features;
      }
      levels.push_back(s[2]);
      levels.push_back(s[3]);
      positions += s[2] * s[3];
      flat.push_back(
          nb.transpose(nb.reshape(x, {s[0], d, s[2] * s[3]}), {0, 2, 1}));
    }
    Value src = nb.concat(flat, 1);
    // pos = sine(position) + level_embed[level]: the level embedding is a
    // linear over the constant one-hot level of each position.
    std::vector<float> sines, levelOneHot(size_t(positions * l), 0.f),
        encoderRef(size_t(positions * f * 2));
    int64_t at = 0;
    for (int64_t lv = 0; lv < l; ++lv) {
      const int64_t h = levels[2 * lv], w = levels[2 * lv + 1];
      std::vector<float> s = sinePositions(sine, h, w);
      sines.insert(sines.end(), s.begin(), s.end());
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x, ++at) {
          levelOneHot[size_t(at * l + lv)] = 1.f;
          // Encoder reference points: the cell centre, the same normalised
          // point on every level (all valid ratios are 1).
          const float rx = float((double(x) + 0.5) / double(w));
          const float ry = float((double(y) + 0.5) / double(h));
          for (int64_t k = 0; k < f; ++k) {
            encoderRef[size_t((at * f + k) * 2)] = rx;
            encoderRef[size_t((at * f + k) * 2 + 1)] = ry;
          }
        }
    }
    Value pos;
    {
      Value oneHot =
          nb.constant("level_embed.index", {1, positions, l}, levelOneHot);
      Value levelEmbed =
          nb.linearInit(oneHot, d, nb.normal(d * l, 1.0), {}, "level_embed");
      Value sinePos = nb.constant("pos_embed", {1, positions, d}, sines);
      pos = nb.add(levelEmbed, sinePos);
      nb.nameLayer(pos, "pos");
    }
    Value encRef = nb.constant("encoder.reference_points",
                               {1, positions, f * 2}, encoderRef);
    Value memory = src;
    for (int64_t i = 0; i < tf.encoderLayers; ++i) {
      NetBuilder::Scope s(nb, "encoder.layers." + std::to_string(i));
      Value query = nb.add(memory, pos);
      Value attn;
      {
        NetBuilder::Scope a(nb, "self_attn");
        attn = deformAttn(nb, query, memory, encRef, levels);
      }
      memory = addNorm(nb, memory, attn, "norm1");
      memory = addNorm(nb, memory, ffn(nb, memory), "norm2");
    }
    // Decoder: learned query position and content, reference points from
    // the query position.
    Value queryPos = nb.embedding(head.numQueries, d, "query_embed.pos");
    Value tgt = nb.embedding(head.numQueries, d, "query_embed.tgt");
    // The reference points are int16 like the sampling locations they start
    // and the box centres they offset (predict()).
    Value refLogits = nb.linear(queryPos, 2, true, "reference_points");
    markInt16(nb, refLogits);
    Value ref = nb.activation(refLogits, Activation::Sigmoid);
    markInt16(nb, ref);
    std::vector<Value> copies(size_t(f), ref);
    Value decRef = f == 1 ? ref : nb.concat(copies, 2);
    markInt16(nb, decRef);
    const Heads heads = makeHeads(nb);
    std::vector<Value> logits, boxes;
    for (int64_t j = 0; j < tf.decoderLayers; ++j) {
      {
        NetBuilder::Scope s(nb, "decoder.layers." + std::to_string(j));
        Value qk = nb.add(tgt, queryPos);
        Value sa;
        {
          NetBuilder::Scope a(nb, "self_attn");
          sa = selfAttn(nb, qk, tgt);
        }
        tgt = addNorm(nb, tgt, sa, "norm2");
        Value ca;
        {
          NetBuilder::Scope a(nb, "cross_attn");
          ca = deformAttn(nb, nb.add(tgt, queryPos), memory, decRef, levels);
        }
        tgt = addNorm(nb, tgt, ca, "norm1");
        tgt = addNorm(nb, tgt, ffn(nb, tgt), "norm3");
      }
      if (head.auxLoss || j + 1 == tf.decoderLayers) {
        auto [lg, bx] = predict(nb, heads, tgt, refLogits, j);
        logits.push_back(lg);
        boxes.push_back(bx);
      }
    }
    std::vector<Value> out{logits.back(), boxes.back()};
    for (size_t k = 0; k + 1 < logits.size(); ++k) {
      out.push_back(logits[k]);
      out.push_back(boxes[k]);
    }
    return out;
  }

  std::vector<std::string> outputNames() const override {
    std::vector<std::string> names{"pred_logits", "pred_boxes"};
    if (head.auxLoss)
      for (int64_t j = 0; j + 1 < tf.decoderLayers; ++j) {
        names.push_back("aux_logits_" + std::to_string(j));
        names.push_back("aux_boxes_" + std::to_string(j));
      }
    return names;
  }

  NamedAttrList functionAttributes(MLIRContext *ctx) const override {
    Builder b(ctx);
    nlohmann::ordered_json j;
    j["type"] = "DeformableDETRPostProcess";
    j["num_classes"] = head.numClasses;
    j["num_select"] = post.numSelect;
    j["input_size"] = {inputHeight, inputWidth};
    j["outputs"] = {{"logits", "pred_logits"}, {"boxes", "pred_boxes"}};
    NamedAttrList attrs;
    attrs.append("hat.post_process", b.getStringAttr(j.dump()));
    return attrs;
  }
};

/// An int kwarg in [lo, hi].
config::Expected<int64_t> boundedInt(const config::BuildArgs &args,
                                     const std::string &name, int64_t fallback,
                                     int64_t lo, int64_t hi) {
  auto v = intArg(args, name, fallback);
  if (!v)
    return v.error();
  if (*v < lo || *v > hi)
    return args.error("'" + name + "' must be in [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "], got " +
                      std::to_string(*v));
  return *v;
}

config::Expected<std::any> buildChannelMapper(const config::BuildArgs &args) {
  auto net = std::make_shared<ChannelMapper>();
  auto in = intListArg(args, "in_channels", {}, kMaxChannels);
  if (!in)
    return in.error();
  if (in->empty())
    return args.error("'in_channels' must list the backbone features' widths");
  for (int64_t c : *in)
    if (c < 1)
      return args.error("'in_channels' entries must be >= 1");
  auto out = boundedInt(args, "out_channels", 256, 1, kMaxChannels);
  auto kernel = boundedInt(args, "kernel_size", 1, 1, 7);
  auto outs = boundedInt(args, "num_outs", int64_t(in->size()),
                         int64_t(in->size()), int64_t(in->size()) + 4);
  for (auto *e : {&out, &kernel, &outs})
    if (!*e)
      return e->error();
  if (*kernel % 2 == 0)
    return args.error("'kernel_size' must be odd (\"same\" padding)");
  net->inChannels = *in;
  net->outChannels = *out;
  net->kernel = *kernel;
  net->numOuts = *outs;
  return moduleResult(net);
}

config::Expected<std::any> buildSine(const config::BuildArgs &args) {
  auto o = std::make_shared<SineOptions>();
  auto feats = boundedInt(args, "num_feats", 128, 2, kMaxChannels);
  if (!feats)
    return feats.error();
  auto temperature = floatArg(args, "temperature", 10000);
  auto scale = floatArg(args, "scale", 2 * kPi);
  auto offset = floatArg(args, "offset", -0.5);
  for (auto *e : {&temperature, &scale, &offset})
    if (!*e)
      return e->error();
  auto normalize = boolArg(args, "normalize", true);
  if (!normalize)
    return normalize.error();
  if (!(*temperature > 0))
    return args.error("'temperature' must be positive");
  o->numFeats = *feats;
  o->temperature = *temperature;
  o->scale = *scale;
  o->offset = *offset;
  o->normalize = *normalize;
  return std::any(SinePtr(o));
}

config::Expected<std::any> buildTransformer(const config::BuildArgs &args) {
  auto o = std::make_shared<TransformerOptions>();
  auto dims = boundedInt(args, "embed_dims", 256, 1, kMaxChannels);
  auto heads = boundedInt(args, "num_heads", 8, 1, 256);
  auto levels = boundedInt(args, "num_levels", 4, 1, 8);
  auto points = boundedInt(args, "num_points", 4, 1, 64);
  auto enc = boundedInt(args, "num_encoder_layers", 6, 0, 64);
  auto dec = boundedInt(args, "num_decoder_layers", 6, 1, 64);
  auto ffn = boundedInt(args, "feedforward_channels", 1024, 1, kMaxChannels);
  for (auto *e : {&dims, &heads, &levels, &points, &enc, &dec, &ffn})
    if (!*e)
      return e->error();
  auto dropout = floatArg(args, "dropout", 0.0);
  if (!dropout)
    return dropout.error();
  // Dropout is not implemented: refuse it rather than train without it.
  if (*dropout != 0.0)
    return args.error("'dropout' must be 0: HAT's executor has no dropout "
                      "layer (Deformable DETR's 0.1 is a regulariser its "
                      "long COCO schedule uses; leave it out)");
  if (*dims % *heads)
    return args.error("'embed_dims' (" + std::to_string(*dims) +
                      ") must be a multiple of 'num_heads' (" +
                      std::to_string(*heads) + ")");
  o->embedDims = *dims;
  o->numHeads = *heads;
  o->numLevels = *levels;
  o->numPoints = *points;
  o->encoderLayers = *enc;
  o->decoderLayers = *dec;
  o->feedforward = *ffn;
  return std::any(TransformerPtr(o));
}

config::Expected<std::any> buildHead(const config::BuildArgs &args) {
  auto o = std::make_shared<HeadOptions>();
  auto classes = boundedInt(args, "num_classes", 80, 1, kMaxClasses);
  auto queries = boundedInt(args, "num_queries", 300, 1, 4096);
  for (auto *e : {&classes, &queries})
    if (!*e)
      return e->error();
  auto aux = boolArg(args, "aux_loss", true);
  auto refine = boolArg(args, "with_box_refine", false);
  for (auto *e : {&aux, &refine})
    if (!*e)
      return e->error();
  if (*refine)
    return args.error("'with_box_refine=True' (iterative box refinement) is "
                      "not implemented; the decoder shares one box head");
  o->numClasses = *classes;
  o->numQueries = *queries;
  o->auxLoss = *aux;
  return std::any(HeadPtr(o));
}

config::Expected<std::any> buildPostProcess(const config::BuildArgs &args) {
  auto o = std::make_shared<PostProcessOptions>();
  auto select = boundedInt(args, "num_select", 100, 1, 1 << 20);
  if (!select)
    return select.error();
  o->numSelect = *select;
  return std::any(PostProcessPtr(o));
}

/// Builds `args.get(key)` in `category` as a T (a shared options struct).
template <typename T>
config::Expected<T>
buildPart(const config::BuildArgs &args, const std::string &key,
          const std::string &category, const std::string &expected) {
  auto built = config::Registry::instance().build(args.get(key), category);
  if (!built)
    return built.error();
  auto *part = std::any_cast<T>(&*built);
  if (!part)
    return args.error("'" + key + "' must be a " + expected);
  return *part;
}

config::Expected<std::any> buildDeformableDETR(const config::BuildArgs &args) {
  auto net = std::make_shared<DeformableDETR>();
  auto backbone = buildModule(args.get("backbone"), "backbone");
  if (!backbone)
    return backbone.error();
  auto neck = buildModule(args.get("neck"), "neck");
  if (!neck)
    return neck.error();
  auto sine = buildPart<SinePtr>(args, "position_embedding",
                                 "position_embedding", "PositionEmbeddingSine");
  if (!sine)
    return sine.error();
  auto tf = buildPart<TransformerPtr>(args, "transformer", "transformer",
                                      "DeformableDetrTransformer");
  if (!tf)
    return tf.error();
  auto head = buildPart<HeadPtr>(args, "head", "head", "DeformableDETRHead");
  if (!head)
    return head.error();
  net->backbone = *backbone;
  net->neck = *neck;
  net->sine = **sine;
  net->tf = **tf;
  net->head = **head;
  if (args.has("post_process") && !args.get("post_process").isNone()) {
    auto post = buildPart<PostProcessPtr>(args, "post_process", "post_process",
                                          "DeformableDETRPostProcess");
    if (!post)
      return post.error();
    net->post = **post;
  }
  if (2 * net->sine.numFeats != net->tf.embedDims)
    return args.error("position_embedding num_feats (" +
                      std::to_string(net->sine.numFeats) +
                      ") must be half the transformer's embed_dims (" +
                      std::to_string(net->tf.embedDims) + ")");
  if (net->neck->typeName() != "ChannelMapper")
    return args.error("DeformableDETR needs a ChannelMapper neck, got " +
                      net->neck->typeName());
  auto &mapper = static_cast<ChannelMapper &>(*net->neck);
  if (mapper.outChannels != net->tf.embedDims ||
      mapper.numOuts != net->tf.numLevels)
    return args.error(
        "the neck must give num_levels (" + std::to_string(net->tf.numLevels) +
        ") maps of embed_dims (" + std::to_string(net->tf.embedDims) +
        ") channels; it gives " + std::to_string(mapper.numOuts) + " of " +
        std::to_string(mapper.outChannels));
  // `criterion` is the engine's (EngineModel reads it from the config): the
  // set criterion is applied to the outputs during training, not lowered.
  return moduleResult(net);
}

HAT_REGISTER("neck", {"ChannelMapper"},
             config::KwargSpec{{"in_channels", "out_channels"},
                               {"kernel_size", "num_outs"}},
             buildChannelMapper);

HAT_REGISTER("position_embedding", {"PositionEmbeddingSine"},
             config::KwargSpec{
                 {},
                 {"num_feats", "temperature", "normalize", "scale", "offset"}},
             buildSine);

HAT_REGISTER("transformer", {"DeformableDetrTransformer"},
             config::KwargSpec{{},
                               {"embed_dims", "num_heads", "num_levels",
                                "num_points", "num_encoder_layers",
                                "num_decoder_layers", "feedforward_channels",
                                "dropout"}},
             buildTransformer);

HAT_REGISTER("head", {"DeformableDETRHead"},
             config::KwargSpec{{"num_classes"},
                               {"num_queries", "aux_loss", "with_box_refine"}},
             buildHead);

HAT_REGISTER("post_process", {"DeformableDETRPostProcess"},
             config::KwargSpec{{}, {"num_select"}}, buildPostProcess);

HAT_REGISTER("model", {"DeformableDETR"},
             config::KwargSpec{{"backbone", "neck", "position_embedding",
                                "transformer", "head"},
                               {"criterion", "post_process"}},
             buildDeformableDETR);

} // namespace
} // namespace hat::models
