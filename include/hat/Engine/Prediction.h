//===- Prediction.h - hat-infer: a stage's predictor, with outputs -*- C++
//-*-=//
//
// Runs the config's `{stage}_predictor` (HAT's Predictor: the stage's model
// converted and loaded from its checkpoint, over the validation loader) and
// keeps what a user wants from it besides the logged metrics: the COCO
// results of a detector (COCODetectionMetric's detections, in the stored
// images' pixels) as a JSON file pycocotools and hat-cocoeval read, and the
// detections drawn on the images.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_ENGINE_PREDICTION_H
#define HAT_ENGINE_PREDICTION_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hat::engine {

struct PredictionOptions {
  std::string configPath;
  std::vector<std::string> overrides, merges;
  std::string stage = "float";
  /// Default `{stage}_predictor`.
  std::string predictorName;
  std::string detectionsPath; ///< --out
  std::string visualizeDir;   ///< --visualize
  float minScore = 0.3f;
  int64_t maxImages = 50;
  int64_t seed = -1;
};

struct PredictionResult {
  std::vector<std::pair<std::string, double>> metrics;
  int64_t images = 0;
  double imagesPerSecond = 0;
  size_t detections = 0, drawn = 0;
};

/// Throws EngineError for a config without the predictor, a predictor
/// without a COCODetectionMetric when --out/--visualize ask for
/// detections, and every error of the run itself.
PredictionResult runPrediction(const PredictionOptions &options);

} // namespace hat::engine

#endif // HAT_ENGINE_PREDICTION_H
