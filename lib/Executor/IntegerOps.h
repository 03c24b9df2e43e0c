//===- IntegerOps.h - docs/quantization.md on ATen tensors ------*- C++ -*-===//
//
// The integer arithmetic of HAT's integer ops as ATen calls. Accumulators are
// int64 tensors. conv, linear and same-shape add run on HatRuntime's integer
// kernels (exact int32 sums, int64 where int32 cannot hold them, requantized
// in the store);
// the float64 forms below remain for the cases those kernels refuse and as
// the test-only ExecutorOptions::atenIntegerOps path: exact because every
// partial sum is an integer below 2^53 (|in| <= 2^15, |w| <= 2^7, so up to
// 2^31 products per output). Pool windows are summed in float64 too. MLIR-
// free; ModuleExecutor.cpp reads the attributes and calls these.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LIB_EXECUTOR_INTEGEROPS_H
#define HAT_LIB_EXECUTOR_INTEGEROPS_H

#include "hat/Runtime/IntegerKernels.h"

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hat::exec::detail {

using Quad = std::array<int64_t, 4>; // top, left, bottom, right

/// int8 -> kChar, int16 -> kShort, int32 -> kInt.
at::ScalarType intScalarType(int bits);

/// True when top == bottom and left == right (ATen's padding form).
inline bool isSymmetric(const Quad &pad) {
  return pad[0] == pad[2] && pad[1] == pad[3];
}
/// Pads NCHW `x` by `pad` with `value` (constant_pad_nd takes the last dim
/// first: left, right, top, bottom).
at::Tensor padNCHW(const at::Tensor &x, const Quad &pad, double value);

/// The requantization of section 6/7: out = saturate(relu?(applyRequant(acc,
/// m, s))), with one (multiplier, shift) or one per index of `axis`.
class Requantizer {
public:
  Requantizer() = default;
  Requantizer(const std::vector<int32_t> &multiplier,
              const std::vector<int32_t> &shift, bool relu, int outBits,
              int64_t axis, int64_t rank, at::Device device);
  /// `acc` is int64 (and is overwritten); returns the saturated result in
  /// the output integer type.
  at::Tensor operator()(at::Tensor acc) const;
  /// Stops before the final narrowing: int64 result.
  at::Tensor applyInt64(at::Tensor acc) const;

private:
  bool perChannel = false;
  int64_t multiplier0 = 0, shift0 = 0, round0 = 0;
  at::Tensor multiplier, shift, round; // int64, shaped to broadcast
  bool relu = false;
  int64_t lo = 0, hi = 0;
  at::ScalarType outType = at::kChar;
};

/// Clamps an int64 accumulator to int32 in place (section 7).
at::Tensor &clampToInt32(at::Tensor &acc);

/// Exact conv accumulator sum(in * w) as int64 (no bias), via float64.
at::Tensor
integerConvAccumulate(const at::Tensor &input, const at::Tensor &weightF64,
                      const std::vector<int64_t> &stride, const Quad &pad,
                      const std::vector<int64_t> &dilation, int64_t groups);

/// Exact linear accumulator in @ w^T as int64 (no bias), via float64.
at::Tensor integerLinearAccumulate(const at::Tensor &input,
                                   const at::Tensor &weightF64);

/// Runs body(task) for task in [0, tasks) on ATen's intra-op thread pool
/// (so --threads and at::set_num_threads govern the integer kernels like
/// every other op); a runtime::ParallelFor.
void atenParallelFor(int64_t tasks, const std::function<void(int64_t)> &body);

/// qconv2d / qlinear on HatRuntime's integer kernels, built once per op with
/// its constant weight and bias. Null (with `why`) when the kernels refuse
/// the layer; the caller then keeps the float64 path.
struct IntegerKernelLayer {
  std::unique_ptr<runtime::IntegerConv> kernel;
  runtime::ConvShape shape;
  int inBits = 8;
  at::ScalarType outType = at::kChar;

  /// `weight` int8 [O, C/groups, KH, KW] (or [O, K] for linear), `bias`
  /// int32 [O] or undefined.
  static std::shared_ptr<const IntegerKernelLayer>
  create(const runtime::ConvShape &shape, int inBits, const at::Tensor &weight,
         const at::Tensor &bias, const std::vector<int32_t> &multiplier,
         const std::vector<int32_t> &shift, bool relu, int outBits,
         std::string &why);

  /// [N, C, H, W] -> [N, O, OH, OW] in the output integer type.
  at::Tensor conv(const at::Tensor &input) const;
  /// [..., K] -> [..., O].
  at::Tensor linear(const at::Tensor &input) const;
  /// "gemm, avx2" and the like, for describe().
  std::string what() const;
};

/// Exact window sums including zero padding, as int64.
at::Tensor integerWindowSum(const at::Tensor &input,
                            const std::vector<int64_t> &kernel,
                            const std::vector<int64_t> &stride,
                            const Quad &pad);

/// Bilinear resize of section 8.8: precomputed taps, Q10 weights, int64
/// accumulator, exact requantization (the product may need more than 64 bits
/// for int16 input).
class BilinearResizer {
public:
  BilinearResizer() = default;
  BilinearResizer(int64_t inH, int64_t inW, int64_t outH, int64_t outW,
                  bool alignCorners, at::Device device);
  /// int64 accumulator [N, C, outH, outW].
  at::Tensor accumulate(const at::Tensor &input) const;

private:
  at::Tensor y0, y1, x0, x1;     // int64 indices
  at::Tensor wy0, wy1, wx0, wx1; // int64 Q10 weights, broadcastable
};

/// floor((acc * multiplier + 2^(shift-1)) / 2^shift) for any int64 acc,
/// saturated to `outBits` (applyRequantWide of FixedPoint.h).
at::Tensor requantWide(const at::Tensor &acc, int32_t multiplier, int32_t shift,
                       int outBits);

/// Nearest-neighbour gather with HAT's integer source indices (any dtype,
/// differentiable for float).
at::Tensor nearestResize(const at::Tensor &input, const at::Tensor &rows,
                         const at::Tensor &cols);

/// The source index at::upsample_nearest2d (LibTorch 1.13, no scale given)
/// reads for each of `out` positions along an axis of `in`: the same index,
/// src >> 1 for exact doubling, else floor(dst * float(in) / out) in float.
std::vector<int64_t> torchNearestIndices(int64_t in, int64_t out);

} // namespace hat::exec::detail

#endif // HAT_LIB_EXECUTOR_INTEGEROPS_H
