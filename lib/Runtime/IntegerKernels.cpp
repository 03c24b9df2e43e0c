//===- IntegerKernels.cpp - Integer conv / linear on plain arrays ---------===//
//
// Two ways through a layer:
//  * gemm: a zero-padded NHWC int16 copy of the input, im2col tiles of
//    pixels (rows of K values in the weights' (ky, kx, c) order), the o16k2
//    micro-kernels of Gemm.h over blocks of 16 output channels, and the
//    requantizing store. int16 inputs whose K exceeds kMaxKInt16 run the
//    micro-kernels twice, on the high and the low byte of every value.
//  * depthwise (one input channel per group): a direct kernel per output
//    plane, accumulating whole output rows in int32 (int64 beyond the exact
//    int32 limits), which the compiler vectorizes along the row.
// Both produce the reference's integers: exact sums, then
// applyRequant(clamp_int32(sum + bias)), ReLU, saturation.
//
//===----------------------------------------------------------------------===//

#include "hat/Runtime/IntegerKernels.h"

#include "Gemm.h"

#include "hat/HBM/Model.h"
#include "hat/Quant/FixedPoint.h"

#include <algorithm>
#include <cstring>
#include <limits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace hat::runtime {

ConvShape ConvShape::linear(int64_t inFeatures, int64_t outFeatures) {
  ConvShape s;
  s.channels = inFeatures;
  s.height = s.width = 1;
  s.outChannels = outFeatures;
  return s;
}

namespace {

enum class Method { Gemm, GemmSplit16, Depthwise };

int64_t clampToInt32(int64_t v) {
  constexpr int64_t lo = std::numeric_limits<int32_t>::min();
  constexpr int64_t hi = std::numeric_limits<int32_t>::max();
  return v < lo ? lo : (v > hi ? hi : v);
}

int64_t roundUp(int64_t v, int64_t step) {
  return (v + step - 1) / step * step;
}

/// Per-thread buffers: a run's tasks never share one, and they keep their
/// capacity from call to call.
struct Scratch {
  std::vector<int16_t> col, colLow;
  std::vector<int32_t> acc, accLow, stored;
  std::vector<int32_t> plane;
  std::vector<int64_t> row64;
  std::vector<int32_t> row32;
};
thread_local Scratch scratch;

template <typename Acc> std::vector<Acc> &rowBuffer(Scratch &s);
template <> std::vector<int32_t> &rowBuffer<int32_t>(Scratch &s) {
  return s.row32;
}
template <> std::vector<int64_t> &rowBuffer<int64_t>(Scratch &s) {
  return s.row64;
}

void runTasks(const ParallelFor &parallel, int64_t tasks,
              const std::function<void(int64_t)> &body) {
  if (tasks <= 0)
    return;
  if (parallel && tasks > 1) {
    parallel(tasks, body);
    return;
  }
  for (int64_t t = 0; t < tasks; ++t)
    body(t);
}

bool isDepthwise(const ConvShape &s) {
  return s.groups > 1 && s.channels == s.groups;
}

/// The requantizing store of one block of 16 output channels, lane by lane
/// (padding lanes have multiplier 0).
struct BlockStore {
  int64_t bias[16], multiplier[16], round[16], shift[16];
  int64_t lo, hi;
};

/// out[p][k] = saturate(relu?(applyRequant(clamp_int32(sum + bias[k]),
/// multiplier[k], shift[k]))) for `pixels` rows of 16 sums, where the sum
/// is acc (or 256 * acc + low with the int16 split). Written as plain loops
/// over the 16 lanes so that the compiler vectorizes them (int64 lanes) in
/// the instruction-set clones below.
__attribute__((always_inline)) inline void
storeBlockBody(const int32_t *acc, const int32_t *low, int64_t pixels,
               const BlockStore &b, int32_t *out) {
  constexpr int64_t minI32 = std::numeric_limits<int32_t>::min();
  constexpr int64_t maxI32 = std::numeric_limits<int32_t>::max();
  for (int64_t p = 0; p < pixels; ++p) {
    const int32_t *a = acc + p * 16;
    const int32_t *l = low ? low + p * 16 : nullptr;
    int32_t *o = out + p * 16;
    int64_t sum[16];
    if (l)
      for (int k = 0; k < 16; ++k)
        sum[k] = int64_t(a[k]) * 256 + l[k];
    else
      for (int k = 0; k < 16; ++k)
        sum[k] = a[k];
    for (int k = 0; k < 16; ++k) {
      int64_t v = sum[k] + b.bias[k];
      v = v < minI32 ? minI32 : (v > maxI32 ? maxI32 : v);
      v = (v * b.multiplier[k] + b.round[k]) >> b.shift[k];
      o[k] = int32_t(v < b.lo ? b.lo : (v > b.hi ? b.hi : v));
    }
  }
}

using StoreBlockFn = void (*)(const int32_t *, const int32_t *, int64_t,
                              const BlockStore &, int32_t *);

void storeBlockGeneric(const int32_t *acc, const int32_t *low, int64_t pixels,
                       const BlockStore &b, int32_t *out) {
  storeBlockBody(acc, low, pixels, b, out);
}

#if defined(__x86_64__) || defined(_M_X64)
/// AVX2 has no 64-bit min/max or arithmetic shift: compares with blends,
/// and sra(v, s) = sign ^ srl(v ^ sign, s).
__attribute__((target("avx2"))) void
storeBlockAvx2(const int32_t *acc, const int32_t *low, int64_t pixels,
               const BlockStore &b, int32_t *out) {
  const __m256i min32 = _mm256_set1_epi64x(std::numeric_limits<int32_t>::min());
  const __m256i max32 = _mm256_set1_epi64x(std::numeric_limits<int32_t>::max());
  const __m256i lo = _mm256_set1_epi64x(b.lo), hi = _mm256_set1_epi64x(b.hi);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i evens = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  for (int64_t p = 0; p < pixels; ++p) {
    for (int q = 0; q < 4; ++q) {
      const int64_t at = p * 16 + q * 4;
      __m256i v =
          _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(acc + at)));
      if (low)
        v = _mm256_add_epi64(_mm256_slli_epi64(v, 8),
                             _mm256_cvtepi32_epi64(
                                 _mm_loadu_si128((const __m128i *)(low + at))));
      v = _mm256_add_epi64(
          v, _mm256_loadu_si256((const __m256i *)(b.bias + q * 4)));
      v = _mm256_blendv_epi8(v, max32, _mm256_cmpgt_epi64(v, max32));
      v = _mm256_blendv_epi8(v, min32, _mm256_cmpgt_epi64(min32, v));
      v = _mm256_add_epi64(
          _mm256_mul_epi32(
              v, _mm256_loadu_si256((const __m256i *)(b.multiplier + q * 4))),
          _mm256_loadu_si256((const __m256i *)(b.round + q * 4)));
      const __m256i sign = _mm256_cmpgt_epi64(zero, v);
      v = _mm256_xor_si256(
          _mm256_srlv_epi64(
              _mm256_xor_si256(v, sign),
              _mm256_loadu_si256((const __m256i *)(b.shift + q * 4))),
          sign);
      v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
      v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
      _mm_storeu_si128(
          (__m128i *)(out + at),
          _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, evens)));
    }
  }
}

/// The same arithmetic in int64 lanes, written out: 16 sums as two vectors
/// of 8. After the int32 clamp the sum fits the low half of each lane, so
/// the signed 32 x 32 -> 64 multiply (vpmuldq) gives the exact product.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
storeBlockAvx512(const int32_t *acc, const int32_t *low, int64_t pixels,
                 const BlockStore &b, int32_t *out) {
  const __m512i bias[2] = {_mm512_loadu_si512(b.bias),
                           _mm512_loadu_si512(b.bias + 8)};
  const __m512i mul[2] = {_mm512_loadu_si512(b.multiplier),
                          _mm512_loadu_si512(b.multiplier + 8)};
  const __m512i round[2] = {_mm512_loadu_si512(b.round),
                            _mm512_loadu_si512(b.round + 8)};
  const __m512i shift[2] = {_mm512_loadu_si512(b.shift),
                            _mm512_loadu_si512(b.shift + 8)};
  const __m512i lo = _mm512_set1_epi64(b.lo), hi = _mm512_set1_epi64(b.hi);
  const __m512i min32 = _mm512_set1_epi64(std::numeric_limits<int32_t>::min());
  const __m512i max32 = _mm512_set1_epi64(std::numeric_limits<int32_t>::max());
  for (int64_t p = 0; p < pixels; ++p) {
    for (int h = 0; h < 2; ++h) {
      __m512i v = _mm512_cvtepi32_epi64(
          _mm256_loadu_si256((const __m256i *)(acc + p * 16 + h * 8)));
      if (low)
        v = _mm512_add_epi64(_mm512_slli_epi64(v, 8),
                             _mm512_cvtepi32_epi64(_mm256_loadu_si256(
                                 (const __m256i *)(low + p * 16 + h * 8))));
      v = _mm512_add_epi64(v, bias[h]);
      v = _mm512_max_epi64(_mm512_min_epi64(v, max32), min32);
      v = _mm512_add_epi64(_mm512_mul_epi32(v, mul[h]), round[h]);
      v = _mm512_srav_epi64(v, shift[h]);
      v = _mm512_max_epi64(_mm512_min_epi64(v, hi), lo);
      _mm256_storeu_si256((__m256i *)(out + p * 16 + h * 8),
                          _mm512_cvtepi64_epi32(v));
    }
  }
}
#endif

StoreBlockFn storeBlockFor(Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512Vnni)
    return storeBlockAvx512;
  if (isa == Isa::Avx2)
    return storeBlockAvx2;
#endif
  return storeBlockGeneric;
}

} // namespace

struct IntegerConv::Impl {
  ConvShape s;
  int inBits = 8;
  Isa isa = Isa::Scalar;
  Method method = Method::Gemm;
  GemmFn gemm = nullptr;
  Gemm2Fn gemm2 = nullptr;
  StoreBlockFn storeBlock = nullptr;
  std::vector<BlockStore> blockStores; // gemm: per (group, block)
  int64_t O = 0, OH = 0, OW = 0, P = 0, cg = 0, og = 0, taps = 0, K = 0, k2 = 0,
          blocks = 0;
  /// Padded input extent covering every window (bottom/right padding and
  /// the last stride's overhang are zeros).
  int64_t Hp = 0, Wp = 0;
  std::vector<int16_t> packed;            // gemm: o16k2, K in (ky, kx, c) order
  std::vector<int32_t> direct;            // depthwise: [O][KH * KW]
  std::vector<int64_t> bias;              // per output channel
  std::vector<int32_t> multiplier, shift; // per output channel
  int outBits = 8;
  int64_t lo = 0, hi = 0; // ReLU folded into lo

  /// One output channel's store, held in locals: the int8 stores may alias
  /// anything, so members would be reloaded for every element.
  struct Channel {
    int64_t bias, multiplier, round, lo, hi;
    int shift;
    /// applyRequant(clamp_int32(sum + bias)), ReLU folded into lo.
    int64_t operator()(int64_t sum) const {
      const int64_t v =
          (clampToInt32(sum + bias) * multiplier + round) >> shift;
      return v < lo ? lo : (v > hi ? hi : v);
    }
  };
  Channel channel(int64_t oc) const {
    const int sh = shift[size_t(oc)];
    return {bias[size_t(oc)],
            multiplier[size_t(oc)],
            sh > 0 ? int64_t(1) << (sh - 1) : 0,
            lo,
            hi,
            sh};
  }

  template <typename In>
  void padNHWC(const In *x, int64_t batch, int16_t *xp,
               const ParallelFor &parallel) const;
  template <typename In, typename Out>
  void runGemm(const In *x, int64_t batch, Out *y,
               const ParallelFor &parallel) const;
  template <typename Acc, typename In, typename Out>
  void runDepthwise(const In *x, int64_t batch, Out *y,
                    const ParallelFor &parallel) const;
  template <typename In, typename Out>
  void dispatch(const In *x, int64_t batch, Out *y,
                const ParallelFor &parallel) const;
};

std::string IntegerConv::unsupported(const ConvShape &s, int inputBits,
                                     const OutputRequant &rq) {
  if (inputBits != 8 && inputBits != 16)
    return "input of " + std::to_string(inputBits) + " bits";
  if (rq.bits != 8 && rq.bits != 16)
    return "output of " + std::to_string(rq.bits) + " bits";
  if (s.channels < 1 || s.height < 1 || s.width < 1 || s.outChannels < 1 ||
      s.kernelH < 1 || s.kernelW < 1 || s.strideH < 1 || s.strideW < 1 ||
      s.dilationH < 1 || s.dilationW < 1 || s.groups < 1 || s.padTop < 0 ||
      s.padLeft < 0 || s.padBottom < 0 || s.padRight < 0)
    return "a non-positive size, stride, dilation or group count, or a "
           "negative padding";
  if (s.channels % s.groups || s.outChannels % s.groups)
    return "channels not divisible by the groups";
  if (s.outHeight() < 1 || s.outWidth() < 1)
    return "an empty output";
  const size_t n = rq.multiplier.size();
  if (n != rq.shift.size() || (n != 1 && int64_t(n) != s.outChannels))
    return "requantization vectors of " + std::to_string(n) + " and " +
           std::to_string(rq.shift.size()) + " entries for " +
           std::to_string(s.outChannels) + " channels";
  for (int32_t sh : rq.shift)
    if (sh < 0 || sh > 62)
      return "a shift of " + std::to_string(sh) + " (outside [0, 62])";
  const int64_t k = s.channels / s.groups * s.kernelH * s.kernelW;
  if (isDepthwise(s))
    return ""; // direct kernel, int64 rows where int32 is not exact
  if (inputBits == 8 && k > kMaxKInt8)
    return "K = " + std::to_string(k) + " beyond the int8 limit";
  if (inputBits == 16 && k > kMaxKInt16Split)
    return "K = " + std::to_string(k) + " beyond the int16 limit";
  return "";
}

IntegerConv::IntegerConv() : impl(std::make_unique<Impl>()) {}

std::unique_ptr<IntegerConv>
IntegerConv::create(const ConvShape &shape, int inputBits, const int8_t *weight,
                    const int32_t *bias, const OutputRequant &requant,
                    Isa isa) {
  if (!unsupported(shape, inputBits, requant).empty())
    return nullptr;
  std::unique_ptr<IntegerConv> conv(new IntegerConv());
  Impl &im = *conv->impl;
  im.s = shape;
  im.inBits = inputBits;
  const Isa best = detectIsa();
  im.isa = (isa == Isa::Auto || int(isa) > int(best)) ? best : isa;
  im.gemm = gemmFor(im.isa);
  im.gemm2 = gemm2For(im.isa);
  im.O = shape.outChannels;
  im.OH = shape.outHeight();
  im.OW = shape.outWidth();
  im.P = im.OH * im.OW;
  im.cg = shape.channels / shape.groups;
  im.og = im.O / shape.groups;
  im.taps = shape.kernelH * shape.kernelW;
  im.K = im.cg * im.taps;
  im.k2 = (im.K + 1) / 2;
  im.blocks = (im.og + 15) / 16;
  im.Hp = std::max(shape.padTop + shape.height,
                   (im.OH - 1) * shape.strideH +
                       (shape.kernelH - 1) * shape.dilationH + 1);
  im.Wp = std::max(shape.padLeft + shape.width,
                   (im.OW - 1) * shape.strideW +
                       (shape.kernelW - 1) * shape.dilationW + 1);
  if (isDepthwise(shape))
    im.method = Method::Depthwise;
  else if (inputBits == 16 && im.K > kMaxKInt16)
    im.method = Method::GemmSplit16;
  else
    im.method = Method::Gemm;

  if (im.method == Method::Depthwise) {
    im.direct.assign(weight, weight + im.O * im.taps);
  } else {
    // (c, ky, kx) -> (ky, kx, c) within each output channel, matching the
    // NHWC im2col rows (exact sums do not depend on the order).
    std::vector<int8_t> order(size_t(im.O * im.K));
    for (int64_t o = 0; o < im.O; ++o)
      for (int64_t c = 0; c < im.cg; ++c)
        for (int64_t t = 0; t < im.taps; ++t)
          order[size_t(o * im.K + t * im.cg + c)] =
              weight[o * im.K + c * im.taps + t];
    const std::vector<int8_t> packed =
        hbm::packWeightsO16K2(order, im.O, im.K, shape.groups);
    im.packed.assign(packed.begin(), packed.end());
  }
  im.bias.assign(size_t(im.O), 0);
  if (bias)
    for (int64_t o = 0; o < im.O; ++o)
      im.bias[size_t(o)] = bias[o];
  const bool perChannel = requant.multiplier.size() > 1;
  for (int64_t o = 0; o < im.O; ++o) {
    im.multiplier.push_back(requant.multiplier[perChannel ? size_t(o) : 0]);
    im.shift.push_back(requant.shift[perChannel ? size_t(o) : 0]);
  }
  im.outBits = requant.bits;
  im.lo = requant.relu ? 0 : quant::qmin(requant.bits);
  im.hi = quant::qmax(requant.bits);
  im.storeBlock = storeBlockFor(im.isa);
  if (im.method != Method::Depthwise) {
    im.blockStores.resize(size_t(shape.groups * im.blocks));
    for (int64_t g = 0; g < shape.groups; ++g)
      for (int64_t ob = 0; ob < im.blocks; ++ob) {
        BlockStore &bs = im.blockStores[size_t(g * im.blocks + ob)];
        bs.lo = im.lo;
        bs.hi = im.hi;
        for (int64_t k = 0; k < 16; ++k) {
          const int64_t o = ob * 16 + k;
          const Impl::Channel c =
              o < im.og ? im.channel(g * im.og + o) : Impl::Channel{};
          bs.bias[k] = c.bias;
          bs.multiplier[k] = c.multiplier;
          bs.round[k] = c.round;
          bs.shift[k] = c.shift;
        }
      }
  }
  return conv;
}

IntegerConv::~IntegerConv() = default;

const char *IntegerConv::method() const {
  switch (impl->method) {
  case Method::Depthwise:
    return "depthwise";
  case Method::GemmSplit16:
    return "gemm-split16";
  default:
    return "gemm";
  }
}

Isa IntegerConv::isa() const { return impl->isa; }

template <typename In>
void IntegerConv::Impl::padNHWC(const In *x, int64_t batch, int16_t *xp,
                                const ParallelFor &parallel) const {
  const int64_t C = s.channels, H = s.height, W = s.width;
  runTasks(parallel, batch * Hp, [&](int64_t task) {
    const int64_t n = task / Hp, yp = task % Hp;
    int16_t *dst = xp + (n * Hp + yp) * Wp * C;
    std::memset(dst, 0, size_t(Wp * C) * sizeof(int16_t));
    const int64_t y = yp - s.padTop;
    if (y < 0 || y >= H)
      return;
    dst += s.padLeft * C;
    const In *src = x + n * C * H * W + y * W;
    for (int64_t c = 0; c < C; ++c, src += H * W)
      for (int64_t xx = 0; xx < W; ++xx)
        dst[xx * C + c] = int16_t(src[xx]);
  });
}

template <typename In, typename Out>
void IntegerConv::Impl::runGemm(const In *x, int64_t batch, Out *y,
                                const ParallelFor &parallel) const {
  const int64_t C = s.channels, KH = s.kernelH, KW = s.kernelW;
  const int64_t sh = s.strideH, sw = s.strideW, dh = s.dilationH,
                dw = s.dilationW;
  // The caller's padded copy, kept from call to call (a fresh allocation
  // per layer costs more in page faults than the copy itself); padNHWC
  // writes every value.
  thread_local std::vector<int16_t> xpStorage;
  if (int64_t(xpStorage.size()) < batch * Hp * Wp * C)
    xpStorage.resize(size_t(batch * Hp * Wp * C));
  int16_t *xp = xpStorage.data();
  padNHWC(x, batch, xp, parallel);

  const bool split = method == Method::GemmSplit16;
  const bool rowRuns = s.groups == 1 && dw == 1;
  const int64_t ld = 2 * k2, total = batch * P;
  // ~128 KiB of im2col per tile keeps it in L2 while every block reuses it.
  int64_t tile = (int64_t(128) << 10) / (ld * 2);
  tile = std::clamp<int64_t>(tile / kPixelStep * kPixelStep, kPixelStep, 256);
  tile = std::min(tile, roundUp(total, kPixelStep));
  const int64_t chunks = (total + tile - 1) / tile;
  runTasks(parallel, s.groups * chunks, [&](int64_t task) {
    const int64_t chunk = task % chunks, g = task / chunks;
    const int64_t q0 = chunk * tile, nq = std::min(tile, total - q0);
    const int64_t npad = roundUp(nq, kPixelStep);
    Scratch &sc = scratch;
    if (int64_t(sc.col.size()) < tile * ld)
      sc.col.resize(size_t(tile * ld));
    if (int64_t(sc.acc.size()) < tile * 32)
      sc.acc.resize(size_t(tile * 32));
    if (split) {
      if (int64_t(sc.colLow.size()) < tile * ld)
        sc.colLow.resize(size_t(tile * ld));
      if (int64_t(sc.accLow.size()) < tile * 32)
        sc.accLow.resize(size_t(tile * 32));
    }
    if (int64_t(sc.stored.size()) < tile * 16)
      sc.stored.resize(size_t(tile * 16));
    int16_t *col = sc.col.data();
    for (int64_t qi = 0, q = q0; qi < nq; ++qi, ++q) {
      const int64_t n = q / P, pix = q % P, oy = pix / OW, ox = pix % OW;
      int16_t *row = col + qi * ld;
      const int16_t *base =
          xp + ((n * Hp + oy * sh) * Wp + ox * sw) * C + g * cg;
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
      if (K & 1)
        col[qi * ld + K] = 0;
    }
    std::memset(col + nq * ld, 0, size_t((npad - nq) * ld) * sizeof(int16_t));
    int16_t *colLow = split ? sc.colLow.data() : nullptr;
    if (split) {
      // x = 256 * hi + lo with hi in [-128, 127] and lo in [0, 255]: both
      // halves keep every int32 partial sum exact up to kMaxKInt16Split.
      for (int64_t e = 0; e < npad * ld; ++e) {
        const int16_t v = col[e];
        colLow[e] = int16_t(v & 0xFF);
        col[e] = int16_t(v >> 8);
      }
    }
    for (int64_t ob = 0; ob < blocks;) {
      const int64_t nb = ob + 1 < blocks ? 2 : 1;
      const int16_t *wb = packed.data() + (g * blocks + ob) * k2 * 32;
      int32_t *acc = sc.acc.data();
      int32_t *accLow = split ? sc.accLow.data() : nullptr;
      if (nb == 2) {
        gemm2(wb, col, k2, npad, acc, acc + tile * 16);
        if (split)
          gemm2(wb, colLow, k2, npad, accLow, accLow + tile * 16);
      } else {
        gemm(wb, col, k2, npad, acc);
        if (split)
          gemm(wb, colLow, k2, npad, accLow);
      }
      for (int64_t b = 0; b < nb; ++b, ++ob) {
        const int32_t *accB = acc + b * tile * 16;
        const int32_t *lowB = split ? accLow + b * tile * 16 : nullptr;
        const int64_t oEnd = std::min<int64_t>(16, og - ob * 16);
        // Requantize the block's [pixel][16] sums at once, then scatter
        // each channel's run of pixels into its NCHW plane.
        int32_t *stored = sc.stored.data();
        storeBlock(accB, lowB, nq, blockStores[size_t(g * blocks + ob)],
                   stored);
        for (int64_t q = q0; q < q0 + nq;) {
          const int64_t n = q / P, pix = q % P;
          const int64_t run = std::min(P - pix, q0 + nq - q);
          const int32_t *src = stored + (q - q0) * 16;
          for (int64_t o = 0; o < oEnd; ++o) {
            Out *dst = y + (n * O + g * og + ob * 16 + o) * P + pix;
            for (int64_t pi = 0; pi < run; ++pi)
              dst[pi] = Out(src[pi * 16 + o]);
          }
          q += run;
        }
      }
    }
  });
}

template <typename Acc, typename In, typename Out>
void IntegerConv::Impl::runDepthwise(const In *x, int64_t batch, Out *y,
                                     const ParallelFor &parallel) const {
  const int64_t H = s.height, W = s.width, KH = s.kernelH, KW = s.kernelW;
  const int64_t sh = s.strideH, sw = s.strideW, dh = s.dilationH,
                dw = s.dilationW;
  runTasks(parallel, batch * O, [&](int64_t task) {
    const int64_t n = task / O, oc = task % O, c = oc / og;
    Scratch &sc = scratch;
    if (int64_t(sc.plane.size()) < Hp * Wp)
      sc.plane.resize(size_t(Hp * Wp));
    int32_t *plane = sc.plane.data();
    std::fill(plane, plane + Hp * Wp, 0);
    const In *src = x + (n * s.channels + c) * H * W;
    for (int64_t yy = 0; yy < H; ++yy)
      for (int64_t xx = 0; xx < W; ++xx)
        plane[(yy + s.padTop) * Wp + xx + s.padLeft] = src[yy * W + xx];
    std::vector<Acc> &rowStore = rowBuffer<Acc>(sc);
    if (int64_t(rowStore.size()) < OW)
      rowStore.resize(size_t(OW));
    Acc *row = rowStore.data();
    const int32_t *w = direct.data() + oc * taps;
    Out *dst = y + (n * O + oc) * P;
    const Channel store = channel(oc);
    for (int64_t oy = 0; oy < OH; ++oy, dst += OW) {
      std::fill(row, row + OW, Acc(0));
      for (int64_t ky = 0; ky < KH; ++ky) {
        const int32_t *line = plane + (oy * sh + ky * dh) * Wp;
        for (int64_t kx = 0; kx < KW; ++kx) {
          const Acc wk = Acc(w[ky * KW + kx]);
          const int32_t *in = line + kx * dw;
          if (sw == 1) {
            for (int64_t ox = 0; ox < OW; ++ox)
              row[ox] += wk * Acc(in[ox]);
          } else {
            for (int64_t ox = 0; ox < OW; ++ox)
              row[ox] += wk * Acc(in[ox * sw]);
          }
        }
      }
      for (int64_t ox = 0; ox < OW; ++ox)
        dst[ox] = Out(store(int64_t(row[ox])));
    }
  });
}

template <typename In, typename Out>
void IntegerConv::Impl::dispatch(const In *x, int64_t batch, Out *y,
                                 const ParallelFor &parallel) const {
  if (method != Method::Depthwise) {
    runGemm(x, batch, y, parallel);
    return;
  }
  const bool int32Exact = taps <= (sizeof(In) == 1 ? kMaxKInt8 : kMaxKInt16);
  if (int32Exact)
    runDepthwise<int32_t>(x, batch, y, parallel);
  else
    runDepthwise<int64_t>(x, batch, y, parallel);
}

void IntegerConv::run(const void *input, int64_t batch, void *output,
                      const ParallelFor &parallel) const {
  if (batch <= 0)
    return;
  const bool out16 = impl->outBits == 16;
  if (impl->inBits == 8) {
    const auto *x = static_cast<const int8_t *>(input);
    if (out16)
      impl->dispatch(x, batch, static_cast<int16_t *>(output), parallel);
    else
      impl->dispatch(x, batch, static_cast<int8_t *>(output), parallel);
  } else {
    const auto *x = static_cast<const int16_t *>(input);
    if (out16)
      impl->dispatch(x, batch, static_cast<int16_t *>(output), parallel);
    else
      impl->dispatch(x, batch, static_cast<int8_t *>(output), parallel);
  }
}

namespace {

template <typename A, typename B, typename Out>
__attribute__((always_inline)) inline void
addRangeBody(const A *a, const B *b, int64_t count, int64_t ma, int64_t mb,
             int64_t round, int64_t shift, int64_t lo, int64_t hi, Out *out) {
  for (int64_t e = 0; e < count; ++e) {
    const int64_t v =
        (int64_t(a[e]) * ma + int64_t(b[e]) * mb + round) >> shift;
    out[e] = Out(v < lo ? lo : (v > hi ? hi : v));
  }
}

template <typename A, typename B, typename Out>
void addRangeGeneric(const A *a, const B *b, int64_t count, int64_t ma,
                     int64_t mb, int64_t round, int64_t shift, int64_t lo,
                     int64_t hi, Out *out) {
  addRangeBody(a, b, count, ma, mb, round, shift, lo, hi, out);
}

#if defined(__x86_64__) || defined(_M_X64)
template <typename A, typename B, typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
addRangeAvx512(const A *a, const B *b, int64_t count, int64_t ma, int64_t mb,
               int64_t round, int64_t shift, int64_t lo, int64_t hi, Out *out) {
  addRangeBody(a, b, count, ma, mb, round, shift, lo, hi, out);
}
#endif

template <typename A, typename B, typename Out>
void addSlices(const A *a, const B *b, int64_t count, int64_t ma, int64_t mb,
               int shift, int64_t lo, int64_t hi, Out *out,
               const ParallelFor &parallel) {
  const int64_t round = shift > 0 ? int64_t(1) << (shift - 1) : 0;
  auto range = addRangeGeneric<A, B, Out>;
#if defined(__x86_64__) || defined(_M_X64)
  static const bool avx512 = detectIsa() == Isa::Avx512Vnni;
  if (avx512)
    range = addRangeAvx512<A, B, Out>;
#endif
  constexpr int64_t kSlice = 1 << 16;
  runTasks(parallel, (count + kSlice - 1) / kSlice, [&](int64_t task) {
    const int64_t begin = task * kSlice, end = std::min(count, begin + kSlice);
    range(a + begin, b + begin, end - begin, ma, mb, round, shift, lo, hi,
          out + begin);
  });
}

template <typename A, typename B>
void addTo(const A *a, const B *b, int64_t count, int64_t ma, int64_t mb,
           int shift, int64_t lo, int64_t hi, int outBits, void *out,
           const ParallelFor &parallel) {
  if (outBits == 8)
    addSlices(a, b, count, ma, mb, shift, lo, hi, static_cast<int8_t *>(out),
              parallel);
  else
    addSlices(a, b, count, ma, mb, shift, lo, hi, static_cast<int16_t *>(out),
              parallel);
}

template <typename A>
void addFrom(const A *a, const void *b, int bBits, int64_t count, int64_t ma,
             int64_t mb, int shift, int64_t lo, int64_t hi, int outBits,
             void *out, const ParallelFor &parallel) {
  if (bBits == 8)
    addTo(a, static_cast<const int8_t *>(b), count, ma, mb, shift, lo, hi,
          outBits, out, parallel);
  else
    addTo(a, static_cast<const int16_t *>(b), count, ma, mb, shift, lo, hi,
          outBits, out, parallel);
}

} // namespace

bool integerAdd(const void *a, int aBits, const void *b, int bBits,
                int64_t count, int32_t aMultiplier, int32_t bMultiplier,
                int32_t shift, bool relu, int outBits, void *out,
                const ParallelFor &parallel) {
  auto valid = [](int bits) { return bits == 8 || bits == 16; };
  if (!valid(aBits) || !valid(bBits) || !valid(outBits) || shift < 0 ||
      shift > 62 || count < 0)
    return false;
  const int64_t lo = relu ? 0 : quant::qmin(outBits), hi = quant::qmax(outBits);
  if (aBits == 8)
    addFrom(static_cast<const int8_t *>(a), b, bBits, count, aMultiplier,
            bMultiplier, shift, lo, hi, outBits, out, parallel);
  else
    addFrom(static_cast<const int16_t *>(a), b, bBits, count, aMultiplier,
            bMultiplier, shift, lo, hi, outBits, out, parallel);
  return true;
}

} // namespace hat::runtime
