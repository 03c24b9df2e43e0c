//===- RuntimeBench.cpp - hat-run's int8 runtime vs LibTorch fp32 ---------===//
//
// hat-runtime-bench [--size 96] [--iters N]
//
// One residual CNN (stem 3x3/2 -> 32 ch, then per stage a residual block and
// a 3x3/2 conv: 32 -> 64 -> 128 ch, global pool, fc 10) built twice from the
// same layer list: as float LibTorch ops (torch::nn::functional, fp32) and as
// an HBM executed by hat::runtime (int8, conv+add fused as -O3 would). The
// weights are random in both (speed does not depend on values); shapes and
// MACs are identical. Prints images/s at batch 1 and batch 8 with 1 and 2
// threads. Asserts nothing: timings depend on the machine.
//
// MLIR-free on purpose (LibTorch + the runtime only), so the float model is
// written here rather than read from a .mlir file.
//
//===----------------------------------------------------------------------===//

#include "hat/HBM/Model.h"
#include "hat/Runtime/Runtime.h"

#include "hat/Support/ParseNumber.h"

#include <cstdlib>
#include <optional>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace F = torch::nn::functional;

namespace {

struct ConvSpec {
  int64_t cin, cout, k, stride;
  bool relu;
  int residualFrom; // -1, or the index of the conv whose input is the residual
};

/// Network description shared by both implementations.
std::vector<ConvSpec> network() {
  std::vector<ConvSpec> n;
  n.push_back({3, 32, 3, 2, true, -1});
  int64_t c = 32;
  for (int64_t next : {64, 128, 0}) {
    const int first = int(n.size());
    n.push_back({c, c, 3, 1, true, -1});
    n.push_back({c, c, 3, 1, true, first}); // + input of `first`, then relu
    if (next)
      n.push_back({c, next, 3, 2, true, -1}), c = next;
  }
  return n;
}

struct TorchNet {
  std::vector<torch::Tensor> w, b;
  torch::Tensor fcW, fcB;
  explicit TorchNet(const std::vector<ConvSpec> &net) {
    torch::manual_seed(0);
    for (const ConvSpec &s : net) {
      w.push_back(torch::randn({s.cout, s.cin, s.k, s.k}) * 0.1);
      b.push_back(torch::randn({s.cout}) * 0.1);
    }
    fcW = torch::randn({10, net.back().cout}) * 0.1;
    fcB = torch::zeros({10});
  }
  torch::Tensor forward(const std::vector<ConvSpec> &net, torch::Tensor x) {
    std::vector<torch::Tensor> inputs;
    for (size_t i = 0; i < net.size(); ++i) {
      const ConvSpec &s = net[i];
      inputs.push_back(x);
      torch::Tensor y = F::conv2d(
          x, w[i],
          F::Conv2dFuncOptions().bias(b[i]).stride(s.stride).padding(s.k / 2));
      if (s.residualFrom >= 0)
        y = y + inputs[size_t(s.residualFrom)];
      x = s.relu ? torch::relu(y) : y;
    }
    x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1));
    return F::linear(x.flatten(1), fcW, fcB);
  }
};

hat::hbm::Model hbmNet(const std::vector<ConvSpec> &net, int64_t size) {
  using namespace hat;
  std::mt19937 rng(1);
  hbm::Model m;
  m.march = "nash-e";
  m.optLevel = 3;
  int64_t offset = 0;
  auto tensor = [&](std::vector<int64_t> shape, eval::DType d, bool arena) {
    hbm::TensorDesc t{"t" + std::to_string(m.tensors.size()),
                      shape,
                      d,
                      {},
                      arena ? offset : -1};
    if (arena)
      offset += (t.bytes() + 63) / 64 * 64;
    m.tensors.push_back(t);
    return int32_t(m.tensors.size() - 1);
  };
  auto constant = [&](std::vector<int64_t> shape, bool bias) {
    hbm::Constant c;
    c.name = "c" + std::to_string(m.constants.size());
    c.shape = shape;
    const int64_t n = eval::numelOf(shape);
    if (bias) {
      c.dtype = eval::DType::I32;
      c.layout = "plain";
      for (int64_t i = 0; i < n; ++i) {
        const uint32_t v = uint32_t(int32_t(rng() % 2001) - 1000);
        for (int s = 0; s < 4; ++s)
          c.data.push_back(uint8_t(v >> (8 * s)));
      }
    } else {
      c.dtype = eval::DType::I8;
      c.layout = "o16k2";
      std::vector<int8_t> raw(static_cast<size_t>(n));
      for (int8_t &v : raw)
        v = int8_t(int(rng() % 255) - 127);
      auto p = hbm::packWeightsO16K2(raw, shape[0], n / shape[0], 1);
      c.data.assign(p.begin(), p.end());
    }
    m.constants.push_back(c);
    return int32_t(m.constants.size() - 1);
  };
  int32_t x = tensor({1, 3, size, size}, eval::DType::F32, false);
  m.inputs = {x};
  hbm::Layer q;
  q.name = "quantize";
  q.kind = hbm::LayerKind::Quantize;
  q.inputs = {x};
  q.scale = {0.02f};
  q.output = x = tensor({1, 3, size, size}, eval::DType::I8, true);
  m.layers.push_back(q);
  std::vector<int32_t> inputs;
  int64_t h = size;
  for (const ConvSpec &s : net) {
    inputs.push_back(x);
    hbm::Layer l;
    l.name = "conv" + std::to_string(m.layers.size());
    l.kind = hbm::LayerKind::Conv;
    l.inputs = {x};
    if (s.residualFrom >= 0) {
      l.inputs.push_back(inputs[size_t(s.residualFrom)]);
      l.residual = true;
      l.addConvMultiplier = 1 << 30;
      l.addResidualMultiplier = 1 << 29;
      l.addShift = 30;
      l.addRelu = s.relu;
    } else {
      l.relu = s.relu;
    }
    l.weight = constant({s.cout, s.cin, s.k, s.k}, false);
    l.bias = constant({s.cout}, true);
    l.kernel = {s.k, s.k};
    l.stride = {s.stride, s.stride};
    l.padding = {s.k / 2, s.k / 2, s.k / 2, s.k / 2};
    l.dilation = {1, 1};
    l.multiplier.assign(size_t(s.cout), 1 << 30);
    l.shift.assign(size_t(s.cout), 40);
    h = (h + 2 * (s.k / 2) - s.k) / s.stride + 1;
    l.output = x = tensor({1, s.cout, h, h}, eval::DType::I8, true);
    m.layers.push_back(l);
  }
  const int64_t c = net.back().cout;
  hbm::Layer g;
  g.name = "gap";
  g.kind = hbm::LayerKind::GlobalAvgPool;
  g.inputs = {x};
  g.multiplier = {1 << 30};
  g.shift = {36};
  g.output = x = tensor({1, c, 1, 1}, eval::DType::I8, true);
  m.layers.push_back(g);
  hbm::Layer r;
  r.name = "flatten";
  r.kind = hbm::LayerKind::Reshape;
  r.inputs = {x};
  r.output = x = tensor({1, c}, eval::DType::I8, true);
  m.layers.push_back(r);
  hbm::Layer fc;
  fc.name = "fc";
  fc.kind = hbm::LayerKind::Linear;
  fc.inputs = {x};
  fc.weight = constant({10, c}, false);
  fc.bias = constant({10}, true);
  fc.multiplier = {1 << 30};
  fc.shift = {36};
  fc.output = x = tensor({1, 10}, eval::DType::I8, true);
  m.layers.push_back(fc);
  hbm::Layer d;
  d.name = "dequantize";
  d.kind = hbm::LayerKind::Dequantize;
  d.inputs = {x};
  d.scale = {0.1f};
  d.output = x = tensor({1, 10}, eval::DType::F32, true);
  m.layers.push_back(d);
  m.outputs = {x};
  m.arenaBytes = offset;
  return m;
}

template <typename Fn> double imagesPerSecond(int images, int iters, Fn fn) {
  fn(); // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i)
    fn();
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  return double(images) * iters / s;
}

} // namespace

/// A numeric option through the shared checked parser; exits 2 otherwise.
static int64_t intOption(const char *name, const char *text, int64_t lo,
                         int64_t hi) {
  std::optional<int64_t> n = hat::parseInteger(text, lo, hi);
  if (!n) {
    std::fprintf(stderr, "%s\n",
                 hat::badIntegerMessage(name, text, lo, hi).c_str());
    std::exit(2);
  }
  return *n;
}

int main(int argc, char **argv) {
  int64_t size = 96;
  int iters = 20;
  for (int a = 1; a + 1 < argc; a += 2) {
    if (!std::strcmp(argv[a], "--size"))
      size = intOption("--size", argv[a + 1], 8, 4096);
    else if (!std::strcmp(argv[a], "--iters"))
      iters = int(intOption("--iters", argv[a + 1], 1, 1'000'000));
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[a]);
      return 2;
    }
  }
  const std::vector<ConvSpec> net = network();
  double macs = 0;
  {
    int64_t h = size;
    for (const ConvSpec &s : net) {
      h = (h + 2 * (s.k / 2) - s.k) / s.stride + 1;
      macs += double(s.cout) * s.cin * s.k * s.k * h * h;
    }
  }
  std::printf("residual CNN 3x%lldx%lld: %zu convs, %.1f M MACs per image\n",
              (long long)size, (long long)size, net.size(), macs / 1e6);
  TorchNet torchNet(net);
  hat::hbm::Model model = hbmNet(net, size);
  std::string error;
  if (!hat::hbm::validate(model, error)) {
    std::fprintf(stderr, "bench model invalid: %s\n", error.c_str());
    return 1;
  }
  torch::NoGradGuard noGrad;
  std::printf("%-34s %8s %8s %12s\n", "implementation", "threads", "batch",
              "images/s");
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    hat::runtime::Options o;
    o.threads = threads;
    auto session = hat::runtime::Session::create(model, o);
    for (int64_t batch : {1, 8}) {
      torch::Tensor x = torch::randn({batch, 3, size, size});
      const double t = imagesPerSecond(int(batch), iters, [&] {
        torch::Tensor y = torchNet.forward(net, x);
        (void)y;
      });
      hat::eval::Tensor in =
          hat::eval::Tensor::f32({batch, 3, size, size}, 0.f);
      std::memcpy(in.f.data(), x.data_ptr<float>(), in.f.size() * 4);
      std::vector<hat::eval::Tensor> out;
      const double h = imagesPerSecond(int(batch), iters, [&] {
        if (!session->run({in}, out, error)) {
          std::fprintf(stderr, "%s\n", error.c_str());
          std::exit(1);
        }
      });
      std::printf("%-34s %8d %8lld %12.1f\n", "LibTorch fp32 (functional)",
                  threads, (long long)batch, t);
      char name[64];
      std::snprintf(name, sizeof name, "hat runtime int8 (%s)",
                    hat::runtime::isaName(session->isa()));
      std::printf("%-34s %8d %8lld %12.1f   (%.2fx)\n", name, threads,
                  (long long)batch, h, h / t);
    }
  }
  return 0;
}
