//===- QuantKernels.h - Fake quantization and quantization on ATen -*- C++
//-*-===//
//
// The float <-> integer boundary of docs/quantization.md (section 3) on
// at::Tensor: fake quantization with a straight-through gradient for QAT,
// float -> int8/int16 quantization for integer models, and the per-channel
// weight statistics hat-calibrate computes. On CPU a fused kernel computes
// hat::quant::quantizeValue element for element (bit for bit, NaN -> 0 and
// +-inf saturating included); on other devices the same values come from a
// composition of ATen ops. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EXECUTOR_QUANTKERNELS_H
#define HAT_EXECUTOR_QUANTKERNELS_H

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace hat::exec {

/// fake_quant(x) = float(quantize(x, s)) * s with one scale (axis == -1) or one
/// per index of `axis`; `scales` is a float tensor on x's device. When x
/// requires grad (and grad mode is on) the result carries the straight-through
/// gradient of torch.fake_quantize_per_*_affine: grad * [qmin <= round(x / s)
/// <= qmax], 0 for NaN. No gradient flows to `scales`.
at::Tensor fakeQuantize(const at::Tensor &x, const at::Tensor &scales,
                        int64_t axis, int bits);

/// The forward value and (when `mask` is non-null) the STE mask of
/// fakeQuantize, without autograd. `composed` forces the ATen-op composition
/// used off-CPU (tests compare it with the fused CPU kernel).
at::Tensor fakeQuantizeForward(const at::Tensor &x, const at::Tensor &scales,
                               int64_t axis, int bits, at::Tensor *mask,
                               bool composed = false);

/// Float -> integer, clamp(nearbyint(x * (1.0f / scale)), qmin, qmax), as an
/// int8 (bits 8) or int16 (bits 16) tensor.
at::Tensor quantizeTensor(const at::Tensor &x, float scale, int bits,
                          bool composed = false);

/// Per-channel statistics of a weight along `axis`, exactly as hat-calibrate
/// computes them: scale = scaleFromAbsMax(max |w|), and min/max ignoring NaN
/// (+inf/-inf for an empty channel).
struct ChannelStats {
  std::vector<float> scales, mins, maxs;
};
ChannelStats weightChannelStats(const at::Tensor &weight, int64_t axis,
                                int bits);

} // namespace hat::exec

#endif // HAT_EXECUTOR_QUANTKERNELS_H
