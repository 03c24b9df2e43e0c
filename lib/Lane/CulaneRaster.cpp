//===- CulaneRaster.cpp - Lanes drawn as the official evaluator draws -----===//
//
// The official tool draws both lanes of every (GT, prediction) pair on two
// full 590 x 1640 canvases, one cv::line per pair of consecutive samples, and
// sums the canvases. Here each lane is drawn once, into runs of pixels per
// row, and pairs only intersect runs. The pixels are the official ones:
//
//  * OpenCV's thick line (a filled quadrilateral and two filled discs, in
//    integer fixed point) is invariant under whole-pixel translation, and the
//    canvas only clips it. So cv::line(p, q) draws p + S(q - p), clipped,
//    where the stamp S(d) is what cv::line((0, 0), d) draws on a canvas large
//    enough to hold all of it. Consecutive samples are a pixel or two apart,
//    so the few stamps needed are drawn once with cv::line and cached; a
//    longer segment (a 2-point lane, a jump) is drawn with cv::line on a
//    canvas cut to its bounding box and the real canvas.
//  * Consecutive samples often round to the same pixel; a segment between
//    equal pixels draws only a disc that its neighbours draw too, so repeated
//    pixels are dropped before drawing (the union is unchanged).
//  * Coordinates too large to translate in OpenCV's int points (samples of
//    NaN, which OpenCV rounds to INT_MIN) are drawn untranslated on the full
//    canvas, as the official tool does.
//
// test/unit/Lane checks the stamps against whole-canvas cv::line drawings,
// and docs/lane.md describes the comparison with the official binary.
//
//===----------------------------------------------------------------------===//

#include "hat/Lane/CulaneMetric.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <optional>

namespace hat::lane {

namespace {

using Run = LaneMask::Run;

// Segments with both |dx| and |dy| up to this use cached stamps.
constexpr int kStampReach = 8;
// Beyond this a translated coordinate might not fit OpenCV's int points.
constexpr int64_t kTranslatableLimit = int64_t(1) << 29;

// The pixel the official tool draws a sample at: cv::line takes cv::Point,
// so the float point is converted as OpenCV converts (saturating cvRound).
cv::Point toPixel(const LanePoint &point) {
  return cv::Point(cv::Point2f(point.x, point.y));
}

struct StampRun {
  int dy, first, last; // relative to the segment's first pixel
};

// The runs of each row of an 8-bit 0/1 image, offset by (x0, y0).
template <typename Fn>
void forEachRun(const cv::Mat &image, int x0, int y0, Fn &&fn) {
  for (int row = 0; row < image.rows; ++row) {
    const uint8_t *pixels = image.ptr<uint8_t>(row);
    for (int x = 0; x < image.cols;) {
      if (!pixels[x]) {
        ++x;
        continue;
      }
      const int first = x;
      while (x < image.cols && pixels[x])
        ++x;
      fn(y0 + row, x0 + first, x0 + x - 1);
    }
  }
}

// Stamps of one thickness for all segments (0, 0) -> (dx, dy) with
// |dx|, |dy| <= kStampReach, drawn on first use. One per thread, so no lock.
class StampCache {
public:
  const std::vector<StampRun> &stamp(int thickness, int dx, int dy) {
    if (thickness != thickness_) {
      thickness_ = thickness;
      for (auto &entry : stamps_)
        entry.reset();
    }
    auto &entry =
        stamps_[(dy + kStampReach) * (2 * kStampReach + 1) + dx + kStampReach];
    if (!entry) {
      // Room for the discs (radius about thickness / 2) and the
      // quadrilateral (as wide) around both ends.
      const int margin = thickness + 2;
      const int side = 2 * (margin + kStampReach) + 1;
      const cv::Point origin(margin + kStampReach, margin + kStampReach);
      cv::Mat canvas = cv::Mat::zeros(side, side, CV_8UC1);
      cv::line(canvas, origin, origin + cv::Point(dx, dy), cv::Scalar(1),
               thickness);
      entry.emplace();
      forEachRun(canvas, -origin.x, -origin.y, [&](int y, int first, int last) {
        entry->push_back({y, first, last});
      });
    }
    return *entry;
  }

private:
  int thickness_ = -1;
  std::optional<std::vector<StampRun>>
      stamps_[(2 * kStampReach + 1) * (2 * kStampReach + 1)];
};

// Per-row interval sets for the canvas being drawn; reused between lanes.
// Almost every row of a lane is one run, kept in a flat array; a row the
// lane crosses more than once moves to a vector of runs.
class RunBuilder {
public:
  void start(int width, int height) {
    width_ = width;
    single_.resize(static_cast<std::size_t>(height));
    shape_.assign(static_cast<std::size_t>(height), Empty);
    multiple_.resize(static_cast<std::size_t>(height));
    minRow_ = height;
    maxRow_ = -1;
  }

  // Adds [first, last] on row y, clipped to the canvas.
  void add(int64_t y, int64_t first, int64_t last) {
    if (y < 0 || y >= static_cast<int64_t>(shape_.size()))
      return;
    first = std::max<int64_t>(first, 0);
    last = std::min<int64_t>(last, width_ - 1);
    if (first > last)
      return;
    const int row = static_cast<int>(y);
    const int lo = static_cast<int>(first), hi = static_cast<int>(last);
    Run &run = single_[row];
    switch (shape_[row]) {
    case Empty:
      run = {lo, hi};
      shape_[row] = Single;
      minRow_ = std::min(minRow_, row);
      maxRow_ = std::max(maxRow_, row);
      return;
    case Single:
      if (lo <= run.last + 1 && run.first <= hi + 1) {
        run.first = std::min(run.first, lo);
        run.last = std::max(run.last, hi);
        return;
      }
      multiple_[row].assign(1, run);
      shape_[row] = Multiple;
      [[fallthrough]];
    case Multiple:
      insert(multiple_[row], lo, hi);
      return;
    }
  }

  LaneMask finish() {
    LaneMask mask;
    if (maxRow_ < minRow_)
      return mask;
    mask.y0 = minRow_;
    mask.rowStart.reserve(static_cast<std::size_t>(maxRow_ - minRow_ + 2));
    mask.runs.reserve(static_cast<std::size_t>(maxRow_ - minRow_ + 1));
    for (int row = minRow_; row <= maxRow_; ++row) {
      mask.rowStart.push_back(static_cast<uint32_t>(mask.runs.size()));
      if (shape_[row] == Single)
        mask.runs.push_back(single_[row]);
      else if (shape_[row] == Multiple)
        mask.runs.insert(mask.runs.end(), multiple_[row].begin(),
                         multiple_[row].end());
      shape_[row] = Empty;
    }
    mask.rowStart.push_back(static_cast<uint32_t>(mask.runs.size()));
    for (const Run &run : mask.runs)
      mask.count += run.last - run.first + 1;
    return mask;
  }

private:
  enum Shape : uint8_t { Empty, Single, Multiple };

  // Keeps `runs` sorted, disjoint and not touching.
  static void insert(std::vector<Run> &runs, int first, int last) {
    std::size_t k = 0;
    while (k < runs.size() && runs[k].last + 1 < first)
      ++k;
    if (k == runs.size() || last + 1 < runs[k].first) {
      runs.insert(runs.begin() + k, Run{first, last});
      return;
    }
    runs[k].first = std::min(runs[k].first, first);
    runs[k].last = std::max(runs[k].last, last);
    std::size_t absorbed = k + 1;
    while (absorbed < runs.size() && runs[absorbed].first <= runs[k].last + 1)
      runs[k].last = std::max(runs[k].last, runs[absorbed++].last);
    if (absorbed > k + 1)
      runs.erase(runs.begin() + k + 1, runs.begin() + absorbed);
  }

  int width_ = 0, minRow_ = 0, maxRow_ = -1;
  std::vector<Run> single_;
  std::vector<Shape> shape_;
  std::vector<std::vector<Run>> multiple_;
};

// cv::line(p, q) on the canvas, drawn on a cut of it around the segment.
void drawLongSegment(cv::Point p, cv::Point q, int thickness, int width,
                     int height, RunBuilder &builder) {
  const int64_t margin = thickness + 2;
  int64_t x0 = std::min<int64_t>(p.x, q.x) - margin;
  int64_t y0 = std::min<int64_t>(p.y, q.y) - margin;
  int64_t x1 = std::max<int64_t>(p.x, q.x) + margin + 1;
  int64_t y1 = std::max<int64_t>(p.y, q.y) + margin + 1;
  const bool translatable = std::llabs(p.x) < kTranslatableLimit &&
                            std::llabs(p.y) < kTranslatableLimit &&
                            std::llabs(q.x) < kTranslatableLimit &&
                            std::llabs(q.y) < kTranslatableLimit;
  if (translatable) {
    x0 = std::max<int64_t>(x0, 0);
    y0 = std::max<int64_t>(y0, 0);
    x1 = std::min<int64_t>(x1, width);
    y1 = std::min<int64_t>(y1, height);
    if (x0 >= x1 || y0 >= y1)
      return; // nothing of it lands in the canvas
  } else {
    x0 = y0 = 0;
    x1 = width;
    y1 = height;
  }
  const cv::Point origin(static_cast<int>(x0), static_cast<int>(y0));
  cv::Mat canvas = cv::Mat::zeros(static_cast<int>(y1 - y0),
                                  static_cast<int>(x1 - x0), CV_8UC1);
  cv::line(canvas, translatable ? p - origin : p, translatable ? q - origin : q,
           cv::Scalar(1), thickness);
  forEachRun(canvas, origin.x, origin.y,
             [&](int y, int first, int last) { builder.add(y, first, last); });
}

} // namespace

bool LaneMask::contains(int x, int y) const {
  const int row = y - y0;
  if (row < 0 || row >= rows())
    return false;
  for (uint32_t k = rowStart[row]; k < rowStart[row + 1]; ++k)
    if (runs[k].first <= x && x <= runs[k].last)
      return true;
  return false;
}

LaneMask rasterizeCulaneLane(const Lane &lane, const CulaneOptions &options) {
  if (lane.size() < 2)
    return LaneMask();
  const std::vector<LanePoint> samples =
      lane.size() == 2 ? lane : interpolateCulaneLane(lane);

  std::vector<cv::Point> pixels;
  pixels.reserve(samples.size());
  for (const LanePoint &sample : samples) {
    const cv::Point pixel = toPixel(sample);
    if (pixels.empty() || pixels.back() != pixel)
      pixels.push_back(pixel);
  }

  thread_local StampCache stamps;
  thread_local RunBuilder builder;
  builder.start(options.imageWidth, options.imageHeight);
  auto drawSegment = [&](cv::Point p, cv::Point q) {
    const int64_t dx = int64_t(q.x) - p.x, dy = int64_t(q.y) - p.y;
    if (std::llabs(dx) > kStampReach || std::llabs(dy) > kStampReach) {
      drawLongSegment(p, q, options.laneWidth, options.imageWidth,
                      options.imageHeight, builder);
      return;
    }
    for (const StampRun &run : stamps.stamp(
             options.laneWidth, static_cast<int>(dx), static_cast<int>(dy)))
      builder.add(int64_t(p.y) + run.dy, int64_t(p.x) + run.first,
                  int64_t(p.x) + run.last);
  };
  // All samples on one pixel: the official segments are all that pixel's
  // disc.
  if (pixels.size() == 1)
    drawSegment(pixels[0], pixels[0]);
  for (std::size_t i = 0; i + 1 < pixels.size(); ++i)
    drawSegment(pixels[i], pixels[i + 1]);
  return builder.finish();
}

int64_t laneMaskIntersection(const LaneMask &a, const LaneMask &b) {
  if (a.count == 0 || b.count == 0)
    return 0;
  const int first = std::max(a.y0, b.y0);
  const int last = std::min(a.y0 + a.rows(), b.y0 + b.rows()) - 1;
  int64_t both = 0;
  for (int y = first; y <= last; ++y) {
    uint32_t i = a.rowStart[y - a.y0], iEnd = a.rowStart[y - a.y0 + 1];
    uint32_t j = b.rowStart[y - b.y0], jEnd = b.rowStart[y - b.y0 + 1];
    while (i < iEnd && j < jEnd) {
      const Run &ra = a.runs[i], &rb = b.runs[j];
      const int lo = std::max(ra.first, rb.first);
      const int hi = std::min(ra.last, rb.last);
      if (lo <= hi)
        both += hi - lo + 1;
      if (ra.last < rb.last)
        ++i;
      else
        ++j;
    }
  }
  return both;
}

} // namespace hat::lane
