//===- IntegerKernels.cpp - Integer conv / linear on plain arrays ---------===//
//
// Two ways through a layer:
//  * gemm: a zero-padded NHWC copy of the input (NCHW or NHWC in), im2col
//    tiles of pixels (rows of K values in the weights' (ky, kx, c) order;
//    a 1x1 stride-1 unpadded conv reads the copy in place), the micro-
//    kernels of Gemm.h over blocks of 16 output channels, and the
//    requantizing store (NCHW or NHWC out). int8 inputs on AVX-512 VNNI use
//    the int8 dot product on o16k4 weights and inputs + 128 (two full
//    blocks with NHWC output requantize in registers); everything else
//    int16 pairs on o16k2 weights. int16 inputs whose K exceeds kMaxKInt16
//    run the micro-kernels twice, on the high and the low byte of every
//    value.
//  * depthwise (one input channel per group), two direct kernels:
//    - one output per input channel with int32-exact sums (every depthwise
//      layer of MobileNet / EfficientNet): the padded NHWC copy, channels in
//      blocks of 16 along the vector lanes (two taps per vpdpwssd on
//      AVX-512 VNNI), a row of output pixels per task, the GEMM path's
//      requantizing block store; on AVX-512 VNNI with int8 NHWC input and
//      output in whole 16-channel blocks, no padded copy: the input rows
//      are read in place (padding taps read zeros) and each pixel's sums
//      are requantized in registers;
//    - otherwise (a channel multiplier, int64 sums): per output plane, the
//      input split by column phase so that every tap's row is contiguous,
//      accumulating whole output rows, vectorized along the row.
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
#include <type_traits>

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

/// Depthwise: one input channel per group, over planes (any channel
/// multiplier, int64 sums where int32 is not exact). DepthwiseNhwc: one
/// output per input channel with int32-exact sums, channels along the
/// vector lanes.
/// GemmU8: int8 inputs on AVX-512 VNNI's int8 dot product (vpdpbusd), the
/// inputs offset by 128 into unsigned bytes and 128 * sum(w) taken off per
/// channel through the bias.
enum class Method { Gemm, GemmU8, GemmSplit16, Depthwise, DepthwiseNhwc };

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
  std::vector<uint8_t> colU8;
  std::vector<int32_t> acc, accLow, stored;
  std::vector<int32_t> plane;
  std::vector<int64_t> row64;
  std::vector<int32_t> row32;
};
thread_local Scratch scratch;

template <typename Col> std::vector<Col> &colBuffer(Scratch &s);
template <> std::vector<int16_t> &colBuffer<int16_t>(Scratch &s) {
  return s.col;
}
template <> std::vector<uint8_t> &colBuffer<uint8_t>(Scratch &s) {
  return s.colU8;
}

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

/// Runs body(row, blockBegin, blockEnd) over `rows` output rows x `blocks`
/// channel blocks, a task being one row and a run of blocks. A depthwise row
/// of one block is often shorter than a task's dispatch (the pool's shared
/// counter, a std::function call), and two threads taking such tasks in
/// turn spend more on the counter's cache line than on the row: a task
/// takes as many blocks as still leave kRowBlockTasks tasks.
constexpr int64_t kRowBlockTasks = 64;
void runRowBlocks(const ParallelFor &parallel, int64_t rows, int64_t blocks,
                  const std::function<void(int64_t, int64_t, int64_t)> &body) {
  const int64_t chunks = std::clamp<int64_t>(
      (kRowBlockTasks + rows - 1) / std::max<int64_t>(rows, 1), 1, blocks);
  const int64_t perChunk = (blocks + chunks - 1) / chunks;
  const int64_t count = (blocks + perChunk - 1) / perChunk;
  runTasks(parallel, rows * count, [&](int64_t task) {
    const int64_t begin = task % count * perChunk;
    body(task / count, begin, std::min(blocks, begin + perChunk));
  });
}

bool isDepthwise(const ConvShape &s) {
  return s.groups > 1 && s.channels == s.groups;
}

/// The requantizing store of one block of 16 output channels, lane by lane
/// (padding lanes have multiplier 0).
struct BlockStore {
  int64_t bias[16], multiplier[16], round[16], shift[16];
  int64_t lo, hi;
  /// Every sum + bias of this block fits int32 (known from K, the input
  /// range and the biases), so the clamp to int32 is a no-op and the
  /// requantization can start from int32 lanes.
  bool int32Sums = false;

  /// Derived by prepare() once, when the layer is created, so that the
  /// kernels only load them. wideShifts: int32Sums and every channel's
  /// shift >= 32, so the shifted product fits int32. The parity split
  /// serves the int32Sums path: parity[f][e][j] is field f (multiplier,
  /// round + bias * multiplier, shift) of channel 2j + e; oddHighShift[j] is
  /// channel 2j + 1's shift - 32, which leaves its result in the high half
  /// of the 64-bit lane, where the int32 lanes put it.
  bool wideShifts = false;
  int64_t parity[3][2][8] = {};
  int64_t oddHighShift[8] = {};

  void prepare() {
    for (int k = 0; k < 16; ++k) {
      // A zero multiplier makes the constant round >> shift: kept as a
      // round of that constant times 2^32 and a shift of 32, which every
      // path computes the same and the wide one takes.
      const int64_t constant = round[k] >> shift[k];
      if (multiplier[k] == 0 && shift[k] < 32 &&
          constant >= std::numeric_limits<int32_t>::min() &&
          constant <= std::numeric_limits<int32_t>::max()) {
        round[k] = constant * (int64_t(1) << 32);
        shift[k] = 32;
      }
    }
    wideShifts = int32Sums;
    for (int k = 0; k < 16; ++k)
      wideShifts = wideShifts && shift[k] >= 32 && shift[k] < 64;
    if (!int32Sums)
      return;
    for (int k = 0; k < 16; ++k) {
      parity[0][k % 2][k / 2] = multiplier[k];
      // (sum + bias) * m + round = sum * m + (bias * m + round): the bias
      // rides on the rounding constant, exact in int64 since |sum| + |bias|
      // < 2^31 here, and the store saves an add.
      parity[1][k % 2][k / 2] = round[k] + bias[k] * multiplier[k];
      parity[2][k % 2][k / 2] = shift[k];
      if (k % 2)
        oddHighShift[k / 2] = std::max<int64_t>(shift[k] - 32, 0);
    }
  }
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

/// A BlockStore's lanes as int64 vectors (two halves of 8 channels), and
/// for int32Sums the 16 channels split by parity: 64-bit lane j of an
/// `even`/`odd` vector belongs to channel 2j / 2j + 1 (the lanes vpmuldq
/// multiplies when given the sums as they are / shifted down 32 bits).
struct BlockStoreAvx512 {
  __m512i bias[2], mul[2], round[2], shift[2], lo, hi, min32, max32;
  bool int32Sums;
  /// int32Sums and every channel's shift >= 32 (or multiplier 0): the
  /// shifted product then fits int32, so the results are combined first
  /// and the saturation is the narrowing store's.
  bool wideShifts;
  int64_t loScalar, hiScalar;
  __m512i mulEven, mulOdd, roundEven, roundOdd, shiftEven, shiftOdd,
      oddHighShift;
};

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"),
               always_inline)) inline BlockStoreAvx512
loadBlockStore(const BlockStore &b) {
  BlockStoreAvx512 v;
  for (int h = 0; h < 2; ++h) {
    v.bias[h] = _mm512_loadu_si512(b.bias + 8 * h);
    v.mul[h] = _mm512_loadu_si512(b.multiplier + 8 * h);
    v.round[h] = _mm512_loadu_si512(b.round + 8 * h);
    v.shift[h] = _mm512_loadu_si512(b.shift + 8 * h);
  }
  v.lo = _mm512_set1_epi64(b.lo);
  v.hi = _mm512_set1_epi64(b.hi);
  v.min32 = _mm512_set1_epi64(std::numeric_limits<int32_t>::min());
  v.max32 = _mm512_set1_epi64(std::numeric_limits<int32_t>::max());
  v.int32Sums = b.int32Sums;
  v.wideShifts = b.wideShifts;
  v.loScalar = b.lo;
  v.hiScalar = b.hi;
  if (b.int32Sums) {
    v.mulEven = _mm512_loadu_si512(b.parity[0][0]);
    v.mulOdd = _mm512_loadu_si512(b.parity[0][1]);
    v.roundEven = _mm512_loadu_si512(b.parity[1][0]);
    v.roundOdd = _mm512_loadu_si512(b.parity[1][1]);
    v.shiftEven = _mm512_loadu_si512(b.parity[2][0]);
    v.shiftOdd = _mm512_loadu_si512(b.parity[2][1]);
    v.oddHighShift = _mm512_loadu_si512(b.oddHighShift);
  }
  return v;
}

/// The requantization of 8 int64 lanes (half `h` of a block's channels):
/// applyRequant(clamp_int32(sum + bias)), ReLU folded into lo, saturation.
/// After the int32 clamp the sum fits the low half of each lane, so the
/// signed 32 x 32 -> 64 multiply (vpmuldq) gives the exact product.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"),
               always_inline)) inline __m512i
requantLanes(__m512i v, const BlockStoreAvx512 &s, int h) {
  v = _mm512_add_epi64(v, s.bias[h]);
  v = _mm512_max_epi64(_mm512_min_epi64(v, s.max32), s.min32);
  v = _mm512_add_epi64(_mm512_mul_epi32(v, s.mul[h]), s.round[h]);
  v = _mm512_srav_epi64(v, s.shift[h]);
  return _mm512_max_epi64(_mm512_min_epi64(v, s.hi), s.lo);
}

/// The same arithmetic in int64 lanes: 16 sums as two vectors of 8.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
storeBlockAvx512(const int32_t *acc, const int32_t *low, int64_t pixels,
                 const BlockStore &b, int32_t *out) {
  const BlockStoreAvx512 s = loadBlockStore(b);
  for (int64_t p = 0; p < pixels; ++p) {
    for (int h = 0; h < 2; ++h) {
      __m512i v = _mm512_cvtepi32_epi64(
          _mm256_loadu_si256((const __m256i *)(acc + p * 16 + h * 8)));
      if (low)
        v = _mm512_add_epi64(_mm512_slli_epi64(v, 8),
                             _mm512_cvtepi32_epi64(_mm256_loadu_si256(
                                 (const __m256i *)(low + p * 16 + h * 8))));
      _mm256_storeu_si256((__m256i *)(out + p * 16 + h * 8),
                          _mm512_cvtepi64_epi32(requantLanes(v, s, h)));
    }
  }
}

/// 8 int64 lanes already within Out's range, stored as 8 Out values.
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"),
               always_inline)) inline void
storeNarrow8(__m512i v, Out *dst, __mmask8 lanes = 0xFF) {
  if (lanes != 0xFF) {
    if constexpr (sizeof(Out) == 1)
      _mm_mask_storeu_epi8(dst, lanes, _mm512_cvtepi64_epi8(v));
    else
      _mm_mask_storeu_epi16(dst, lanes, _mm512_cvtepi64_epi16(v));
    return;
  }
  if constexpr (sizeof(Out) == 1)
    _mm_storel_epi64(reinterpret_cast<__m128i *>(dst), _mm512_cvtepi64_epi8(v));
  else
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst),
                     _mm512_cvtepi64_epi16(v));
}

/// 16 int32 lanes narrowed to Out (saturating or truncating) and stored,
/// only the `lanes` ones where that mask is not full.
template <typename Out, bool Saturate>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"),
               always_inline)) inline void
storeNarrow16(__m512i v, Out *dst, __mmask16 lanes) {
  if constexpr (sizeof(Out) == 1) {
    const __m128i n =
        Saturate ? _mm512_cvtsepi32_epi8(v) : _mm512_cvtepi32_epi8(v);
    if (lanes == 0xFFFF)
      _mm_storeu_si128(reinterpret_cast<__m128i *>(dst), n);
    else
      _mm_mask_storeu_epi8(dst, lanes, n);
  } else {
    const __m256i n =
        Saturate ? _mm512_cvtsepi32_epi16(v) : _mm512_cvtepi32_epi16(v);
    if (lanes == 0xFFFF)
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst), n);
    else
      _mm256_mask_storeu_epi16(dst, lanes, n);
  }
}

/// storeBlockAvx512's arithmetic on 16 sums held in a register, written
/// as 16 Out values at dst (only the channels in `lanes`: a partial last
/// block).
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"),
               always_inline)) inline void
requantStore16(__m512i sums, const BlockStoreAvx512 &s, Out *dst,
               __mmask16 lanes = 0xFFFF) {
  if (s.int32Sums) {
    // The same arithmetic on int32 sums: no int32 clamp (a no-op here),
    // the products by channel parity, the results put back in channel
    // order in one register and stored in one go.
    const __m512i v = sums;
    __m512i even =
        _mm512_add_epi64(_mm512_mul_epi32(v, s.mulEven), s.roundEven);
    __m512i odd = _mm512_add_epi64(
        _mm512_mul_epi32(_mm512_srli_epi64(v, 32), s.mulOdd), s.roundOdd);
    constexpr int64_t outMin = std::numeric_limits<Out>::min(),
                      outMax = std::numeric_limits<Out>::max();
    if (s.wideShifts) {
      // |product + round| < 2^62 and a shift of at least 32 leave int32
      // values. The even channels' land in the low halves of their 64-bit
      // lanes; the odd ones, shifted 32 less, in the high halves: one
      // blend puts all 16 in channel order.
      __m512i out =
          _mm512_mask_blend_epi32(0xAAAA, _mm512_srav_epi64(even, s.shiftEven),
                                  _mm512_srav_epi64(odd, s.oddHighShift));
      if (s.hiScalar == outMax && (s.loScalar == outMin || s.loScalar == 0)) {
        // ReLU as a max with 0, the clamp to Out as the saturating narrow.
        if (s.loScalar == 0)
          out = _mm512_max_epi32(out, _mm512_setzero_si512());
        storeNarrow16<Out, true>(out, dst, lanes);
        return;
      }
    }
    even = _mm512_max_epi64(
        _mm512_min_epi64(_mm512_srav_epi64(even, s.shiftEven), s.hi), s.lo);
    odd = _mm512_max_epi64(
        _mm512_min_epi64(_mm512_srav_epi64(odd, s.shiftOdd), s.hi), s.lo);
    const __m512i out =
        _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    storeNarrow16<Out, false>(out, dst, lanes);
    return;
  }
  for (int h = 0; h < 2; ++h)
    storeNarrow8(requantLanes(_mm512_cvtepi32_epi64(
                                  h == 0 ? _mm512_castsi512_si256(sums)
                                         : _mm512_extracti64x4_epi64(sums, 1)),
                              s, h),
                 dst + 8 * h, __mmask8(lanes >> (8 * h)));
}

/// The int8 dot-product GEMM of two 16-channel blocks (o16k4 at w and
/// w + 64 * k4) fused with their requantizing store: each pixel's sums go
/// from the accumulator registers straight to NHWC output (`stride`
/// channels per pixel), with no int32 round trip through memory. The
/// second block writes only its `lanes1` channels (a partial last block).
/// col has `pixels` rows rounded up to 8; only the first `pixels` are
/// stored.
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"))) void
gemm2U8StoreNhwc(const int8_t *w, const uint8_t *col, int64_t k4,
                 int64_t pixels, const BlockStore &store0,
                 const BlockStore &store1, __mmask16 lanes1, Out *dst,
                 int64_t stride) {
  for (int64_t p = 0; p < pixels; p += 8) {
    __m512i a[8], b[8];
    accumulate2U8Avx512(w, col + p * 4 * k4, k4, a, b);
    // The store's constants are loaded here, not once before the loop:
    // live across the dot products they leave too few registers for the
    // 16 accumulators, and the compiler then copies and spills those on
    // every k step.
    const BlockStoreAvx512 s0 = loadBlockStore(store0),
                           s1 = loadBlockStore(store1);
    const int64_t rows = std::min<int64_t>(8, pixels - p);
    for (int64_t j = 0; j < rows; ++j) {
      Out *out = dst + (p + j) * stride;
      requantStore16(a[j], s0, out);
      requantStore16(b[j], s1, out + 16, lanes1);
    }
  }
}

/// gemm2U8StoreNhwc for one block, of `lanes` channels.
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"))) void
gemm1U8StoreNhwc(const int8_t *w, const uint8_t *col, int64_t k4,
                 int64_t pixels, const BlockStore &store, __mmask16 lanes,
                 Out *dst, int64_t stride) {
  for (int64_t p = 0; p < pixels; p += 8) {
    __m512i a[8];
    accumulate1U8Avx512(w, col + p * 4 * k4, k4, a);
    const BlockStoreAvx512 s = loadBlockStore(store);
    const int64_t rows = std::min<int64_t>(8, pixels - p);
    for (int64_t j = 0; j < rows; ++j)
      requantStore16(a[j], s, dst + (p + j) * stride, lanes);
  }
}
#endif

/// One output channel's store, held in locals: the int8 stores may alias
/// anything, so members would be reloaded for every element.
struct RequantChannel {
  int64_t bias, multiplier, round, lo, hi;
  int shift;
  /// applyRequant(clamp_int32(sum + bias)), ReLU folded into lo.
  int64_t operator()(int64_t sum) const {
    const int64_t v = (clampToInt32(sum + bias) * multiplier + round) >> shift;
    return v < lo ? lo : (v > hi ? hi : v);
  }
};

/// A depthwise plane's geometry. The padded input plane is stored split by
/// column phase: column x of padded row y sits at
/// (y * strideW + x % strideW) * phaseWidth + x / strideW, so that the
/// inputs of one tap for a whole output row (columns ox * strideW + kx *
/// dilationW) are contiguous and the row loop vectorizes for any stride.
struct DepthwiseGeometry {
  int64_t OH, OW, KH, KW, sh, sw, dh, dw, phaseWidth;
};

/// dst[i] = channel(row[i]) for `count` sums, element by element.
template <typename Acc, typename Out>
__attribute__((always_inline)) inline void
storeRowScalar(const Acc *row, int64_t count, const RequantChannel &channel,
               Out *dst) {
  // Locals: dst may alias anything, so fields read through a reference
  // would be reloaded for every element.
  const RequantChannel c = channel;
  for (int64_t i = 0; i < count; ++i)
    dst[i] = Out(c(int64_t(row[i])));
}

/// Every output row of one plane: exact sums of `taps` products in Acc
/// (plain loops, which the compiler vectorizes in the instruction-set
/// clones below), then storeRow's requantizing store.
template <typename Acc, typename Out, typename StoreRow>
__attribute__((always_inline)) inline void
depthwisePlaneBody(const int32_t *phased, const DepthwiseGeometry &g,
                   const int32_t *w, const RequantChannel &channel, Acc *row,
                   Out *dst, const StoreRow &storeRow) {
  const int64_t rowStride = g.sw * g.phaseWidth;
  for (int64_t oy = 0; oy < g.OH; ++oy, dst += g.OW) {
    for (int64_t ox = 0; ox < g.OW; ++ox)
      row[ox] = 0;
    for (int64_t ky = 0; ky < g.KH; ++ky) {
      const int32_t *line = phased + (oy * g.sh + ky * g.dh) * rowStride;
      for (int64_t kx = 0; kx < g.KW; ++kx) {
        const int64_t column = kx * g.dw;
        const int32_t *in =
            line + (column % g.sw) * g.phaseWidth + column / g.sw;
        const Acc wk = Acc(w[ky * g.KW + kx]);
        for (int64_t ox = 0; ox < g.OW; ++ox)
          row[ox] += wk * Acc(in[ox]);
      }
    }
    storeRow(row, g.OW, channel, dst);
  }
}

template <typename Acc, typename Out>
using DepthwisePlaneFn = void (*)(const int32_t *, const DepthwiseGeometry &,
                                  const int32_t *, const RequantChannel &,
                                  Acc *, Out *);

template <typename Acc, typename Out>
void depthwisePlaneGeneric(const int32_t *phased, const DepthwiseGeometry &g,
                           const int32_t *w, const RequantChannel &store,
                           Acc *row, Out *dst) {
  depthwisePlaneBody(phased, g, w, store, row, dst, storeRowScalar<Acc, Out>);
}

#if defined(__x86_64__) || defined(_M_X64)
template <typename Acc, typename Out>
__attribute__((target("avx2"))) void
depthwisePlaneAvx2(const int32_t *phased, const DepthwiseGeometry &g,
                   const int32_t *w, const RequantChannel &store, Acc *row,
                   Out *dst) {
  depthwisePlaneBody(phased, g, w, store, row, dst, storeRowScalar<Acc, Out>);
}

/// The requantizing store of one channel's int32 sums, 8 lanes at a time:
/// requantLanes with the channel's values in every lane.
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
storeRowAvx512(const int32_t *row, int64_t count, const RequantChannel &c,
               Out *dst) {
  BlockStore b;
  for (int k = 0; k < 16; ++k) {
    b.bias[k] = c.bias;
    b.multiplier[k] = c.multiplier;
    b.round[k] = c.round;
    b.shift[k] = c.shift;
  }
  b.lo = c.lo;
  b.hi = c.hi;
  b.prepare();
  const BlockStoreAvx512 s = loadBlockStore(b);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    storeNarrow8(requantLanes(_mm512_cvtepi32_epi64(_mm256_loadu_si256(
                                  reinterpret_cast<const __m256i *>(row + i))),
                              s, 0),
                 dst + i);
  storeRowScalar(row + i, count - i, c, dst + i);
}

template <typename Acc, typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
depthwisePlaneAvx512(const int32_t *phased, const DepthwiseGeometry &g,
                     const int32_t *w, const RequantChannel &store, Acc *row,
                     Out *dst) {
  if constexpr (std::is_same_v<Acc, int32_t>)
    depthwisePlaneBody(phased, g, w, store, row, dst, storeRowAvx512<Out>);
  else
    depthwisePlaneBody(phased, g, w, store, row, dst, storeRowScalar<Acc, Out>);
}
#endif

/// The channel of each 32-bit lane after interleaving two taps' 16 int16
/// values with unpacklo/unpackhi (which work within 128-bit halves): lanes
/// 4-7 and 8-11 trade places. The order is its own inverse.
constexpr int kPairLanes[16] = {0, 1, 2, 3, 8,  9,  10, 11,
                                4, 5, 6, 7, 12, 13, 14, 15};

/// One output row of a depthwise layer with one output per input channel,
/// for one block of 16 channels, over the zero-padded NHWC int16 input:
/// acc[ox][k] = sum over taps of w[tap][k] * x(tap, ox)[k], exact in int32
/// (taps <= kMaxKInt16). Channels run along the vector lanes, so the loop
/// vectorizes whatever the row width; each pixel's 16 sums stay in one
/// register across the taps.
struct DepthwiseRowArgs {
  const int16_t *x; // the first tap of output column 0, channel block start
  const int32_t *w; // [taps][16], padding lanes 0
  /// AVX-512 VNNI: taps in pairs, [pairs][16 lanes][2] int16 with the lanes
  /// in kPairLanes order, and each pair's two input offsets from a pixel
  /// (an odd last tap pairs with itself and a zero weight).
  const int16_t *wPairs;
  const int64_t *pairOffsets; // [pairs][2]
  int64_t pairs;
  int64_t KH, KW, OW;
  int64_t rowStep;   // elements between tap rows (dilationH * Wp * C)
  int64_t tapStep;   // between tap columns (dilationW * C)
  int64_t pixelStep; // between output columns (strideW * C)
  int32_t *acc;      // [OW][16]
};

__attribute__((always_inline)) inline void
depthwiseRowBody(const DepthwiseRowArgs &a) {
  for (int64_t ox = 0; ox < a.OW; ++ox) {
    int32_t sum[16] = {};
    const int16_t *pixel = a.x + ox * a.pixelStep;
    const int32_t *w = a.w;
    for (int64_t ky = 0; ky < a.KH; ++ky)
      for (int64_t kx = 0; kx < a.KW; ++kx, w += 16) {
        const int16_t *src = pixel + ky * a.rowStep + kx * a.tapStep;
        for (int k = 0; k < 16; ++k)
          sum[k] += w[k] * int32_t(src[k]);
      }
    for (int k = 0; k < 16; ++k)
      a.acc[ox * 16 + k] = sum[k];
  }
}

using DepthwiseRowFn = void (*)(const DepthwiseRowArgs &);

void depthwiseRowGeneric(const DepthwiseRowArgs &a) { depthwiseRowBody(a); }

#if defined(__x86_64__) || defined(_M_X64)
// Written with intrinsics: left to itself the compiler vectorizes across
// the taps and shuffles.
/// w[0..8) * src[0..8), widened to int32 lanes.
__attribute__((target("avx2"), always_inline)) inline __m256i
depthwiseTapAvx2(const int16_t *src, const int32_t *w) {
  return _mm256_mullo_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w)),
      _mm256_cvtepi16_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(src))));
}

__attribute__((target("avx2"))) void
depthwiseRowAvx2(const DepthwiseRowArgs &a) {
  for (int64_t ox = 0; ox < a.OW; ++ox) {
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    const int16_t *pixel = a.x + ox * a.pixelStep;
    const int32_t *w = a.w;
    for (int64_t ky = 0; ky < a.KH; ++ky)
      for (int64_t kx = 0; kx < a.KW; ++kx, w += 16) {
        const int16_t *src = pixel + ky * a.rowStep + kx * a.tapStep;
        lo = _mm256_add_epi32(lo, depthwiseTapAvx2(src, w));
        hi = _mm256_add_epi32(hi, depthwiseTapAvx2(src + 8, w + 8));
      }
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(a.acc + ox * 16), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(a.acc + ox * 16 + 8), hi);
  }
}

/// Two taps' inputs of 16 channels as (tap 0, tap 1) int16 pairs per 32-bit
/// lane, lanes in kPairLanes order.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"),
               always_inline)) inline __m512i
depthwisePairAvx512(const int16_t *x0, const int16_t *x1) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x0));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x1));
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_unpacklo_epi16(a, b)),
                            _mm256_unpackhi_epi16(a, b), 1);
}

/// Two taps per `vpdpwssd` (exact: int16 x int8 products, int32 sums
/// within the caller's limit), two output pixels per step.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void
depthwiseRowAvx512Vnni(const DepthwiseRowArgs &a) {
  const __m512i order = _mm512_loadu_si512(kPairLanes);
  int64_t ox = 0;
  for (; ox + 2 <= a.OW; ox += 2) {
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    const int16_t *p0 = a.x + ox * a.pixelStep, *p1 = p0 + a.pixelStep;
    for (int64_t q = 0; q < a.pairs; ++q) {
      const __m512i w = _mm512_loadu_si512(a.wPairs + q * 32);
      const int64_t o0 = a.pairOffsets[2 * q], o1 = a.pairOffsets[2 * q + 1];
      s0 = _mm512_dpwssd_epi32(s0, depthwisePairAvx512(p0 + o0, p0 + o1), w);
      s1 = _mm512_dpwssd_epi32(s1, depthwisePairAvx512(p1 + o0, p1 + o1), w);
    }
    _mm512_storeu_si512(a.acc + ox * 16, _mm512_permutexvar_epi32(order, s0));
    _mm512_storeu_si512(a.acc + ox * 16 + 16,
                        _mm512_permutexvar_epi32(order, s1));
  }
  for (; ox < a.OW; ++ox) {
    __m512i s0 = _mm512_setzero_si512();
    const int16_t *p0 = a.x + ox * a.pixelStep;
    for (int64_t q = 0; q < a.pairs; ++q)
      s0 = _mm512_dpwssd_epi32(
          s0,
          depthwisePairAvx512(p0 + a.pairOffsets[2 * q],
                              p0 + a.pairOffsets[2 * q + 1]),
          _mm512_loadu_si512(a.wPairs + q * 32));
    _mm512_storeu_si512(a.acc + ox * 16, _mm512_permutexvar_epi32(order, s0));
  }
}

/// The most tap pairs the in-place int8 depthwise row takes (a 5x5 kernel
/// has 13); larger kernels use the padded copy.
constexpr int64_t kMaxDirectPairs = 16;

/// One output row of a depthwise layer (one output per input channel) for
/// one block of 16 channels, read in place from an int8 NHWC input of `C`
/// channels (C a multiple of 16) and requantized in registers into NHWC
/// output: no padded int16 copy of the input and no int32 round trip.
/// `rows[ky]` is input row oy * strideH - padTop + ky * dilationH at the
/// block's first channel, or a zero row where that row is padding. Pixels
/// whose window leaves the row (the left and right borders) sum their
/// in-range taps one by one; the others take two taps per `vpdpwssd`.
struct DepthwiseDirectArgs {
  const int8_t *const *rows;
  /// [pairs][16 channels][2 taps] int16 weights, lanes in channel order;
  /// an odd last tap pairs with itself and a zero weight.
  const int16_t *wPairs;
  /// Each pair's two taps as (ky, kx).
  const int64_t *pairTaps; // [pairs][4]
  int64_t pairs, W, C, KH, KW, strideW, dilationW, padLeft, OW;
  /// The kernel rows inside the image: rows[ky] for ky outside
  /// [kyBegin, kyEnd) are zero rows (top or bottom padding).
  int64_t kyBegin, kyEnd;
  int64_t outStride; // channels per output pixel
};

/// Two taps' int8 inputs of 16 channels as int16 (tap 0, tap 1) pairs:
/// 32-bit lane k holds channel k's two inputs.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"),
               always_inline)) inline __m512i
depthwiseDirectPair(const int8_t *x0, const int8_t *x1) {
  const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i *>(x0));
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i *>(x1));
  return _mm512_cvtepi8_epi16(
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(p, q)),
                              _mm_unpackhi_epi8(p, q), 1));
}

/// Sixteen zero inputs: what a tap in the left or right padding reads.
alignas(16) constexpr int8_t kZeroInputs[16] = {};

/// A pixel whose window leaves the row: the taps outside it read zeros.
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"))) void
depthwiseDirectBorder(const DepthwiseDirectArgs &a, const BlockStoreAvx512 &s,
                      int64_t ox, Out *dst) {
  const int64_t x0 = ox * a.strideW - a.padLeft;
  auto input = [&](const int64_t *tap) {
    const int64_t ix = x0 + tap[1] * a.dilationW;
    return ix >= 0 && ix < a.W ? a.rows[tap[0]] + ix * a.C : kZeroInputs;
  };
  __m512i sum = _mm512_setzero_si512();
  for (int64_t q = 0; q < a.pairs; ++q) {
    const int64_t *t = a.pairTaps + 4 * q;
    sum = _mm512_dpwssd_epi32(sum, depthwiseDirectPair(input(t), input(t + 2)),
                              _mm512_loadu_si512(a.wPairs + q * 32));
  }
  requantStore16(sum, s, dst + ox * a.outStride);
}

template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"))) void
depthwiseDirectRowAvx512Vnni(const DepthwiseDirectArgs &a,
                             const BlockStore &store, Out *dst) {
  const BlockStoreAvx512 s = loadBlockStore(store);
  const int64_t C = a.C;
  // The first and last output columns whose whole window is in the row.
  const int64_t span = (a.KW - 1) * a.dilationW;
  const int64_t first = std::min(a.OW, (a.padLeft + a.strideW - 1) / a.strideW);
  const int64_t last =
      a.W - 1 - span + a.padLeft < 0
          ? -1
          : std::min(a.OW - 1, (a.W - 1 - span + a.padLeft) / a.strideW);
  // Each pair's two input pointers at output column 0 (x = -padLeft).
  const int8_t *tap0[kMaxDirectPairs], *tap1[kMaxDirectPairs];
  for (int64_t q = 0; q < a.pairs; ++q) {
    const int64_t *t = a.pairTaps + 4 * q;
    tap0[q] = a.rows[t[0]] + (t[1] * a.dilationW - a.padLeft) * C;
    tap1[q] = a.rows[t[2]] + (t[3] * a.dilationW - a.padLeft) * C;
  }
  int64_t ox = 0;
  for (; ox < std::min(first, a.OW); ++ox)
    depthwiseDirectBorder(a, s, ox, dst);
  for (; ox + 2 <= last + 1; ox += 2) {
    const int64_t o0 = ox * a.strideW * C, o1 = o0 + a.strideW * C;
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (int64_t q = 0; q < a.pairs; ++q) {
      const __m512i w = _mm512_loadu_si512(a.wPairs + q * 32);
      s0 = _mm512_dpwssd_epi32(
          s0, depthwiseDirectPair(tap0[q] + o0, tap1[q] + o0), w);
      s1 = _mm512_dpwssd_epi32(
          s1, depthwiseDirectPair(tap0[q] + o1, tap1[q] + o1), w);
    }
    requantStore16(s0, s, dst + ox * a.outStride);
    requantStore16(s1, s, dst + (ox + 1) * a.outStride);
  }
  for (; ox <= last; ++ox) {
    const int64_t o0 = ox * a.strideW * C;
    __m512i s0 = _mm512_setzero_si512();
    for (int64_t q = 0; q < a.pairs; ++q)
      s0 = _mm512_dpwssd_epi32(s0,
                               depthwiseDirectPair(tap0[q] + o0, tap1[q] + o0),
                               _mm512_loadu_si512(a.wPairs + q * 32));
    requantStore16(s0, s, dst + ox * a.outStride);
  }
  for (; ox < a.OW; ++ox)
    depthwiseDirectBorder(a, s, ox, dst);
}

/// Interior output pixels [ox0, ox0 + N) of an undilated KW-wide, stride-S
/// depthwise row, 16 channels. Each input column of the chunk's span is
/// loaded and sign-extended once (vpmovsxbd: the input in each 32-bit
/// lane's low int16, its sign in the high one) and feeds every output whose
/// window holds it: vpdpwssd against (w, 0) weight pairs adds exactly x * w
/// per lane. A column then costs one shuffle for up to KW / S dot-products,
/// where the tap-pair kernel needs four shuffles per dot-product.
template <int KW, int S, int N, bool Guarded>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"),
               always_inline)) inline void
depthwiseSextChunk(const DepthwiseDirectArgs &a, const int32_t *sextTaps,
                   int64_t x0, __m512i *acc) {
#pragma GCC unroll 16
  for (int j = 0; j < N; ++j)
    acc[j] = _mm512_setzero_si512();
  const int8_t *const *rows = a.rows;
  const int64_t C = a.C;
  for (int64_t ky = a.kyBegin; ky < a.kyEnd; ++ky) {
    const int8_t *base = rows[ky] + x0 * C;
    const int32_t *w = sextTaps + ky * KW * 16;
#pragma GCC unroll 32
    for (int m = 0; m < (N - 1) * S + KW; ++m) {
      // A column in the left or right padding adds nothing.
      if (Guarded && (x0 + m < 0 || x0 + m >= a.W))
        continue;
      const __m512i v = _mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(base + m * C)));
#pragma GCC unroll 16
      for (int j = 0; j < N; ++j) {
        const int kx = m - j * S;
        if (kx >= 0 && kx < KW)
          acc[j] =
              _mm512_dpwssd_epi32(acc[j], v, _mm512_loadu_si512(w + kx * 16));
      }
    }
  }
}

/// Output pixels [ox, ox + N) of depthwiseSextRowAvx512Vnni, requantized
/// and stored; the guarded chunk where their window leaves the row.
template <int KW, int S, int N, typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"),
               always_inline)) inline void
depthwiseSextStore(const DepthwiseDirectArgs &a, const int32_t *sextTaps,
                   const BlockStoreAvx512 &s, int64_t ox, Out *dst) {
  const int64_t x0 = ox * S - a.padLeft;
  __m512i acc[N];
  if (x0 < 0 || x0 + (N - 1) * S + KW > a.W)
    depthwiseSextChunk<KW, S, N, true>(a, sextTaps, x0, acc);
  else
    depthwiseSextChunk<KW, S, N, false>(a, sextTaps, x0, acc);
#pragma GCC unroll 16
  for (int j = 0; j < N; ++j)
    requantStore16(acc[j], s, dst + (ox + j) * a.outStride);
}

/// depthwiseDirectRowAvx512Vnni for an undilated KW x KH kernel at stride
/// S along the row: chunks of 8 (stride 1) or 4 (stride 2) output pixels,
/// then 4, 2 and 1 for the rest. The chunks that hold the border pixels
/// skip the columns outside the row, so a 5x5 kernel on a 7- or 14-wide
/// map (4 border pixels) still reuses every loaded column.
template <int KW, int S, typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"))) void
depthwiseSextRowAvx512Vnni(const DepthwiseDirectArgs &a,
                           const int32_t *sextTaps, const BlockStore &store,
                           Out *dst) {
  constexpr int N = S == 1 ? 8 : 4;
  const BlockStoreAvx512 s = loadBlockStore(store);
  int64_t ox = 0;
  for (; ox + N <= a.OW; ox += N)
    depthwiseSextStore<KW, S, N>(a, sextTaps, s, ox, dst);
  if (N > 4 && ox + 4 <= a.OW) {
    depthwiseSextStore<KW, S, 4>(a, sextTaps, s, ox, dst);
    ox += 4;
  }
  if (ox + 2 <= a.OW) {
    depthwiseSextStore<KW, S, 2>(a, sextTaps, s, ox, dst);
    ox += 2;
  }
  if (ox < a.OW)
    depthwiseSextStore<KW, S, 1>(a, sextTaps, s, ox, dst);
}

/// The row kernel for a layer's shape: the sign-extending one where it
/// has an instance (sextTaps non-null), else the tap-pair one.
template <typename Out>
void depthwiseDirectRow(const DepthwiseDirectArgs &a, const int32_t *sextTaps,
                        const BlockStore &store, Out *dst) {
  if (sextTaps) {
    if (a.KW == 3 && a.strideW == 1)
      return depthwiseSextRowAvx512Vnni<3, 1>(a, sextTaps, store, dst);
    if (a.KW == 3 && a.strideW == 2)
      return depthwiseSextRowAvx512Vnni<3, 2>(a, sextTaps, store, dst);
    if (a.KW == 5 && a.strideW == 1)
      return depthwiseSextRowAvx512Vnni<5, 1>(a, sextTaps, store, dst);
    if (a.KW == 5 && a.strideW == 2)
      return depthwiseSextRowAvx512Vnni<5, 2>(a, sextTaps, store, dst);
  }
  depthwiseDirectRowAvx512Vnni(a, store, dst);
}

/// Whether depthwiseDirectRow has a sign-extending instance for the shape.
bool hasSextRow(const ConvShape &s) {
  return s.dilationW == 1 && (s.kernelW == 3 || s.kernelW == 5) &&
         (s.strideW == 1 || s.strideW == 2);
}

#endif

DepthwiseRowFn depthwiseRowFor(Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512Vnni)
    return depthwiseRowAvx512Vnni;
  if (isa == Isa::Avx2)
    return depthwiseRowAvx2;
#endif
  return depthwiseRowGeneric;
}

template <typename Acc, typename Out>
DepthwisePlaneFn<Acc, Out> depthwisePlaneFor(Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512Vnni)
    return depthwisePlaneAvx512<Acc, Out>;
  if (isa == Isa::Avx2)
    return depthwisePlaneAvx2<Acc, Out>;
#endif
  return depthwisePlaneGeneric<Acc, Out>;
}

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
  GemmU8Fn gemmU8 = nullptr;
  Gemm2U8Fn gemm2U8 = nullptr;
  StoreBlockFn storeBlock = nullptr;
  /// gemm: per (group, block of 16 output channels); DepthwiseNhwc: per
  /// block of 16 channels.
  std::vector<BlockStore> blockStores;
  std::vector<int32_t> nhwcTaps; // DepthwiseNhwc: [blocks][taps][16]
  /// DepthwiseNhwc on AVX-512 VNNI: [blocks][pairs][16][2] (kPairLanes).
  std::vector<int16_t> nhwcPairs;
  /// DepthwiseNhwc on AVX-512 VNNI with int8 inputs, for the in-place row
  /// kernel: [blocks][pairs][16][2] with lanes in channel order, and each
  /// pair's taps as (ky, kx, ky, kx). Empty for kernels of more than
  /// 2 * kMaxDirectPairs taps.
  std::vector<int16_t> directPairs;
  std::vector<int64_t> directPairTaps;
  /// The in-place row kernel's sign-extending form (hasSextRow):
  /// [blocks][taps][16] weights as (w, 0) int16 pairs, i.e. uint16(w).
  std::vector<int32_t> sextTaps;
  int64_t O = 0, OH = 0, OW = 0, P = 0, cg = 0, og = 0, taps = 0, K = 0, k2 = 0,
          blocks = 0;
  /// Padded input extent covering every window (bottom/right padding and
  /// the last stride's overhang are zeros).
  int64_t Hp = 0, Wp = 0;
  std::vector<int16_t> packed;            // gemm: o16k2, K in (ky, kx, c) order
  std::vector<int8_t> packedU8;           // GemmU8: o16k4, the same K order
  int64_t k4 = 0;                         // GemmU8: K / 4, rounded up
  std::vector<int32_t> direct;            // depthwise: [O][KH * KW]
  std::vector<int64_t> bias;              // per output channel
  std::vector<int32_t> multiplier, shift; // per output channel
  int outBits = 8;
  int64_t lo = 0, hi = 0; // ReLU folded into lo

  using Channel = RequantChannel;
  Channel channel(int64_t oc) const {
    const int sh = shift[size_t(oc)];
    return {bias[size_t(oc)],
            multiplier[size_t(oc)],
            sh > 0 ? int64_t(1) << (sh - 1) : 0,
            lo,
            hi,
            sh};
  }

  template <typename Col, typename In>
  void padNHWC(const In *x, bool xNhwc, int64_t batch, Col *xp,
               const ParallelFor &parallel) const;
  template <typename Col, typename In, typename Out>
  void runGemm(const In *x, int64_t batch, Out *y, const ParallelFor &parallel,
               const ConvLayouts &layouts) const;
  template <typename In, typename Out>
  void runDepthwiseNhwc(const In *x, int64_t batch, Out *y,
                        const ParallelFor &parallel,
                        const ConvLayouts &layouts) const;
  template <typename Acc, typename In, typename Out>
  void runDepthwise(const In *x, int64_t batch, Out *y,
                    const ParallelFor &parallel) const;
  template <typename Out>
  void runDepthwiseDirect(const int8_t *x, int64_t batch, Out *y,
                          const ParallelFor &parallel) const;
  template <typename In, typename Out>
  void dispatch(const In *x, int64_t batch, Out *y, const ParallelFor &parallel,
                const ConvLayouts &layouts) const;
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
  im.gemmU8 = gemmU8For(im.isa);
  im.gemm2U8 = gemm2U8For(im.isa);
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
    im.method =
        im.og == 1 && im.taps <= (inputBits == 8 ? kMaxKInt8 : kMaxKInt16)
            ? Method::DepthwiseNhwc
            : Method::Depthwise;
  else if (inputBits == 8 && im.gemmU8 && im.K <= kMaxKInt16Split)
    // The same bound as the int16 split: |(x + 128) * w| <= 255 * 128.
    im.method = Method::GemmU8;
  else if (inputBits == 16 && im.K > kMaxKInt16)
    im.method = Method::GemmSplit16;
  else
    im.method = Method::Gemm;

  if (im.method == Method::Depthwise) {
    im.direct.assign(weight, weight + im.O * im.taps);
  } else if (im.method == Method::DepthwiseNhwc) {
    const int64_t blocks = (im.O + 15) / 16;
    // AVX-512 VNNI reads the taps in pairs; the other kernels one by one.
    if (im.isa != Isa::Avx512Vnni) {
      im.nhwcTaps.assign(size_t(blocks * im.taps * 16), 0);
      for (int64_t o = 0; o < im.O; ++o)
        for (int64_t t = 0; t < im.taps; ++t)
          im.nhwcTaps[size_t(((o / 16) * im.taps + t) * 16 + o % 16)] =
              weight[o * im.taps + t];
    }
    const int64_t pairs =
        im.isa == Isa::Avx512Vnni ? (im.taps + 1) / 2 : int64_t(0);
    im.nhwcPairs.assign(size_t(blocks * pairs * 32), 0);
    for (int64_t cb = 0; cb < blocks; ++cb)
      for (int64_t q = 0; q < pairs; ++q)
        for (int lane = 0; lane < 16; ++lane) {
          const int64_t o = cb * 16 + kPairLanes[lane];
          for (int64_t half = 0; half < 2; ++half) {
            const int64_t t = 2 * q + half;
            if (o < im.O && t < im.taps)
              im.nhwcPairs[size_t(((cb * pairs + q) * 16 + lane) * 2 + half)] =
                  weight[o * im.taps + t];
          }
        }
#if defined(__x86_64__) || defined(_M_X64)
    if (im.isa == Isa::Avx512Vnni && inputBits == 8 &&
        pairs <= kMaxDirectPairs) {
      im.directPairs.assign(size_t(blocks * pairs * 32), 0);
      for (int64_t o = 0; o < im.O; ++o)
        for (int64_t t = 0; t < im.taps; ++t)
          im.directPairs[size_t(((o / 16 * pairs + t / 2) * 16 + o % 16) * 2 +
                                t % 2)] = weight[o * im.taps + t];
      if (hasSextRow(shape)) {
        im.sextTaps.assign(size_t(blocks * im.taps * 16), 0);
        for (int64_t o = 0; o < im.O; ++o)
          for (int64_t t = 0; t < im.taps; ++t)
            im.sextTaps[size_t((o / 16 * im.taps + t) * 16 + o % 16)] =
                int32_t(uint16_t(weight[o * im.taps + t]));
      }
      for (int64_t q = 0; q < pairs; ++q) {
        const int64_t t0 = 2 * q, t1 = std::min(2 * q + 1, im.taps - 1);
        for (int64_t t : {t0, t1}) {
          im.directPairTaps.push_back(t / shape.kernelW);
          im.directPairTaps.push_back(t % shape.kernelW);
        }
      }
    }
#endif
  } else {
    // (c, ky, kx) -> (ky, kx, c) within each output channel, matching the
    // NHWC im2col rows (exact sums do not depend on the order).
    std::vector<int8_t> order(size_t(im.O * im.K));
    for (int64_t o = 0; o < im.O; ++o)
      for (int64_t c = 0; c < im.cg; ++c)
        for (int64_t t = 0; t < im.taps; ++t)
          order[size_t(o * im.K + t * im.cg + c)] =
              weight[o * im.K + c * im.taps + t];
    if (im.method == Method::GemmU8) {
      // o16k4 per (group, block): [k / 4][o][k % 4], zero beyond K and og.
      im.k4 = (im.K + 3) / 4;
      im.packedU8.assign(size_t(shape.groups * im.blocks * im.k4 * 64), 0);
      for (int64_t g = 0; g < shape.groups; ++g)
        for (int64_t o = 0; o < im.og; ++o)
          for (int64_t k = 0; k < im.K; ++k)
            im.packedU8[size_t(
                (((g * im.blocks + o / 16) * im.k4 + k / 4) * 16 + o % 16) * 4 +
                k % 4)] = order[size_t((g * im.og + o) * im.K + k)];
    } else {
      const std::vector<int8_t> packed =
          hbm::packWeightsO16K2(order, im.O, im.K, shape.groups);
      im.packed.assign(packed.begin(), packed.end());
    }
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
    // DepthwiseNhwc's blocks of 16 span all channels (as one group would).
    const bool nhwc = im.method == Method::DepthwiseNhwc;
    const int64_t groups = nhwc ? 1 : shape.groups;
    const int64_t og = nhwc ? im.O : im.og, blocks = (og + 15) / 16;
    im.blockStores.resize(size_t(groups * blocks));
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t ob = 0; ob < blocks; ++ob) {
        BlockStore &bs = im.blockStores[size_t(g * blocks + ob)];
        bs.lo = im.lo;
        bs.hi = im.hi;
        for (int64_t k = 0; k < 16; ++k) {
          const int64_t o = ob * 16 + k;
          const Impl::Channel c =
              o < og ? im.channel(g * og + o) : Impl::Channel{};
          bs.bias[k] = c.bias;
          if (im.method == Method::GemmU8 && o < og) {
            // The kernel sums (x + 128) * w: take 128 * sum(w) back off.
            int64_t sumW = 0;
            for (int64_t t = 0; t < im.K; ++t)
              sumW += weight[(g * og + o) * im.K + t];
            bs.bias[k] -= 128 * sumW;
          }
          bs.multiplier[k] = c.multiplier;
          bs.round[k] = c.round;
          bs.shift[k] = c.shift;
        }
        // The largest |sum| the kernel can produce: K products of an input
        // (x + 128 in [0, 255] for GemmU8, int8 or int16 otherwise) and an
        // int8 weight.
        const int64_t kTerms = nhwc ? im.taps : im.K;
        const int64_t maxInput = im.method == Method::GemmU8 ? 255
                                 : inputBits == 8            ? 128
                                                             : 32768;
        const int64_t maxSum = kTerms * maxInput * 128;
        bs.int32Sums = maxSum <= std::numeric_limits<int32_t>::max();
        for (int64_t k = 0; k < 16; ++k)
          bs.int32Sums =
              bs.int32Sums && std::abs(bs.bias[k]) + maxSum <=
                                  std::numeric_limits<int32_t>::max();
        bs.prepare();
      }
  }
  return conv;
}

IntegerConv::~IntegerConv() = default;

const char *IntegerConv::method() const {
  switch (impl->method) {
  case Method::Depthwise:
  case Method::DepthwiseNhwc:
    return "depthwise";
  case Method::GemmSplit16:
    return "gemm-split16";
  case Method::GemmU8: // the same GEMM on the int8 dot product
    return "gemm";
  default:
    return "gemm";
  }
}

Isa IntegerConv::isa() const { return impl->isa; }

/// Requantized [pixel][16] values to `pixels` NHWC pixels of `stride`
/// channels: `lanes` channels each. Everything in parameters, so that the
/// byte stores (which may alias anything) do not force reloads, and a
/// whole block has a fixed trip count the compiler vectorizes.
template <typename Out>
static void storeNhwc(const int32_t *stored, int64_t pixels, int64_t lanes,
                      int64_t stride, Out *dst) {
  if (lanes == 16) {
    for (int64_t p = 0; p < pixels; ++p, dst += stride, stored += 16)
      for (int k = 0; k < 16; ++k)
        dst[k] = Out(stored[k]);
    return;
  }
  for (int64_t p = 0; p < pixels; ++p, dst += stride, stored += 16)
    for (int64_t k = 0; k < lanes; ++k)
      dst[k] = Out(stored[k]);
}

/// The calling thread's buffer for a padded NHWC copy of `elements`
/// values, kept from call to call (a fresh allocation per layer costs more
/// in page faults than the copy itself); padNHWC writes every value. 16
/// more values follow, which DepthwiseNhwc's last channel block may read
/// (times zero weights).
template <typename Col> static Col *paddedInput(int64_t elements) {
  thread_local std::vector<Col> storage;
  if (int64_t(storage.size()) < elements + 16)
    storage.assign(size_t(elements + 16), Col(0));
  return storage.data();
}

/// An input value as the GEMM reads it: int16 as is; for the int8 dot
/// product an unsigned byte, x + 128 (so padding, x = 0, is 128).
template <typename Col, typename In> inline Col toCol(In v) {
  if constexpr (std::is_same_v<Col, uint8_t>)
    return uint8_t(int(v) + 128);
  else
    return int16_t(v);
}

template <typename Col, typename In>
void IntegerConv::Impl::padNHWC(const In *x, bool xNhwc, int64_t batch, Col *xp,
                                const ParallelFor &parallel) const {
  const int64_t C = s.channels, H = s.height, W = s.width;
  const Col zero = toCol<Col>(In(0));
  runTasks(parallel, batch * Hp, [&](int64_t task) {
    const int64_t n = task / Hp, yp = task % Hp;
    Col *dst = xp + (n * Hp + yp) * Wp * C;
    const int64_t y = yp - s.padTop;
    if (y < 0 || y >= H) {
      std::fill(dst, dst + Wp * C, zero);
      return;
    }
    // Only the padding columns need zeros; the row is written below.
    std::fill(dst, dst + s.padLeft * C, zero);
    std::fill(dst + (s.padLeft + W) * C, dst + Wp * C, zero);
    dst += s.padLeft * C;
    // Bounds in locals: byte stores may alias anything, so values read
    // through the lambda's references would be reloaded every element.
    const int64_t rowValues = W * C, width = W, channels = C, plane = H * W;
    if (xNhwc) {
      // Already channels-innermost: one converting copy of the row.
      const In *src = x + (n * H + y) * rowValues;
      for (int64_t e = 0; e < rowValues; ++e)
        dst[e] = toCol<Col>(src[e]);
      return;
    }
    const In *src = x + n * channels * plane + y * width;
    if (channels == 3) {
      // The image stem: with the channel count known, the three planes'
      // rows interleave as vectors (a stride-3 store group) instead of
      // one strided byte store per value.
      const In *r = src, *g = src + plane, *b = src + 2 * plane;
      for (int64_t xx = 0; xx < width; ++xx) {
        dst[3 * xx] = toCol<Col>(r[xx]);
        dst[3 * xx + 1] = toCol<Col>(g[xx]);
        dst[3 * xx + 2] = toCol<Col>(b[xx]);
      }
      return;
    }
    for (int64_t c = 0; c < channels; ++c, src += plane)
      for (int64_t xx = 0; xx < width; ++xx)
        dst[xx * channels + c] = toCol<Col>(src[xx]);
  });
}

template <typename Col, typename In, typename Out>
void IntegerConv::Impl::runGemm(const In *x, int64_t batch, Out *y,
                                const ParallelFor &parallel,
                                const ConvLayouts &layouts) const {
  // Col = int16_t: the o16k2 int16 kernels; uint8_t: GemmU8's o16k4 int8
  // dot product on inputs + 128.
  constexpr bool u8 = std::is_same_v<Col, uint8_t>;
  const int64_t C = s.channels, KH = s.kernelH, KW = s.kernelW;
  const int64_t sh = s.strideH, sw = s.strideW, dh = s.dilationH,
                dw = s.dilationW;
  const bool split = method == Method::GemmSplit16;
  const bool rowRuns = s.groups == 1 && dw == 1;
  // A kernel row's run of at most 16 bytes (the 3-channel stem's 9) moves
  // as one 16-byte copy: what it writes past the run is rewritten by the
  // next run, the K padding or the next im2col row, and both buffers have
  // 16 elements of slack at their ends.
  const bool shortRuns = rowRuns && KW * C * int64_t(sizeof(Col)) <= 16;
  // K values per kernel step (a pair of int16, four bytes) and steps.
  const int64_t group = u8 ? 4 : 2, steps = u8 ? k4 : k2;
  const int64_t ld = group * steps, total = batch * P;
  const Col padValue = toCol<Col>(In(0));
  // ~128 KiB of im2col per tile keeps it in L2 while every block reuses it.
  int64_t tile = (int64_t(128) << 10) / (ld * int64_t(sizeof(Col)));
  tile = std::clamp<int64_t>(tile / kPixelStep * kPixelStep, kPixelStep, 256);
  tile = std::min(tile, roundUp(total, kPixelStep));
  const int64_t chunks = (total + tile - 1) / tile;
  const bool inPlace = KH == 1 && KW == 1 && sh == 1 && sw == 1 &&
                       s.padTop == 0 && s.padLeft == 0 && s.padBottom == 0 &&
                       s.padRight == 0 && s.groups == 1 && !split &&
                       C % group == 0;
  // Such a conv on an NHWC input converts each tile's rows of x into the
  // col buffer itself: the matrix is x, so the padded copy of the whole
  // input would only add a write and a read of it through memory.
  const bool tileRows = inPlace && layouts.inputNhwc;
  Col *xp = nullptr;
  if (!tileRows) {
    xp = paddedInput<Col>(batch * Hp * Wp * C);
    padNHWC(x, layouts.inputNhwc, batch, xp, parallel);
  }
  // The GEMM of one tile's im2col rows (col, and colLow with the int16
  // split) with every block of the group's output channels, then the
  // requantizing store.
  auto storeTile = [&](int64_t g, int64_t q0, int64_t nq, int64_t npad,
                       const Col *col, const Col *colLow, int64_t blockBegin,
                       int64_t blockEnd, Scratch &sc) {
    for (int64_t ob = blockBegin; ob < blockEnd;) {
      const int64_t nb = ob + 1 < blockEnd ? 2 : 1;
      int32_t *acc = sc.acc.data();
      int32_t *accLow = split ? sc.accLow.data() : nullptr;
      if constexpr (u8) {
        const int8_t *wb = packedU8.data() + (g * blocks + ob) * k4 * 64;
#if defined(__x86_64__) || defined(_M_X64)
        // NHWC output: requantize in registers; a partial last block
        // stores only its channels.
        if (layouts.outputNhwc) {
          const BlockStore &store0 = blockStores[size_t(g * blocks + ob)];
          Out *out = y + q0 * O + g * og + ob * 16;
          const int64_t lanes =
              std::min<int64_t>(16, og - ob * 16 - 16 * (nb - 1));
          const __mmask16 mask = __mmask16((1u << lanes) - 1);
          if (nb == 2)
            gemm2U8StoreNhwc(wb, col, k4, nq, store0,
                             blockStores[size_t(g * blocks + ob + 1)], mask,
                             out, O);
          else
            gemm1U8StoreNhwc(wb, col, k4, nq, store0, mask, out, O);
          ob += nb;
          continue;
        }
#endif
        if (nb == 2)
          gemm2U8(wb, col, k4, npad, acc, acc + tile * 16);
        else
          gemmU8(wb, col, k4, npad, acc);
      } else {
        const int16_t *wb = packed.data() + (g * blocks + ob) * k2 * 32;
        if (nb == 2) {
          gemm2(wb, col, k2, npad, acc, acc + tile * 16);
          if (split)
            gemm2(wb, colLow, k2, npad, accLow, accLow + tile * 16);
        } else {
          gemm(wb, col, k2, npad, acc);
          if (split)
            gemm(wb, colLow, k2, npad, accLow);
        }
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
        if (layouts.outputNhwc) {
          // Pixels are consecutive across images: each gets its oEnd
          // channels contiguously.
          storeNhwc(stored, nq, oEnd, O, y + q0 * O + g * og + ob * 16);
          continue;
        }
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
  };
  // Few pixel tiles (the late, small layers) leave threads idle: split the
  // output channels too, in pairs of blocks, into enough parts for four
  // tasks per group (each part repeats the tile's im2col fill, which 1x1
  // convs read in place anyway).
  const int64_t blockPairs = (blocks + 1) / 2;
  const int64_t parts =
      chunks >= 4 ? 1 : std::min(blockPairs, (4 + chunks - 1) / chunks);
  const int64_t pairsPerPart = (blockPairs + parts - 1) / parts;
  runTasks(parallel, s.groups * chunks * parts, [&](int64_t task) {
    const int64_t part = task % parts, chunk = task / parts % chunks,
                  g = task / parts / chunks;
    const int64_t blockBegin = std::min(blocks, part * pairsPerPart * 2);
    const int64_t blockEnd = std::min(blocks, blockBegin + pairsPerPart * 2);
    if (blockBegin >= blockEnd)
      return;
    const int64_t q0 = chunk * tile, nq = std::min(tile, total - q0);
    const int64_t npad = roundUp(nq, kPixelStep);
    Scratch &sc = scratch;
    std::vector<Col> &colStore = colBuffer<Col>(sc);
    if (int64_t(colStore.size()) < tile * ld + 16)
      colStore.resize(size_t(tile * ld + 16));
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
    // A 1x1 stride-1 unpadded conv with an even C: the padded NHWC copy is
    // already the im2col matrix (row q at xp + q * C, ld = C). Full tiles
    // read it in place; a partial last tile is copied and zero-padded.
    if (tileRows) {
      Col *col = colStore.data();
      const In *src = x + q0 * C;
      const int64_t values = nq * C;
      for (int64_t e = 0; e < values; ++e)
        col[e] = toCol<Col>(src[e]);
      std::fill(col + values, col + npad * C, padValue);
      storeTile(g, q0, nq, npad, col, nullptr, blockBegin, blockEnd, sc);
      return;
    }
    if (inPlace && nq == npad) {
      storeTile(g, q0, nq, npad, xp + q0 * C, nullptr, blockBegin, blockEnd,
                sc);
      return;
    }
    Col *col = colStore.data();
    // The pixel's image and output position, stepped rather than divided
    // out of q per pixel (four 64-bit divisions cost more than the copy).
    int64_t n = q0 / P, oy = q0 % P / OW, ox = q0 % P % OW;
    for (int64_t qi = 0; qi < nq; ++qi) {
      Col *row = col + qi * ld;
      const Col *base = xp + ((n * Hp + oy * sh) * Wp + ox * sw) * C + g * cg;
      for (int64_t ky = 0; ky < KH; ++ky) {
        const Col *src = base + ky * dh * Wp * C;
        if (shortRuns) {
          std::memcpy(row, src, 16);
          row += KW * C;
          continue;
        }
        if (rowRuns) {
          std::memcpy(row, src, size_t(KW * C) * sizeof(Col));
          row += KW * C;
          continue;
        }
        for (int64_t kx = 0; kx < KW; ++kx, row += cg)
          std::memcpy(row, src + kx * dw * C, size_t(cg) * sizeof(Col));
      }
      // K padding up to the kernel step (zero weights there).
      std::fill(col + qi * ld + K, col + (qi + 1) * ld, padValue);
      if (++ox == OW) {
        ox = 0;
        if (++oy == OH) {
          oy = 0;
          ++n;
        }
      }
    }
    std::fill(col + nq * ld, col + npad * ld, padValue);
    Col *colLow = nullptr;
    if constexpr (!u8)
      colLow = split ? sc.colLow.data() : nullptr;
    if (split) {
      // x = 256 * hi + lo with hi in [-128, 127] and lo in [0, 255]: both
      // halves keep every int32 partial sum exact up to kMaxKInt16Split.
      for (int64_t e = 0; e < npad * ld; ++e) {
        const Col v = col[e];
        colLow[e] = Col(v & 0xFF);
        col[e] = Col(v >> 8);
      }
    }
    storeTile(g, q0, nq, npad, col, colLow, blockBegin, blockEnd, sc);
  });
}

template <typename Acc, typename In, typename Out>
void IntegerConv::Impl::runDepthwise(const In *x, int64_t batch, Out *y,
                                     const ParallelFor &parallel) const {
  const int64_t H = s.height, W = s.width, sw = s.strideW;
  DepthwiseGeometry g;
  g.OH = OH;
  g.OW = OW;
  g.KH = s.kernelH;
  g.KW = s.kernelW;
  g.sh = s.strideH;
  g.sw = sw;
  g.dh = s.dilationH;
  g.dw = s.dilationW;
  // Room for the last output column's farthest tap in every phase.
  g.phaseWidth = (Wp + sw - 1) / sw + 1;
  const DepthwisePlaneFn<Acc, Out> planeFn = depthwisePlaneFor<Acc, Out>(isa);
  const int64_t planeSize = Hp * sw * g.phaseWidth;
  runTasks(parallel, batch * O, [&](int64_t task) {
    const int64_t n = task / O, oc = task % O, c = oc / og;
    Scratch &sc = scratch;
    if (int64_t(sc.plane.size()) < planeSize)
      sc.plane.resize(size_t(planeSize));
    int32_t *phased = sc.plane.data();
    std::fill(phased, phased + planeSize, 0);
    const In *src = x + (n * s.channels + c) * H * W;
    for (int64_t yy = 0; yy < H; ++yy) {
      int32_t *line = phased + (yy + s.padTop) * sw * g.phaseWidth;
      const In *in = src + yy * W;
      if (sw == 1) {
        std::copy(in, in + W, line + s.padLeft);
        continue;
      }
      // Phase by phase: column = xx + padLeft lands in phase column % sw
      // at column / sw.
      for (int64_t phase = 0; phase < sw; ++phase) {
        const int64_t first = ((phase - s.padLeft) % sw + sw) % sw;
        int32_t *dst = line + phase * g.phaseWidth + (first + s.padLeft) / sw;
        for (int64_t xx = first; xx < W; xx += sw)
          *dst++ = in[xx];
      }
    }
    std::vector<Acc> &rowStore = rowBuffer<Acc>(sc);
    if (int64_t(rowStore.size()) < OW)
      rowStore.resize(size_t(OW));
    planeFn(phased, g, direct.data() + oc * taps, channel(oc), rowStore.data(),
            y + (n * O + oc) * P);
  });
}

template <typename In, typename Out>
void IntegerConv::Impl::runDepthwiseNhwc(const In *x, int64_t batch, Out *y,
                                         const ParallelFor &parallel,
                                         const ConvLayouts &layouts) const {
  const int64_t C = s.channels;
  if constexpr (std::is_same_v<In, int8_t>) {
    // Whole channel blocks read in place, so no block reads past a pixel.
    if (!directPairs.empty() && layouts.inputNhwc && layouts.outputNhwc &&
        C % 16 == 0) {
      runDepthwiseDirect(x, batch, y, parallel);
      return;
    }
  }
  int16_t *xp = paddedInput<int16_t>(batch * Hp * Wp * C);
  padNHWC(x, layouts.inputNhwc, batch, xp, parallel);
  const int64_t channelBlocks = (C + 15) / 16;
  const DepthwiseRowFn rowFn = depthwiseRowFor(isa);
  // Each tap pair's input offsets from an output pixel's first tap.
  const int64_t pairs = (taps + 1) / 2;
  std::vector<int64_t> pairOffsets(size_t(2 * pairs));
  for (int64_t t = 0; t < 2 * pairs; ++t) {
    const int64_t tap = std::min(t, taps - 1);
    pairOffsets[size_t(t)] = tap / s.kernelW * s.dilationH * Wp * C +
                             tap % s.kernelW * s.dilationW * C;
  }
  runRowBlocks(parallel, batch * OH, channelBlocks,
               [&](int64_t row, int64_t cbBegin, int64_t cbEnd) {
                 const int64_t oy = row % OH, n = row / OH;
                 for (int64_t cb = cbBegin; cb < cbEnd; ++cb) {
                   Scratch &sc = scratch;
                   if (int64_t(sc.acc.size()) < OW * 16)
                     sc.acc.resize(size_t(OW * 16));
                   if (int64_t(sc.stored.size()) < OW * 16)
                     sc.stored.resize(size_t(OW * 16));
                   DepthwiseRowArgs a;
                   a.x = xp + (n * Hp + oy * s.strideH) * Wp * C + cb * 16;
                   a.w = nhwcTaps.data() + cb * taps * 16;
                   a.wPairs = nhwcPairs.data() + cb * pairs * 32;
                   a.pairOffsets = pairOffsets.data();
                   a.pairs = pairs;
                   a.KH = s.kernelH;
                   a.KW = s.kernelW;
                   a.OW = OW;
                   a.rowStep = s.dilationH * Wp * C;
                   a.tapStep = s.dilationW * C;
                   a.pixelStep = s.strideW * C;
                   a.acc = sc.acc.data();
                   rowFn(a);
                   int32_t *stored = sc.stored.data();
                   storeBlock(a.acc, nullptr, OW, blockStores[size_t(cb)],
                              stored);
                   const int64_t lanes = std::min<int64_t>(16, C - cb * 16);
                   if (layouts.outputNhwc) {
                     storeNhwc(stored, OW, lanes, O,
                               y + (n * OH + oy) * OW * O + cb * 16);
                     continue;
                   }
                   for (int64_t k = 0; k < lanes; ++k) {
                     Out *dst = y + (n * O + cb * 16 + k) * P + oy * OW;
                     for (int64_t ox = 0; ox < OW; ++ox)
                       dst[ox] = Out(stored[ox * 16 + k]);
                   }
                 }
               });
}

template <typename Out>
void IntegerConv::Impl::runDepthwiseDirect(const int8_t *x, int64_t batch,
                                           Out *y,
                                           const ParallelFor &parallel) const {
#if defined(__x86_64__) || defined(_M_X64)
  const int64_t C = s.channels, H = s.height, W = s.width;
  const int64_t channelBlocks = C / 16, pairs = (taps + 1) / 2;
  // What the taps in the top and bottom padding read: a row of zeros.
  const std::vector<int8_t> zeros(size_t(W * C), 0);
  runRowBlocks(
      parallel, batch * OH, channelBlocks,
      [&](int64_t row, int64_t cbBegin, int64_t cbEnd) {
        const int64_t oy = row % OH, n = row / OH;
        const int8_t *rowStart[2 * kMaxDirectPairs];
        int64_t kyBegin = s.kernelH, kyEnd = 0;
        for (int64_t ky = 0; ky < s.kernelH; ++ky) {
          const int64_t iy = oy * s.strideH - s.padTop + ky * s.dilationH;
          const bool inside = iy >= 0 && iy < H;
          rowStart[ky] = inside ? x + (n * H + iy) * W * C : zeros.data();
          if (inside) {
            kyBegin = std::min(kyBegin, ky);
            kyEnd = ky + 1;
          }
        }
        kyBegin = std::min(kyBegin, kyEnd);
        for (int64_t cb = cbBegin; cb < cbEnd; ++cb) {
          const int8_t *rows[2 * kMaxDirectPairs];
          for (int64_t ky = 0; ky < s.kernelH; ++ky)
            rows[ky] = rowStart[ky] + cb * 16;
          DepthwiseDirectArgs a;
          a.rows = rows;
          a.wPairs = directPairs.data() + cb * pairs * 32;
          a.pairTaps = directPairTaps.data();
          a.pairs = pairs;
          a.W = W;
          a.C = C;
          a.KH = s.kernelH;
          a.KW = s.kernelW;
          a.kyBegin = kyBegin;
          a.kyEnd = kyEnd;
          a.strideW = s.strideW;
          a.dilationW = s.dilationW;
          a.padLeft = s.padLeft;
          a.OW = OW;
          a.outStride = O;
          depthwiseDirectRow<Out>(
              a, sextTaps.empty() ? nullptr : sextTaps.data() + cb * taps * 16,
              blockStores[size_t(cb)], y + (n * OH + oy) * OW * O + cb * 16);
        }
      });
#else
  (void)x, (void)batch, (void)y, (void)parallel;
#endif
}

/// `count` images of `channels` x `pixels` from one memory order to the
/// other.
template <typename T>
static void transposeImages(const T *src, int64_t count, int64_t channels,
                            int64_t pixels, bool toNhwc, T *dst) {
  for (int64_t n = 0; n < count;
       ++n, src += channels * pixels, dst += channels * pixels)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t p = 0; p < pixels; ++p) {
        if (toNhwc)
          dst[p * channels + c] = src[c * pixels + p];
        else
          dst[c * pixels + p] = src[p * channels + c];
      }
}

template <typename In, typename Out>
void IntegerConv::Impl::dispatch(const In *x, int64_t batch, Out *y,
                                 const ParallelFor &parallel,
                                 const ConvLayouts &layouts) const {
  if (method == Method::DepthwiseNhwc) {
    runDepthwiseNhwc(x, batch, y, parallel, layouts);
    return;
  }
  if (method == Method::GemmU8) {
    if constexpr (std::is_same_v<In, int8_t>)
      runGemm<uint8_t>(x, batch, y, parallel, layouts);
    return; // create() chose GemmU8 for int8 inputs only
  }
  if (method != Method::Depthwise) {
    runGemm<int16_t>(x, batch, y, parallel, layouts);
    return;
  }
  if (layouts.inputNhwc || layouts.outputNhwc) {
    // The plane kernel (channel multipliers, int64 sums: rare) reads and
    // writes NCHW; other orders go through transposed copies.
    std::vector<In> xt;
    if (layouts.inputNhwc) {
      xt.resize(size_t(batch * s.channels * s.height * s.width));
      transposeImages(x, batch, s.channels, s.height * s.width, false,
                      xt.data());
      x = xt.data();
    }
    std::vector<Out> yt(layouts.outputNhwc ? size_t(batch * O * P) : 0);
    dispatch(x, batch, layouts.outputNhwc ? yt.data() : y, parallel,
             ConvLayouts{});
    if (layouts.outputNhwc)
      transposeImages(yt.data(), batch, O, P, true, y);
    return;
  }
  const bool int32Exact = taps <= (sizeof(In) == 1 ? kMaxKInt8 : kMaxKInt16);
  if (int32Exact)
    runDepthwise<int32_t>(x, batch, y, parallel);
  else
    runDepthwise<int64_t>(x, batch, y, parallel);
}

void IntegerConv::run(const void *input, int64_t batch, void *output,
                      const ParallelFor &parallel,
                      const ConvLayouts &layouts) const {
  if (batch <= 0)
    return;
  const bool out16 = impl->outBits == 16;
  if (impl->inBits == 8) {
    const auto *x = static_cast<const int8_t *>(input);
    if (out16)
      impl->dispatch(x, batch, static_cast<int16_t *>(output), parallel,
                     layouts);
    else
      impl->dispatch(x, batch, static_cast<int8_t *>(output), parallel,
                     layouts);
  } else {
    const auto *x = static_cast<const int16_t *>(input);
    if (out16)
      impl->dispatch(x, batch, static_cast<int16_t *>(output), parallel,
                     layouts);
    else
      impl->dispatch(x, batch, static_cast<int8_t *>(output), parallel,
                     layouts);
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

namespace {

template <typename Out>
void quantizeRangeScalar(const float *x, int64_t count, float scale, int bits,
                         Out *out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = Out(quant::quantizeValue(x[i], scale, bits));
}

#if defined(__x86_64__) || defined(_M_X64)
/// quantizeValue's steps in float32 lanes: the same product, NaN lanes
/// zeroed, vrndscaleps to nearest-even (the default rounding mode
/// nearbyint uses), the clamp in float (so +-inf saturate), then an exact
/// conversion of the integral values.
template <typename Out>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) void
quantizeRangeAvx512(const float *x, int64_t count, float scale, int bits,
                    Out *out) {
  const __m512 invScale = _mm512_set1_ps(1.0f / scale);
  const __m512 lo = _mm512_set1_ps(float(quant::qmin(bits)));
  const __m512 hi = _mm512_set1_ps(float(quant::qmax(bits)));
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), invScale);
    const __mmask16 ordered = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_maskz_roundscale_ps(
        ordered, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __m512i q = _mm512_cvtps_epi32(v);
    if constexpr (sizeof(Out) == 1)
      _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i),
                       _mm512_cvtepi32_epi8(q));
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + i),
                          _mm512_cvtepi32_epi16(q));
  }
  quantizeRangeScalar(x + i, count - i, scale, bits, out + i);
}
#endif

template <typename Out>
void quantizeSlices(const float *x, int64_t count, float scale, int bits,
                    Out *out, Isa isa, const ParallelFor &parallel) {
  auto range = quantizeRangeScalar<Out>;
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512Vnni)
    range = quantizeRangeAvx512<Out>;
#endif
  constexpr int64_t kSlice = 1 << 16;
  runTasks(parallel, (count + kSlice - 1) / kSlice, [&](int64_t task) {
    const int64_t begin = task * kSlice, end = std::min(count, begin + kSlice);
    range(x + begin, end - begin, scale, bits, out + begin);
  });
}

} // namespace

bool quantizeFloats(const float *x, int64_t count, float scale, int bits,
                    void *out, Isa isa, const ParallelFor &parallel) {
  if ((bits != 8 && bits != 16) || count < 0)
    return false;
  const Isa best = detectIsa();
  if (isa == Isa::Auto || int(isa) > int(best))
    isa = best;
  if (bits == 8)
    quantizeSlices(x, count, scale, bits, static_cast<int8_t *>(out), isa,
                   parallel);
  else
    quantizeSlices(x, count, scale, bits, static_cast<int16_t *>(out), isa,
                   parallel);
  return true;
}

} // namespace hat::runtime
