//===- Prediction.cpp - hat-infer: a stage's predictor, with outputs ------===//

#include "hat/Engine/Prediction.h"

#include "hat/Config/Config.h"
#include "hat/Data/DataLoader.h"
#include "hat/Detection/CocoJson.h"
#include "hat/Engine/Engine.h"
#include "hat/Inference/Evaluate.h"

#include <ATen/Context.h>

#include <cstdlib>

namespace hat::engine {

PredictionResult runPrediction(const PredictionOptions &options) {
  RunContext &ctx = runContext();
  // The config sees the stage as HAT's tools/predict.py sets it.
  setenv("HAT_TRAINING_STEP", options.stage.c_str(), 1);
  auto module = config::loadConfigWithMerges(options.configPath, options.merges,
                                             options.overrides);
  if (!module)
    throw EngineError(module.error().str());
  ctx.stage = options.stage;
  ctx.config = *module;
  ctx.configPath = options.configPath;
  ctx.resumeFrom.clear();
  if (options.seed >= 0)
    ctx.seed = options.seed;
  else if (const config::Value *seed = (*module)->get("seed");
           seed && seed->isInt())
    ctx.seed = seed->asInt();
  at::manual_seed(ctx.seed);

  const std::string name = options.predictorName.empty()
                               ? options.stage + "_predictor"
                               : options.predictorName;
  const config::Value *predictor = (*module)->get(name);
  if (!predictor)
    throw EngineError(options.configPath + ": the config defines no '" + name +
                      "' for --stage " + options.stage);
  ctx.logger->info("stage " + options.stage + ": building " + name + " from " +
                   options.configPath);
  LoopPtr loop = buildLoop(*predictor);
  if (loop->kind != Loop::Kind::Predictor)
    throw EngineError(options.configPath + ": '" + name + "' is a " +
                      loop->typeName + ", not a Predictor");
  loop->fit();

  PredictionResult result;
  result.imagesPerSecond = loop->imagesPerSecond;
  const metrics::CocoDetectionMetric *coco = nullptr;
  for (const metrics::MetricPtr &metric : loop->metrics) {
    for (auto &kv : metric->get())
      result.metrics.push_back(kv);
    if (!coco)
      coco = dynamic_cast<const metrics::CocoDetectionMetric *>(metric.get());
  }
  const bool wantsDetections =
      !options.detectionsPath.empty() || !options.visualizeDir.empty();
  if (!wantsDetections)
    return result;
  if (!coco)
    throw EngineError(options.configPath + ": '" + name +
                      "' has no COCODetectionMetric among its metrics: "
                      "--out and --visualize write a detector's detections");
  const detection::CocoAccumulator &detections = coco->accumulator();
  result.images = static_cast<int64_t>(detections.imageIds().size());
  result.detections = detections.results().size();
  if (!options.detectionsPath.empty())
    detection::writeCocoDetections(options.detectionsPath,
                                   detections.results());
  if (!options.visualizeDir.empty()) {
    if (!loop->dataLoader)
      throw EngineError("'" + name + "' has no data_loader to draw on");
    try {
      result.drawn = inference::writeDetectionImages(
          *loop->dataLoader->options().dataset, detections.imageDetections(),
          options.visualizeDir, options.minScore, options.maxImages);
    } catch (const inference::InferenceError &e) {
      throw EngineError(e.what());
    }
  }
  return result;
}

} // namespace hat::engine
