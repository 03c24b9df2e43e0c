//===- ChannelsLastConv.h - Hand-written convs as the executor runs them --===//
//
// The hand-written LibTorch networks of bench/FcosTrainBench.cpp and
// bench/DetrTrainBench.cpp call their convs through this, so that both
// sides of each comparison run the same oneDNN convolutions.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_BENCH_CHANNELSLASTCONV_H
#define HAT_BENCH_CHANNELSLASTCONV_H

#include <ATen/ATen.h>

/// at::conv2d as the executor runs float convs on the CPU
/// (ExecutorOptions::channelsLast): on the weight's channels-last copy.
inline at::Tensor nhwcConv2d(const at::Tensor &x, const at::Tensor &w,
                             const at::Tensor &bias = {},
                             at::IntArrayRef stride = 1,
                             at::IntArrayRef padding = 0,
                             at::IntArrayRef dilation = 1, int64_t groups = 1) {
  return at::conv2d(x, w.contiguous(at::MemoryFormat::ChannelsLast), bias,
                    stride, padding, dilation, groups);
}

#endif // HAT_BENCH_CHANNELSLASTCONV_H
