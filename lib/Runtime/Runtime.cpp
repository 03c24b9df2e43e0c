//===- Runtime.cpp - Executes an HBM on the CPU, bit-exactly --------------===//
//
// Fast paths compute the same integers as the reference kernels by
// construction: the dot products are exact in int32 (the K limits below),
// the bias is added and the sum clamped to int32 in int64, and the epilogue
// is hat::quant::applyRequant followed by the same ReLU / saturation order.
// A fused residual epilogue is the reference qadd applied to the conv's
// saturated output. Everything else goes through the reference kernels.
//
// Batches: an input stacking R model batches runs as one pass over the
// layers with every arena offset scaled by R, so each tensor holds its R
// slices back to back (a disjoint plan stays disjoint). conv / linear / add /
// quantize then see one tensor with R times the images; conv im2col tiles
// span image boundaries, so the weights are reused across the whole batch.
// Reference layers run once per slice.
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
  /// o16k2, widened; for convs the K order is (ky, kx, c), matching the
  /// NHWC im2col rows (the sums are exact in int32, so the order does not
  /// change them).
  std::vector<int16_t> w;
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
  Gemm2Fn gemm2 = nullptr;
  std::unique_ptr<ThreadPool> pool;
  std::vector<uint8_t> arenaStorage;
  uint8_t *arena = nullptr;
  int64_t arenaNeeded = 0; // bytes of one model batch
  std::vector<Prepared> prepared;
  std::vector<Scratch> scratch;
  std::vector<int16_t> nhwc; // zero-padded NHWC copy of a conv input
  /// By tensor index, model inputs: the first of `reps` stacked slices.
  std::vector<const float *> inputs;
  /// By tensor index, the elements of constant activations (one slice,
  /// shared by every stacked model batch).
  std::vector<std::vector<int32_t>> constants;
  int64_t reps = 1; // model batches stacked in this pass

  void prepare();
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
  /// The reference kernel, once per stacked slice.
  void reference(const Layer &l, const Prepared *p);
  eval::Tensor referenceSlice(const Layer &l, const Prepared *p, int64_t rep);

  /// Runs fill/epilogue over pixel tiles: `fill(image, group, pixel, row)`
  /// writes one im2col row of k values, `emit(image, o, pixel, count, acc)`
  /// consumes `count` exact dot products (stride 16). Tiles run over the
  /// pixels of all `images` back to back (crossing image boundaries);
  /// `groups` x tiles become the parallel tasks.
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
  im.gemm2 = gemm2For(im.isa);
  int threads = options.threads;
  if (threads <= 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  // More workers than kMaxThreads only exhaust the process's thread limit
  // (std::system_error); tools refuse larger requests, the library clamps.
  threads = std::min(threads, kMaxThreads);
  im.pool = std::make_unique<ThreadPool>(threads);
  im.scratch.resize(size_t(threads));
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
    std::vector<int8_t> order = logical;
    if (l.kind == LayerKind::Conv) {
      // (c, ky, kx) -> (ky, kx, c) within each output channel.
      const int64_t cg = wc.shape[1], taps = p.k / cg;
      for (int64_t oo = 0; oo < o; ++oo)
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t t = 0; t < taps; ++t)
            order[size_t(oo * p.k + t * cg + c)] =
                logical[size_t(oo * p.k + c * taps + t)];
    }
    const std::vector<int8_t> packed =
        hbm::packWeightsO16K2(order, o, p.k, groups);
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
  const int bits = bitsOf(out.dtype);
  const int64_t n = out.numel() * reps;
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
  const int64_t total = images * pixels;
  if (total == 0)
    return;
  // ~128 KiB of im2col per tile keeps it in L2 while every block reuses it.
  int64_t tile = (int64_t(128) << 10) / (ld * 2);
  tile = std::clamp<int64_t>(tile / kPixelStep * kPixelStep, kPixelStep, 256);
  tile = std::min(tile, (total + kPixelStep - 1) / kPixelStep * kPixelStep);
  const int64_t chunks = (total + tile - 1) / tile;
  pool->parallelFor(groups * chunks, [&](int64_t task, int worker) {
    const int64_t chunk = task % chunks, g = task / chunks;
    const int64_t q0 = chunk * tile, nq = std::min(tile, total - q0);
    const int64_t npad = (nq + kPixelStep - 1) / kPixelStep * kPixelStep;
    Scratch &s = scratch[size_t(worker)];
    if (int64_t(s.col.size()) < tile * ld)
      s.col.resize(size_t(tile * ld));
    if (int64_t(s.acc.size()) < tile * 32)
      s.acc.resize(size_t(tile * 32));
    int16_t *col = s.col.data();
    {
      int64_t n = q0 / pixels, pix = q0 % pixels;
      for (int64_t qi = 0; qi < nq; ++qi) {
        int16_t *row = col + qi * ld;
        fill(n, g, pix, row);
        if (p.k & 1)
          row[p.k] = 0;
        if (++pix == pixels)
          pix = 0, ++n;
      }
    }
    std::memset(col + nq * ld, 0, size_t((npad - nq) * ld) * sizeof(int16_t));
    // Blocks in pairs (one im2col broadcast feeds 32 channels), then the
    // odd one.
    for (int64_t ob = 0; ob < p.blocks;) {
      const int64_t nb = ob + 1 < p.blocks ? 2 : 1;
      const int16_t *wb = p.w.data() + (g * p.blocks + ob) * p.k2 * 32;
      int32_t *acc = s.acc.data();
      if (nb == 2)
        gemm2(wb, col, p.k2, npad, acc, acc + tile * 16);
      else
        gemm(wb, col, p.k2, npad, acc);
      for (int64_t b = 0; b < nb; ++b, ++ob) {
        const int32_t *accB = acc + b * tile * 16;
        const int64_t oEnd = std::min<int64_t>(16, p.og - ob * 16);
        // One emit per channel and image run inside the tile.
        for (int64_t q = q0; q < q0 + nq;) {
          const int64_t n = q / pixels, pix = q % pixels;
          const int64_t run = std::min(pixels - pix, q0 + nq - q);
          for (int64_t o = 0; o < oEnd; ++o)
            emit(n, g * p.og + ob * 16 + o, pix, run, accB + (q - q0) * 16 + o);
          q += run;
        }
      }
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
  const int64_t images = in.shape[0] * reps;
  // Zero-padded NHWC int16 copy of the input (covering every window), so
  // that an im2col row is KH runs of KW x cg contiguous values (KH x KW runs
  // of cg when grouped or dilated) in the weights' (ky, kx, c) order.
  const int64_t Hp = std::max(pt + H, (OH - 1) * sh + (KH - 1) * dh + 1);
  const int64_t Wp = std::max(pl + W, (OW - 1) * sw + (KW - 1) * dw + 1);
  if (int64_t(nhwc.size()) < images * Hp * Wp * C)
    nhwc.resize(size_t(images * Hp * Wp * C));
  int16_t *xp = nhwc.data();
  const bool in16 = in.dtype == eval::DType::I16;
  auto transposeRow = [&](const auto *x, int64_t n, int64_t yp) {
    int16_t *dst = xp + (n * Hp + yp) * Wp * C;
    std::memset(dst, 0, size_t(Wp * C) * sizeof(int16_t));
    const int64_t y = yp - pt;
    if (y < 0 || y >= H)
      return;
    dst += pl * C;
    const auto *src = x + n * C * H * W + y * W;
    for (int64_t c = 0; c < C; ++c, src += H * W)
      for (int64_t xx = 0; xx < W; ++xx)
        dst[xx * C + c] = int16_t(src[xx]);
  };
  pool->parallelFor(images * Hp, [&](int64_t task, int) {
    if (in16)
      transposeRow(ptr<int16_t>(in), task / Hp, task % Hp);
    else
      transposeRow(ptr<int8_t>(in), task / Hp, task % Hp);
  });
  const bool rowRuns = groups == 1 && dw == 1;
  auto fill = [&](int64_t n, int64_t g, int64_t pix, int16_t *row) {
    const int64_t oy = pix / OW, ox = pix % OW;
    const int16_t *base = xp + ((n * Hp + oy * sh) * Wp + ox * sw) * C + g * cg;
    for (int64_t ky = 0; ky < KH; ++ky) {
      const int16_t *src = base + ky * dh * Wp * C;
      if (rowRuns) {
        std::memcpy(row, src, size_t(KW * C) * sizeof(int16_t));
        row += KW * C;
        continue;
      }
      for (int64_t kx = 0; kx < KW; ++kx, row += cg)
        std::memcpy(row, src + kx * dw * C, size_t(cg) * sizeof(int16_t));
    }
  };
  const bool out16 = out.dtype == eval::DType::I16;
  const int convBits = bitsOf(l.residual ? l.convDType : out.dtype);
  const int outBits = bitsOf(out.dtype);
  const TensorDesc *res =
      l.residual ? &m.tensors[size_t(l.inputs[1])] : nullptr;
  const bool res16 = res && res->dtype == eval::DType::I16;
  // addShift is validated (in [0, 62]) only for residual layers; any other
  // layer ignores it, so it must not be shifted by (UBSan found a damaged
  // HBM with addShift 108 on a plain conv).
  const int64_t addRound =
      l.residual && l.addShift > 0 ? (int64_t(1) << (l.addShift - 1)) : 0;
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
  gemmTiles(p, images, groups, P, fill, emit);
}

void Session::Impl::linear(const Layer &l, const Prepared &p) {
  const TensorDesc &in = m.tensors[size_t(l.inputs[0])];
  const TensorDesc &out = m.tensors[size_t(l.output)];
  const int64_t K = p.k, M = out.shape.back();
  const int64_t rows = in.numel() * reps / K;
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
  if (a.shape != out.shape || b.shape != out.shape || a.constant >= 0 ||
      b.constant >= 0)
    return reference(l, nullptr);
  const int64_t n = out.numel() * reps;
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
        std::memmove(ptr<uint8_t>(out), ptr<uint8_t>(in),
                     size_t(out.bytes() * reps));
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
  // Stack as many model batches per pass as fit in kMaxArena (at least one).
  constexpr int64_t kMaxArena = int64_t(256) << 20;
  const int64_t perPass = std::clamp<int64_t>(
      kMaxArena / std::max<int64_t>(im.arenaNeeded, 1), 1, repeats);
  const size_t want = size_t(perPass * im.arenaNeeded) + 64;
  if (im.arenaStorage.size() < want) {
    im.arenaStorage.assign(want, 0);
    const uintptr_t base = reinterpret_cast<uintptr_t>(im.arenaStorage.data());
    im.arena = im.arenaStorage.data() + ((64 - base % 64) % 64);
  }
  im.inputs.assign(m.tensors.size(), nullptr);
  outputs.clear();
  for (int64_t first = 0; first < repeats; first += perPass) {
    im.reps = std::min(perPass, repeats - first);
    for (size_t i = 0; i < given.size(); ++i) {
      const TensorDesc &d = m.tensors[size_t(m.inputs[i])];
      im.inputs[size_t(m.inputs[i])] = given[i].f.data() + first * d.numel();
    }
    im.execute();
    for (size_t o = 0; o < m.outputs.size(); ++o) {
      eval::Tensor t = im.load(m.outputs[o], 0, im.reps);
      if (first == 0) {
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
