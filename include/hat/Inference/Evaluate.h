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
//    to draw.
// writeDetectionImages draws detections on the stored images (shared with
// hat-infer --visualize).
//
//===----------------------------------------------------------------------===//
#ifndef HAT_INFERENCE_EVALUATE_H
#define HAT_INFERENCE_EVALUATE_H

#include "hat/Data/Transforms.h"
#include "hat/Detection/CocoAccumulator.h"
#include "hat/Detection/PostProcess.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hat::runtime {
class Session;
} // namespace hat::runtime
namespace hat::data {
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
