//===- IntegerKernels.h - Integer conv / linear on plain arrays -*- C++ -*-===//
//
// The integer convolution of docs/quantization.md (acc = bias + sum(in * w),
// clamped to int32, requantized, ReLU, saturated) over plain NCHW arrays, on
// the runtime's int16 multiply-add micro-kernels (AVX-512 VNNI / AVX2 /
// scalar, picked at run time) or a direct kernel for depthwise layers, and
// the same-shape integer add. Torch- and MLIR-free so that the LibTorch
// executor's integer ops (int_infer) run on the same kernels as the HBM
// runtime instead of float64 ATen convolutions and int64 tensors.
//
// Exactness: every dot product is formed exactly. int8 inputs accumulate in
// int32 (K < 2^17 keeps |sum| < 2^31); int16 inputs accumulate in int32
// while K < 512, and for 512 <= K <= kMaxKInt16Split the input is split into
// its high byte (signed) and low byte (unsigned, 0..255), each summed exactly
// in int32 and recombined in int64 as hi * 256 + lo. Larger K is refused
// (`unsupported`), and the caller keeps an exact path of its own.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_RUNTIME_INTEGERKERNELS_H
#define HAT_RUNTIME_INTEGERKERNELS_H

#include "hat/Runtime/Runtime.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hat::runtime {

/// Runs body(task) for every task in [0, tasks), in any order and possibly
/// concurrently (each task is independent). An empty ParallelFor runs them
/// in order on the caller.
using ParallelFor = std::function<void(
    int64_t tasks, const std::function<void(int64_t task)> &body)>;

/// int8 inputs: the largest K whose int32 sum is exact (|x * w| <= 2^14).
constexpr int64_t kMaxKInt8 = (int64_t(1) << 17) - 1;
/// int16 inputs: the largest K with one int32 sum (|x * w| <= 2^22).
constexpr int64_t kMaxKInt16 = (int64_t(1) << 9) - 1;
/// int16 inputs split into bytes: the low byte's |lo * w| <= 255 * 128
/// bounds K to floor((2^31 - 1) / 32640).
constexpr int64_t kMaxKInt16Split = 65793;

/// One image's geometry of a grouped 2-D convolution (NCHW, OIHW weights).
struct ConvShape {
  int64_t channels = 0, height = 0, width = 0;
  int64_t outChannels = 0, kernelH = 1, kernelW = 1;
  int64_t strideH = 1, strideW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int64_t dilationH = 1, dilationW = 1;
  int64_t groups = 1;

  int64_t outHeight() const {
    return (height + padTop + padBottom - dilationH * (kernelH - 1) - 1) /
               strideH +
           1;
  }
  int64_t outWidth() const {
    return (width + padLeft + padRight - dilationW * (kernelW - 1) - 1) /
               strideW +
           1;
  }
  /// A linear layer [rows, in] x [out, in]^T as a 1x1 convolution of
  /// `in` channels on a 1x1 image (rows become the batch).
  static ConvShape linear(int64_t inFeatures, int64_t outFeatures);
};

/// The output stage: applyRequant(clamp_int32(acc), multiplier, shift), ReLU
/// (before saturation) when set, saturation to `bits`.
struct OutputRequant {
  std::vector<int32_t> multiplier, shift; // one entry, or one per channel
  bool relu = false;
  int bits = 8; // 8 or 16
};

/// Memory order of a conv's input and output: NCHW (the HBM's, the
/// reference kernels') or NHWC (channels innermost). The HBM runtime keeps
/// activations that pass only between these kernels in NHWC, which the
/// kernels read and write without a transposition.
struct ConvLayouts {
  bool inputNhwc = false, outputNhwc = false;
};

class IntegerConv {
public:
  /// Why this layer cannot run on these kernels ("" when it can): an
  /// inconsistent shape, input or output bits other than 8/16, a K beyond
  /// the exact limits above, shifts outside [0, 62], requantization vectors
  /// of the wrong length.
  static std::string unsupported(const ConvShape &shape, int inputBits,
                                 const OutputRequant &requant);

  /// `weight`: int8 [O, C / groups, KH, KW] row-major; `bias`: int32 [O] or
  /// null. Both are copied (packed once). `isa` is clamped to what the CPU
  /// has. Null when the layer is unsupported (the reason is `unsupported`'s).
  static std::unique_ptr<IntegerConv>
  create(const ConvShape &shape, int inputBits, const int8_t *weight,
         const int32_t *bias, const OutputRequant &requant,
         Isa isa = Isa::Auto);
  ~IntegerConv();
  IntegerConv(const IntegerConv &) = delete;
  IntegerConv &operator=(const IntegerConv &) = delete;

  /// input: `batch` images of C x H x W (int8 or int16 as `inputBits`);
  /// output: `batch` x O x OH x OW of int8 / int16 (`requant.bits`); each
  /// in the memory order `layouts` gives (NCHW by default).
  void run(const void *input, int64_t batch, void *output,
           const ParallelFor &parallel = {},
           const ConvLayouts &layouts = {}) const;

  /// "gemm", "gemm-split16" or "depthwise" (for logs and tests).
  const char *method() const;
  Isa isa() const;

private:
  IntegerConv();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// qadd of two tensors of the same shape (docs/quantization.md, one shared
/// rounding): saturate(relu?((a * aMultiplier + b * bMultiplier +
/// 2^(shift-1)) >> shift)) over `count` int8 / int16 elements (`aBits`,
/// `bBits`, `outBits`), in int64. False, with nothing written, for other
/// bits or a shift outside [0, 62].
bool integerAdd(const void *a, int aBits, const void *b, int bBits,
                int64_t count, int32_t aMultiplier, int32_t bMultiplier,
                int32_t shift, bool relu, int outBits, void *out,
                const ParallelFor &parallel = {});

/// out[i] = hat::quant::quantizeValue(x[i], scale, bits) for `count`
/// floats into int8 / int16 (`bits` 8 or 16; false, with nothing written,
/// otherwise): the product with the float32 reciprocal, round half to
/// even, NaN to 0, saturation, bit for bit; AVX-512 16 lanes at a time
/// where `isa` allows.
bool quantizeFloats(const float *x, int64_t count, float scale, int bits,
                    void *out, Isa isa = Isa::Auto,
                    const ParallelFor &parallel = {});

} // namespace hat::runtime

#endif // HAT_RUNTIME_INTEGERKERNELS_H
