//===- Runtime.cpp - Executes an HBM on the CPU, bit-exactly --------------===//
//
// Conv and linear layers run on hat::runtime::IntegerConv
// (IntegerKernels.h: the int8 dot-product or int16 GEMMs, or the direct
// depthwise kernels), the same kernels as int_infer's integer ops;
// they compute the reference kernels' integers by construction (exact sums,
// applyRequant, ReLU, saturation). A fused residual epilogue is the
// reference qadd (integerAdd) applied to the conv's saturated output. Same-
// shape adds run on integerAdd; everything else on the reference kernels.
//
// Batches: an input stacking R model batches runs as one pass over the
// layers with every arena offset scaled by R, so each tensor holds its R
// slices back to back (a disjoint plan stays disjoint). conv / linear / add /
// quantize then see one tensor with R times the images (the GEMM's pixel
// tiles span image boundaries, so the weights are reused across the whole
// batch). Reference layers run once per slice.
//
//===----------------------------------------------------------------------===//

#include "hat/Runtime/Runtime.h"

#include "ThreadPool.h"

#include "hat/Runtime/IntegerKernels.h"

#include "hat/Eval/Kernels.h"
#include "hat/Quant/FixedPoint.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>

namespace hat::runtime {

using hbm::Layer;
using hbm::LayerKind;
using hbm::TensorDesc;

namespace {

int bitsOf(eval::DType d) { return d == eval::DType::I16 ? 16 : 8; }

/// A conv or linear layer: its integer kernel, or (kept only when the
/// kernel refuses the layer) the reference path's weights.
struct Prepared {
  eval::Tensor weight; // logical int8 [O, C / groups, KH, KW] or [M, K]
  eval::Tensor biasTensor;
  std::unique_ptr<IntegerConv> kernel;
};

/// The integer kernel of a conv or linear layer, or null when it refuses
/// the layer (the reference kernel runs it then). With a fused residual the
/// kernel writes the conv's own saturated output (convDType) and the
/// residual add follows (Impl::conv).
std::unique_ptr<IntegerConv> makeKernel(const hbm::Model &m, const Layer &l,
                                        const Prepared &p, Isa isa) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  if (in.constant >= 0 || in.arenaOffset < 0 || in.dtype == eval::DType::F32 ||
      in.dtype == eval::DType::I32)
    return nullptr;
  ConvShape s;
  if (l.kind == LayerKind::Linear) {
    if (in.shape.empty() || out.shape.empty() || p.weight.shape.size() != 2)
      return nullptr;
    s = ConvShape::linear(p.weight.shape[1], p.weight.shape[0]);
    if (in.shape.back() != s.channels || out.shape.back() != s.outChannels)
      return nullptr;
  } else {
    if (in.shape.size() != 4 || out.shape.size() != 4)
      return nullptr;
    s.channels = in.shape[1];
    s.height = in.shape[2];
    s.width = in.shape[3];
    s.outChannels = out.shape[1];
    s.kernelH = l.kernel[0];
    s.kernelW = l.kernel[1];
    s.strideH = l.stride[0];
    s.strideW = l.stride[1];
    s.padTop = l.padding[0];
    s.padLeft = l.padding[1];
    s.padBottom = l.padding[2];
    s.padRight = l.padding[3];
    s.dilationH = l.dilation[0];
    s.dilationW = l.dilation[1];
    s.groups = l.groups;
    if (s.outHeight() != out.shape[2] || s.outWidth() != out.shape[3])
      return nullptr;
    if (l.residual) {
      // What integerAdd accepts, so that the fused add never refuses (the
      // reference fallback could not read an NHWC tensor).
      const TensorDesc &res = m.tensors[size_t(l.inputs[1])];
      auto intType = [](eval::DType d) {
        return d == eval::DType::I8 || d == eval::DType::I16;
      };
      if (res.constant >= 0 || res.arenaOffset < 0 || res.shape != out.shape ||
          !intType(res.dtype) || !intType(out.dtype) || !intType(l.convDType) ||
          l.addShift < 0 || l.addShift > 62)
        return nullptr;
    }
  }
  OutputRequant rq;
  rq.multiplier = l.multiplier;
  rq.shift = l.shift;
  rq.relu = l.relu;
  rq.bits = bitsOf(l.residual ? l.convDType : out.dtype);
  std::vector<int8_t> weight(p.weight.i.begin(), p.weight.i.end());
  std::vector<int32_t> bias(p.biasTensor.i.begin(), p.biasTensor.i.end());
  return IntegerConv::create(s, bitsOf(in.dtype), weight.data(), bias.data(),
                             rq, isa);
}

} // namespace

struct Session::Impl {
  hbm::Model m;
  Isa isa = Isa::Scalar;
  std::unique_ptr<ThreadPool> pool;
  std::vector<uint8_t> arenaStorage;
  uint8_t *arena = nullptr;
  int64_t arenaNeeded = 0; // bytes of one model batch
  std::vector<Prepared> prepared;
  /// A conv's own output before its fused residual add.
  std::vector<int16_t> convOut;
  /// By tensor index: kept in NHWC (planLayouts).
  std::vector<uint8_t> nhwc;
  /// By tensor index, model inputs: the first of `reps` stacked slices.
  std::vector<const float *> inputs;
  /// By tensor index, the elements of constant activations (one slice,
  /// shared by every stacked model batch).
  std::vector<std::vector<int32_t>> constants;
  int64_t reps = 1; // model batches stacked in this pass
  /// The pool as IntegerKernels.h's ParallelFor.
  ParallelFor parallel;
  /// Options::profile: seconds per layer, summed; run() calls covered.
  bool profile = false;
  std::vector<double> layerSeconds;
  int64_t profiledRuns = 0;
  /// Image streams (runStreams): single-threaded sessions of the same
  /// model, created on the first run that uses them.
  std::vector<std::unique_ptr<Session>> streams;
  int lastRunStreams = 1;

  /// Runs `repeats` stacked model batches from `inputs` (one pointer per
  /// model input, to the first slice), appending the outputs along
  /// dimension 0.
  void runStacked(const std::vector<const float *> &given, int64_t repeats,
                  std::vector<eval::Tensor> &outputs);
  /// With several threads and at least two model batches: each thread runs
  /// a contiguous share of the batches through the whole model on a
  /// single-threaded session of its own. No layer waits for the slowest
  /// thread's part of it, small layers are not cut into tasks shorter than
  /// their dispatch, and each core's layers touch only its share.
  void runStreams(const std::vector<const float *> &given, int64_t repeats,
                  int64_t count, std::vector<eval::Tensor> &outputs);

  void prepare();
  /// Marks the tensors kept in NHWC: 4-D conv outputs read only by conv
  /// kernels (as input or fused residual), never by a reference kernel or
  /// as a model output; a fused residual and its conv's output share one
  /// order. The kernels then read and write them without transposing.
  void planLayouts();
  void execute();

  /// The first of the `reps` slices of an arena tensor (the rest follow).
  template <typename T> T *ptr(const TensorDesc &t) {
    return reinterpret_cast<T *>(arena + reps * t.arenaOffset);
  }
  /// Slice `rep` of a tensor as a reference-kernel tensor; `count` slices
  /// from there stacked along dimension 0 with count > 1.
  eval::Tensor load(int32_t index, int64_t rep, int64_t count = 1);
  void store(int32_t index, int64_t rep, const eval::Tensor &t);

  void quantize(const Layer &l);
  void conv(const Layer &l, const Prepared &p);
  void linear(const Layer &l, const Prepared &p);
  void add(const Layer &l);
  /// add() runs element by element (no broadcast, no constant operand);
  /// other adds go through the reference kernel.
  bool elementwiseAdd(const Layer &l) const {
    const TensorDesc &out = m.tensors[size_t(l.output)];
    for (int i : {0, 1}) {
      const TensorDesc &t = m.tensors[size_t(l.inputs[size_t(i)])];
      if (t.shape != out.shape || t.constant >= 0)
        return false;
    }
    return true;
  }
  /// The reference kernel, once per stacked slice.
  void reference(const Layer &l, const Prepared *p);
  eval::Tensor referenceSlice(const Layer &l, const Prepared *p, int64_t rep);
};

Session::Session() : impl(std::make_unique<Impl>()) {}
Session::~Session() = default;
const hbm::Model &Session::model() const { return impl->m; }
Isa Session::isa() const { return impl->isa; }
int Session::threads() const { return impl->pool->size(); }
int Session::lastRunStreams() const { return impl->lastRunStreams; }
const std::vector<double> &Session::layerSeconds() const {
  return impl->layerSeconds;
}
int64_t Session::profiledRuns() const { return impl->profiledRuns; }
void Session::resetProfile() {
  std::fill(impl->layerSeconds.begin(), impl->layerSeconds.end(), 0.0);
  impl->profiledRuns = 0;
}

std::string layerProfileText(const Session &session) {
  const std::vector<double> &seconds = session.layerSeconds();
  const int64_t runs = session.profiledRuns();
  if (seconds.empty() || runs == 0)
    return "";
  const hbm::Model &m = session.model();
  double total = 0;
  for (double s : seconds)
    total += s;
  auto share = [&](double s) { return total > 0 ? 100 * s / total : 0.0; };
  std::vector<std::pair<std::string, double>> byKernel;
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%5s  %-40s %-14s %-12s %10s %7s\n", "#",
                "layer", "kind", "kernel", "us/run", "share");
  text += line;
  for (size_t i = 0; i < seconds.size(); ++i) {
    const std::string kernel = session.layerKernel(i);
    std::snprintf(
        line, sizeof line, "%5zu  %-40.40s %-14s %-12s %10.1f %6.1f%%\n", i,
        m.layers[i].name.c_str(), hbm::layerKindName(m.layers[i].kind),
        kernel.c_str(), 1e6 * seconds[i] / double(runs), share(seconds[i]));
    text += line;
    auto it = std::find_if(byKernel.begin(), byKernel.end(),
                           [&](const auto &k) { return k.first == kernel; });
    if (it == byKernel.end())
      byKernel.emplace_back(kernel, seconds[i]);
    else
      it->second += seconds[i];
  }
  std::sort(byKernel.begin(), byKernel.end(),
            [](const auto &a, const auto &b) { return a.second > b.second; });
  std::snprintf(line, sizeof line,
                "total %.1f us per run over %lld run(s); by kernel:",
                1e6 * total / double(runs), (long long)runs);
  text += line;
  for (const auto &[kernel, s] : byKernel) {
    std::snprintf(line, sizeof line, " %s %.1f us (%.1f%%)", kernel.c_str(),
                  1e6 * s / double(runs), share(s));
    text += (&kernel == &byKernel.front().first ? "" : ",") + std::string(line);
  }
  return text + "\n";
}

const char *Session::layerKernel(size_t index) const {
  const Impl &im = *impl;
  const Layer &l = im.m.layers.at(index);
  const Prepared &p = im.prepared[index];
  switch (l.kind) {
  case LayerKind::Quantize:
    return "quantize";
  case LayerKind::Conv:
  case LayerKind::Linear:
    // "gemm", "gemm-split16" (int16 inputs with a long K) or "depthwise".
    return p.kernel ? p.kernel->method() : "reference";
  case LayerKind::Add:
    return im.elementwiseAdd(l) ? "add" : "reference";
  case LayerKind::Reshape: {
    const TensorDesc &in = im.m.tensors[size_t(l.inputs[0])];
    const TensorDesc &out = im.m.tensors[size_t(l.output)];
    if (in.arenaOffset < 0)
      return "reference";
    return in.arenaOffset == out.arenaOffset ? "view" : "copy";
  }
  default:
    return "reference";
  }
}

std::unique_ptr<Session> Session::create(hbm::Model model,
                                         const Options &options) {
  std::unique_ptr<Session> s(new Session());
  Impl &im = *s->impl;
  im.m = std::move(model);
  im.profile = options.profile;
  im.layerSeconds.assign(im.profile ? im.m.layers.size() : 0, 0.0);
  const Isa best = detectIsa();
  im.isa = options.isa == Isa::Auto ? best : options.isa;
  // Never run an instruction set the CPU lacks, whatever was asked.
  if (int(im.isa) > int(best))
    im.isa = best;
  int threads = options.threads;
  if (threads <= 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  // More workers than kMaxThreads only exhaust the process's thread limit
  // (std::system_error); tools refuse larger requests, the library clamps.
  threads = std::min(threads, kMaxThreads);
  im.pool = std::make_unique<ThreadPool>(threads);
  im.parallel = [pool = im.pool.get()](
                    int64_t tasks, const std::function<void(int64_t)> &body) {
    pool->parallelFor(tasks, [&](int64_t task, int) { body(task); });
  };
  // Only the bytes layers touch (a declared arena larger than the plan
  // needs costs nothing).
  int64_t needed = 0;
  for (const hbm::Layer &l : im.m.layers) {
    const TensorDesc &t = im.m.tensors[size_t(l.output)];
    needed = std::max(needed, t.arenaOffset + t.bytes());
  }
  im.arenaNeeded = needed;
  // Constant activations (a position embedding): widened once.
  im.constants.resize(im.m.tensors.size());
  for (size_t i = 0; i < im.m.tensors.size(); ++i) {
    const TensorDesc &t = im.m.tensors[i];
    if (t.constant < 0)
      continue;
    const std::vector<uint8_t> &bytes = im.m.constants[size_t(t.constant)].data;
    std::vector<int32_t> &values = im.constants[i];
    values.resize(size_t(t.numel()));
    for (size_t e = 0; e < values.size(); ++e)
      values[e] = t.dtype == eval::DType::I16
                      ? int32_t(int16_t(uint16_t(bytes[2 * e]) |
                                        uint16_t(bytes[2 * e + 1]) << 8))
                      : int32_t(int8_t(bytes[e]));
  }
  im.prepare();
  im.planLayouts();
  return s;
}

namespace {
/// The int32 [C] bias constant `index` (validated: i32, C * 4 bytes) as a
/// reference-kernel tensor.
eval::Tensor biasOf(const hbm::Model &m, int32_t index) {
  const hbm::Constant &bc = m.constants[size_t(index)];
  const int64_t count = int64_t(bc.data.size() / 4);
  eval::Tensor t = eval::Tensor::ints(eval::DType::I32, {count});
  for (int64_t c = 0; c < count; ++c) {
    int32_t v;
    std::memcpy(&v, bc.data.data() + 4 * c, 4);
    t.i[size_t(c)] = v;
  }
  return t;
}
} // namespace

void Session::Impl::prepare() {
  prepared.resize(m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i];
    if (l.kind == LayerKind::LayerNorm) {
      prepared[i].biasTensor = biasOf(m, l.bias);
      continue;
    }
    if (l.kind != LayerKind::Conv && l.kind != LayerKind::Linear)
      continue;
    Prepared &p = prepared[i];
    const hbm::Constant &wc = m.constants[size_t(l.weight)];
    const int64_t o = wc.shape[0], groups = wc.groups;
    const int64_t k = eval::numelOf(wc.shape) / o;
    // Logical row-major weights from either layout.
    p.weight = eval::Tensor::ints(eval::DType::I8, wc.shape);
    if (wc.layout == "o16k2") {
      const int64_t og = o / groups, blocks = (og + 15) / 16, k2 = (k + 1) / 2;
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t oo = 0; oo < og; ++oo)
          for (int64_t kk = 0; kk < k; ++kk)
            p.weight.i[size_t((g * og + oo) * k + kk)] = int8_t(wc.data[size_t(
                (((g * blocks + oo / 16) * k2 + kk / 2) * 16 + oo % 16) * 2 +
                kk % 2)]);
    } else {
      for (size_t e = 0; e < p.weight.i.size(); ++e)
        p.weight.i[e] = int8_t(wc.data[e]);
    }
    p.biasTensor = l.bias >= 0 ? biasOf(m, l.bias)
                               : eval::Tensor::ints(eval::DType::I32, {o});
    p.kernel = makeKernel(m, l, p, isa);
    if (p.kernel) {
      // The kernel packed its own copy; the int32-per-weight logical
      // tensors only serve the reference path.
      p.weight = eval::Tensor();
      p.biasTensor = eval::Tensor();
    }
  }
}

void Session::Impl::planLayouts() {
  const size_t count = m.tensors.size();
  nhwc.assign(count, 0);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i];
    if (l.kind == LayerKind::Conv && prepared[i].kernel &&
        m.tensors[size_t(l.output)].shape.size() == 4)
      nhwc[size_t(l.output)] = 1;
  }
  for (int32_t o : m.outputs)
    nhwc[size_t(o)] = 0;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i];
    const bool kernelConv = l.kind == LayerKind::Conv && prepared[i].kernel;
    for (size_t j = 0; j < l.inputs.size(); ++j)
      if (!kernelConv || j > 1 || (j == 1 && !l.residual))
        nhwc[size_t(l.inputs[j])] = 0;
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const Layer &l = m.layers[i];
      if (l.kind != LayerKind::Conv || !l.residual || !prepared[i].kernel)
        continue;
      uint8_t &res = nhwc[size_t(l.inputs[1])];
      uint8_t &out = nhwc[size_t(l.output)];
      if (res != out) {
        res = out = 0;
        changed = true;
      }
    }
  }
}

bool Session::tensorNhwc(size_t tensor) const {
  return impl->nhwc.at(tensor) != 0;
}

eval::Tensor Session::Impl::load(int32_t index, int64_t rep, int64_t count) {
  const TensorDesc &d = m.tensors[size_t(index)];
  const int64_t n = d.numel();
  eval::Tensor t;
  t.dtype = d.dtype;
  t.shape = d.shape;
  if (count > 1 && !t.shape.empty())
    t.shape[0] *= count;
  const int64_t first = rep * n, total = count * n;
  if (d.constant >= 0) {
    // The same constant for every stacked batch.
    const std::vector<int32_t> &c = constants[size_t(index)];
    for (int64_t k = 0; k < count; ++k)
      t.i.insert(t.i.end(), c.begin(), c.end());
    return t;
  }
  if (d.arenaOffset < 0) {
    const float *x = inputs[size_t(index)] + first;
    t.f.assign(x, x + total);
    return t;
  }
  switch (d.dtype) {
  case eval::DType::F32:
    t.f.assign(ptr<float>(d) + first, ptr<float>(d) + first + total);
    break;
  case eval::DType::I8:
    t.i.assign(ptr<int8_t>(d) + first, ptr<int8_t>(d) + first + total);
    break;
  case eval::DType::I16:
    t.i.assign(ptr<int16_t>(d) + first, ptr<int16_t>(d) + first + total);
    break;
  case eval::DType::I32:
    t.i.assign(ptr<int32_t>(d) + first, ptr<int32_t>(d) + first + total);
    break;
  }
  return t;
}

void Session::Impl::store(int32_t index, int64_t rep, const eval::Tensor &t) {
  const TensorDesc &d = m.tensors[size_t(index)];
  const int64_t n = d.numel(), first = rep * n;
  switch (d.dtype) {
  case eval::DType::F32:
    std::copy(t.f.begin(), t.f.begin() + n, ptr<float>(d) + first);
    break;
  case eval::DType::I8:
    std::copy(t.i.begin(), t.i.begin() + n, ptr<int8_t>(d) + first);
    break;
  case eval::DType::I16:
    std::copy(t.i.begin(), t.i.begin() + n, ptr<int16_t>(d) + first);
    break;
  case eval::DType::I32:
    std::copy(t.i.begin(), t.i.begin() + n, ptr<int32_t>(d) + first);
    break;
  }
}

void Session::Impl::quantize(const Layer &l) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  const float *x =
      in.arenaOffset < 0 ? inputs[size_t(l.inputs[0])] : ptr<float>(in);
  // Validated models quantize to int8 / int16 only, which quantizeFloats
  // always accepts.
  quantizeFloats(x, out.numel() * reps, l.scale[0], bitsOf(out.dtype),
                 ptr<uint8_t>(out), isa, parallel);
}

void Session::Impl::conv(const Layer &l, const Prepared &p) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  const int64_t images = in.shape[0] * reps;
  const ConvLayouts layouts{nhwc[size_t(l.inputs[0])] != 0,
                            nhwc[size_t(l.output)] != 0};
  if (!l.residual) {
    p.kernel->run(ptr<uint8_t>(in), images, ptr<uint8_t>(out), parallel,
                  layouts);
    return;
  }
  // The conv saturates to its own type first, then the reference qadd
  // (the order of the reference kernels: qconv2d, then qadd).
  const int64_t n = out.numel() * reps;
  if (int64_t(convOut.size()) < n)
    convOut.resize(size_t(n));
  p.kernel->run(ptr<uint8_t>(in), images, convOut.data(), parallel, layouts);
  const TensorDesc &res = m.tensors[size_t(l.inputs[1])];
  // convOut holds n elements of convDType (int8 ones packed at its start),
  // in the output's order, which planLayouts gave the residual too. The add
  // cannot refuse: makeKernel checked its types and shift.
  integerAdd(convOut.data(), bitsOf(l.convDType), ptr<uint8_t>(res),
             bitsOf(res.dtype), n, l.addConvMultiplier, l.addResidualMultiplier,
             l.addShift, l.addRelu, bitsOf(out.dtype), ptr<uint8_t>(out),
             parallel);
}

void Session::Impl::linear(const Layer &l, const Prepared &p) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  // Rows of K inputs are the 1x1 "images" of ConvShape::linear; [rows, M]
  // is their [batch, O, 1, 1] output.
  const int64_t rows = in.numel() * reps / in.shape.back();
  p.kernel->run(ptr<uint8_t>(in), rows,
                ptr<uint8_t>(m.tensors[size_t(l.output)]), parallel);
}

void Session::Impl::add(const Layer &l) {
  const TensorDesc &a = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &b = m.tensors[size_t(l.inputs[1])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  // integerAdd is the reference qadd's arithmetic, vectorized; it refuses
  // (writing nothing) only what the reference kernel must then report.
  if (!elementwiseAdd(l) ||
      !integerAdd(ptr<uint8_t>(a), bitsOf(a.dtype), ptr<uint8_t>(b),
                  bitsOf(b.dtype), out.numel() * reps, l.multiplier[0],
                  l.multiplier[1], l.shift[0], l.relu, bitsOf(out.dtype),
                  ptr<uint8_t>(out), parallel))
    reference(l, nullptr);
}

void Session::Impl::reference(const Layer &l, const Prepared *p) {
  for (int64_t rep = 0; rep < reps; ++rep)
    store(l.output, rep, referenceSlice(l, p, rep));
}

eval::Tensor Session::Impl::referenceSlice(const Layer &l, const Prepared *p,
                                           int64_t rep) {
  using namespace eval;
  auto in = [&](size_t i) { return load(l.inputs[i], rep); };
  const TensorDesc &od = m.tensors[size_t(l.output)];
  const DType outType = od.dtype;
  auto rq = [&](bool relu, DType out) {
    Requantization r;
    r.multiplier = l.multiplier;
    r.shift = l.shift;
    r.relu = relu;
    r.out = out;
    return r;
  };
  auto pair = [](const std::vector<int64_t> &v) { return Pair{v[0], v[1]}; };
  auto quad = [](const std::vector<int64_t> &v) {
    return Quad{v[0], v[1], v[2], v[3]};
  };
  Tensor r;
  switch (l.kind) {
  case LayerKind::Quantize:
    r = eval::quantize(in(0), l.scale[0], outType);
    break;
  case LayerKind::Dequantize:
    r = dequantize(in(0), l.scale, l.hasAxis ? l.axis : -1);
    break;
  case LayerKind::Conv: {
    const DType convType = l.residual ? l.convDType : outType;
    r = qconv2d(in(0), p->weight, l.bias >= 0 ? &p->biasTensor : nullptr,
                pair(l.stride), quad(l.padding), pair(l.dilation), l.groups,
                rq(l.relu, convType));
    if (l.residual)
      r = qadd(r, in(1), l.addConvMultiplier, l.addResidualMultiplier,
               l.addShift, l.addRelu, outType);
    break;
  }
  case LayerKind::Linear:
    r = qlinear(in(0), p->weight, l.bias >= 0 ? &p->biasTensor : nullptr,
                rq(l.relu, outType));
    break;
  case LayerKind::Add:
    r = qadd(in(0), in(1), l.multiplier[0], l.multiplier[1], l.shift[0], l.relu,
             outType);
    break;
  case LayerKind::Mul:
    r = qmul(in(0), in(1), l.multiplier[0], l.shift[0], outType);
    break;
  case LayerKind::MatMul:
    r = qmatmul(in(0), in(1), l.multiplier[0], l.shift[0], outType);
    break;
  case LayerKind::MsDeformAttn:
    r = qmsDeformAttn(
        in(0), in(1), in(2), l.size,
        std::vector<int32_t>(l.multiplier.begin() + 1, l.multiplier.end()),
        std::vector<int32_t>(l.shift.begin() + 1, l.shift.end()),
        l.multiplier[0], l.shift[0], outType);
    break;
  case LayerKind::LayerNorm:
    r = qlayerNorm(in(0), p->biasTensor, l.normEps, l.multiplier, l.shift,
                   outType);
    break;
  case LayerKind::MaxPool:
    r = maxPool2d(in(0), pair(l.kernel), pair(l.stride), quad(l.padding));
    break;
  case LayerKind::AvgPool:
    r = qavgPool2d(in(0), pair(l.kernel), pair(l.stride), quad(l.padding),
                   l.multiplier[0], l.shift[0], outType);
    break;
  case LayerKind::GlobalAvgPool:
    r = qglobalAvgPool(in(0), l.multiplier[0], l.shift[0], outType);
    break;
  case LayerKind::Concat: {
    std::vector<Tensor> ts;
    for (size_t i = 0; i < l.inputs.size(); ++i)
      ts.push_back(in(i));
    std::vector<const Tensor *> ptrs;
    for (const Tensor &t : ts)
      ptrs.push_back(&t);
    r = l.multiplier.empty()
            ? concat(ptrs, l.axis)
            : qconcat(ptrs, l.axis, l.multiplier, l.shift, outType);
    break;
  }
  case LayerKind::Resize:
    r = qresize(in(0),
                l.resizeMode == 1 ? ResizeMode::Bilinear : ResizeMode::Nearest,
                l.size[0], l.size[1], l.alignCorners,
                l.multiplier.empty() ? 0 : l.multiplier[0],
                l.shift.empty() ? 0 : l.shift[0], outType);
    break;
  case LayerKind::Requantize:
    r = requantize(in(0), rq(l.relu, outType));
    break;
  case LayerKind::Lut:
    r = qlut(in(0), l.table, outType);
    break;
  case LayerKind::Reshape:
    r = reshape(in(0), od.shape);
    break;
  case LayerKind::Transpose:
    r = transpose(in(0), l.perm);
    break;
  case LayerKind::Softmax:
    r = softmax(in(0), l.axis);
    break;
  }
  return r;
}

void Session::Impl::execute() {
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i];
    const Prepared &p = prepared[i];
    const Clock::time_point start =
        profile ? Clock::now() : Clock::time_point();
    switch (l.kind) {
    case LayerKind::Quantize:
      quantize(l);
      break;
    case LayerKind::Conv:
      p.kernel ? conv(l, p) : reference(l, &p);
      break;
    case LayerKind::Linear:
      p.kernel ? linear(l, p) : reference(l, &p);
      break;
    case LayerKind::Add:
      add(l);
      break;
    case LayerKind::Reshape: {
      // A view when the planner shared the bytes; a copy otherwise.
      const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
      const TensorDesc &out = m.tensors[size_t(l.output)];
      if (in.arenaOffset < 0)
        reference(l, nullptr);
      else if (in.arenaOffset != out.arenaOffset)
        std::memmove(ptr<uint8_t>(out), ptr<uint8_t>(in),
                     size_t(out.bytes() * reps));
      break;
    }
    default:
      reference(l, &p);
    }
    if (profile)
      layerSeconds[i] +=
          std::chrono::duration<double>(Clock::now() - start).count();
  }
}

bool Session::run(const std::vector<eval::Tensor> &given,
                  std::vector<eval::Tensor> &outputs, std::string &error) {
  Impl &im = *impl;
  const hbm::Model &m = im.m;
  if (given.size() != m.inputs.size()) {
    error = "the model has " + std::to_string(m.inputs.size()) +
            " input(s), got " + std::to_string(given.size());
    return false;
  }
  int64_t repeats = -1;
  for (size_t i = 0; i < given.size(); ++i) {
    const TensorDesc &d = m.tensors[size_t(m.inputs[i])];
    const eval::Tensor &t = given[i];
    bool ok = t.dtype == eval::DType::F32 && t.shape.size() == d.shape.size() &&
              !t.shape.empty() && t.shape[0] % d.shape[0] == 0 &&
              int64_t(t.f.size()) == t.numel();
    for (size_t k = 1; ok && k < d.shape.size(); ++k)
      ok = t.shape[k] == d.shape[k];
    const int64_t r = ok ? t.shape[0] / d.shape[0] : 0;
    if (!ok || r < 1 || (repeats >= 0 && r != repeats)) {
      std::string want;
      for (int64_t s : d.shape)
        want += (want.empty() ? "" : "x") + std::to_string(s);
      error = "input #" + std::to_string(i) + " must be f32 shaped like " +
              want +
              " (or a multiple of it along dimension 0, the same for every "
              "input)";
      return false;
    }
    repeats = r;
  }
  std::vector<const float *> pointers;
  for (const eval::Tensor &t : given)
    pointers.push_back(t.f.data());
  outputs.clear();
  if (im.profile)
    ++im.profiledRuns;
  const int64_t streams = std::min<int64_t>(im.pool->size(), repeats);
  im.lastRunStreams = int(std::max<int64_t>(streams, 1));
  if (streams >= 2)
    im.runStreams(pointers, repeats, streams, outputs);
  else
    im.runStacked(pointers, repeats, outputs);
  return true;
}

/// `part` appended to `acc` along dimension 0.
static void appendBatch(eval::Tensor &acc, const eval::Tensor &part) {
  acc.shape[0] += part.shape[0];
  acc.f.insert(acc.f.end(), part.f.begin(), part.f.end());
  acc.i.insert(acc.i.end(), part.i.begin(), part.i.end());
}

void Session::Impl::runStacked(const std::vector<const float *> &given,
                               int64_t repeats,
                               std::vector<eval::Tensor> &outputs) {
  // Stack as many model batches per pass as fit in kMaxArena (at least one).
  constexpr int64_t kMaxArena = int64_t(256) << 20;
  const int64_t perPass = std::clamp<int64_t>(
      kMaxArena / std::max<int64_t>(arenaNeeded, 1), 1, repeats);
  const size_t want = size_t(perPass * arenaNeeded) + 64;
  if (arenaStorage.size() < want) {
    arenaStorage.assign(want, 0);
    const uintptr_t base = reinterpret_cast<uintptr_t>(arenaStorage.data());
    arena = arenaStorage.data() + ((64 - base % 64) % 64);
  }
  inputs.assign(m.tensors.size(), nullptr);
  for (int64_t first = 0; first < repeats; first += perPass) {
    reps = std::min(perPass, repeats - first);
    for (size_t i = 0; i < given.size(); ++i) {
      const TensorDesc &d = m.tensors[size_t(m.inputs[i])];
      inputs[size_t(m.inputs[i])] = given[i] + first * d.numel();
    }
    execute();
    for (size_t o = 0; o < m.outputs.size(); ++o) {
      eval::Tensor t = load(m.outputs[o], 0, reps);
      if (outputs.size() <= o)
        outputs.push_back(std::move(t));
      else
        appendBatch(outputs[o], t);
    }
  }
}

void Session::Impl::runStreams(const std::vector<const float *> &given,
                               int64_t repeats, int64_t count,
                               std::vector<eval::Tensor> &outputs) {
  Options one;
  one.threads = 1;
  one.isa = isa;
  one.profile = profile;
  while (int64_t(streams.size()) < count)
    streams.push_back(Session::create(m, one));
  std::vector<std::vector<eval::Tensor>> parts(static_cast<size_t>(count));
  parallel(count, [&](int64_t s) {
    const int64_t begin = repeats * s / count, end = repeats * (s + 1) / count;
    std::vector<const float *> slice(given.size());
    for (size_t i = 0; i < given.size(); ++i)
      slice[i] = given[i] + begin * m.tensors[size_t(m.inputs[i])].numel();
    Impl &stream = *streams[size_t(s)]->impl;
    if (profile)
      std::fill(stream.layerSeconds.begin(), stream.layerSeconds.end(), 0.0);
    stream.runStacked(slice, end - begin, parts[size_t(s)]);
  });
  outputs = std::move(parts[0]);
  for (int64_t s = 1; s < count; ++s)
    for (size_t o = 0; o < outputs.size(); ++o)
      appendBatch(outputs[o], parts[size_t(s)][o]);
  // The streams ran side by side: a layer's wall time is the streams'
  // average.
  if (profile)
    for (int64_t s = 0; s < count; ++s)
      for (size_t l = 0; l < layerSeconds.size(); ++l)
        layerSeconds[l] += streams[size_t(s)]->impl->layerSeconds[l] / count;
}

} // namespace hat::runtime
