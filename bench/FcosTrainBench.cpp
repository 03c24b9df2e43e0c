//===- FcosTrainBench.cpp - FCOS training step: executor vs LibTorch ------===//
//
// One training step of the fashion-det FCOS-EfficientNetB0 (batch 16 at
// 256x256 by default) timed four ways in one process, same threads, the
// variants interleaved iteration by iteration so that machine load hits
// them alike:
//
//   executor + FCOS losses   EngineModel::fromConfig(config.model) in train
//                            mode, forward on {img, gt_bboxes, gt_classes}
//                            (DynamicFcosTarget + focal/GIoU/centerness, as
//                            hat-train), sum of the losses, backward, SGD.
//   executor, sum of outputs the same executor's forward, loss = sum of the
//                            15 head outputs, backward, SGD.
//   LibTorch, sum of outputs the same network written by hand (torch::nn
//                            module tree holding the weights, ATen calls in
//                            forward), same stand-in loss, backward, SGD.
//   LibTorch + FCOS losses   the hand-written network with the same FcosLoss
//                            object on its outputs, backward, SGD.
//
// Every step includes zero_grad and the optimizer step (SGD, the float
// trainer's momentum 0.937, nesterov, weight decay 4e-5 on every
// parameter; the same on all sides). The hand-written network gets the
// executor's initial weights and buffers by name; the tool refuses to time
// anything unless both have the same parameter names, shapes and element
// count and give the same 15 outputs on one batch. Prints figures and
// asserts only that equivalence.
//
//   hat-fcos-train-bench --config
//   configs/detection/fcos_efficientnetb0_fashiondet.py
//       [--threads 1] [--batch 16] [--iters 5] [--warmup 1] [--boxes 6]
//
//===----------------------------------------------------------------------===//

#include "ChannelsLastConv.h"
#include "hat/Config/Config.h"
#include "hat/Engine/Engine.h"
#include "hat/Engine/FcosTarget.h"
#include "hat/Executor/CachingCpuAllocator.h"
#include "hat/Metrics/TensorValue.h"
#include "hat/Models/Module.h"
#include "hat/Support/ParseNumber.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
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
    return at::batch_norm(x, weight, bias, mean, var, /*training=*/true, 0.1,
                          1e-5, at::globalContext().userEnabledCuDNN());
  }
};

/// kxk conv without bias (padding k/2) followed by BN.
struct ConvBn {
  at::Tensor weight;
  BatchNorm bn;
  int64_t stride = 1, groups = 1, pad = 0;
  ConvBn() = default;
  ConvBn(Registry &r, const std::string &name, int64_t in, int64_t out,
         int64_t k, int64_t stride, int64_t groups)
      : weight(r.add(name + ".conv.weight", {out, in / groups, k, k})),
        bn(r, name + ".bn", out), stride(stride), groups(groups), pad(k / 2) {}
  at::Tensor operator()(const at::Tensor &x) const {
    return bn(nhwcConv2d(x, weight, {}, stride, pad, 1, groups));
  }
};

struct MBConv {
  std::optional<ConvBn> expand;
  ConvBn depthwise, project;
  bool residual = false;
  at::Tensor operator()(const at::Tensor &x) const {
    at::Tensor y = expand ? at::relu((*expand)(x)) : x;
    y = project(at::relu(depthwise(y)));
    return residual ? x + y : y;
  }
};

/// EfficientNet-B0, relu, no SE, include_top=False: features at strides
/// 2, 4, 8, 16, 32.
struct Backbone {
  ConvBn stem;
  std::vector<MBConv> blocks;
  std::vector<size_t> featureAfter; // block index whose output is a feature

  explicit Backbone(Registry &r) {
    stem = ConvBn(r, "stem", 3, 32, 3, 2, 1);
    const int64_t stages[][5] = {{1, 3, 1, 16, 1},  {6, 3, 2, 24, 2},
                                 {6, 5, 2, 40, 2},  {6, 3, 2, 80, 3},
                                 {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4},
                                 {6, 3, 1, 320, 1}}; // expand, k, s, out, n
    int64_t in = 32;
    for (size_t s = 0; s < 7; ++s) {
      for (int64_t i = 0; i < stages[s][4]; ++i) {
        std::string name = "blocks." + std::to_string(blocks.size());
        int64_t stride = i == 0 ? stages[s][2] : 1, out = stages[s][3];
        int64_t expanded = in * stages[s][0];
        MBConv b;
        if (stages[s][0] != 1)
          b.expand = ConvBn(r, name + ".expand", in, expanded, 1, 1, 1);
        b.depthwise = ConvBn(r, name + ".depthwise", expanded, expanded,
                             stages[s][1], stride, expanded);
        b.project = ConvBn(r, name + ".project", expanded, out, 1, 1, 1);
        b.residual = stride == 1 && in == out;
        blocks.push_back(std::move(b));
        in = out;
      }
      if (s + 1 == 7 || stages[s + 1][2] == 2)
        featureAfter.push_back(blocks.size() - 1);
    }
  }

  std::vector<at::Tensor> operator()(at::Tensor x) const {
    std::vector<at::Tensor> features;
    x = at::relu(stem(x));
    size_t next = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      x = blocks[i](x);
      if (next < featureAfter.size() && featureAfter[next] == i) {
        features.push_back(x);
        ++next;
      }
    }
    return features;
  }
};

/// weighted_sum -> relu -> depthwise 3x3 -> pointwise 1x1 -> BN.
struct FuseNode {
  at::Tensor fusion, dw, pw;
  BatchNorm bn;
  FuseNode() = default;
  FuseNode(Registry &r, const std::string &name, int64_t inputs, int64_t c)
      : fusion(r.add(name + ".fusion.weight", {inputs})),
        dw(r.add(name + ".dw_conv.weight", {c, 1, 3, 3})),
        pw(r.add(name + ".pw_conv.weight", {c, c, 1, 1})),
        bn(r, name + ".bn", c) {}
  at::Tensor operator()(const std::vector<at::Tensor> &xs) const {
    at::Tensor w = at::relu(fusion);
    w = w / (w.sum() + 1e-4);
    at::Tensor acc = xs[0] * w[0];
    for (size_t i = 1; i < xs.size(); ++i)
      acc = acc + xs[i] * w[int64_t(i)];
    at::Tensor y = at::relu(acc);
    y = nhwcConv2d(y, dw, {}, 1, 1, 1, dw.size(0));
    return bn(nhwcConv2d(y, pw));
  }
};

at::Tensor maxPool(const at::Tensor &x) {
  return at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
}

/// BiFPN, 5 levels (strides 8..128) from backbone levels 2..4, `stack`
/// layers, 64 channels.
struct Neck {
  static constexpr int64_t kC = 64;
  std::vector<ConvBn> resample; // s8, s16, s32, s64 (1x1 conv + BN)
  struct Layer {
    std::vector<FuseNode> td;  // levels 0..3
    std::vector<FuseNode> out; // levels 1..4
  };
  std::vector<Layer> layers;

  Neck(Registry &r, int64_t stack) {
    const int64_t inC[] = {40, 112, 320, 320};
    const char *names[] = {"s8", "s16", "s32", "s64"};
    for (int i = 0; i < 4; ++i)
      resample.emplace_back(r, std::string("neck.resample.") + names[i], inC[i],
                            kC, 1, 1, 1);
    const int64_t strides[] = {8, 16, 32, 64, 128};
    for (int64_t k = 0; k < stack; ++k) {
      std::string prefix = "neck.stack." + std::to_string(k) + ".";
      Layer layer;
      for (int i = 0; i < 4; ++i)
        layer.td.emplace_back(r, prefix + "td.s" + std::to_string(strides[i]),
                              2, kC);
      for (int i = 1; i < 5; ++i)
        layer.out.emplace_back(r, prefix + "out.s" + std::to_string(strides[i]),
                               i + 1 < 5 ? 3 : 2, kC);
      layers.push_back(std::move(layer));
    }
  }

  std::vector<at::Tensor> operator()(const std::vector<at::Tensor> &f) const {
    std::vector<at::Tensor> p{resample[0](f[2]), resample[1](f[3]),
                              resample[2](f[4])};
    p.push_back(maxPool(resample[3](f[4])));
    p.push_back(maxPool(p.back()));
    const size_t L = p.size();
    for (const Layer &layer : layers) {
      std::vector<at::Tensor> td(L), out(L);
      td[L - 1] = p[L - 1];
      for (size_t i = L - 1; i-- > 0;)
        td[i] = layer.td[i](
            {p[i],
             at::upsample_nearest2d(td[i + 1], {p[i].size(2), p[i].size(3)})});
      out[0] = td[0];
      for (size_t i = 1; i < L; ++i) {
        std::vector<at::Tensor> in{p[i]};
        if (i + 1 < L)
          in.push_back(td[i]);
        in.push_back(maxPool(out[i - 1]));
        out[i] = layer.out[i - 1](in);
      }
      p = std::move(out);
    }
    return p;
  }
};

/// FCOSHead: shared 3x3 conv towers with per-level BN, shared predictors.
struct Head {
  static constexpr int64_t kC = 64;
  std::vector<at::Tensor> clsConv, regConv;         // [k]
  std::vector<std::vector<BatchNorm>> clsBn, regBn; // [k][level]
  at::Tensor clsW, clsB, regW, regB, ctrW, ctrB;

  Head(Registry &r, int64_t stacked, int64_t classes) {
    const int64_t strides[] = {8, 16, 32, 64, 128};
    for (int64_t k = 0; k < stacked; ++k) {
      std::string ks = std::to_string(k);
      clsConv.push_back(
          r.add("head.cls_convs." + ks + ".conv.weight", {kC, kC, 3, 3}));
      regConv.push_back(
          r.add("head.reg_convs." + ks + ".conv.weight", {kC, kC, 3, 3}));
      clsBn.emplace_back();
      regBn.emplace_back();
      for (int64_t s : strides) {
        std::string bn = ".bn_s" + std::to_string(s);
        clsBn.back().emplace_back(r, "head.cls_convs." + ks + bn, kC);
        regBn.back().emplace_back(r, "head.reg_convs." + ks + bn, kC);
      }
    }
    clsW = r.add("head.conv_cls.weight", {classes, kC, 3, 3});
    clsB = r.add("head.conv_cls.bias", {classes});
    regW = r.add("head.conv_reg.weight", {4, kC, 3, 3});
    regB = r.add("head.conv_reg.bias", {4});
    ctrW = r.add("head.conv_centerness.weight", {1, kC, 3, 3});
    ctrB = r.add("head.conv_centerness.bias", {1});
  }

  /// cls per level, then bbox per level, then centerness per level.
  std::vector<at::Tensor> operator()(const std::vector<at::Tensor> &p) const {
    std::vector<at::Tensor> cls, bbox, ctr;
    for (size_t l = 0; l < p.size(); ++l) {
      at::Tensor c = p[l], r = p[l];
      for (size_t k = 0; k < clsConv.size(); ++k) {
        c = at::relu(clsBn[k][l](nhwcConv2d(c, clsConv[k], {}, 1, 1)));
        r = at::relu(regBn[k][l](nhwcConv2d(r, regConv[k], {}, 1, 1)));
      }
      cls.push_back(nhwcConv2d(c, clsW, clsB, 1, 1));
      bbox.push_back(at::relu(nhwcConv2d(r, regW, regB, 1, 1)));
      ctr.push_back(nhwcConv2d(r, ctrW, ctrB, 1, 1));
    }
    cls.insert(cls.end(), bbox.begin(), bbox.end());
    cls.insert(cls.end(), ctr.begin(), ctr.end());
    return cls;
  }
};

struct HandWrittenFcos : torch::nn::Module {
  Registry registry{*this};
  Backbone backbone{registry};
  Neck neck;
  Head head;
  HandWrittenFcos(int64_t stack, int64_t stacked, int64_t classes)
      : neck(registry, stack), head(registry, stacked, classes) {}
  std::vector<at::Tensor> forward(const at::Tensor &img) const {
    return head(neck(backbone(img)));
  }
};

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
/// CPU seconds of the whole process: unlike wall time it does not count
/// the time other processes hold the cores, so on a shared machine it is
/// the steadier measure of the work a step does.
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

at::Tensor sumOfOutputs(const std::vector<at::Tensor> &outs) {
  at::Tensor s = outs[0].sum();
  for (size_t i = 1; i < outs.size(); ++i)
    s = s + outs[i].sum();
  return s;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "hat-fcos-train-bench: %s\n", message.c_str());
  return 1;
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
    std::fprintf(stderr, "usage: hat-fcos-train-bench --config CONFIG "
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
  std::shared_ptr<const engine::FcosLoss> fcosLoss;
  try {
    model = engine::EngineModel::fromConfig(*modelConfig);
    auto loss = engine::buildFcosLoss(*modelConfig);
    if (!loss)
      return fail(loss.error().str());
    fcosLoss = *loss;
  } catch (const std::exception &e) {
    return fail(e.what());
  }
  model->train(true);
  exec::ModuleExecutor &executor = model->executor();
  if (model->outputNames().size() != 15)
    return fail("expected the 15 outputs of a 5-level FCOS head, got " +
                std::to_string(model->outputNames().size()));

  // The network's hyper-parameters, read back from the executor's shapes so
  // a config with other classes/stack/convs is caught by the name check.
  const exec::NamedTensors params = executor.namedParameters();
  int64_t classes = 0, stack = 0, stacked = 0;
  for (auto &[name, t] : params) {
    if (name == "head.conv_cls.weight")
      classes = t.size(0);
    if (name.rfind("neck.stack.", 0) == 0)
      stack = std::max<int64_t>(stack, std::stoll(name.substr(11)) + 1);
    if (name.rfind("head.cls_convs.", 0) == 0)
      stacked = std::max<int64_t>(stacked, std::stoll(name.substr(15)) + 1);
  }
  auto hand = std::make_shared<HandWrittenFcos>(stack, stacked, classes);

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

  // Inputs: the config's input size, random images in [-1, 1] (Normalize
  // 128/128) and `boxes` random boxes of random classes per image.
  // fromConfig() read deploy_inputs already, so it parses.
  auto inputs = models::parseDeployInputs(*(*module)->get("deploy_inputs"));
  if (!inputs || inputs->size() != 1 || inputs->front().second.size() != 4)
    return fail("the config's deploy_inputs must be one NCHW img");
  const int64_t height = inputs->front().second[2],
                width = inputs->front().second[3];
  at::manual_seed(0);
  at::Tensor img = at::rand({batch, 3, height, width}) * 2 - 1;
  engine::DetectionGroundTruth truth;
  std::vector<config::Value> boxValues, labelValues;
  for (int64_t n = 0; n < batch; ++n) {
    at::Tensor corner =
        at::rand({boxes, 2}) * at::tensor({width * 0.7, height * 0.7});
    at::Tensor extent =
        at::rand({boxes, 2}) * at::tensor({width * 0.3, height * 0.3}) + 8;
    at::Tensor b = at::cat({corner, corner + extent}, 1).to(at::kFloat);
    at::Tensor l = at::randint(classes, {boxes}, at::kLong);
    truth.boxes.push_back(b);
    truth.labels.push_back(l);
    boxValues.push_back(metrics::tensorValue(b));
    labelValues.push_back(metrics::tensorValue(l));
  }
  config::Value batchValue = metrics::makeDict(
      {{"img", metrics::tensorValue(img)},
       {"gt_bboxes", config::Value::list(std::move(boxValues))},
       {"gt_classes", config::Value::list(std::move(labelValues))}});

  // Same outputs on one batch (train-mode BN on both sides).
  {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> a = executor.forward({img});
    std::vector<at::Tensor> b = hand->forward(img);
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
      worst =
          std::max(worst, (a[i] - b[i]).abs().max().item<double>() /
                              std::max(1e-6, b[i].abs().max().item<double>()));
    std::printf("outputs: 15 maps, largest difference %.2e (relative to each "
                "map's largest value)\n",
                worst);
    if (worst > 1e-4)
      return fail("the hand-written network does not compute the "
                  "executor's outputs");
  }

  auto sgdOptions = torch::optim::SGDOptions(0.14 * 16 / 96)
                        .momentum(0.937)
                        .nesterov(true)
                        .weight_decay(4e-5);
  torch::optim::SGD execSgd(executor.parameters(), sgdOptions);
  torch::optim::SGD handSgd(hand->parameters(), sgdOptions);

  auto fcosOutputs = [&](const std::vector<at::Tensor> &o) {
    engine::FcosHeadOutputs heads;
    heads.clsScores.assign(o.begin(), o.begin() + 5);
    heads.bboxPreds.assign(o.begin() + 5, o.begin() + 10);
    heads.centerness.assign(o.begin() + 10, o.end());
    return heads;
  };
  auto sumLosses =
      [](const std::vector<std::pair<std::string, at::Tensor>> &losses) {
        at::Tensor s = losses[0].second;
        for (size_t i = 1; i < losses.size(); ++i)
          s = s + losses[i].second;
        return s;
      };

  std::vector<Variant> variants;
  variants.push_back({"executor + FCOS losses (hat-train)",
                      [&] {
                        config::Value out = model->forward(batchValue);
                        std::vector<at::Tensor> losses;
                        metrics::collectTensors(out, losses);
                        at::Tensor s = losses[0];
                        for (size_t i = 1; i < losses.size(); ++i)
                          s = s + losses[i];
                        return s;
                      },
                      &execSgd});
  variants.push_back(
      {"LibTorch + FCOS losses",
       [&] {
         return sumLosses((*fcosLoss)(fcosOutputs(hand->forward(img)), truth));
       },
       &handSgd});
  variants.push_back({"executor, sum of outputs",
                      [&] { return sumOfOutputs(executor.forward({img})); },
                      &execSgd});
  variants.push_back({"LibTorch, sum of outputs",
                      [&] { return sumOfOutputs(hand->forward(img)); },
                      &handSgd});

  std::printf("FCOS-EfficientNetB0 train step, batch %lld, %lldx%lld, %lld "
              "boxes/image, %d thread(s), %lld warm-up + %lld timed "
              "iterations each, interleaved\n",
              (long long)batch, (long long)height, (long long)width,
              (long long)boxes, at::get_num_threads(), (long long)warmup,
              (long long)iters);
  for (int64_t i = 0; i < warmup + iters; ++i) {
    // Each iteration starts at the next variant: the first to run after the
    // printf and the previous variant's frees pays for them, and a fixed
    // order would charge that to one variant every time.
    for (size_t k = 0; k < variants.size(); ++k)
      variants[(i + k) % variants.size()].run(i >= warmup);
    if (i < warmup)
      continue;
    std::printf("iteration %lld, wall/CPU ms:", (long long)(i - warmup + 1));
    for (const Variant &v : variants)
      std::printf(" %.0f/%.0f", 1e3 * v.total.back(), 1e3 * v.cpu.back());
    std::printf("\n");
  }

  std::printf("\n%-36s %8s %8s %8s %8s %8s %8s %8s %8s\n", "variant (ms/batch)",
              "min", "median", "CPU min", "fwd+loss", "backward", "sgd",
              "img/s", "img/s md");
  for (const Variant &v : variants)
    std::printf("%-36s %8.0f %8.0f %8.0f %8.0f %8.0f %8.1f %8.2f %8.2f\n",
                v.name.c_str(), 1e3 * minOf(v.total), 1e3 * medianOf(v.total),
                1e3 * minOf(v.cpu), 1e3 * minOf(v.fwd), 1e3 * minOf(v.bwd),
                1e3 * minOf(v.step), batch / minOf(v.total),
                batch / medianOf(v.total));
  std::printf("(wall time unless CPU; fwd+loss, backward, sgd: the minimum of "
              "each phase; img/s from the min and the median)\n");
  auto overhead = [&](const Variant &e, const Variant &h) {
    std::printf("executor overhead, %s vs %s: %+.1f%% wall (min), %+.1f%% "
                "wall (median), %+.1f%% CPU (min), %+.1f%% CPU (median)\n",
                e.name.c_str(), h.name.c_str(),
                100 * (minOf(e.total) / minOf(h.total) - 1),
                100 * (medianOf(e.total) / medianOf(h.total) - 1),
                100 * (minOf(e.cpu) / minOf(h.cpu) - 1),
                100 * (medianOf(e.cpu) / medianOf(h.cpu) - 1));
  };
  overhead(variants[2], variants[3]);
  overhead(variants[0], variants[1]);
  return 0;
}
