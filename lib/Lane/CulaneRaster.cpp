//===- CulaneRaster.cpp - Lanes drawn as the official evaluator draws -----===//
//
// The official tool draws both lanes of every (GT, prediction) pair on two
// full 590 x 1640 canvases, one cv::line per pair of consecutive samples, and
// sums the canvases. Here each lane is drawn once, into runs of pixels per
// row, and pairs only intersect runs. The pixels are the official ones:
//
//  * OpenCV's thick line is a filled quadrilateral and two filled discs, in
//    integer fixed point, so it is invariant under whole-pixel translation,
//    with one exception: the quadrilateral's outline is drawn with lines
//    clipped to the canvas first, and a clipped line may step through other
//    pixels than the whole one. Away from the border, cv::line(p, q) draws
//    p + S(q - p), where the stamp S(d) is what cv::line((0, 0), d) draws on
//    a canvas large enough to hold all of it. Consecutive samples are a
//    pixel or two apart, so the few stamps needed are drawn once with
//    cv::line and cached.
//  * A segment near the border, or a long one (a 2-point lane, a jump), is
//    drawn with cv::line on a canvas cut to its bounding box and the real
//    canvas: the cut's sides are either the canvas's own (the same clipping)
//    or lie beyond everything the segment draws (no clipping either way).
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
#include <cmath>
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

// What cv::line((0, 0), d) draws, with its bounding box.
struct Stamp {
  std::vector<StampRun> runs;
  int minDy = 0, maxDy = 0, minX = 0, maxX = 0;
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
  const Stamp &stamp(int thickness, int dx, int dy) {
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
        entry->runs.push_back({y, first, last});
      });
      for (const StampRun &run : entry->runs) {
        entry->minDy = std::min(entry->minDy, run.dy);
        entry->maxDy = std::max(entry->maxDy, run.dy);
        entry->minX = std::min(entry->minX, run.first);
        entry->maxX = std::max(entry->maxX, run.last);
      }
    }
    return *entry;
  }

private:
  int thickness_ = -1;
  std::optional<Stamp> stamps_[(2 * kStampReach + 1) * (2 * kStampReach + 1)];
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

  // Adds a stamp at `at`; the common case, a stamp wholly inside the
  // canvas over rows holding one run, needs no clipping and no search.
  void addStamp(const Stamp &stamp, cv::Point at) {
    const int64_t top = int64_t(at.y) + stamp.minDy;
    const int64_t bottom = int64_t(at.y) + stamp.maxDy;
    if (top < 0 || bottom >= static_cast<int64_t>(shape_.size()) ||
        int64_t(at.x) + stamp.minX < 0 ||
        int64_t(at.x) + stamp.maxX >= width_) {
      for (const StampRun &run : stamp.runs)
        add(int64_t(at.y) + run.dy, int64_t(at.x) + run.first,
            int64_t(at.x) + run.last);
      return;
    }
    for (const StampRun &stampRun : stamp.runs) {
      const int row = at.y + stampRun.dy;
      const int lo = at.x + stampRun.first, hi = at.x + stampRun.last;
      Run &run = single_[row];
      if (shape_[row] == Single && lo <= run.last + 1 && run.first <= hi + 1) {
        run.first = std::min(run.first, lo);
        run.last = std::max(run.last, hi);
      } else {
        add(row, lo, hi);
      }
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

struct Segment {
  cv::Point p, q;
};

// Draws `segments` with cv::line on a cut of the canvas holding all of them
// (their bounding box widened by the thickness); segments that draw nothing
// inside the canvas are left out first.
void drawOnCut(std::vector<Segment> &segments, int thickness, int width,
               int height, RunBuilder &builder) {
  const int64_t margin = thickness + 2;
  int64_t x0 = std::numeric_limits<int64_t>::max(), y0 = x0;
  int64_t x1 = std::numeric_limits<int64_t>::min(), y1 = x1;
  bool translatable = true;
  std::size_t kept = 0;
  for (const Segment &segment : segments) {
    const int64_t lowX = std::min(segment.p.x, segment.q.x) - margin;
    const int64_t lowY = std::min(segment.p.y, segment.q.y) - margin;
    const int64_t highX = std::max(segment.p.x, segment.q.x) + margin;
    const int64_t highY = std::max(segment.p.y, segment.q.y) + margin;
    if (highX < 0 || highY < 0 || lowX >= width || lowY >= height)
      continue; // entirely outside the canvas
    translatable = translatable && -lowX < kTranslatableLimit &&
                   -lowY < kTranslatableLimit && highX < kTranslatableLimit &&
                   highY < kTranslatableLimit;
    x0 = std::min(x0, lowX);
    y0 = std::min(y0, lowY);
    x1 = std::max(x1, highX + 1);
    y1 = std::max(y1, highY + 1);
    segments[kept++] = segment;
  }
  segments.resize(kept);
  if (segments.empty())
    return;
  if (translatable) {
    x0 = std::max<int64_t>(x0, 0);
    y0 = std::max<int64_t>(y0, 0);
    x1 = std::min<int64_t>(x1, width);
    y1 = std::min<int64_t>(y1, height);
  } else {
    // Coordinates near the int limits: drawn untranslated, as is.
    x0 = y0 = 0;
    x1 = width;
    y1 = height;
  }
  const cv::Point origin =
      translatable ? cv::Point(static_cast<int>(x0), static_cast<int>(y0))
                   : cv::Point(0, 0);
  cv::Mat canvas = cv::Mat::zeros(static_cast<int>(y1 - y0),
                                  static_cast<int>(x1 - x0), CV_8UC1);
  for (const Segment &segment : segments)
    cv::line(canvas, segment.p - origin, segment.q - origin, cv::Scalar(1),
             thickness);
  forEachRun(canvas, static_cast<int>(x0), static_cast<int>(y0),
             [&](int y, int first, int last) { builder.add(y, first, last); });
  segments.clear();
}

// Whether cv::line(p, q) draws exactly its stamp: no vertex of its
// quadrilateral (p and q moved half the thickness across the segment) is
// outside the canvas, so no outline is clipped. Discs are never a problem.
// Conservative by a pixel, so OpenCV's rounding of the vertices can't
// matter.
bool drawsItsStamp(cv::Point p, cv::Point q, int thickness, int width,
                   int height) {
  // Far from every border (the usual case) there is nothing to work out.
  const int far = (thickness + 1) / 2 + 3;
  if (std::min(p.x, q.x) >= far && std::min(p.y, q.y) >= far &&
      std::max(p.x, q.x) < width - far && std::max(p.y, q.y) < height - far)
    return true;
  const double dx = double(q.x) - p.x, dy = double(q.y) - p.y;
  const double length = std::sqrt(dx * dx + dy * dy);
  double acrossX = 0, acrossY = 0;
  if (length > 0) {
    const double half = 0.5 * thickness + 1;
    acrossX = half * std::fabs(dy) / length + 1;
    acrossY = half * std::fabs(dx) / length + 1;
  }
  return std::min(p.x, q.x) - acrossX >= 0 &&
         std::min(p.y, q.y) - acrossY >= 0 &&
         std::max(p.x, q.x) + acrossX <= width - 1 &&
         std::max(p.y, q.y) + acrossY <= height - 1;
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
  thread_local std::vector<Segment> nearBorder;
  builder.start(options.imageWidth, options.imageHeight);
  nearBorder.clear();
  auto drawSegment = [&](cv::Point p, cv::Point q) {
    const int64_t dx = int64_t(q.x) - p.x, dy = int64_t(q.y) - p.y;
    if (std::llabs(dx) <= kStampReach && std::llabs(dy) <= kStampReach &&
        drawsItsStamp(p, q, options.laneWidth, options.imageWidth,
                      options.imageHeight)) {
      builder.addStamp(stamps.stamp(options.laneWidth, static_cast<int>(dx),
                                    static_cast<int>(dy)),
                       p);
      return;
    }
    // Consecutive segments near the border share one cut.
    nearBorder.push_back({p, q});
  };
  // All samples on one pixel: the official segments are all that pixel's
  // disc.
  if (pixels.size() == 1)
    drawSegment(pixels[0], pixels[0]);
  for (std::size_t i = 0; i + 1 < pixels.size(); ++i) {
    const std::size_t pending = nearBorder.size();
    drawSegment(pixels[i], pixels[i + 1]);
    if (pending && nearBorder.size() == pending)
      drawOnCut(nearBorder, options.laneWidth, options.imageWidth,
                options.imageHeight, builder);
  }
  drawOnCut(nearBorder, options.laneWidth, options.imageWidth,
            options.imageHeight, builder);
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
