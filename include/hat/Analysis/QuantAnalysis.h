//===- QuantAnalysis.h - Per-layer quantization debugging -------*- C++ -*-===//
//
// What hat-quant-analysis does, as a library:
//
//  1. Builds three models of one config, the way its stages do: the float
//     model (float checkpoint, BN folded, fake_quant bypassed), the
//     fake-quant model (calibration or QAT checkpoint) and the integer model
//     (qat2quantize of the fake-quant model), with the config's own
//     Float2QAT/Float2Calibration converter (observer, dtypes, qconfig).
//  2. Runs N validation batches through all three and compares every layer
//     output (each activation fake_quant and the integer op of the same
//     name; layer names are the builders' op locations, which every pass
//     keeps): float vs fake-quant and fake-quant vs integer.
//  3. Sensitivity: for each quantized layer, the validation metric with only
//     that layer (its weights and output) quantized and everything else
//     float, ranked by the drop from the float metric.
//
// Reports: JSON, a self-contained HTML page, a terminal summary, and the
// `qconfig` fragment that moves the K most sensitive layers to int16.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_ANALYSIS_QUANTANALYSIS_H
#define HAT_ANALYSIS_QUANTANALYSIS_H

#include "hat/Analysis/Similarity.h"

#include <string>
#include <utility>
#include <vector>

namespace hat::analysis {

struct AnalysisOptions {
  std::string configPath;
  /// Config files merged into the config (hat-train --merge).
  std::vector<std::string> merges;
  /// `path=value` overrides (--set).
  std::vector<std::string> overrides;
  /// Validation batches to run (0: all).
  int64_t numBatches = 8;
  /// The fake-quant model's checkpoint: "qat" or "calibration" stage.
  std::string quantStage = "qat";
  /// Empty: {ckpt_dir}/float-checkpoint-best.pth.tar and
  /// {ckpt_dir}/{quantStage}-checkpoint-best.pth.tar.
  std::string floatCheckpoint, quantCheckpoint;
  /// A layer "drops" when its float vs fake-quant cosine is below this.
  double cosineThreshold = 0.99;
  bool sensitivity = true;
  uint64_t seed = 0;
};

struct LayerResult {
  std::string name;
  std::string op;   ///< the unit's first op, e.g. "hat.conv2d"
  int bits = 8;     ///< output width
  double scale = 0; ///< output scale
  int64_t elements = 0;
  Similarity floatVsFake;
  Similarity fakeVsInt;
  bool inInteger = false;       ///< an integer op of that name was found
  double clippedFraction = 0;   ///< float values the quantizer clips
  double saturatedFraction = 0; ///< integer codes at qmin/qmax
};

struct SensitivityResult {
  std::string layer;
  /// The validation metrics with only this layer quantized.
  std::vector<std::pair<std::string, double>> metrics;
  double metric = 0; ///< the primary metric (first one)
  double drop = 0;   ///< float metric - metric
  Similarity output; ///< model output vs the float model's
};

struct AnalysisReport {
  std::string configPath;
  std::string ckptDir; ///< the config's ckpt_dir
  std::string quantStage;
  std::string floatCheckpoint, quantCheckpoint;
  int64_t batches = 0, images = 0;
  double cosineThreshold = 0.99;
  std::string primaryMetric;
  std::vector<std::pair<std::string, double>> floatMetrics, fakeMetrics,
      intMetrics;
  std::vector<LayerResult> layers; ///< program order
  /// Index into layers of the first one below the cosine threshold, or -1.
  int firstDrop = -1;
  /// Most sensitive first (empty when sensitivity was not run).
  std::vector<SensitivityResult> sensitivity;
  double seconds = 0, sensitivitySeconds = 0;
};

/// Runs the analysis; throws engine::EngineError with a message naming the
/// config, checkpoint or layer for bad input.
AnalysisReport runQuantAnalysis(const AnalysisOptions &options);

/// The report as JSON (nlohmann-json, 2-space indent). Non-finite figures
/// (SQNR of identical outputs) are written as null.
std::string reportJson(const AnalysisReport &report);
/// The report as one HTML page: summary, per-layer table (first drop
/// highlighted), similarity chart, sensitivity table and bar chart.
std::string reportHtml(const AnalysisReport &report);
/// The terminal summary.
std::string reportText(const AnalysisReport &report, int64_t topk);
/// A config fragment setting the `topk` most sensitive layers to int16:
/// `qconfig = dict(module_name={...})`, accepted by hat-train --merge.
std::string int16Fragment(const AnalysisReport &report, int64_t topk);

} // namespace hat::analysis

#endif // HAT_ANALYSIS_QUANTANALYSIS_H
