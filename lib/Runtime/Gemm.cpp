//===- Gemm.cpp - int16 / int8 multiply-add micro-kernels -----------------===//
//
// The SIMD kernels are compiled with function-level target attributes and
// chosen at run time, so the library itself targets baseline x86-64 (or any
// other CPU, where only the scalar kernel exists).
//
//===----------------------------------------------------------------------===//

#include "Gemm.h"

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define HAT_X86 1
#endif

namespace hat::runtime {

namespace {

void gemmScalar(const int16_t *w, const int16_t *col, int64_t k2,
                int64_t pixels, int32_t *c) {
  for (int64_t p = 0; p < pixels; ++p) {
    int32_t acc[16] = {0};
    const int16_t *x = col + p * 2 * k2;
    for (int64_t kk = 0; kk < k2; ++kk) {
      const int32_t x0 = x[2 * kk], x1 = x[2 * kk + 1];
      const int16_t *wk = w + kk * 32;
      for (int o = 0; o < 16; ++o)
        acc[o] += wk[2 * o] * x0 + wk[2 * o + 1] * x1;
    }
    std::memcpy(c + p * 16, acc, sizeof acc);
  }
}

#ifdef HAT_X86
__attribute__((target("avx2"))) void gemmAvx2(const int16_t *w,
                                              const int16_t *col, int64_t k2,
                                              int64_t pixels, int32_t *c) {
  const int64_t ld = 2 * k2;
  for (int64_t p = 0; p < pixels; p += 4) {
    __m256i a0 = _mm256_setzero_si256(), b0 = _mm256_setzero_si256();
    __m256i a1 = _mm256_setzero_si256(), b1 = _mm256_setzero_si256();
    __m256i a2 = _mm256_setzero_si256(), b2 = _mm256_setzero_si256();
    __m256i a3 = _mm256_setzero_si256(), b3 = _mm256_setzero_si256();
    const int16_t *x0 = col + p * ld, *x1 = x0 + ld, *x2 = x1 + ld,
                  *x3 = x2 + ld;
    for (int64_t kk = 0; kk < k2; ++kk) {
      const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + kk * 32));
      const __m256i w1 =
          _mm256_loadu_si256((const __m256i *)(w + kk * 32 + 16));
      int32_t v;
      std::memcpy(&v, x0 + 2 * kk, 4);
      __m256i bx = _mm256_set1_epi32(v);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, bx));
      b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(w1, bx));
      std::memcpy(&v, x1 + 2 * kk, 4);
      bx = _mm256_set1_epi32(v);
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w0, bx));
      b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(w1, bx));
      std::memcpy(&v, x2 + 2 * kk, 4);
      bx = _mm256_set1_epi32(v);
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(w0, bx));
      b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(w1, bx));
      std::memcpy(&v, x3 + 2 * kk, 4);
      bx = _mm256_set1_epi32(v);
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(w0, bx));
      b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(w1, bx));
    }
    int32_t *cp = c + p * 16;
    _mm256_storeu_si256((__m256i *)(cp + 0), a0);
    _mm256_storeu_si256((__m256i *)(cp + 8), b0);
    _mm256_storeu_si256((__m256i *)(cp + 16), a1);
    _mm256_storeu_si256((__m256i *)(cp + 24), b1);
    _mm256_storeu_si256((__m256i *)(cp + 32), a2);
    _mm256_storeu_si256((__m256i *)(cp + 40), b2);
    _mm256_storeu_si256((__m256i *)(cp + 48), a3);
    _mm256_storeu_si256((__m256i *)(cp + 56), b3);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void
gemmAvx512Vnni(const int16_t *w, const int16_t *col, int64_t k2, int64_t pixels,
               int32_t *c) {
  const int64_t ld = 2 * k2;
  for (int64_t p = 0; p < pixels; p += 8) {
    __m512i acc[8];
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm512_setzero_si512();
    const int16_t *x = col + p * ld;
    for (int64_t kk = 0; kk < k2; ++kk) {
      const __m512i wk = _mm512_loadu_si512((const void *)(w + kk * 32));
      for (int j = 0; j < 8; ++j) {
        int32_t v;
        std::memcpy(&v, x + j * ld + 2 * kk, 4);
        acc[j] = _mm512_dpwssd_epi32(acc[j], wk, _mm512_set1_epi32(v));
      }
    }
    for (int j = 0; j < 8; ++j)
      _mm512_storeu_si512((void *)(c + (p + j) * 16), acc[j]);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void
gemm2Avx512Vnni(const int16_t *w, const int16_t *col, int64_t k2,
                int64_t pixels, int32_t *c0, int32_t *c1) {
  const int64_t ld = 2 * k2;
  const int16_t *w1 = w + k2 * 32;
  for (int64_t p = 0; p < pixels; p += 8) {
    __m512i a[8], b[8];
    for (int j = 0; j < 8; ++j)
      a[j] = b[j] = _mm512_setzero_si512();
    const int16_t *x = col + p * ld;
    for (int64_t kk = 0; kk < k2; ++kk) {
      const __m512i wa = _mm512_loadu_si512((const void *)(w + kk * 32));
      const __m512i wb = _mm512_loadu_si512((const void *)(w1 + kk * 32));
      for (int j = 0; j < 8; ++j) {
        int32_t v;
        std::memcpy(&v, x + j * ld + 2 * kk, 4);
        const __m512i bx = _mm512_set1_epi32(v);
        a[j] = _mm512_dpwssd_epi32(a[j], wa, bx);
        b[j] = _mm512_dpwssd_epi32(b[j], wb, bx);
      }
    }
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_si512((void *)(c0 + (p + j) * 16), a[j]);
      _mm512_storeu_si512((void *)(c1 + (p + j) * 16), b[j]);
    }
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void
gemmU8Avx512Vnni(const int8_t *w, const uint8_t *col, int64_t k4,
                 int64_t pixels, int32_t *c) {
  const int64_t ld = 4 * k4;
  for (int64_t p = 0; p < pixels; p += 8) {
    __m512i acc[8];
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm512_setzero_si512();
    const uint8_t *x = col + p * ld;
    for (int64_t kk = 0; kk < k4; ++kk) {
      const __m512i wk = _mm512_loadu_si512((const void *)(w + kk * 64));
      for (int j = 0; j < 8; ++j) {
        int32_t v;
        std::memcpy(&v, x + j * ld + 4 * kk, 4);
        acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_set1_epi32(v), wk);
      }
    }
    for (int j = 0; j < 8; ++j)
      _mm512_storeu_si512((void *)(c + (p + j) * 16), acc[j]);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void
gemm2U8Avx512Vnni(const int8_t *w, const uint8_t *col, int64_t k4,
                  int64_t pixels, int32_t *c0, int32_t *c1) {
  for (int64_t p = 0; p < pixels; p += 8) {
    __m512i a[8], b[8];
    accumulate2U8Avx512(w, col + p * 4 * k4, k4, a, b);
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_si512((void *)(c0 + (p + j) * 16), a[j]);
      _mm512_storeu_si512((void *)(c1 + (p + j) * 16), b[j]);
    }
  }
}
#endif

template <GemmFn One>
void gemm2ByOne(const int16_t *w, const int16_t *col, int64_t k2,
                int64_t pixels, int32_t *c0, int32_t *c1) {
  One(w, col, k2, pixels, c0);
  One(w + k2 * 32, col, k2, pixels, c1);
}

} // namespace

Gemm2Fn gemm2For(Isa isa) {
  switch (isa) {
#ifdef HAT_X86
  case Isa::Avx512Vnni:
    return gemm2Avx512Vnni;
  case Isa::Avx2:
    return gemm2ByOne<gemmAvx2>;
#endif
  default:
    return gemm2ByOne<gemmScalar>;
  }
}

GemmU8Fn gemmU8For(Isa isa) {
#ifdef HAT_X86
  if (isa == Isa::Avx512Vnni)
    return gemmU8Avx512Vnni;
#endif
  (void)isa;
  return nullptr;
}

Gemm2U8Fn gemm2U8For(Isa isa) {
#ifdef HAT_X86
  if (isa == Isa::Avx512Vnni)
    return gemm2U8Avx512Vnni;
#endif
  (void)isa;
  return nullptr;
}

GemmFn gemmFor(Isa isa) {
  switch (isa) {
#ifdef HAT_X86
  case Isa::Avx512Vnni:
    return gemmAvx512Vnni;
  case Isa::Avx2:
    return gemmAvx2;
#endif
  default:
    return gemmScalar;
  }
}

const char *isaName(Isa isa) {
  switch (isa) {
  case Isa::Avx512Vnni:
    return "avx512-vnni";
  case Isa::Avx2:
    return "avx2";
  case Isa::Scalar:
    return "scalar";
  default:
    return "auto";
  }
}

Isa detectIsa() {
  Isa best = Isa::Scalar;
#ifdef HAT_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2"))
    best = Isa::Avx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni"))
    best = Isa::Avx512Vnni;
#endif
  if (const char *force = std::getenv("HAT_RUNTIME_ISA")) {
    const std::string f = force;
    if (f == "scalar")
      best = Isa::Scalar;
    else if (f == "avx2" && best == Isa::Avx512Vnni)
      best = Isa::Avx2;
  }
  return best;
}

} // namespace hat::runtime
