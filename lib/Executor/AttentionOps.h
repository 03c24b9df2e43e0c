//===- AttentionOps.h - Transformer ops as ATen compositions ----*- C++ -*-===//
//
// Float ops of the transformer detectors that ATen has no single call for,
// composed of differentiable ATen calls (autograd gives the backward), and
// the bridge that runs their integer forms on the reference kernels.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LIB_EXECUTOR_ATTENTIONOPS_H
#define HAT_LIB_EXECUTOR_ATTENTIONOPS_H

#include "hat/Eval/Tensor.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace hat::exec::detail {

/// hat.ms_deform_attn as Deformable DETR's ms_deform_attn_core_pytorch:
/// per level, the heads' value maps [N * M, D, H, W] sampled by
/// at::grid_sampler (bilinear, zeros, align_corners=False) at 2 * loc - 1,
/// stacked over levels and points, weighted and summed -> [N, Lq, M * D].
at::Tensor msDeformAttn(const at::Tensor &value, const at::Tensor &locations,
                        const at::Tensor &weights,
                        const std::vector<int64_t> &spatialShapes);

/// Integer activation (any integer dtype, any device) -> a CPU
/// eval::Tensor of the matching i8/i16 dtype; and back, as int8/int16.
eval::Tensor toEvalInts(const at::Tensor &t);
at::Tensor fromEvalInts(const eval::Tensor &t, int bits);

} // namespace hat::exec::detail

#endif // HAT_LIB_EXECUTOR_ATTENTIONOPS_H
