//===- CocoEvalTest.cpp - COCO evaluation on hand-computed cases ----------===//
//
// Each expected number is worked out in the comment above it (and was
// cross-checked with pycocotools' COCOeval; see docs/detection.md).
//
//===----------------------------------------------------------------------===//

#include "hat/Detection/CocoEval.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace hat::detection;

namespace {

constexpr double kEps = 2.220446049250313e-16; // np.spacing(1)

struct Case {
  CocoGroundTruth gt;
  std::vector<DetectionBox> dets;
  int64_t nextId = 1;

  void image(int64_t id) { gt.images.push_back({id, 0, 0, ""}); }
  void category(int64_t id) { gt.categories.push_back({id, ""}); }
  void object(int64_t image, int64_t category, double x, double y, double w,
              double h, bool crowd = false, double area = -1) {
    GroundTruthBox box;
    box.id = nextId++;
    box.imageId = image;
    box.categoryId = category;
    box.x = x;
    box.y = y;
    box.width = w;
    box.height = h;
    box.area = area >= 0 ? area : w * h;
    box.iscrowd = crowd;
    gt.annotations.push_back(box);
  }
  void det(int64_t image, int64_t category, double x, double y, double w,
           double h, double score) {
    dets.push_back({image, category, x, y, w, h, score});
  }
  CocoEvalResult run(unsigned threads = 1) {
    CocoEvalOptions options;
    options.threads = threads;
    return evaluateCoco(gt, dets, options);
  }
};

void expectStats(const CocoEvalResult &result,
                 const std::array<double, 12> &expected) {
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(result.stats[i], expected[i], 1e-12) << kCocoStatNames[i];
}

} // namespace

TEST(CocoEval, ThresholdsAreNumpyLinspace) {
  // numpy.linspace(.5, .95, 10)[8] prints 0.8999999999999999 and
  // linspace(0, 1, 101)[57] 0.5700000000000001: the same doubles matter
  // because IoUs and recalls are compared with them exactly.
  EXPECT_EQ(cocoIouThresholds()[0], 0.5);
  EXPECT_EQ(cocoIouThresholds()[5], 0.75);
  EXPECT_EQ(cocoIouThresholds()[8], 0.8999999999999999);
  EXPECT_EQ(cocoIouThresholds()[9], 0.95);
  EXPECT_EQ(cocoRecallThresholds()[57], 0.5700000000000001);
  EXPECT_EQ(cocoRecallThresholds()[7], 0.07);
  EXPECT_EQ(cocoRecallThresholds()[100], 1.0);
}

TEST(CocoEval, PerfectSmallDetection) {
  // One small object found exactly: 1 everywhere it is defined; medium and
  // large have no object (-1).
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.det(1, 1, 0, 0, 10, 10, 0.9);
  expectStats(c.run(), {1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1});
}

TEST(CocoEval, IouEqualToThresholdMatches) {
  // IoU = 60/100 = 0.6 = the third threshold exactly: a match at .5, .55,
  // .6 (IoU >= t), a miss at the 7 others. AP = AR = 3/10.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.det(1, 1, 0, 0, 10, 6, 0.9);
  CocoEvalResult r = c.run();
  expectStats(r, {0.3, 1, 0, 0.3, -1, -1, 0.3, 0.3, 0.3, 0.3, -1, -1});
  EXPECT_EQ(r.precisionAt(2, 100, 0, 0, 2), 1 / (1 + kEps));
  EXPECT_EQ(r.precisionAt(3, 0, 0, 0, 2), 0.0);
}

TEST(CocoEval, CrowdAbsorbsDetectionsAndIsIgnored) {
  // Crowd [20,0,40,40]: IoU with a detection inside is intersection over the
  // detection's own area = 1, and a crowd can match any number of them;
  // those detections are ignored. Ranked: FP(.95), TP(.9), ign, ign with one
  // regular object: recall [0,1,1,1], precision [0,1/(2+eps),..] -> the
  // monotone precision is 1/(2+eps) at every recall point. AR1: the top
  // detection is the FP -> 0.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.object(1, 1, 20, 0, 40, 40, /*crowd=*/true);
  c.det(1, 1, 0, 0, 10, 10, 0.9);
  c.det(1, 1, 20, 0, 10, 10, 0.8);
  c.det(1, 1, 30, 10, 10, 10, 0.7);
  c.det(1, 1, 100, 100, 10, 10, 0.95);
  const double half = 1 / (2 + kEps);
  expectStats(c.run(), {half, half, half, half, -1, -1, 0, 1, 1, 1, -1, -1});
}

TEST(CocoEval, CrowdOnlyGivesMinusOne) {
  // Only crowd objects: nothing to recall anywhere -> -1 for every number.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 50, 50, true);
  c.det(1, 1, 0, 0, 50, 50, 0.9);
  expectStats(c.run(), {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1});
}

TEST(CocoEval, ScoreTiesKeepImageOrder) {
  // Images 1 and 2, equal scores: pycocotools concatenates per image in
  // image-id order and sorts stably, so image 1's TP ranks before image 2's
  // FP: recall [.5,.5], precision [1,.5] -> 1 at the 51 recall points
  // 0..0.50, 0 beyond: AP = 51/101. (The other order would give 25.5/101.)
  Case c;
  c.image(2);
  c.image(1);
  c.category(7);
  c.object(2, 7, 0, 0, 10, 10);
  c.object(1, 7, 0, 0, 10, 10);
  c.det(2, 7, 50, 50, 10, 10, 0.5);
  c.det(1, 7, 0, 0, 10, 10, 0.5);
  CocoEvalResult r = c.run();
  EXPECT_NEAR(r.stats[0], 51.0 / 101.0, 1e-12);
  EXPECT_NEAR(r.stats[8], 0.5, 1e-12);
}

TEST(CocoEval, TiesWithinAnImageKeepInputOrder) {
  // Same image, equal scores: input order decides (stable mergesort). The
  // FP listed first ranks first: recall [0, 1], precision [0, 1/(2+eps)].
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.det(1, 1, 50, 50, 10, 10, 0.5);
  c.det(1, 1, 0, 0, 10, 10, 0.5);
  EXPECT_NEAR(c.run().stats[0], 1 / (2 + kEps), 1e-12);
  // AR1 keeps only the first of the tie: the FP.
  EXPECT_EQ(c.run().stats[6], 0.0);
}

TEST(CocoEval, OnlyTheTop100DetectionsPerImageCount) {
  // 100 FPs scoring .9 push the TP (.5) past the cut: nothing found.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  for (int i = 0; i < 100; ++i)
    c.det(1, 1, 200 + i, 200, 10, 10, 0.9);
  c.det(1, 1, 0, 0, 10, 10, 0.5);
  expectStats(c.run(), {0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1});

  // 99 FPs: the TP is the 100th: recall 1 at rank 100 with precision
  // 1/(100+eps); AR1 = AR10 = 0, AR100 = 1.
  Case d;
  d.image(1);
  d.category(1);
  d.object(1, 1, 0, 0, 10, 10);
  for (int i = 0; i < 99; ++i)
    d.det(1, 1, 200 + i, 200, 10, 10, 0.9);
  d.det(1, 1, 0, 0, 10, 10, 0.5);
  const double p = 1 / (100 + kEps);
  expectStats(d.run(), {p, p, p, p, -1, -1, 0, 0, 1, 1, -1, -1});
}

TEST(CocoEval, ImagesWithoutObjectsAndCategoriesWithoutDetections) {
  // Category 1: FP (.95) on image 2, which has no objects, then TP (.9):
  // precision 1/(2+eps) everywhere -> AP 1/(2+eps). Category 2: an object,
  // no detection -> AP 0, AR 0. Category 3: no object -> -1, left out.
  // Means over categories 1 and 2.
  Case c;
  c.image(1);
  c.image(2);
  c.category(1);
  c.category(2);
  c.category(3);
  c.object(1, 1, 0, 0, 10, 10);
  c.object(1, 2, 20, 20, 10, 10);
  c.det(1, 1, 0, 0, 10, 10, 0.9);
  c.det(2, 1, 0, 0, 10, 10, 0.95);
  c.det(1, 3, 0, 0, 10, 10, 0.9);
  CocoEvalResult r = c.run();
  const double half = 1 / (2 + kEps);
  EXPECT_NEAR(r.stats[0], half / 2, 1e-12);
  EXPECT_NEAR(r.stats[8], 0.5, 1e-12);
  ASSERT_EQ(r.categoryAP.size(), 3u);
  EXPECT_NEAR(r.categoryAP[0], half, 1e-12);
  EXPECT_EQ(r.categoryAP[1], 0.0);
  EXPECT_EQ(r.categoryAP[2], -1.0);
}

TEST(CocoEval, AreaRanges) {
  // Small object A (area 100), large B (area 10000), an unmatched small
  // detection C scoring highest.
  //  all:   C FP, A TP, B TP, 2 objects: precision [0,.5,2/3] -> 2/(3+eps)
  //  small: B ignored, its match ignored: C FP, A TP -> 1/(2+eps)
  //  medium: no object -> -1
  //  large: A ignored with its match; C unmatched and outside the range ->
  //         ignored; B TP -> 1
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.object(1, 1, 100, 100, 100, 100);
  c.det(1, 1, 0, 0, 10, 10, 0.9);
  c.det(1, 1, 100, 100, 100, 100, 0.8);
  c.det(1, 1, 300, 300, 5, 5, 0.95);
  const double twoThirds = 2 / (3 + kEps), half = 1 / (2 + kEps);
  expectStats(c.run(), {twoThirds, twoThirds, twoThirds, half, -1, 1, 0, 1, 1,
                        1, -1, 1});
}

TEST(CocoEval, AreaRangeUsesTheAnnotationsArea) {
  // A 40x40 box whose annotation area is 900 (a segment smaller than its
  // box) is small, not medium; area 1024 is both small and medium.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 40, 40, false, 900);
  c.object(1, 1, 100, 0, 32, 32, false, 1024);
  c.det(1, 1, 0, 0, 40, 40, 0.9);
  c.det(1, 1, 100, 0, 32, 32, 0.8);
  CocoEvalResult r = c.run();
  EXPECT_NEAR(r.stats[3], 1.0, 1e-12); // small: both
  EXPECT_NEAR(r.stats[4], 1.0, 1e-12); // medium: the 1024 one
  EXPECT_EQ(r.stats[5], -1.0);         // large: none
  EXPECT_NEAR(r.stats[10], 1.0, 1e-12);
}

TEST(CocoEval, RegularObjectsWinOverIgnoredOnes) {
  // The detection overlaps a regular object (IoU .6) and a crowd (IoU 1).
  // Regular objects come first and stop the search for ignored ones: a TP
  // at .5/.55/.6. Above .6 only the crowd matches: ignored, so with nothing
  // counted precision is 0. AP = 3/10.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.object(1, 1, 0, 0, 10, 6, true);
  c.det(1, 1, 0, 0, 10, 6, 0.9);
  EXPECT_NEAR(c.run().stats[0], 0.3, 1e-12);
}

TEST(CocoEval, EmptyDetections) {
  // No detection at all: 0 wherever there is an object, -1 elsewhere.
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  expectStats(c.run(), {0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1});
}

TEST(CocoEval, AnnotationIdZeroQuirk) {
  // pycocotools records matches by object id and tests them against 0: a
  // detection matched to the object with id 0 is counted as a false
  // positive (and the object stays unrecalled).
  Case c;
  c.image(1);
  c.category(1);
  c.nextId = 0;
  c.object(1, 1, 0, 0, 10, 10);
  c.det(1, 1, 0, 0, 10, 10, 0.9);
  EXPECT_EQ(c.run().stats[0], 0.0);
  EXPECT_EQ(c.run().stats[8], 0.0);
}

TEST(CocoEval, ThreadsGiveTheSameNumbers) {
  Case c;
  for (int i = 0; i < 20; ++i)
    c.image(i);
  for (int k = 1; k <= 5; ++k)
    c.category(k);
  for (int i = 0; i < 20; ++i)
    for (int k = 1; k <= 5; ++k) {
      c.object(i, k, i * 3, k * 5, 20 + i, 30 + k);
      c.det(i, k, i * 3 + 1, k * 5, 20 + i, 28 + k, 0.1 * k);
      c.det(i, k, 0, 0, 8, 8, 0.05 * i);
    }
  CocoEvalResult one = c.run(1), four = c.run(4);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(one.stats[i], four.stats[i]);
  EXPECT_EQ(one.precision, four.precision);
}

TEST(CocoEval, RefusesInvalidInput) {
  Case c;
  c.image(1);
  c.category(1);
  c.object(1, 1, 0, 0, 10, 10);
  c.det(1, 2, 0, 0, 10, 10, 0.5);
  EXPECT_THROW(c.run(), CocoEvalError);
  c.dets = {{3, 1, 0, 0, 10, 10, 0.5}};
  EXPECT_THROW(c.run(), CocoEvalError);
  c.dets = {{1, 1, 0, 0, 10, 10, std::nan("")}};
  try {
    c.run();
    FAIL() << "NaN score accepted";
  } catch (const CocoEvalError &error) {
    EXPECT_NE(std::string(error.what()).find("score is NaN"),
              std::string::npos);
  }
  c.dets.clear();
  c.image(1);
  EXPECT_THROW(c.run(), CocoEvalError); // duplicate image id
}
