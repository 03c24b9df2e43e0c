//===- Gemm.h - int16 / int8 multiply-add micro-kernels ---------*- C++ -*-===//
//
// One block of 16 output channels against a run of im2col pixels:
//   c[p * 16 + o] = sum over k of w[k / 2][o][k % 2] * col[p][k]
// with w one o16k2 block widened to int16 and col rows of 2 * k2 int16.
// Sums are exact in int32 as long as |sum| < 2^31, which the caller ensures
// (int8 inputs: K < 2^17; int16 inputs: K < 512).
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LIB_RUNTIME_GEMM_H
#define HAT_LIB_RUNTIME_GEMM_H

#include "hat/Runtime/Runtime.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace hat::runtime {

/// `pixels` must be a multiple of kPixelStep (col is zero-padded).
constexpr int64_t kPixelStep = 8;

using GemmFn = void (*)(const int16_t *w, const int16_t *col, int64_t k2,
                        int64_t pixels, int32_t *c);
GemmFn gemmFor(Isa isa);

/// Two consecutive weight blocks (32 channels) against the same pixels:
/// c0 from w0 and c1 from w0 + 32 * k2, each laid out like GemmFn's c. One
/// broadcast of each im2col pair feeds both blocks.
using Gemm2Fn = void (*)(const int16_t *w, const int16_t *col, int64_t k2,
                         int64_t pixels, int32_t *c0, int32_t *c1);
Gemm2Fn gemm2For(Isa isa);

/// The int8 form (AVX-512 VNNI `vpdpbusd`): one o16k4 block of 16 output
/// channels (w[k / 4][o][k % 4], int8) against im2col rows of 4 * k4
/// unsigned bytes (the int8 inputs plus 128):
///   c[p * 16 + o] = sum over k of w[k / 4][o][k % 4] * col[p][k]
/// exact in int32 while K * 255 * 128 < 2^31 (K <= 65,793). The caller
/// subtracts 128 * sum(w) per channel. Null where the CPU has no VNNI.
using GemmU8Fn = void (*)(const int8_t *w, const uint8_t *col, int64_t k4,
                          int64_t pixels, int32_t *c);
GemmU8Fn gemmU8For(Isa isa);
/// Two consecutive o16k4 blocks (w0 and w0 + 64 * k4) sharing each
/// broadcast, as Gemm2Fn.
using Gemm2U8Fn = void (*)(const int8_t *w, const uint8_t *col, int64_t k4,
                           int64_t pixels, int32_t *c0, int32_t *c1);
Gemm2U8Fn gemm2U8For(Isa isa);

#if defined(__x86_64__) || defined(_M_X64)
/// acc += the int8 dot products of x's unsigned bytes and w's signed ones
/// (vpdpbusd), as inline assembly: with the intrinsic, GCC 12 gives the
/// result a fresh register and copies it back, twice per accumulator and
/// k step; the tied "+v" operand keeps each accumulator in one register.
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline void
dotBytesAvx512(__m512i &acc, __m512i x, __m512i w) {
  asm("vpdpbusd %[w], %[x], %[acc]" : [acc] "+v"(acc) : [x] "v"(x), [w] "v"(w));
}

/// The 4 bytes at p in every 32-bit lane.
__attribute__((target("avx512f"), always_inline)) inline __m512i
broadcastBytes4(const uint8_t *p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/// One pixel's 4 input bytes against two blocks' weights: a += x . wa,
/// b += x . wb, sharing the broadcast.
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline void
dotPixelTwoBlocks(__m512i &a, __m512i &b, const uint8_t *x, __m512i wa,
                  __m512i wb) {
  const __m512i bx = broadcastBytes4(x);
  dotBytesAvx512(a, bx, wa);
  dotBytesAvx512(b, bx, wb);
}

/// accumulate2U8Avx512 for one o16k4 block: 8 pixels into a[8].
__attribute__((target("avx512f,avx512bw,avx512vnni"),
               always_inline)) inline void
accumulate1U8Avx512(const int8_t *w, const uint8_t *x, int64_t k4,
                    __m512i a[8]) {
  const int64_t ld = 4 * k4;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
          a5 = a0, a6 = a0, a7 = a0;
  for (int64_t kk = 0; kk < k4; ++kk) {
    const __m512i wa = _mm512_loadu_si512((const void *)(w + kk * 64));
    const uint8_t *xk = x + 4 * kk;
    dotBytesAvx512(a0, broadcastBytes4(xk), wa);
    dotBytesAvx512(a1, broadcastBytes4(xk + ld), wa);
    dotBytesAvx512(a2, broadcastBytes4(xk + 2 * ld), wa);
    dotBytesAvx512(a3, broadcastBytes4(xk + 3 * ld), wa);
    dotBytesAvx512(a4, broadcastBytes4(xk + 4 * ld), wa);
    dotBytesAvx512(a5, broadcastBytes4(xk + 5 * ld), wa);
    dotBytesAvx512(a6, broadcastBytes4(xk + 6 * ld), wa);
    dotBytesAvx512(a7, broadcastBytes4(xk + 7 * ld), wa);
  }
  a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
  a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
}

/// Gemm2U8Fn's inner product for 8 pixels (x: 8 rows of 4 * k4 bytes)
/// against two o16k4 blocks (w and w + 64 * k4), into a[8] and b[8]
/// (zeroed here). Inline, so that a fused kernel can requantize the sums
/// while they are still in registers.
__attribute__((target("avx512f,avx512bw,avx512vnni"),
               always_inline)) inline void
accumulate2U8Avx512(const int8_t *w, const uint8_t *x, int64_t k4, __m512i a[8],
                    __m512i b[8]) {
  const int64_t ld = 4 * k4;
  const int8_t *w1 = w + k4 * 64;
  // Sixteen named accumulators, not the arrays: the asm operands would
  // make the arrays addressable, and every accumulator would be stored
  // back to the stack on each k step.
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
          a5 = a0, a6 = a0, a7 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0,
          b4 = a0, b5 = a0, b6 = a0, b7 = a0;
  for (int64_t kk = 0; kk < k4; ++kk) {
    const __m512i wa = _mm512_loadu_si512((const void *)(w + kk * 64));
    const __m512i wb = _mm512_loadu_si512((const void *)(w1 + kk * 64));
    const uint8_t *xk = x + 4 * kk;
    dotPixelTwoBlocks(a0, b0, xk + 0 * ld, wa, wb);
    dotPixelTwoBlocks(a1, b1, xk + 1 * ld, wa, wb);
    dotPixelTwoBlocks(a2, b2, xk + 2 * ld, wa, wb);
    dotPixelTwoBlocks(a3, b3, xk + 3 * ld, wa, wb);
    dotPixelTwoBlocks(a4, b4, xk + 4 * ld, wa, wb);
    dotPixelTwoBlocks(a5, b5, xk + 5 * ld, wa, wb);
    dotPixelTwoBlocks(a6, b6, xk + 6 * ld, wa, wb);
    dotPixelTwoBlocks(a7, b7, xk + 7 * ld, wa, wb);
  }
  a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
  a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
  b[0] = b0, b[1] = b1, b[2] = b2, b[3] = b3;
  b[4] = b4, b[5] = b5, b[6] = b6, b[7] = b7;
}
#endif

} // namespace hat::runtime

#endif // HAT_LIB_RUNTIME_GEMM_H
