//===- Evaluate.h - Score a compiled model on a config's data ---*- C++ -*-===//
//
// hat-run's `--config` mode as a library: runs an HBM session over a data
// loader and scores what comes out the way hat-train does, without
// LibTorch (the board has none):
//  * a classifier: top-1 and the top-k accuracies;
//  * a detector (an HBM with a `post_process` description): the same CPU
//    decoding as the trainer's predict path (hat::detection's
//    DetectionPostProcessor), collected in a CocoAccumulator, which gives
//    the COCO numbers, the COCO results file and the per-image detections
//    to draw;
//  * a lane detector (an HBM whose `post_process` is a GaNetDecoder): the
//    same CPU decoder as the trainer's (hat::lane::GaNetPostProcessor),
//    lanes mapped back to the stored image and scored against its stored
//    lanes by the CULane F1 (hat::lane::CulaneF1Score).
// parseCulaneF1Score reads the CulaneF1Score metric's kwargs for both the
// trainer's metric and hat-run, so the two score with the same options.
// writeDetectionImages draws detections on the stored images (shared with
// hat-infer --visualize).
//
//===----------------------------------------------------------------------===//
#ifndef HAT_INFERENCE_EVALUATE_H
#define HAT_INFERENCE_EVALUATE_H

#include "hat/Config/Registry.h"
#include "hat/Data/Transforms.h"
#include "hat/Detection/CocoAccumulator.h"
#include "hat/Detection/PostProcess.h"
#include "hat/Lane/CulaneMetric.h"
#include "hat/Lane/GaNetPostProcess.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hat::runtime {
class Session;
} // namespace hat::runtime
namespace hat::data {
struct Batch;
class DataLoader;
class Dataset;
} // namespace hat::data

namespace hat::inference {

/// A model, data or metric problem; the message names the loader, sample
/// or output.
class InferenceError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Throughput {
  int64_t images = 0;
  double seconds = 0;
};

/// Top-1 ("accuracy") and "top<k>" for each k of `topKs`, over one epoch of
/// `loader` (labels from the samples, scores from the session's first
/// output, [N, classes] float). `batchTransforms` (a batch processor's
/// batch_transforms, e.g. BgrToYuv444) run on each collated batch first,
/// as the trainer's batch processor runs them.
std::vector<std::pair<std::string, double>>
evaluateClassifier(runtime::Session &session, data::DataLoader &loader,
                   const std::vector<int64_t> &topKs,
                   const std::string &loaderName, Throughput &throughput,
                   const std::vector<data::TransformPtr> &batchTransforms = {});

/// Decodes every batch of one epoch of `loader` with `postProcessor` (the
/// session's outputs by name) and adds each image's detections, in
/// original-image pixels, to `accumulator`. `batchTransforms` as above.
void evaluateDetector(
    runtime::Session &session,
    const detection::DetectionPostProcessor &postProcessor,
    data::DataLoader &loader, detection::CocoAccumulator &accumulator,
    Throughput &throughput,
    const std::vector<data::TransformPtr> &batchTransforms = {});

/// HAT's CulaneF1Score(name="CulaneF1Score", iou_thresh=0.5,
/// img_shape=(590, 1640, 1), width=30, samples=50): the canvas is img_shape's
/// height and width, `width` the lane's thickness; `samples` must be the
/// official 50 spline samples per segment.
struct CulaneF1Spec {
  std::string name = "CulaneF1Score";
  lane::CulaneOptions options;
};
config::Expected<CulaneF1Spec>
parseCulaneF1Score(const config::BuildArgs &args);

/// The metric's figures with hat-train's names: `spec.name` (the F1, as
/// HAT's metric reports it), "precision" and "recall" (0 where the official
/// tool would print -1: no prediction or no ground truth at all), then the
/// lane counts "tp", "fp" and "fn".
std::vector<std::pair<std::string, double>>
culaneFigures(const lane::CulaneCounts &counts, const std::string &name);

/// Per image of `batch`, its lanes as collate_2d laid them out: in
/// network-input pixels, or (`stored`) as stored, before any transform.
/// Throws InferenceError when the batch carries no lane layout.
std::vector<std::vector<lane::Lane>> batchLanes(const data::Batch &batch,
                                                bool stored);

/// Decodes every batch of one epoch of `loader` with `postProcessor`, maps
/// the lanes back to the stored image (the batch's scale factors and crop
/// offsets) and scores them against the stored lanes with `metric`.
/// `predictions`, when given, receives each image's dataset index and
/// lanes (in loader order). Throws InferenceError when the batches carry no
/// lanes.
using LanePredictions =
    std::vector<std::pair<int64_t, std::vector<lane::Lane>>>;
void evaluateLaneDetector(
    runtime::Session &session, const lane::GaNetPostProcessor &postProcessor,
    data::DataLoader &loader, lane::CulaneF1Score &metric,
    Throughput &throughput,
    const std::vector<data::TransformPtr> &batchTransforms = {},
    LanePredictions *predictions = nullptr);

/// Writes each predicted image's lanes in CULane's format under `dir`, at
/// the image's packed path with `.lines.txt` for its extension (the layout
/// hat-culane-eval --pred-root reads). Returns how many files were written;
/// throws InferenceError when a sample has no packed path or a file cannot
/// be written.
size_t writeLaneFiles(const data::Dataset &dataset,
                      const LanePredictions &predictions,
                      const std::string &dir);

/// Draws each predicted image's lanes (and, thinner, its stored ground
/// truth) on the stored image and writes DIR/<dataset index>.jpg, at most
/// `maxImages` (<= 0: all). Returns how many were written.
size_t writeLaneImages(const data::Dataset &dataset,
                       const LanePredictions &predictions,
                       const std::string &dir, int64_t maxImages);

/// Draws each image's detections scoring at least `minScore` on the
/// dataset's stored image (found by image id) and writes DIR/<id>.jpg, at
/// most `maxImages` (<= 0: all). Returns how many were written; throws
/// InferenceError when DIR cannot be created or an image not written.
size_t writeDetectionImages(
    const data::Dataset &dataset,
    const std::vector<std::pair<int64_t, detection::ImageDetections>>
        &detections,
    const std::string &dir, float minScore, int64_t maxImages);

} // namespace hat::inference

#endif // HAT_INFERENCE_EVALUATE_H
