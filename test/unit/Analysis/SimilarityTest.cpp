//===- SimilarityTest.cpp - Layer comparison figures by hand --------------===//

#include "hat/Analysis/Similarity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace hat::analysis;

TEST(Similarity, HandComputed) {
  // r = [1 2 3 4], t = [1 2 3 5]: r.t = 34, |r|^2 = 30, |t|^2 = 39,
  // error [0 0 0 -1]: SQNR = 10 log10(30 / 1), max 1, mean 0.25.
  std::vector<float> r = {1, 2, 3, 4}, t = {1, 2, 3, 5};
  SimilarityAccumulator acc;
  acc.add(r.data(), t.data(), 4);
  Similarity s = acc.result();
  EXPECT_NEAR(s.cosine, 34.0 / std::sqrt(30.0 * 39.0), 1e-12);
  EXPECT_NEAR(s.cosine, 0.993999, 1e-6);
  EXPECT_NEAR(s.sqnrDb, 14.771212547, 1e-8);
  EXPECT_DOUBLE_EQ(s.maxAbsError, 1.0);
  EXPECT_DOUBLE_EQ(s.meanAbsError, 0.25);
  EXPECT_EQ(s.count, 4);
}

TEST(Similarity, AccumulatesOverBatchesNotAveraging) {
  // Two batches: [3 4] vs [3 4] (exact) and [1 0] vs [0 1].
  // Whole: r.t = 25, |r|^2 = 26, |t|^2 = 26 -> cos = 25/26; error energy 2
  // -> SQNR = 10 log10(13); mean |e| = 2/4; max 1.
  std::vector<float> r1 = {3, 4}, t1 = {3, 4}, r2 = {1, 0}, t2 = {0, 1};
  SimilarityAccumulator acc;
  acc.add(r1.data(), t1.data(), 2);
  acc.add(r2.data(), t2.data(), 2);
  Similarity s = acc.result();
  EXPECT_NEAR(s.cosine, 25.0 / 26.0, 1e-12);
  EXPECT_NEAR(s.sqnrDb, 10 * std::log10(13.0), 1e-12);
  EXPECT_DOUBLE_EQ(s.meanAbsError, 0.5);
  EXPECT_DOUBLE_EQ(s.maxAbsError, 1.0);
}

TEST(Similarity, DegenerateCases) {
  std::vector<float> z = {0, 0}, x = {1, -2};
  SimilarityAccumulator same;
  same.add(x.data(), x.data(), 2);
  EXPECT_DOUBLE_EQ(same.result().cosine, 1.0);
  EXPECT_TRUE(std::isinf(same.result().sqnrDb) && same.result().sqnrDb > 0);
  SimilarityAccumulator zeros;
  zeros.add(z.data(), z.data(), 2);
  EXPECT_DOUBLE_EQ(zeros.result().cosine, 1.0);
  SimilarityAccumulator oneZero;
  oneZero.add(x.data(), z.data(), 2);
  EXPECT_DOUBLE_EQ(oneZero.result().cosine, 0.0);
  EXPECT_DOUBLE_EQ(oneZero.result().sqnrDb, 0.0); // all signal is error
  SimilarityAccumulator opposite;
  std::vector<float> nx = {-1, 2};
  opposite.add(x.data(), nx.data(), 2);
  EXPECT_DOUBLE_EQ(opposite.result().cosine, -1.0);
  EXPECT_NEAR(opposite.result().sqnrDb, 10 * std::log10(5.0 / 20.0), 1e-12);
}

TEST(Similarity, ClippedAndSaturatedCounts) {
  // scale 0.1, int8: 1/0.1f = 10; 12.7 -> 127 in range; 12.75 -> 127.5 ->
  // 128 (half to even) clipped; -12.8 -> -128 in range; -12.9 clipped.
  std::vector<float> v = {12.7f, 12.75f, -12.8f, -12.9f, 0.f};
  EXPECT_EQ(countClipped(v.data(), v.size(), 0.1f, 8), 2);
  // int16 with the same scale: nothing clipped.
  EXPECT_EQ(countClipped(v.data(), v.size(), 0.1f, 16), 0);
  std::vector<int32_t> codes = {127, -128, 0, 126, -127, 32767};
  EXPECT_EQ(countAtBounds(codes.data(), codes.size(), 8), 3);
  EXPECT_EQ(countAtBounds(codes.data(), codes.size(), 16), 1);
}
