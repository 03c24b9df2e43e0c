//===- Runtime.cpp - Executes an HBM on the CPU, bit-exactly --------------===//
//
// Fast paths compute the same integers as the reference kernels by
// construction: the dot products are exact in int32 (the K limits below),
// the bias is added and the sum clamped to int32 in int64, and the epilogue
// is hat::quant::applyRequant followed by the same ReLU / saturation order.
// A fused residual epilogue is the reference qadd applied to the conv's
// saturated output. Everything else goes through the reference kernels.
//
//===----------------------------------------------------------------------===//

#include "hat/Runtime/Runtime.h"

#include "Gemm.h"
#include "ThreadPool.h"

#include "hat/Eval/Kernels.h"
#include "hat/Quant/FixedPoint.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace hat::runtime {

using hbm::Layer;
using hbm::LayerKind;
using hbm::TensorDesc;

namespace {

/// Largest K whose int32 dot product cannot overflow: |x * w| <= 2^14 for
/// int8 x int8, 2^22 for int16 x int8.
constexpr int64_t kMaxKInt8 = (int64_t(1) << 17) - 1;
constexpr int64_t kMaxKInt16 = (int64_t(1) << 9) - 1;

int64_t clampAcc(int64_t acc) {
  constexpr int64_t lo = std::numeric_limits<int32_t>::min();
  constexpr int64_t hi = std::numeric_limits<int32_t>::max();
  return acc < lo ? lo : (acc > hi ? hi : acc);
}

int bitsOf(eval::DType d) { return d == eval::DType::I16 ? 16 : 8; }

/// A conv or linear layer ready for the fast path.
struct Prepared {
  bool fast = false;
  int64_t k = 0, k2 = 0, blocks = 0, og = 0;
  std::vector<int16_t> w;    // o16k2, widened
  std::vector<int64_t> bias; // per output channel (0 without bias)
  eval::Tensor weight;       // logical, for the reference path
  eval::Tensor biasTensor;
};

struct Scratch {
  std::vector<int16_t> col;
  std::vector<int32_t> acc;
};

} // namespace

struct Session::Impl {
  hbm::Model m;
  Isa isa = Isa::Scalar;
  GemmFn gemm = nullptr;
  std::unique_ptr<ThreadPool> pool;
  std::vector<uint8_t> arenaStorage;
  uint8_t *arena = nullptr;
  std::vector<Prepared> prepared;
  std::vector<Scratch> scratch;
  std::vector<const eval::Tensor *> inputs; // by tensor index, model inputs

  void prepare();
  void execute();

  template <typename T> T *ptr(const TensorDesc &t) {
    return reinterpret_cast<T *>(arena + t.arenaOffset);
  }
  eval::Tensor load(int32_t index);
  void store(int32_t index, const eval::Tensor &t);

  void quantize(const Layer &l);
  void conv(const Layer &l, const Prepared &p);
  void linear(const Layer &l, const Prepared &p);
  void add(const Layer &l);
  void reference(const Layer &l, const Prepared *p);

  /// Runs fill/epilogue over pixel tiles: `fill(pixel, row)` writes one
  /// im2col row of k values, `emit(o, pixel, acc)` consumes one exact dot
  /// product. `images` x `groups` x tiles become the parallel tasks.
  template <typename Fill, typename Emit>
  void gemmTiles(const Prepared &p, int64_t images, int64_t groups,
                 int64_t pixels, const Fill &fill, const Emit &emit);
};

Session::Session() : impl(std::make_unique<Impl>()) {}
Session::~Session() = default;
const hbm::Model &Session::model() const { return impl->m; }
Isa Session::isa() const { return impl->isa; }
int Session::threads() const { return impl->pool->size(); }

std::unique_ptr<Session> Session::create(hbm::Model model,
                                         const Options &options) {
  std::unique_ptr<Session> s(new Session());
  Impl &im = *s->impl;
  im.m = std::move(model);
  const Isa best = detectIsa();
  im.isa = options.isa == Isa::Auto ? best : options.isa;
  // Never run an instruction set the CPU lacks, whatever was asked.
  if (int(im.isa) > int(best))
    im.isa = best;
  im.gemm = gemmFor(im.isa);
  int threads = options.threads;
  if (threads <= 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  im.pool = std::make_unique<ThreadPool>(threads);
  im.scratch.resize(size_t(threads));
  // Only the bytes layers touch (a declared arena larger than the plan
  // needs costs nothing).
  int64_t needed = 0;
  for (const hbm::Layer &l : im.m.layers) {
    const TensorDesc &t = im.m.tensors[size_t(l.output)];
    needed = std::max(needed, t.arenaOffset + t.bytes());
  }
  im.arenaStorage.assign(size_t(needed) + 64, 0);
  uintptr_t base = reinterpret_cast<uintptr_t>(im.arenaStorage.data());
  im.arena = im.arenaStorage.data() + ((64 - base % 64) % 64);
  im.prepare();
  return s;
}

void Session::Impl::prepare() {
  prepared.resize(m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i];
    if (l.kind != LayerKind::Conv && l.kind != LayerKind::Linear)
      continue;
    Prepared &p = prepared[i];
    const hbm::Constant &wc = m.constants[size_t(l.weight)];
    const int64_t o = wc.shape[0], groups = wc.groups;
    p.k = eval::numelOf(wc.shape) / o;
    p.k2 = (p.k + 1) / 2;
    p.og = o / groups;
    p.blocks = (p.og + 15) / 16;
    // Logical row-major weights from either layout.
    std::vector<int8_t> logical(size_t(o * p.k));
    if (wc.layout == "o16k2") {
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t oo = 0; oo < p.og; ++oo)
          for (int64_t kk = 0; kk < p.k; ++kk)
            logical[size_t((g * p.og + oo) * p.k + kk)] = int8_t(wc.data[size_t(
                (((g * p.blocks + oo / 16) * p.k2 + kk / 2) * 16 + oo % 16) *
                    2 +
                kk % 2)]);
    } else {
      for (size_t e = 0; e < logical.size(); ++e)
        logical[e] = int8_t(wc.data[e]);
    }
    const std::vector<int8_t> packed =
        hbm::packWeightsO16K2(logical, o, p.k, groups);
    p.w.assign(packed.begin(), packed.end());
    p.bias.assign(size_t(o), 0);
    p.biasTensor = eval::Tensor::ints(eval::DType::I32, {o});
    if (l.bias >= 0) {
      const hbm::Constant &bc = m.constants[size_t(l.bias)];
      for (int64_t c = 0; c < o; ++c) {
        int32_t v;
        std::memcpy(&v, bc.data.data() + 4 * c, 4);
        p.bias[size_t(c)] = v;
        p.biasTensor.i[size_t(c)] = v;
      }
    }
    p.weight = eval::Tensor::ints(eval::DType::I8, wc.shape);
    for (size_t e = 0; e < logical.size(); ++e)
      p.weight.i[e] = logical[e];
    const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
    p.fast = (in.dtype == eval::DType::I8 && p.k <= kMaxKInt8) ||
             (in.dtype == eval::DType::I16 && p.k <= kMaxKInt16);
  }
}

eval::Tensor Session::Impl::load(int32_t index) {
  const TensorDesc &d = m.tensors[size_t(index)];
  if (d.arenaOffset < 0)
    return *inputs[size_t(index)];
  eval::Tensor t;
  t.dtype = d.dtype;
  t.shape = d.shape;
  const int64_t n = d.numel();
  switch (d.dtype) {
  case eval::DType::F32:
    t.f.assign(ptr<float>(d), ptr<float>(d) + n);
    break;
  case eval::DType::I8:
    t.i.assign(ptr<int8_t>(d), ptr<int8_t>(d) + n);
    break;
  case eval::DType::I16:
    t.i.assign(ptr<int16_t>(d), ptr<int16_t>(d) + n);
    break;
  case eval::DType::I32:
    t.i.assign(ptr<int32_t>(d), ptr<int32_t>(d) + n);
    break;
  }
  return t;
}

void Session::Impl::store(int32_t index, const eval::Tensor &t) {
  const TensorDesc &d = m.tensors[size_t(index)];
  const int64_t n = d.numel();
  switch (d.dtype) {
  case eval::DType::F32:
    std::copy(t.f.begin(), t.f.begin() + n, ptr<float>(d));
    break;
  case eval::DType::I8:
    std::copy(t.i.begin(), t.i.begin() + n, ptr<int8_t>(d));
    break;
  case eval::DType::I16:
    std::copy(t.i.begin(), t.i.begin() + n, ptr<int16_t>(d));
    break;
  case eval::DType::I32:
    std::copy(t.i.begin(), t.i.begin() + n, ptr<int32_t>(d));
    break;
  }
}

void Session::Impl::quantize(const Layer &l) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  const float *x = in.arenaOffset < 0 ? inputs[size_t(l.inputs[0])]->f.data()
                                      : ptr<float>(in);
  const int bits = bitsOf(out.dtype);
  const int64_t n = out.numel();
  if (bits == 8) {
    int8_t *y = ptr<int8_t>(out);
    for (int64_t e = 0; e < n; ++e)
      y[e] = int8_t(quant::quantizeValue(x[e], l.scale[0], 8));
  } else {
    int16_t *y = ptr<int16_t>(out);
    for (int64_t e = 0; e < n; ++e)
      y[e] = int16_t(quant::quantizeValue(x[e], l.scale[0], 16));
  }
}

template <typename Fill, typename Emit>
void Session::Impl::gemmTiles(const Prepared &p, int64_t images, int64_t groups,
                              int64_t pixels, const Fill &fill,
                              const Emit &emit) {
  const int64_t ld = 2 * p.k2;
  // ~128 KiB of im2col per tile keeps it in L2 while every block reuses it.
  int64_t tile = (int64_t(128) << 10) / (ld * 2);
  tile = std::clamp<int64_t>(tile / kPixelStep * kPixelStep, kPixelStep, 256);
  tile = std::min(tile, (pixels + kPixelStep - 1) / kPixelStep * kPixelStep);
  const int64_t chunks = (pixels + tile - 1) / tile;
  pool->parallelFor(images * groups * chunks, [&](int64_t task, int worker) {
    const int64_t chunk = task % chunks, g = (task / chunks) % groups,
                  n = task / (chunks * groups);
    const int64_t p0 = chunk * tile, np = std::min(tile, pixels - p0);
    const int64_t npad = (np + kPixelStep - 1) / kPixelStep * kPixelStep;
    Scratch &s = scratch[size_t(worker)];
    if (int64_t(s.col.size()) < tile * ld)
      s.col.resize(size_t(tile * ld));
    if (int64_t(s.acc.size()) < tile * 16)
      s.acc.resize(size_t(tile * 16));
    int16_t *col = s.col.data();
    for (int64_t pi = 0; pi < np; ++pi) {
      int16_t *row = col + pi * ld;
      fill(n, g, p0 + pi, row);
      if (p.k & 1)
        row[p.k] = 0;
    }
    std::memset(col + np * ld, 0, size_t((npad - np) * ld) * sizeof(int16_t));
    for (int64_t ob = 0; ob < p.blocks; ++ob) {
      gemm(p.w.data() + (g * p.blocks + ob) * p.k2 * 32, col, p.k2, npad,
           s.acc.data());
      const int64_t oEnd = std::min<int64_t>(16, p.og - ob * 16);
      for (int64_t o = 0; o < oEnd; ++o)
        emit(n, g * p.og + ob * 16 + o, p0, np, s.acc.data() + o);
    }
  });
}

void Session::Impl::conv(const Layer &l, const Prepared &p) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  const int64_t C = in.shape[1], H = in.shape[2], W = in.shape[3];
  const int64_t O = out.shape[1], OH = out.shape[2], OW = out.shape[3];
  const int64_t groups = l.groups, cg = C / groups;
  const int64_t KH = l.kernel[0], KW = l.kernel[1];
  const int64_t sh = l.stride[0], sw = l.stride[1], dh = l.dilation[0],
                dw = l.dilation[1], pt = l.padding[0], pl = l.padding[1];
  const int64_t P = OH * OW;
  const bool in16 = in.dtype == eval::DType::I16;
  const int8_t *x8 = in16 ? nullptr : ptr<int8_t>(in);
  const int16_t *x16 = in16 ? ptr<int16_t>(in) : nullptr;
  // One im2col row; windows fully inside the image (most of them) skip the
  // bounds checks.
  auto fillTyped = [&](const auto *x, int64_t n, int64_t g, int64_t pix,
                       int16_t *row) {
    const int64_t oy = pix / OW, ox = pix % OW;
    const int64_t iy0 = oy * sh - pt, ix0 = ox * sw - pl;
    const auto *base = x + (n * C + g * cg) * H * W;
    int64_t k = 0;
    if (iy0 >= 0 && iy0 + (KH - 1) * dh < H && ix0 >= 0 &&
        ix0 + (KW - 1) * dw < W) {
      for (int64_t c = 0; c < cg; ++c) {
        const auto *win = base + c * H * W + iy0 * W + ix0;
        for (int64_t ky = 0; ky < KH; ++ky, win += dh * W)
          for (int64_t kx = 0; kx < KW; ++kx)
            row[k++] = int16_t(win[kx * dw]);
      }
      return;
    }
    for (int64_t c = 0; c < cg; ++c) {
      const auto *plane = base + c * H * W;
      for (int64_t ky = 0; ky < KH; ++ky) {
        const int64_t iy = iy0 + ky * dh;
        if (iy < 0 || iy >= H) {
          for (int64_t kx = 0; kx < KW; ++kx)
            row[k++] = 0;
          continue;
        }
        for (int64_t kx = 0; kx < KW; ++kx) {
          const int64_t ix = ix0 + kx * dw;
          row[k++] = (ix < 0 || ix >= W) ? 0 : int16_t(plane[iy * W + ix]);
        }
      }
    }
  };
  auto fill = [&](int64_t n, int64_t g, int64_t pix, int16_t *row) {
    if (in16)
      fillTyped(x16, n, g, pix, row);
    else
      fillTyped(x8, n, g, pix, row);
  };
  const bool out16 = out.dtype == eval::DType::I16;
  const int convBits = bitsOf(l.residual ? l.convDType : out.dtype);
  const int outBits = bitsOf(out.dtype);
  const TensorDesc *res =
      l.residual ? &m.tensors[size_t(l.inputs[1])] : nullptr;
  const bool res16 = res && res->dtype == eval::DType::I16;
  const int64_t addRound =
      l.addShift > 0 ? (int64_t(1) << (l.addShift - 1)) : 0;
  auto emit = [&](int64_t n, int64_t oc, int64_t p0, int64_t np,
                  const int32_t *acc) {
    const size_t c = l.multiplier.size() == 1 ? 0 : size_t(oc);
    const int32_t mul = l.multiplier[c], sft = l.shift[c];
    const int64_t b = p.bias[size_t(oc)];
    const int64_t base = (n * O + oc) * P + p0;
    for (int64_t pi = 0; pi < np; ++pi) {
      int64_t v = quant::applyRequant(clampAcc(acc[pi * 16] + b), mul, sft);
      if (l.relu && v < 0)
        v = 0;
      v = quant::saturate(v, convBits);
      if (res) {
        const int64_t r = res16 ? ptr<int16_t>(*res)[base + pi]
                                : ptr<int8_t>(*res)[base + pi];
        v = (v * l.addConvMultiplier + r * l.addResidualMultiplier +
             addRound) >>
            l.addShift;
        if (l.addRelu && v < 0)
          v = 0;
        v = quant::saturate(v, outBits);
      }
      if (out16)
        ptr<int16_t>(out)[base + pi] = int16_t(v);
      else
        ptr<int8_t>(out)[base + pi] = int8_t(v);
    }
  };
  gemmTiles(p, in.shape[0], groups, P, fill, emit);
}

void Session::Impl::linear(const Layer &l, const Prepared &p) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  const int64_t K = p.k, M = out.shape.back();
  const int64_t rows = in.numel() / K;
  const bool in16 = in.dtype == eval::DType::I16;
  auto fill = [&](int64_t, int64_t, int64_t r, int16_t *row) {
    if (in16)
      std::copy_n(ptr<int16_t>(in) + r * K, K, row);
    else
      std::copy_n(ptr<int8_t>(in) + r * K, K, row);
  };
  const bool out16 = out.dtype == eval::DType::I16;
  const int outBits = bitsOf(out.dtype);
  auto emit = [&](int64_t, int64_t j, int64_t r0, int64_t nr,
                  const int32_t *acc) {
    const size_t c = l.multiplier.size() == 1 ? 0 : size_t(j);
    for (int64_t ri = 0; ri < nr; ++ri) {
      int64_t v =
          quant::applyRequant(clampAcc(acc[ri * 16] + p.bias[size_t(j)]),
                              l.multiplier[c], l.shift[c]);
      if (l.relu && v < 0)
        v = 0;
      v = quant::saturate(v, outBits);
      if (out16)
        ptr<int16_t>(out)[(r0 + ri) * M + j] = int16_t(v);
      else
        ptr<int8_t>(out)[(r0 + ri) * M + j] = int8_t(v);
    }
  };
  gemmTiles(p, 1, 1, rows, fill, emit);
}

void Session::Impl::add(const Layer &l) {
  const TensorDesc &a = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &b = m.tensors[size_t(l.inputs[1])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  if (a.shape != out.shape || b.shape != out.shape)
    return reference(l, nullptr);
  const int64_t n = out.numel();
  const int64_t round = l.shift[0] > 0 ? (int64_t(1) << (l.shift[0] - 1)) : 0;
  const int bits = bitsOf(out.dtype);
  auto get = [&](const TensorDesc &t, int64_t e) -> int64_t {
    return t.dtype == eval::DType::I16 ? ptr<int16_t>(t)[e] : ptr<int8_t>(t)[e];
  };
  for (int64_t e = 0; e < n; ++e) {
    int64_t v =
        (get(a, e) * l.multiplier[0] + get(b, e) * l.multiplier[1] + round) >>
        l.shift[0];
    if (l.relu && v < 0)
      v = 0;
    v = quant::saturate(v, bits);
    if (bits == 16)
      ptr<int16_t>(out)[e] = int16_t(v);
    else
      ptr<int8_t>(out)[e] = int8_t(v);
  }
}

void Session::Impl::reference(const Layer &l, const Prepared *p) {
  using namespace eval;
  auto in = [&](size_t i) { return load(l.inputs[i]); };
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
  store(l.output, r);
}

void Session::Impl::execute() {
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &l = m.layers[i];
    const Prepared &p = prepared[i];
    switch (l.kind) {
    case LayerKind::Quantize:
      quantize(l);
      break;
    case LayerKind::Conv:
      p.fast ? conv(l, p) : reference(l, &p);
      break;
    case LayerKind::Linear:
      p.fast ? linear(l, p) : reference(l, &p);
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
        std::memmove(arena + out.arenaOffset, arena + in.arenaOffset,
                     size_t(out.bytes()));
      break;
    }
    default:
      reference(l, &p);
    }
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
  im.inputs.assign(m.tensors.size(), nullptr);
  std::vector<eval::Tensor> slices(given.size());
  outputs.clear();
  for (int64_t rep = 0; rep < repeats; ++rep) {
    for (size_t i = 0; i < given.size(); ++i) {
      const TensorDesc &d = m.tensors[size_t(m.inputs[i])];
      if (repeats == 1) {
        im.inputs[size_t(m.inputs[i])] = &given[i];
        continue;
      }
      const int64_t n = d.numel();
      slices[i] = eval::Tensor::f32(d.shape);
      std::copy_n(given[i].f.begin() + rep * n, n, slices[i].f.begin());
      im.inputs[size_t(m.inputs[i])] = &slices[i];
    }
    im.execute();
    for (size_t o = 0; o < m.outputs.size(); ++o) {
      eval::Tensor t = im.load(m.outputs[o]);
      if (rep == 0) {
        outputs.push_back(std::move(t));
        continue;
      }
      eval::Tensor &acc = outputs[o];
      acc.shape[0] += t.shape[0];
      acc.f.insert(acc.f.end(), t.f.begin(), t.f.end());
      acc.i.insert(acc.i.end(), t.i.begin(), t.i.end());
    }
  }
  return true;
}

} // namespace hat::runtime
