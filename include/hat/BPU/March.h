//===- March.h - The BPU architecture table ---------------------*- C++ -*-===//
//
// Every figure the checker, the tiler and the performance estimator use, for
// every march, in one table (lib/BPU/March.cpp; docs/bpu.md repeats it with
// the source of each number). Most figures are assumptions: the estimates
// built on them are estimates, not measurements.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_BPU_MARCH_H
#define HAT_BPU_MARCH_H

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace hat::bpu {

struct March {
  const char *name; // bernoulli2, bayes, nash-e, nash-m, nash-p
  const char *soc;  // the SoC it stands for
  /// int8 x int8 multiply-accumulates per cycle, all cores together.
  int64_t macsPerCycle;
  double clockMHz;
  /// On-chip SRAM usable for one layer's tiles (input, weights, output).
  int64_t sramBytes;
  /// Sustained DDR bandwidth available to the BPU.
  double ddrGBps;
  /// Fixed cost of issuing one layer and one extra tile.
  double layerOverheadUs, tileOverheadUs;
  /// Elements per cycle of the vector unit (pools, adds, lut, requantize).
  int64_t vectorElemsPerCycle;
  /// The MAC array processes channels in groups of this many (input and
  /// output): a conv with fewer channels leaves lanes idle.
  int64_t channelAlign;
  /// int16 activations supported; their MAC rate relative to int8.
  bool int16;
  double int16MacRate;
  /// Requantization must be a pure shift (all scales powers of two).
  bool powerOfTwoScales;
  int64_t maxKernel, maxStride, maxDilation, maxChannels;
  bool lut, bilinearResize, elementwiseMul;
  /// Calibrated on nash-m / nash-p board latencies (docs/bpu.md,
  /// "Calibration"): the fraction of the (channel- and pixel-padded) MAC
  /// rate and of the nominal DDR bandwidth a layer sustains. 1.0 where no
  /// board figure exists.
  double macEfficiency, ddrEfficiency;
  /// SRAM set aside for activations that stay on chip between layers (the
  /// rest holds one layer's tiles); what does not fit goes to DDR.
  int64_t activationSramBytes;
  /// Matrix products of two activations (hat.qmatmul) on the MAC array:
  /// Bayes and Nash run attention (HAT's GaNet deploys on Journey 5), the
  /// Bernoulli2 generation has no such layer.
  bool matmul = true;
  /// Integer layer norm on the vector unit (transformers: DETR); as for
  /// matmul, the Bernoulli2 generation has none.
  bool layerNorm = true;
  /// Bilinear sampling at computed positions (hat.qms_deform_attn,
  /// Deformable DETR); none on Bernoulli2.
  bool gridSample = true;
  /// DDR the runtime holds for a loaded model beyond its weights,
  /// activation homes and I/O buffers: the instruction stream, task
  /// descriptors and the runtime's own buffers. Not derivable from the
  /// graph; fitted to the nash-m cards' peak DDR (docs/bpu.md, "Peak DDR").
  int64_t runtimeDdrBytes = 0;

  double peakMacsPerUs() const { return double(macsPerCycle) * clockMHz; }
  double ddrBytesPerUs() const { return ddrGBps * 1e3; }
  /// The DDR bandwidth a layer's DMA sustains (nominal x efficiency).
  double sustainedDdrBytesPerUs() const {
    return ddrBytesPerUs() * ddrEfficiency;
  }
  /// SRAM for one layer's tiles (input rows, weights, outputs).
  int64_t tileSramBytes() const { return sramBytes - activationSramBytes; }
  /// Output pixels the MAC array processes per pass: MACs/cycle over a
  /// channel group squared (input x output channels).
  int64_t pixelBlock() const {
    return std::max<int64_t>(1, macsPerCycle / (channelAlign * channelAlign));
  }
  /// Dense int8 TOPS (2 ops per MAC).
  double tops() const { return 2.0 * peakMacsPerUs() * 1e6 / 1e12; }
};

/// The march called `name`, or null.
const March *findMarch(const std::string &name);
/// All marches, oldest first.
const std::vector<March> &allMarches();
/// "bernoulli2, bayes, nash-e, nash-m, nash-p".
std::string marchNames();

} // namespace hat::bpu

#endif // HAT_BPU_MARCH_H
