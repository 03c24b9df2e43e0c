//===- PerfModel.h - The per-layer cost model -------------------*- C++ -*-===//
//
// The formulas bpu-estimate-perf applies to every layer (docs/bpu.md,
// "Performance model"), as plain functions of the layer's geometry, DDR
// bytes and tiles and the march table, so they can be tested on their own.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_BPU_PERFMODEL_H
#define HAT_BPU_PERFMODEL_H

#include "hat/BPU/March.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace hat::bpu {

/// A convolution (or a linear layer: 1x1 taps, rows as pixels) as the MAC
/// array sees it.
struct ConvGeometry {
  int64_t pixels = 1; // output pixels, batch included
  int64_t taps = 1;   // kernel height x width
  int64_t inChannels = 1, outChannels = 1, groups = 1;
  bool int16 = false;
};

/// Cycles of the MAC array: output pixels padded to its pixel block, input
/// and output channels to its channel group (depthwise: one lane per
/// group), int16 at its lower rate. Never below MACs / (MACs per cycle).
double macArrayCycles(const ConvGeometry &conv, const March &march);

struct LayerTime {
  double computeUs = 0, memoryUs = 0, overheadUs = 0, totalUs = 0;
};

/// One layer's time: the MAC array (at the march's sustained efficiency) or
/// the vector unit, overlapped with its DDR traffic (at the sustained
/// bandwidth), plus the layer overhead and (tiles - 1) tile overheads.
/// `reshape` is a view: no time at all.
LayerTime layerTime(double cycles, bool onMacArray, int64_t ddrBytes,
                    int64_t tiles, bool reshape, const March &march);

/// Bytes of a feature map of logical `shape` (NCHW, or [N, features]) with
/// `elemBytes`-byte elements in DDR as the BPU lays it out: NHWC with the
/// channel bytes (C x elemBytes) rounded up to the nearest 256 x k + {0, 16,
/// 32, 64, 128} (k >= 0); an image-like tensor of at most 4 channels keeps
/// its channels and has H rounded up to 2 and W to 32 instead. These are
/// the alignment rules Horizon's runtime documents for BPU input and output
/// tensors (the aligned shape it asks callers to allocate), applied here to
/// every integer feature map the model keeps in DDR. Other ranks, and 4-byte
/// (float / int32) host-side tensors, are their plain size.
int64_t bpuFeatureMapBytes(llvm::ArrayRef<int64_t> shape, int64_t elemBytes);

/// Bytes of one pyramid input (the camera path delivers NV12: a full
/// resolution Y plane and a half resolution interleaved UV plane, width
/// aligned to 32) for a [N, 3, H, W] image; -1 when `shape` is not one.
int64_t nv12ImageBytes(llvm::ArrayRef<int64_t> shape);

} // namespace hat::bpu

#endif // HAT_BPU_PERFMODEL_H
