//===- DetrTrainBench.cpp - Deformable DETR train step vs LibTorch --------===//
//
// One training step of the fashion-det Deformable DETR (ResNet18, configs/
// detection/deform_detr_resnet18_fashiondet.py: batch 16 at 128x128 by
// default) timed two ways in one process, same threads, the variants
// interleaved iteration by iteration so that machine load hits them alike:
//
//   executor + set criterion  EngineModel::fromConfig(config.model) in train
//                             mode, forward on {img, gt_bboxes, gt_classes}
//                             (Hungarian matching + focal/L1/GIoU on every
//                             decoder layer, as hat-train), sum of the
//                             losses, backward, AdamW.
//   LibTorch + set criterion  the same network written by hand (torch::nn
//                             module tree holding the weights, ATen calls in
//                             forward) with the same SetCriterion object on
//                             its (aux, last) layer outputs, backward, AdamW.
//
// Every step includes zero_grad and the optimizer step (AdamW, lr 2e-4,
// weight decay 1e-4 on every parameter; the same on both sides). The
// hand-written network gets the executor's initial weights and buffers by
// name and recomputes the graph's constants (sine positions, level one-hot,
// reference points) as lib/Models/DeformableDETR.cpp builds them; the tool
// refuses to time anything unless both have the same parameter names,
// shapes and element count and give the same outputs on one batch. Prints
// figures and asserts only that equivalence.
//
//   hat-detr-train-bench --config
//   configs/detection/deform_detr_resnet18_fashiondet.py
//       [--threads 1] [--batch 16] [--iters 5] [--warmup 1] [--boxes 6]
//
//===----------------------------------------------------------------------===//

#include "ChannelsLastConv.h"
#include "hat/Config/Config.h"
#include "hat/Engine/DetrLosses.h"
#include "hat/Engine/Engine.h"
#include "hat/Executor/CachingCpuAllocator.h"
#include "hat/Metrics/TensorValue.h"
#include "hat/Models/Module.h"
#include "hat/Support/ParseNumber.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace hat;

namespace {

int64_t intOption(const char *name, const char *text, int64_t lo, int64_t hi) {
  std::optional<int64_t> n = parseInteger(text, lo, hi);
  if (!n) {
    std::fprintf(stderr, "%s\n", badIntegerMessage(name, text, lo, hi).c_str());
    std::exit(2);
  }
  return *n;
}

constexpr double kPi = 3.14159265358979323846;
// The IR stores BN / LayerNorm eps and momentum as f32 attributes; the
// executor widens them to double.
const double kEps = double(1e-5f), kMomentum = double(0.1f);

//===----------------------------------------------------------------------===//
// The hand-written network. Weights live in a torch::nn::Module tree whose
// dotted names are the IR's parameter names (so they can be compared and
// copied); forward is plain ATen on tensors held in structs, no lookups.
//===----------------------------------------------------------------------===//

struct Node : torch::nn::Module {};

class Registry {
public:
  explicit Registry(torch::nn::Module &root) : root(root) {}

  /// A trainable (or buffer) tensor registered under a dotted `path`.
  at::Tensor add(const std::string &path, at::IntArrayRef shape,
                 bool buffer = false) {
    size_t dot = path.rfind('.');
    torch::nn::Module &owner = module(path.substr(0, dot));
    std::string leaf = path.substr(dot + 1);
    at::Tensor t = at::zeros(shape);
    return buffer ? owner.register_buffer(leaf, t)
                  : owner.register_parameter(leaf, t);
  }

private:
  torch::nn::Module &module(const std::string &path) {
    auto it = nodes.find(path);
    if (it != nodes.end())
      return *it->second;
    size_t dot = path.rfind('.');
    torch::nn::Module &parent =
        dot == std::string::npos ? root : module(path.substr(0, dot));
    std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
    auto child = parent.register_module(leaf, std::make_shared<Node>());
    nodes[path] = child.get();
    return *child;
  }

  torch::nn::Module &root;
  std::map<std::string, torch::nn::Module *> nodes;
};

struct BatchNorm {
  at::Tensor weight, bias, mean, var;
  BatchNorm() = default;
  BatchNorm(Registry &r, const std::string &name, int64_t c)
      : weight(r.add(name + ".weight", {c})), bias(r.add(name + ".bias", {c})),
        mean(r.add(name + ".running_mean", {c}, true)),
        var(r.add(name + ".running_var", {c}, true)) {}
  at::Tensor operator()(const at::Tensor &x) const {
    return at::batch_norm(x, weight, bias, mean, var, /*training=*/true,
                          kMomentum, kEps,
                          at::globalContext().userEnabledCuDNN());
  }
};

/// kxk conv without bias followed by BN; `convName`/`bnName` are the full
/// parameter prefixes.
struct ConvBn {
  at::Tensor weight;
  BatchNorm bn;
  int64_t stride = 1, pad = 0;
  ConvBn() = default;
  ConvBn(Registry &r, const std::string &convName, const std::string &bnName,
         int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad)
      : weight(r.add(convName + ".weight", {out, in, k, k})),
        bn(r, bnName, out), stride(stride), pad(pad) {}
  at::Tensor operator()(const at::Tensor &x) const {
    return bn(nhwcConv2d(x, weight, {}, stride, pad));
  }
};

struct Linear {
  at::Tensor weight, bias;
  Linear() = default;
  Linear(Registry &r, const std::string &name, int64_t in, int64_t out,
         bool withBias = true)
      : weight(r.add(name + ".weight", {out, in})),
        bias(withBias ? r.add(name + ".bias", {out}) : at::Tensor()) {}
  at::Tensor operator()(const at::Tensor &x) const {
    return at::linear(x, weight, bias);
  }
};

struct LayerNorm {
  at::Tensor weight, bias;
  LayerNorm() = default;
  LayerNorm(Registry &r, const std::string &name, int64_t c)
      : weight(r.add(name + ".weight", {c})), bias(r.add(name + ".bias", {c})) {
  }
  at::Tensor operator()(const at::Tensor &x) const {
    return at::layer_norm(x, {weight.size(0)}, weight, bias, kEps);
  }
};

/// torchvision's BasicBlock (conv1/bn1, conv2/bn2, downsample.0/1).
struct BasicBlock {
  ConvBn conv1, conv2;
  std::optional<ConvBn> downsample;
  at::Tensor operator()(const at::Tensor &x) const {
    at::Tensor y = conv2(at::relu(conv1(x)));
    return at::relu(y + (downsample ? (*downsample)(x) : x));
  }
};

/// ResNet18 without the top: layer1 .. layer4 (strides 4 .. 32).
struct ResNet18 {
  ConvBn stem;
  std::vector<std::vector<BasicBlock>> layers;

  explicit ResNet18(Registry &r) {
    stem = ConvBn(r, "conv1", "bn1", 3, 64, 7, 2, 3);
    int64_t in = 64, planes = 64;
    for (int stage = 0; stage < 4; ++stage, planes *= 2) {
      layers.emplace_back();
      for (int i = 0; i < 2; ++i) {
        const std::string p =
            "layer" + std::to_string(stage + 1) + "." + std::to_string(i) + ".";
        const int64_t stride = stage > 0 && i == 0 ? 2 : 1;
        BasicBlock b;
        b.conv1 =
            ConvBn(r, p + "conv1", p + "bn1", in, planes, 3, stride, /*pad=*/1);
        b.conv2 = ConvBn(r, p + "conv2", p + "bn2", planes, planes, 3, 1, 1);
        if (stride != 1 || in != planes)
          b.downsample = ConvBn(r, p + "downsample.0", p + "downsample.1", in,
                                planes, 1, stride, 0);
        layers.back().push_back(std::move(b));
        in = planes;
      }
    }
  }

  std::vector<at::Tensor> operator()(const at::Tensor &img) const {
    at::Tensor x = at::max_pool2d(at::relu(stem(img)), {3, 3}, {2, 2}, {1, 1});
    std::vector<at::Tensor> out;
    for (const auto &layer : layers) {
      for (const BasicBlock &b : layer)
        x = b(x);
      out.push_back(x);
    }
    return out;
  }
};

/// ChannelMapper: 1x1 conv + BN per input (the backbone's last
/// len(in_channels) features), then 3x3 stride-2 conv + BN extra levels
/// from the last input.
struct ChannelMapper {
  std::vector<ConvBn> convs, extra;
  ChannelMapper(Registry &r, const std::vector<int64_t> &inChannels,
                int64_t numExtra, int64_t d) {
    for (size_t i = 0; i < inChannels.size(); ++i) {
      const std::string p = "neck.convs." + std::to_string(i) + ".";
      convs.emplace_back(r, p + "conv", p + "bn", inChannels[i], d, 1, 1, 0);
    }
    for (int64_t e = 0; e < numExtra; ++e) {
      const std::string p = "neck.extra_convs." + std::to_string(e) + ".";
      extra.emplace_back(r, p + "conv", p + "bn",
                         e == 0 ? inChannels.back() : d, d, 3, 2, 1);
    }
  }
  std::vector<at::Tensor> operator()(const std::vector<at::Tensor> &f) const {
    std::vector<at::Tensor> out;
    const size_t first = f.size() - convs.size();
    for (size_t i = 0; i < convs.size(); ++i)
      out.push_back(convs[i](f[first + i]));
    at::Tensor last = f.back();
    for (const ConvBn &e : extra) {
      last = e(last);
      out.push_back(last);
    }
    return out;
  }
};

/// Multi-scale deformable sampling (the executor's hat.ms_deform_attn
/// composition, lib/Executor/AttentionOps.cpp): value [N, S, M, Dh],
/// locations [1 or N, Lq, M, L, P, 2] in [0, 1], weights [1 or N, Lq, M, L,
/// P] -> [N, Lq, M * Dh].
at::Tensor msDeformAttn(const at::Tensor &value, const at::Tensor &locations,
                        const at::Tensor &weights,
                        const std::vector<int64_t> &spatialShapes) {
  const int64_t n = value.size(0), m = value.size(2), d = value.size(3);
  const int64_t lq = locations.size(1), levels = locations.size(3),
                points = locations.size(4);
  const at::Tensor grids = (locations * 2 - 1).expand({n, -1, -1, -1, -1, -1});
  const at::Tensor perImage = weights.expand({n, -1, -1, -1, -1});
  std::vector<at::Tensor> sampled;
  int64_t start = 0;
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t h = spatialShapes[size_t(2 * l)],
                  w = spatialShapes[size_t(2 * l + 1)];
    at::Tensor map = value.narrow(1, start, h * w)
                         .flatten(2)
                         .transpose(1, 2)
                         .reshape({n * m, d, h, w});
    at::Tensor grid = grids.select(3, l).transpose(1, 2).flatten(0, 1);
    sampled.push_back(at::grid_sampler(map, grid, 0, 0, false));
    start += h * w;
  }
  at::Tensor stacked = at::stack(sampled, -2).flatten(-2);
  at::Tensor attention =
      perImage.transpose(1, 2).reshape({n * m, 1, lq, levels * points});
  return (stacked * attention)
      .sum(-1)
      .view({n, m * d, lq})
      .transpose(1, 2)
      .contiguous();
}

struct Dims {
  int64_t d = 0, m = 0, l = 0, p = 0, ffn = 0;
  int64_t dh() const { return d / m; }
  int64_t samples() const { return m * l * p; }
};

/// MSDeformAttn(query [B, Lq, D], input [N, S, D], reference [1, Lq,
/// M*L*P*2]).
struct DeformAttn {
  Dims k;
  Linear samplingOffsets, attentionWeights, valueProj, outputProj;
  DeformAttn() = default;
  DeformAttn(Registry &r, const std::string &p, const Dims &k)
      : k(k), samplingOffsets(r, p + "sampling_offsets", k.d, k.samples() * 2),
        attentionWeights(r, p + "attention_weights", k.d, k.samples()),
        valueProj(r, p + "value_proj", k.d, k.d),
        outputProj(r, p + "output_proj", k.d, k.d) {}
  at::Tensor operator()(const at::Tensor &query, const at::Tensor &input,
                        const at::Tensor &reference,
                        const std::vector<int64_t> &levels) const {
    const int64_t b = query.size(0), lq = query.size(1);
    at::Tensor locations =
        (samplingOffsets(query) + reference).view({b, lq, k.m, k.l, k.p, 2});
    at::Tensor weights =
        at::softmax(attentionWeights(query).view({b, lq, k.m, k.l * k.p}), 3);
    weights = weights.view({b, lq, k.m, k.l, k.p});
    at::Tensor value =
        valueProj(input).view({input.size(0), input.size(1), k.m, k.dh()});
    return outputProj(msDeformAttn(value, locations, weights, levels));
  }
};

/// Multi-head self-attention with separate q/k/v projections.
struct SelfAttn {
  Dims k;
  Linear q, kp, v, out;
  at::Tensor scale;
  SelfAttn() = default;
  SelfAttn(Registry &r, const std::string &p, const Dims &k)
      : k(k), q(r, p + "q_proj", k.d, k.d), kp(r, p + "k_proj", k.d, k.d),
        v(r, p + "v_proj", k.d, k.d), out(r, p + "out_proj", k.d, k.d),
        scale(at::full({1}, float(1.0 / std::sqrt(double(k.dh()))))) {}
  at::Tensor operator()(const at::Tensor &qk, const at::Tensor &value) const {
    const int64_t n = qk.size(1);
    auto heads = [&](const Linear &proj, const at::Tensor &x) {
      return proj(x).view({x.size(0), n, k.m, k.dh()}).permute({0, 2, 1, 3});
    };
    at::Tensor qh = heads(q, qk) * scale;
    at::Tensor kh = heads(kp, qk).transpose(2, 3);
    at::Tensor scores = at::softmax(at::matmul(qh, kh), 3);
    at::Tensor ctx = at::matmul(scores, heads(v, value));
    return out(ctx.permute({0, 2, 1, 3}).reshape({ctx.size(0), n, k.d}));
  }
};

struct Ffn {
  Linear linear1, linear2;
  Ffn() = default;
  Ffn(Registry &r, const std::string &p, const Dims &k)
      : linear1(r, p + "linear1", k.d, k.ffn),
        linear2(r, p + "linear2", k.ffn, k.d) {}
  at::Tensor operator()(const at::Tensor &x) const {
    return linear2(at::relu(linear1(x)));
  }
};

struct EncoderLayer {
  DeformAttn attn;
  LayerNorm norm1, norm2;
  Ffn ffn;
  EncoderLayer(Registry &r, const std::string &p, const Dims &k)
      : attn(r, p + "self_attn.", k), norm1(r, p + "norm1", k.d),
        norm2(r, p + "norm2", k.d), ffn(r, p, k) {}
};

struct DecoderLayer {
  SelfAttn self;
  DeformAttn cross;
  LayerNorm norm1, norm2, norm3;
  Ffn ffn;
  DecoderLayer(Registry &r, const std::string &p, const Dims &k)
      : self(r, p + "self_attn.", k), cross(r, p + "cross_attn.", k),
        norm1(r, p + "norm1", k.d), norm2(r, p + "norm2", k.d),
        norm3(r, p + "norm3", k.d), ffn(r, p, k) {}
};

struct SineOptions {
  int64_t numFeats = 128;
  double temperature = 10000, scale = 2 * kPi, offset = -0.5;
  bool normalize = true;
};

/// lib/Models/DeformableDETR.cpp's sinePositions: [H * W, 2 * numFeats].
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

struct Shape {
  std::vector<int64_t> neckIn; // ChannelMapper in_channels
  int64_t extraLevels = 0, encoderLayers = 0, decoderLayers = 0;
  int64_t queries = 0, classes = 0;
  bool auxLoss = true;
};

struct HandWrittenDetr : torch::nn::Module {
  Registry registry{*this};
  Dims k;
  Shape s;
  ResNet18 backbone{registry};
  ChannelMapper neck;
  at::Tensor levelEmbed, queryPos, queryTgt;
  Linear referencePoints;
  std::vector<EncoderLayer> encoder;
  std::vector<DecoderLayer> decoder;
  Linear classEmbed, bboxMlp[2], bboxXy, bboxWh;
  // Constants of the graph, for one input size.
  std::vector<int64_t> levels; // H, W pairs
  at::Tensor sinePos, levelIndex, encoderRef;

  HandWrittenDetr(const Dims &k, const Shape &s, const SineOptions &sine,
                  int64_t height, int64_t width)
      : k(k), s(s), neck(registry, s.neckIn, s.extraLevels, k.d),
        levelEmbed(registry.add("level_embed.weight", {k.d, k.l})),
        queryPos(registry.add("query_embed.pos.weight", {k.d, s.queries})),
        queryTgt(registry.add("query_embed.tgt.weight", {k.d, s.queries})),
        referencePoints(registry, "reference_points", k.d, 2),
        classEmbed(registry, "class_embed", k.d, s.classes),
        bboxMlp{Linear(registry, "bbox_embed.layers.0", k.d, k.d),
                Linear(registry, "bbox_embed.layers.1", k.d, k.d)},
        bboxXy(registry, "bbox_embed.xy", k.d, 2),
        bboxWh(registry, "bbox_embed.wh", k.d, 2) {
    for (int64_t i = 0; i < s.encoderLayers; ++i)
      encoder.emplace_back(registry,
                           "encoder.layers." + std::to_string(i) + ".", k);
    for (int64_t i = 0; i < s.decoderLayers; ++i)
      decoder.emplace_back(registry,
                           "decoder.layers." + std::to_string(i) + ".", k);
    // Every stride-2 layer (7x7/3x3 pad k/2, 1x1 pad 0, 3x3 max pool pad 1)
    // maps an extent e to (e - 1) / 2 + 1.
    auto halve = [](int64_t e) { return (e - 1) / 2 + 1; };
    int64_t h = halve(halve(height)), w = halve(halve(width));
    std::vector<std::pair<int64_t, int64_t>> stages{{h, w}};
    for (int i = 0; i < 3; ++i) {
      h = halve(h);
      w = halve(w);
      stages.emplace_back(h, w);
    }
    for (size_t i = stages.size() - s.neckIn.size(); i < stages.size(); ++i) {
      levels.push_back(stages[i].first);
      levels.push_back(stages[i].second);
    }
    for (int64_t e = 0; e < s.extraLevels; ++e) {
      h = halve(h);
      w = halve(w);
      levels.push_back(h);
      levels.push_back(w);
    }
    // The constants as DeformableDETR.cpp lays them out.
    const int64_t f = k.samples();
    std::vector<float> sines, ref;
    std::vector<int64_t> index;
    for (int64_t lv = 0; lv < k.l; ++lv) {
      const int64_t lh = levels[size_t(2 * lv)],
                    lw = levels[size_t(2 * lv + 1)];
      std::vector<float> sp = sinePositions(sine, lh, lw);
      sines.insert(sines.end(), sp.begin(), sp.end());
      for (int64_t y = 0; y < lh; ++y)
        for (int64_t x = 0; x < lw; ++x) {
          index.push_back(lv);
          const float rx = float((double(x) + 0.5) / double(lw));
          const float ry = float((double(y) + 0.5) / double(lh));
          for (int64_t j = 0; j < f; ++j) {
            ref.push_back(rx);
            ref.push_back(ry);
          }
        }
    }
    const int64_t positions = int64_t(index.size());
    sinePos = at::tensor(sines).view({1, positions, k.d});
    levelIndex = at::tensor(index, at::TensorOptions(at::kLong));
    encoderRef = at::tensor(ref).view({1, positions, f * 2});
  }

  /// pred_logits, pred_boxes, then aux_logits_<j>, aux_boxes_<j> (the
  /// executor's output order).
  std::vector<at::Tensor> forward(const at::Tensor &img) const {
    std::vector<at::Tensor> features = neck(backbone(img));
    std::vector<at::Tensor> flat;
    for (size_t lv = 0; lv < features.size(); ++lv) {
      const at::Tensor &x = features[lv];
      TORCH_CHECK(x.size(2) == levels[2 * lv] &&
                      x.size(3) == levels[2 * lv + 1],
                  "level sizes differ from the precomputed ones");
      flat.push_back(x.flatten(2).transpose(1, 2));
    }
    at::Tensor memory = at::cat(flat, 1);
    // pos = level_embed[level] + sine: the executor's linear over the
    // one-hot level rows is a row lookup in the weight's transpose.
    at::Tensor pos =
        levelEmbed.t().index_select(0, levelIndex).unsqueeze(0) + sinePos;
    for (const EncoderLayer &e : encoder) {
      at::Tensor a = e.attn(memory + pos, memory, encoderRef, levels);
      memory = e.norm1(memory + a);
      memory = e.norm2(memory + e.ffn(memory));
    }
    // Embedding tables: linear over the identity = the weight transposed.
    const at::Tensor qpos = queryPos.t().unsqueeze(0);
    at::Tensor tgt = queryTgt.t().unsqueeze(0);
    const at::Tensor refLogits = referencePoints(qpos);
    const at::Tensor decRef =
        at::sigmoid(refLogits).repeat({1, 1, k.samples()});
    std::vector<at::Tensor> logits, boxes;
    for (size_t j = 0; j < decoder.size(); ++j) {
      const DecoderLayer &dl = decoder[j];
      tgt = dl.norm2(tgt + dl.self(tgt + qpos, tgt));
      tgt = dl.norm1(tgt + dl.cross(tgt + qpos, memory, decRef, levels));
      tgt = dl.norm3(tgt + dl.ffn(tgt));
      if (s.auxLoss || j + 1 == decoder.size()) {
        logits.push_back(classEmbed(tgt));
        at::Tensor h = at::relu(bboxMlp[1](at::relu(bboxMlp[0](tgt))));
        at::Tensor xy = at::sigmoid(bboxXy(h) + refLogits);
        boxes.push_back(at::cat({xy, at::sigmoid(bboxWh(h))}, 2));
      }
    }
    std::vector<at::Tensor> out{logits.back(), boxes.back()};
    for (size_t j = 0; j + 1 < logits.size(); ++j) {
      out.push_back(logits[j]);
      out.push_back(boxes[j]);
    }
    return out;
  }
};

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
/// CPU seconds of the whole process (steadier than wall time on a shared
/// machine).
double processCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Variant {
  std::string name;
  /// Forward + loss; returns the scalar loss.
  std::function<at::Tensor()> forward;
  torch::optim::Optimizer *optimizer;
  std::vector<double> total, cpu, fwd, bwd, step;

  void run(bool record) {
    const double c0 = processCpuSeconds();
    auto t0 = Clock::now();
    optimizer->zero_grad();
    at::Tensor loss = forward();
    double f = since(t0);
    auto t1 = Clock::now();
    loss.backward();
    double b = since(t1);
    auto t2 = Clock::now();
    optimizer->step();
    double s = since(t2);
    double wall = since(t0), c = processCpuSeconds() - c0;
    if (!record)
      return;
    total.push_back(wall);
    cpu.push_back(c);
    fwd.push_back(f);
    bwd.push_back(b);
    step.push_back(s);
  }
};

double minOf(const std::vector<double> &v) {
  return *std::min_element(v.begin(), v.end());
}
double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t elementCount(const std::vector<at::Tensor> &ts) {
  int64_t n = 0;
  for (const at::Tensor &t : ts)
    n += t.numel();
  return n;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "hat-detr-train-bench: %s\n", message.c_str());
  return 1;
}

/// `dict[key]` of a config dict, or null.
const config::Value *entry(const config::Value *dict, const char *key) {
  if (!dict || !dict->isDict())
    return nullptr;
  return dict->asDict().find(std::string(key));
}

double numberOr(const config::Value *dict, const char *key, double fallback) {
  const config::Value *v = entry(dict, key);
  return v && v->isNumber() ? v->asNumber() : fallback;
}

at::Tensor sumLosses(const std::vector<std::pair<std::string, at::Tensor>> &l) {
  at::Tensor s = l[0].second;
  for (size_t i = 1; i < l.size(); ++i)
    s = s + l[i].second;
  return s;
}

} // namespace

int main(int argc, char **argv) {
  std::string configPath;
  int64_t threads = 1, batch = 16, iters = 5, warmup = 1, boxes = 6;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option %s needs a value\n", a.c_str());
      return 2;
    }
    const char *v = argv[++i];
    if (a == "--config")
      configPath = v;
    else if (a == "--threads")
      threads = intOption("--threads", v, 1, 1024);
    else if (a == "--batch")
      batch = intOption("--batch", v, 1, 4096);
    else if (a == "--iters")
      iters = intOption("--iters", v, 1, 100000);
    else if (a == "--warmup")
      warmup = intOption("--warmup", v, 0, 100000);
    else if (a == "--boxes")
      boxes = intOption("--boxes", v, 0, 1000);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (configPath.empty()) {
    std::fprintf(stderr, "usage: hat-detr-train-bench --config CONFIG "
                         "[--threads N] [--batch B] [--iters N] [--warmup N] "
                         "[--boxes N]\n");
    return 2;
  }
  at::set_num_threads(int(threads));
  // As hat-train runs (both sides share it).
  hat::executor::installCachingCpuAllocator();
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // lines appear as they come

  // As hat-train does for --stage float.
  setenv("HAT_TRAINING_STEP", "float", 1);
  auto module = config::loadConfig(configPath, {});
  if (!module)
    return fail(module.error().str());
  engine::RunContext &ctx = engine::runContext();
  ctx.stage = "float";
  ctx.config = *module;
  ctx.configPath = configPath;
  if (const config::Value *seed = (*module)->get("seed"); seed && seed->isInt())
    ctx.seed = uint64_t(seed->asInt());
  at::manual_seed(ctx.seed);
  const config::Value *modelConfig = (*module)->get("model");
  if (!modelConfig)
    return fail(configPath + " defines no 'model'");

  engine::EngineModelPtr model;
  std::shared_ptr<const engine::SetCriterion> criterion;
  try {
    model = engine::EngineModel::fromConfig(*modelConfig);
    auto built = engine::buildSetCriterion(*modelConfig);
    if (!built)
      return fail(built.error().str());
    criterion = *built;
  } catch (const std::exception &e) {
    return fail(e.what());
  }
  model->train(true);
  exec::ModuleExecutor &executor = model->executor();
  const std::vector<std::string> &outputNames = model->outputNames();
  if (outputNames.size() < 2 || outputNames[0] != "pred_logits" ||
      outputNames[1] != "pred_boxes")
    return fail("expected a DeformableDETR (outputs pred_logits, "
                "pred_boxes, ...)");

  // The network's hyper-parameters: widths and counts read back from the
  // executor's shapes (a config with others is caught by the name check),
  // heads and the sine embedding from the config.
  const exec::NamedTensors params = executor.namedParameters();
  Dims k;
  Shape s;
  int64_t samples = 0;
  std::map<std::string, at::Tensor> byName(params.begin(), params.end());
  auto count = [&](const std::string &prefix) {
    int64_t n = 0;
    for (auto &[name, t] : params)
      if (name.rfind(prefix, 0) == 0)
        n = std::max<int64_t>(n, std::stoll(name.substr(prefix.size())) + 1);
    return n;
  };
  for (const char *name :
       {"query_embed.pos.weight", "level_embed.weight", "class_embed.weight",
        "encoder.layers.0.self_attn.attention_weights.weight",
        "encoder.layers.0.linear1.weight"})
    if (!byName.count(name))
      return fail(std::string("the executor has no parameter ") + name);
  k.d = byName["query_embed.pos.weight"].size(0);
  s.queries = byName["query_embed.pos.weight"].size(1);
  k.l = byName["level_embed.weight"].size(1);
  s.classes = byName["class_embed.weight"].size(0);
  samples =
      byName["encoder.layers.0.self_attn.attention_weights.weight"].size(0);
  k.ffn = byName["encoder.layers.0.linear1.weight"].size(0);
  s.encoderLayers = count("encoder.layers.");
  s.decoderLayers = count("decoder.layers.");
  for (int64_t i = 0; i < count("neck.convs."); ++i) {
    auto it = byName.find("neck.convs." + std::to_string(i) + ".conv.weight");
    if (it == byName.end())
      return fail("no neck.convs." + std::to_string(i) + ".conv.weight");
    s.neckIn.push_back(it->second.size(1));
  }
  s.extraLevels = count("neck.extra_convs.");
  s.auxLoss = outputNames.size() > 2;
  const config::Value *transformer = entry(modelConfig, "transformer");
  k.m = int64_t(numberOr(transformer, "num_heads", 8));
  if (k.m < 1 || k.d % k.m || samples % (k.m * k.l))
    return fail("num_heads does not divide the executor's widths");
  k.p = samples / (k.m * k.l);
  if (int64_t(s.neckIn.size()) + s.extraLevels != k.l)
    return fail("the neck's levels differ from level_embed's");
  SineOptions sine;
  const config::Value *pe = entry(modelConfig, "position_embedding");
  sine.numFeats = k.d / 2;
  sine.temperature = numberOr(pe, "temperature", sine.temperature);
  sine.scale = numberOr(pe, "scale", sine.scale);
  sine.offset = numberOr(pe, "offset", sine.offset);
  if (const config::Value *n = entry(pe, "normalize"))
    sine.normalize = n->truthy();

  // Inputs: the config's input size, random images in [-1, 1] (Normalize
  // 128/128) and `boxes` random boxes of random classes per image.
  auto inputs = models::parseDeployInputs(*(*module)->get("deploy_inputs"));
  if (!inputs || inputs->size() != 1 || inputs->front().second.size() != 4)
    return fail("the config's deploy_inputs must be one NCHW img");
  const int64_t height = inputs->front().second[2],
                width = inputs->front().second[3];

  auto hand = std::make_shared<HandWrittenDetr>(k, s, sine, height, width);

  // Same parameters (names, shapes, count) and buffers; copy the values.
  {
    at::NoGradGuard noGrad;
    auto handParams = hand->named_parameters();
    auto handBuffers = hand->named_buffers();
    if (handParams.size() != params.size())
      return fail("parameter tensors: executor " +
                  std::to_string(params.size()) + ", hand-written " +
                  std::to_string(handParams.size()));
    for (auto &[name, t] : params) {
      at::Tensor *h = handParams.find(name);
      if (!h)
        return fail("the hand-written network has no parameter " + name);
      if (h->sizes() != t.sizes())
        return fail("parameter " + name + " has another shape by hand");
      h->copy_(t);
    }
    exec::NamedTensors buffers = executor.namedBuffers();
    if (handBuffers.size() != buffers.size())
      return fail("buffers: executor " + std::to_string(buffers.size()) +
                  ", hand-written " + std::to_string(handBuffers.size()));
    for (auto &[name, t] : buffers) {
      at::Tensor *h = handBuffers.find(name);
      if (!h || h->sizes() != t.sizes())
        return fail("buffer " + name + " missing or shaped differently");
      h->copy_(t);
    }
  }
  const int64_t execCount = elementCount(executor.parameters());
  const int64_t handCount = elementCount(hand->parameters());
  std::printf("parameters: executor %lld elements in %zu tensors, "
              "hand-written LibTorch %lld elements in %zu tensors\n",
              (long long)execCount, params.size(), (long long)handCount,
              hand->parameters().size());
  if (execCount != handCount)
    return fail("parameter element counts differ");

  at::manual_seed(0);
  at::Tensor img = at::rand({batch, 3, height, width}) * 2 - 1;
  std::vector<at::Tensor> gtBoxes, gtLabels;
  std::vector<config::Value> boxValues, labelValues;
  for (int64_t n = 0; n < batch; ++n) {
    at::Tensor corner =
        at::rand({boxes, 2}) * at::tensor({width * 0.7, height * 0.7});
    at::Tensor extent =
        at::rand({boxes, 2}) * at::tensor({width * 0.3, height * 0.3}) + 8;
    at::Tensor b = at::cat({corner, corner + extent}, 1).to(at::kFloat);
    at::Tensor l = at::randint(s.classes, {boxes}, at::kLong);
    gtBoxes.push_back(b);
    gtLabels.push_back(l);
    boxValues.push_back(metrics::tensorValue(b));
    labelValues.push_back(metrics::tensorValue(l));
  }
  config::Value batchValue = metrics::makeDict(
      {{"img", metrics::tensorValue(img)},
       {"gt_bboxes", config::Value::list(std::move(boxValues))},
       {"gt_classes", config::Value::list(std::move(labelValues))}});

  // The criterion on (aux..., last) layers, as EngineModel::detectionForward.
  auto handLosses = [&](const std::vector<at::Tensor> &o) {
    std::vector<std::pair<at::Tensor, at::Tensor>> layers;
    for (size_t j = 2; j + 1 < o.size(); j += 2)
      layers.emplace_back(o[j], o[j + 1]);
    layers.emplace_back(o[0], o[1]);
    return (*criterion)(layers,
                        engine::setTargetsFromBoxes(gtBoxes, gtLabels,
                                                    img.size(2), img.size(3)));
  };

  // Same outputs on one batch (train-mode BN on both sides).
  {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> a, b;
    try {
      a = executor.forward({img});
      b = hand->forward(img);
    } catch (const std::exception &e) {
      return fail(e.what());
    }
    if (a.size() != b.size() || a.size() != outputNames.size())
      return fail("the executor gives " + std::to_string(a.size()) +
                  " outputs, the hand-written network " +
                  std::to_string(b.size()));
    bool same = true;
    std::printf("outputs (train mode, one batch), max |executor - "
                "hand-written|:\n");
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].sizes() != b[i].sizes())
        return fail("output " + outputNames[i] + " has another shape by hand");
      const bool close = at::allclose(a[i], b[i], 1e-4, 1e-5);
      same = same && close;
      std::printf("  %-14s %.3e (max |value| %.3e)%s\n", outputNames[i].c_str(),
                  (a[i] - b[i]).abs().max().item<double>(),
                  b[i].abs().max().item<double>(),
                  close ? "" : "  NOT allclose(rtol 1e-4, atol 1e-5)");
    }
    if (!same)
      return fail("the hand-written network does not compute the "
                  "executor's outputs");
    std::vector<std::pair<at::Tensor, at::Tensor>> layers;
    for (size_t j = 2; j + 1 < a.size(); j += 2)
      layers.emplace_back(a[j], a[j + 1]);
    layers.emplace_back(a[0], a[1]);
    const double lossA =
        sumLosses((*criterion)(
                      layers, engine::setTargetsFromBoxes(
                                  gtBoxes, gtLabels, img.size(2), img.size(3))))
            .item<double>();
    const double lossB = sumLosses(handLosses(b)).item<double>();
    std::printf("summed set-criterion loss on that batch: executor %.6f, "
                "hand-written %.6f\n",
                lossA, lossB);
  }

  auto adamwOptions =
      torch::optim::AdamWOptions(2e-4).weight_decay(1e-4); // every parameter
  torch::optim::AdamW execAdamW(executor.parameters(), adamwOptions);
  torch::optim::AdamW handAdamW(hand->parameters(), adamwOptions);

  std::vector<Variant> variants;
  variants.push_back({"executor + set criterion (hat-train)",
                      [&] {
                        config::Value out = model->forward(batchValue);
                        std::vector<at::Tensor> losses;
                        metrics::collectTensors(out, losses);
                        at::Tensor sum = losses[0];
                        for (size_t i = 1; i < losses.size(); ++i)
                          sum = sum + losses[i];
                        return sum;
                      },
                      &execAdamW});
  variants.push_back({"LibTorch + set criterion",
                      [&] { return sumLosses(handLosses(hand->forward(img))); },
                      &handAdamW});

  std::printf("Deformable DETR (ResNet18) train step, batch %lld, %lldx%lld, "
              "%lld boxes/image, %d thread(s), %lld warm-up + %lld timed "
              "iterations each, interleaved\n",
              (long long)batch, (long long)height, (long long)width,
              (long long)boxes, at::get_num_threads(), (long long)warmup,
              (long long)iters);
  for (int64_t i = 0; i < warmup + iters; ++i) {
    for (Variant &v : variants)
      v.run(i >= warmup);
    if (i < warmup)
      continue;
    std::printf("iteration %lld, wall/CPU ms:", (long long)(i - warmup + 1));
    for (const Variant &v : variants)
      std::printf(" %.0f/%.0f", 1e3 * v.total.back(), 1e3 * v.cpu.back());
    std::printf("\n");
  }

  std::printf("\n%-38s %8s %8s %8s %8s %8s %8s %8s %8s\n", "variant (ms/batch)",
              "min", "median", "CPU min", "fwd+loss", "backward", "adamw",
              "img/s", "img/s md");
  for (const Variant &v : variants)
    std::printf("%-38s %8.0f %8.0f %8.0f %8.0f %8.0f %8.1f %8.2f %8.2f\n",
                v.name.c_str(), 1e3 * minOf(v.total), 1e3 * medianOf(v.total),
                1e3 * minOf(v.cpu), 1e3 * minOf(v.fwd), 1e3 * minOf(v.bwd),
                1e3 * minOf(v.step), batch / minOf(v.total),
                batch / medianOf(v.total));
  std::printf("(wall time unless CPU; fwd+loss, backward, adamw: the minimum "
              "of each phase; img/s from the min and the median)\n");
  const Variant &e = variants[0], &h = variants[1];
  std::printf("ratio executor / LibTorch: %.3f wall (min), %.3f wall "
              "(median), %.3f CPU (min), %.3f CPU (median)\n",
              minOf(e.total) / minOf(h.total),
              medianOf(e.total) / medianOf(h.total),
              minOf(e.cpu) / minOf(h.cpu), medianOf(e.cpu) / medianOf(h.cpu));
  return 0;
}
