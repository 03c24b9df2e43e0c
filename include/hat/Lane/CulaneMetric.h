//===- CulaneMetric.h - The CULane lane F1 metric ---------------*- C++ -*-===//
//
// The lane-detection F1 of the CULane benchmark, with the numbers of the
// official evaluator (`evaluate` of SCNN's tools/lane_evaluation, also
// shipped by Codes-for-Lane-Detection; docs/lane.md):
//
//  * a lane is a list of points in image pixels; a lane of 3 or more points
//    is replaced by a natural cubic spline through them, parameterised by
//    chord length and sampled 50 times per segment; a lane of exactly 2
//    points is its straight segment; the points are stored as floats, as the
//    official tool stores cv::Point2f;
//  * each lane is drawn with cv::line segments `laneWidth` pixels thick
//    (30 on CULane) on a zeroed `imageHeight` x `imageWidth` canvas (590 x
//    1640); pixels outside the canvas are lost;
//  * the similarity of a GT lane and a prediction is the IoU of the two
//    drawings' pixel counts; a pair in which either lane has fewer than 2
//    points has similarity 0;
//  * GT lanes and predictions are paired one-to-one by the official
//    Kuhn-Munkres maximum-weight matching over the IoUs (with its 1e-2
//    equality tolerance, so near-ties resolve exactly as there); a matched
//    pair is a true positive when its IoU is strictly above the threshold;
//  * every other GT lane is a false negative and every other prediction a
//    false positive, lanes with fewer than 2 points included;
//  * precision = tp / (tp + fp), recall = tp / (tp + fn), F1 their harmonic
//    mean, over all images together. The official tool prints -1 where a
//    denominator is 0; here such a value is absent (std::nullopt).
//
// Torch- and MLIR-free (OpenCV core/imgproc only) so hat-run and the tools
// can link it; a config Metric can wrap CulaneF1Score through state() and
// mergeState().
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LANE_CULANEMETRIC_H
#define HAT_LANE_CULANEMETRIC_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hat::lane {

/// A lane point in image pixels. Float, because the official evaluator
/// keeps points as cv::Point2f and its rounding to pixels depends on it.
struct LanePoint {
  float x = 0, y = 0;
};
using Lane = std::vector<LanePoint>;

struct CulaneOptions {
  /// The canvas lanes are drawn on (CULane images are 1640 x 590).
  int imageWidth = 1640, imageHeight = 590;
  /// Line thickness in pixels (the benchmark uses 30).
  int laneWidth = 30;
  /// A matched pair counts when its IoU is strictly greater (0.5; some
  /// papers also report 0.3).
  double iouThreshold = 0.5;
};

/// Throws std::invalid_argument naming the bad field (sizes and width must
/// be in 1..32767, the threshold finite).
void validateCulaneOptions(const CulaneOptions &options);

/// The points the official evaluator draws for a lane of 3 or more points:
/// `samplesPerSegment` samples of each spline segment, then the last input
/// point. Lanes of fewer than 3 points are returned unchanged.
std::vector<LanePoint> interpolateCulaneLane(const Lane &lane,
                                             int samplesPerSegment = 50);

/// A lane as drawn by the official evaluator, as runs of pixels per canvas
/// row: each lane is drawn once and pairs intersect runs, where the official
/// tool draws both lanes of every pair on whole 590 x 1640 canvases.
struct LaneMask {
  struct Run {
    int first, last; ///< columns, inclusive
  };
  int y0 = 0; ///< the canvas row of the first row
  /// Row r (canvas row y0 + r) has runs[rowStart[r] .. rowStart[r + 1]),
  /// sorted, disjoint and not touching.
  std::vector<uint32_t> rowStart;
  std::vector<Run> runs;
  int64_t count = 0; ///< pixels drawn inside the canvas

  int rows() const { return rowStart.empty() ? 0 : int(rowStart.size()) - 1; }
  bool contains(int x, int y) const;
};

/// Draws a lane of 2 or more points; a shorter lane draws nothing.
LaneMask rasterizeCulaneLane(const Lane &lane, const CulaneOptions &options);

/// Pixels set in both masks.
int64_t laneMaskIntersection(const LaneMask &a, const LaneMask &b);

/// The official similarity of two lanes: 0 when either has fewer than 2
/// points, else the IoU of their drawings (NaN when neither draws a pixel
/// inside the canvas, as in the official tool; NaN never matches).
double culaneLaneIoU(const Lane &a, const Lane &b,
                     const CulaneOptions &options);

/// The official one-to-one assignment over a rows x cols similarity matrix
/// (rows: GT lanes, cols: predictions): for each row the matched column or
/// -1. Kuhn-Munkres maximising the summed similarity, with the official
/// tool's 1e-2 tolerance on the equality subgraph, its visiting order and
/// its orientation (the smaller side is the left one). The threshold is not
/// applied here. Throws std::runtime_error if the labelling stops making
/// progress (where the official tool would loop forever).
std::vector<int>
culaneAssignment(const std::vector<std::vector<double>> &similarity);

/// The outcome of one image.
struct CulaneImageResult {
  int64_t tp = 0, fp = 0, fn = 0;
  /// For each GT lane, the prediction it is a true positive with, or -1.
  std::vector<int> gtMatch;
  /// Lanes with fewer than 2 points (they can never match).
  int64_t degenerateGt = 0, degeneratePred = 0;
};

/// Evaluates one image (lanes in canvas pixels).
CulaneImageResult evaluateCulaneImage(const std::vector<Lane> &gt,
                                      const std::vector<Lane> &pred,
                                      const CulaneOptions &options);

/// Accumulated counts and the figures derived from them.
struct CulaneCounts {
  int64_t tp = 0, fp = 0, fn = 0;
  int64_t images = 0;
  int64_t degenerateGt = 0, degeneratePred = 0;

  void add(const CulaneImageResult &image);
  void add(const CulaneCounts &other);
  /// Absent where the denominator is 0 (the official tool prints -1).
  std::optional<double> precision() const;
  std::optional<double> recall() const;
  /// 2PR / (P + R); absent when P or R is, 0 when both are 0.
  std::optional<double> f1() const;
};

/// One image for CulaneF1Score::update.
struct CulaneImage {
  std::vector<Lane> gt, pred;
  /// Index into the metric's categories, or -1 for none.
  int category = -1;
  /// This image's canvas when it differs from the options' (0: theirs).
  int imageWidth = 0, imageHeight = 0;
};

/// The CULane F1 accumulated over images, overall and per category.
class CulaneF1Score {
public:
  /// `categories` names the per-category totals (e.g. culaneTestCategories()).
  explicit CulaneF1Score(CulaneOptions options = {},
                         std::vector<std::string> categories = {});

  const CulaneOptions &options() const { return options_; }
  const std::vector<std::string> &categories() const { return categories_; }

  /// Evaluates and accumulates one image; returns its outcome.
  CulaneImageResult update(const CulaneImage &image);
  CulaneImageResult update(const std::vector<Lane> &gt,
                           const std::vector<Lane> &pred, int category = -1);
  /// Evaluates `images` on `threads` threads (0: one per core) and
  /// accumulates them; the counts do not depend on the thread count.
  void updateAll(const std::vector<CulaneImage> &images, unsigned threads);
  /// Accumulates an outcome computed elsewhere (evaluateCulaneImage).
  void add(const CulaneImageResult &result, int category = -1);

  const CulaneCounts &get() const { return total_; }
  const CulaneCounts &category(std::size_t index) const {
    return perCategory_.at(index);
  }
  void reset();

  /// The counts as numbers for data-parallel ranks: (tp, fp, fn, images,
  /// degenerate GT, degenerate predictions) overall, then the same six per
  /// category in order. Exact up to 2^53 per count.
  std::vector<double> state() const;
  /// Adds another rank's state(); throws std::invalid_argument (and leaves
  /// this metric unchanged) when its length does not fit the categories or a
  /// value is not a non-negative integer.
  void mergeState(const std::vector<double> &other);

private:
  CulaneOptions options_;
  std::vector<std::string> categories_;
  CulaneCounts total_;
  std::vector<CulaneCounts> perCategory_;
};

/// The nine test categories of CULane in the order of its split lists
/// (list/test_split/test<i>_<name>.txt): normal, crowd, hlight, shadow,
/// noline, arrow, curve, cross, night.
const std::vector<std::string> &culaneTestCategories();

} // namespace hat::lane

#endif // HAT_LANE_CULANEMETRIC_H
