//===- Kernels.h - Reference float and integer kernels ----------*- C++ -*-===//
//
// Straightforward NCHW kernels that define what every hat op computes. The
// integer ones implement docs/quantization.md exactly; the float ones follow
// PyTorch. They are references, not fast paths: loops are ordered for the
// cache but not blocked or threaded.
//
// Preconditions (shapes, dtypes, parameter counts) are the caller's job -- the
// hat dialect verifiers check them. A kernel that is handed inconsistent
// input prints the violated condition to stderr and aborts; it never throws
// and never reads out of bounds.
//
// Window parameters: stride {h, w}, padding {top, left, bottom, right},
// dilation {h, w}, kernel {h, w}. Output extent of a window op:
// (in + padBefore + padAfter - dilation * (k - 1) - 1) / stride + 1.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EVAL_KERNELS_H
#define HAT_EVAL_KERNELS_H

#include "hat/Eval/Tensor.h"

#include <array>
#include <cstdint>
#include <vector>

namespace hat::eval {

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;

//===----------------------------------------------------------------------===//
// Float kernels (F32 in, F32 out unless noted)
//===----------------------------------------------------------------------===//

/// in [N, C, H, W], w [O, C / groups, KH, KW], bias [O] or null.
Tensor conv2d(const Tensor &in, const Tensor &w, const Tensor *bias,
              Pair stride, Quad pad, Pair dilation, int64_t groups);
/// in [..., K], w [M, K], bias [M] or null -> [..., M].
Tensor linear(const Tensor &in, const Tensor &w, const Tensor *bias);
/// Inference batch norm over axis 1: (x - mean) / sqrt(var + eps) * gamma +
/// beta.
Tensor batchNorm(const Tensor &in, const Tensor &gamma, const Tensor &beta,
                 const Tensor &mean, const Tensor &var, float eps);

enum class Unary { Relu, Relu6, Sigmoid, Silu, Hardswish };
Tensor unary(const Tensor &in, Unary op);
/// Scalar form of unary(), e.g. for building qlut tables.
float unaryValue(float x, Unary op);

/// NumPy broadcasting.
Tensor add(const Tensor &a, const Tensor &b);
Tensor mul(const Tensor &a, const Tensor &b);

/// hat.ms_deform_attn: value [N, S, M, D], locations [N, Lq, M, L, P, 2],
/// weights [N, Lq, M, L, P], spatialShapes [H_0, W_0, ...] -> [N, Lq, M * D]
/// (grid_sample bilinear, align_corners=False, zeros outside; a non-finite
/// location samples nothing).
Tensor msDeformAttn(const Tensor &value, const Tensor &locations,
                    const Tensor &weights,
                    const std::vector<int64_t> &spatialShapes);

/// torch.nn.LayerNorm over the last axis: per row, mean and biased variance
/// accumulated in double, y = (x - mean) / sqrt(var + eps) * gamma + beta.
Tensor layerNorm(const Tensor &in, const Tensor &gamma, const Tensor &beta,
                 float eps);

/// torch.matmul for ranks >= 2: [..., M, K] x [..., K, N] -> [..., M, N],
/// batch dimensions broadcast; float accumulation in k order.
Tensor matmul(const Tensor &lhs, const Tensor &rhs);

/// BiFPN fast normalised fusion weights: relu(w_i) / (sum_j relu(w_j) + eps).
/// One definition shared by the evaluator, the executor's tests and
/// hat-qat2quantize (which folds them into the rescale multipliers).
std::vector<double> fusionWeights(const std::vector<float> &raw, float eps);
/// sum_i fusionWeights(weights)[i] * ins[i]; all inputs f32 of one shape.
Tensor weightedSum(const std::vector<const Tensor *> &ins,
                   const Tensor &weights, float eps);

/// Any dtype (all inputs equal); negative axis counts from the end.
Tensor concat(const std::vector<const Tensor *> &ins, int64_t axis);
/// Any dtype; padded positions never win. A window lying entirely in the
/// padding (only possible when padding >= kernel) yields 0.
Tensor maxPool2d(const Tensor &in, Pair kernel, Pair stride, Quad pad);
/// Zero padding is counted in the divisor (always KH * KW), as torch's
/// count_include_pad=True.
Tensor avgPool2d(const Tensor &in, Pair kernel, Pair stride, Quad pad);
/// Mean over H and W -> [N, C, 1, 1] (summed in double).
Tensor globalAvgPool(const Tensor &in);

enum class ResizeMode { Nearest, Bilinear };
/// As torch.nn.functional.interpolate with an explicit output size (any
/// dtype for Nearest, F32 for Bilinear).
Tensor resize(const Tensor &in, ResizeMode mode, int64_t outH, int64_t outW,
              bool alignCorners);

/// Source index of every output position for nearest resize:
/// floor(dst * in / out) in integers (torch 'nearest').
std::vector<int64_t> nearestIndices(int64_t in, int64_t out);
/// One output position of a bilinear axis: interpolate between i0 and i1
/// (i1 == i0 at the border) with weight lambda1 on i1, computed in float
/// exactly as torch does; w1 is the Q10 form nearbyint(lambda1 * 1024) and
/// the i0 weight is 1024 - w1.
struct LinearTap {
  int64_t i0, i1;
  float lambda1;
  int32_t w1;
};
/// Source position (dst + 0.5) * in / out - 0.5 clamped at 0, or
/// dst * (in - 1) / (out - 1) with alignCorners (0 when out == 1), in float.
std::vector<LinearTap> bilinearTaps(int64_t in, int64_t out, bool alignCorners);

/// Any dtype; numel must match, no -1 entries.
Tensor reshape(const Tensor &in, const std::vector<int64_t> &shape);
/// Any dtype; out.shape[d] = in.shape[perm[d]].
Tensor transpose(const Tensor &in, const std::vector<int64_t> &perm);
/// Max-subtracted softmax along `axis` (negative counts from the end).
Tensor softmax(const Tensor &in, int64_t axis);

//===----------------------------------------------------------------------===//
// Quantization boundaries
//===----------------------------------------------------------------------===//

/// F32 -> F32 fake quantization with hat::quant::fakeQuantValue; one scale
/// (axis -1) or one per index of `axis`.
Tensor fakeQuant(const Tensor &in, int bits, int64_t axis,
                 const std::vector<float> &scales);
/// F32 -> I8/I16 with hat::quant::quantizeValue.
Tensor quantize(const Tensor &in, float scale, DType out);
/// I8/I16/I32 -> F32: float(q) * scale, one scale (axis -1) or per `axis`.
Tensor dequantize(const Tensor &in, const std::vector<float> &scales,
                  int64_t axis);

//===----------------------------------------------------------------------===//
// Integer kernels: inputs I8/I16, weights I8, bias I32; results saturated to
// `out` (I8 or I16). See docs/quantization.md for the exact arithmetic.
//===----------------------------------------------------------------------===//

/// One (multiplier, shift) entry for the tensor or one per output channel
/// (axis 1 for conv / requantize, the last axis for linear). `relu` clamps the
/// requantized value at 0 before saturation.
struct Requantization {
  std::vector<int32_t> multiplier, shift;
  bool relu = false;
  DType out = DType::I8;
};

/// acc = bias[o] + sum(in * w), clamped to int32, then requantized.
Tensor qconv2d(const Tensor &in, const Tensor &w, const Tensor *bias,
               Pair stride, Quad pad, Pair dilation, int64_t groups,
               const Requantization &rq);
Tensor qlinear(const Tensor &in, const Tensor &w, const Tensor *bias,
               const Requantization &rq);
/// saturate((a * lhsM + b * rhsM + 2^(shift-1)) >> shift), broadcasting.
Tensor qadd(const Tensor &a, const Tensor &b, int32_t lhsMultiplier,
            int32_t rhsMultiplier, int32_t shift, bool relu, DType out);
/// saturate(applyRequant(a * b, multiplier, shift)), broadcasting.
Tensor qmul(const Tensor &a, const Tensor &b, int32_t multiplier, int32_t shift,
            DType out);
/// acc = sum_k lhs * rhs (shapes as matmul) in int64, clamped to int32, then
/// saturate(applyRequant(acc, multiplier, shift)).
Tensor qmatmul(const Tensor &lhs, const Tensor &rhs, int32_t multiplier,
               int32_t shift, DType out);
/// hat.qms_deform_attn (docs/quantization.md): positions in 1/256 pixel
/// from locMultiplier / locShift (x then y per level), bilinear weights in
/// 1/65536, int64 sums, one requantization by multiplier / shift.
Tensor qmsDeformAttn(const Tensor &value, const Tensor &locations,
                     const Tensor &weights,
                     const std::vector<int64_t> &spatialShapes,
                     const std::vector<int32_t> &locMultiplier,
                     const std::vector<int32_t> &locShift, int32_t multiplier,
                     int32_t shift, DType out);
/// hat.qlayer_norm: quant::layerNormRow on every row of the last axis.
Tensor qlayerNorm(const Tensor &in, const Tensor &bias, int64_t epsQ,
                  const std::vector<int32_t> &multiplier,
                  const std::vector<int32_t> &shift, DType out);
/// Input i requantized by multipliers[i] / shifts[i] (identity: 2^30, 30).
Tensor qconcat(const std::vector<const Tensor *> &ins, int64_t axis,
               const std::vector<int32_t> &multipliers,
               const std::vector<int32_t> &shifts, DType out);
/// Window sum including zero padding, clamped to int32, requantized (the
/// 1 / (KH * KW) is folded into the multiplier).
Tensor qavgPool2d(const Tensor &in, Pair kernel, Pair stride, Quad pad,
                  int32_t multiplier, int32_t shift, DType out);
/// Sum over H and W, clamped to int32, requantized -> [N, C, 1, 1].
Tensor qglobalAvgPool(const Tensor &in, int32_t multiplier, int32_t shift,
                      DType out);
/// Nearest copies (multiplier/shift/out ignored; result has in's dtype).
/// Bilinear: acc = w0y * (w0x * q00 + w1x * q01) + w1y * (w0x * q10 + w1x *
/// q11) with Q10 weights from bilinearTaps, in int64, then requantized
/// exactly (the multiplier folds in 2^-20).
Tensor qresize(const Tensor &in, ResizeMode mode, int64_t outH, int64_t outW,
               bool alignCorners, int32_t multiplier, int32_t shift, DType out);
/// I8/I16/I32 in; per-tensor or per-channel along axis 1.
Tensor requantize(const Tensor &in, const Requantization &rq);
/// out = table[q - qmin(in)], saturated to `out`; the table has
/// 2^bits(in) entries.
Tensor qlut(const Tensor &in, const std::vector<int32_t> &table, DType out);

} // namespace hat::eval

#endif // HAT_EVAL_KERNELS_H
