//===- CocoEval.h - COCO bbox evaluation, pycocotools' numbers --*- C++ -*-===//
//
// The COCO detection metric (AP@[.5:.95], AP50, AP75, AP small/medium/large,
// AR@1/10/100, AR small/medium/large) computed the way pycocotools'
// COCOeval(iouType='bbox') computes it, so the numbers agree with it to
// rounding on every valid input. Plain structs, no LibTorch, no MLIR: the
// trainer's COCODetectionMetric, hat-infer, hat-run and hat-cocoeval share it.
//
// The semantics reproduced (docs/detection.md has the long form):
//  * Every image of the ground truth is evaluated, also images without
//    objects (their detections are false positives); every category of the
//    ground truth is a class, also one without detections (AP 0) or without
//    objects (AP -1, left out of the means).
//  * Per (image, category) the detections are sorted by score, highest first,
//    ties keeping input order (numpy's stable mergesort), and cut to 100.
//  * IoU is bbox IoU; against a crowd object the union is the detection's own
//    area. A detection matches the best not-yet-matched object with
//    IoU >= threshold; non-ignored objects are preferred to ignored ones;
//    crowd objects may absorb any number of detections. An object is ignored
//    when it is a crowd or its `area` lies outside the area range; an
//    unmatched detection whose w*h lies outside the area range is ignored.
//    (pycocotools ignores an annotation's own "ignore" key: so do we.)
//  * Precision at the 101 recall points 0:.01:1 after making precision
//    monotone; -1 where a category has no non-ignored object in an area range.
//  * Quirk kept for equality: pycocotools records a match by the object's
//    id, so a detection matched to an object with id 0 counts as unmatched.
//    The JSON loader warns about id 0.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DETECTION_COCOEVAL_H
#define HAT_DETECTION_COCOEVAL_H

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace hat::detection {

/// An image of the evaluation set. Width/height are informational (0 when
/// unknown); the metric does not use them.
struct CocoImage {
  int64_t id = 0;
  int width = 0, height = 0;
  std::string fileName;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
};

/// A ground-truth object. Boxes are COCO's [x, y, width, height] in pixels.
struct GroundTruthBox {
  int64_t id = 0; ///< annotation id (see the id-0 quirk above)
  int64_t imageId = 0;
  int64_t categoryId = 0;
  double x = 0, y = 0, width = 0, height = 0;
  /// The annotation's area (COCO: the segment's area, not w*h); decides the
  /// small/medium/large range the object belongs to.
  double area = 0;
  bool iscrowd = false;
};

/// A detection in COCO result form; its area for the ranges is width*height.
struct DetectionBox {
  int64_t imageId = 0;
  int64_t categoryId = 0;
  double x = 0, y = 0, width = 0, height = 0;
  double score = 0;
};

struct CocoGroundTruth {
  std::vector<CocoImage> images;
  std::vector<CocoCategory> categories;
  std::vector<GroundTruthBox> annotations;
};

/// Invalid input to the evaluator (unknown image/category, NaN score,
/// duplicate ids): the message names the offending entry.
class CocoEvalError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct CocoEvalOptions {
  /// Worker threads over categories; 0 uses std::thread::hardware_concurrency.
  unsigned threads = 0;
};

/// Names of the 12 standard numbers, in COCOeval.stats order.
extern const std::array<const char *, 12> kCocoStatNames;

/// The evaluation parameters of COCOeval's bbox defaults, bit for bit as
/// numpy.linspace makes them.
const std::array<double, 10> &cocoIouThresholds();
const std::array<double, 101> &cocoRecallThresholds();
/// maxDets 1, 10, 100 and the area ranges all, small, medium, large.
extern const std::array<int, 3> kCocoMaxDets;
extern const std::array<std::array<double, 2>, 4> kCocoAreaRanges;

struct CocoEvalResult {
  /// AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl; -1 where
  /// nothing could be measured (e.g. no object in that area range).
  std::array<double, 12> stats{};
  /// Category ids (sorted) and, per category, AP@[.5:.95] and AP50 (area
  /// all, maxDets 100); -1 for a category without non-crowd objects.
  std::vector<int64_t> categoryIds;
  std::vector<double> categoryAP, categoryAP50;
  /// COCOeval.eval['precision'] [T=10][R=101][K][A=4][M=3] and ['recall']
  /// [T][K][A][M], row-major, -1 where undefined.
  std::vector<double> precision, recall;

  double precisionAt(int t, int r, int k, int a, int m) const;
  double recallAt(int t, int k, int a, int m) const;
};

/// Evaluates `detections` against `groundTruth` as COCOeval(iouType='bbox')
/// does after evaluate(), accumulate() and summarize(). Throws CocoEvalError
/// on invalid input (see validate below).
CocoEvalResult evaluateCoco(const CocoGroundTruth &groundTruth,
                            const std::vector<DetectionBox> &detections,
                            const CocoEvalOptions &options = {});

/// The checks evaluateCoco makes, usable on their own: unique image,
/// category and annotation ids; annotations and detections name known images
/// and categories; finite boxes, areas and scores. Throws CocoEvalError.
void validateCocoInput(const CocoGroundTruth &groundTruth,
                       const std::vector<DetectionBox> &detections);

} // namespace hat::detection

#endif // HAT_DETECTION_COCOEVAL_H
