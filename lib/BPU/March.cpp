//===- March.cpp - The BPU architecture table -----------------------------===//
//
// docs/bpu.md, "March table", gives the source of every column. In short:
// the dense int8 TOPS of each SoC are the vendor's public announcements
// (J3 5, J5 128, J6E 80, J6M 128, J6P 560); the split of TOPS into clock and
// MACs per cycle, the SRAM sizes, DDR bandwidths, overheads and op limits are
// assumptions, chosen to be plausible for the DDR generation of each SoC.
// Power-of-two scales on bernoulli2 and int16 from bayes on follow the HAT
// documentation.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/March.h"

namespace hat::bpu {

namespace {
constexpr int64_t KiB = 1024, MiB = 1024 * 1024;

/// The Nash family's fitted parameters (docs/bpu.md, "Calibration"): one
/// set for nash-e, nash-m and nash-p, fitted by bench/fit_perf_model.py to
/// the nash-m and nash-p board latencies of the model cards in issue 16.
/// Per-layer overhead (µs, dispatch by the BPU's controller), per extra
/// tile (µs, DMA setup latency), sustained fractions of the padded MAC
/// rate and of the nominal DDR bandwidth; and the DDR the runtime holds per
/// loaded model beyond weights, activation homes and I/O (bytes, fitted to
/// the nash-m peak DDR figures).
struct NashFit {
  double layerUs, tileUs, macEff, ddrEff;
  int64_t runtimeDdrBytes;
};
constexpr NashFit kNash{6.05, 0.0, 1.0, 0.89, 1500000};

std::vector<March> makeTable() {
  std::vector<March> t;
  //   name, soc, MACs/cycle, MHz, SRAM, DDR GB/s, layer us, tile us,
  //   vector elems/cycle, channel align, int16, int16 rate, pow2,
  //   max kernel, max stride, max dilation, max channels, lut, bilinear, mul,
  //   MAC efficiency, DDR efficiency, activation SRAM
  t.push_back({"bernoulli2", "Journey 3", 2048, 1200.0, 1 * MiB,  12.8,
               5.0,          0.5,         256,  8,      false,    0.0,
               true,         7,           4,    1,      2048,     false,
               false,        false,       1.0,  1.0,    512 * KiB});
  t.back().matmul = false;
  t.back().layerNorm = false;
  t.back().gridSample = false;
  t.push_back({"bayes", "Journey 5", 65536, 1000.0, 8 * MiB, 34.1, 3.0,    0.3,
               2048,    32,          true,  0.25,   false,   7,    4,      4,
               4096,    true,        true,  true,   1.0,     1.0,  4 * MiB});
  t.push_back({"nash-e",     "Journey 6E",  40960,        1000.0, 4 * MiB,
               51.2,         kNash.layerUs, kNash.tileUs, 2048,   32,
               true,         0.5,           false,        15,     8,
               16,           8192,          true,         true,   true,
               kNash.macEff, kNash.ddrEff,  2 * MiB});
  t.push_back({"nash-m",     "Journey 6M",  65536,        1000.0, 8 * MiB,
               68.3,         kNash.layerUs, kNash.tileUs, 4096,   32,
               true,         0.5,           false,        15,     8,
               16,           8192,          true,         true,   true,
               kNash.macEff, kNash.ddrEff,  4 * MiB});
  t.push_back({"nash-p",     "Journey 6P",  196608,       1400.0, 24 * MiB,
               102.4,        kNash.layerUs, kNash.tileUs, 8192,   64,
               true,         0.5,           false,        15,     8,
               16,           8192,          true,         true,   true,
               kNash.macEff, kNash.ddrEff,  12 * MiB});
  // Only the nash-m cards give a peak DDR; the other marches' runtimes are
  // assumed to hold as much (docs/bpu.md, "Peak DDR").
  for (March &m : t)
    m.runtimeDdrBytes = kNash.runtimeDdrBytes;
  return t;
}
} // namespace

const std::vector<March> &allMarches() {
  static const std::vector<March> table = makeTable();
  return table;
}

const March *findMarch(const std::string &name) {
  for (const March &m : allMarches())
    if (name == m.name)
      return &m;
  return nullptr;
}

std::string marchNames() {
  std::string s;
  for (const March &m : allMarches())
    s += (s.empty() ? "" : ", ") + std::string(m.name);
  return s;
}

} // namespace hat::bpu
