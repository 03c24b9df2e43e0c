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

} // namespace hat::bpu

#endif // HAT_BPU_PERFMODEL_H
