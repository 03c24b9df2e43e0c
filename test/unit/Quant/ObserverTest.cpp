//===- ObserverTest.cpp - HatQuant calibration observers ------------------===//

#include "hat/Quant/Observer.h"
#include "hat/Quant/FixedPoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace hat::quant;

TEST(Observer, ParseKind) {
  EXPECT_EQ(parseObserverKind("minmax"), ObserverKind::MinMax);
  EXPECT_EQ(parseObserverKind("percentile"), ObserverKind::Percentile);
  EXPECT_EQ(parseObserverKind("mse"), ObserverKind::MSE);
  EXPECT_FALSE(parseObserverKind("MSE"));
  EXPECT_FALSE(parseObserverKind(""));
  EXPECT_STREQ(observerKindName(ObserverKind::Percentile), "percentile");
}

TEST(Observer, MinMaxKnownData) {
  auto obs = ActivationObserver::create(ObserverKind::MinMax, 8);
  const float data[] = {-3.0f, 1.0f, 2.0f, NAN, INFINITY};
  obs->observe(data, 5);
  EXPECT_EQ(obs->min(), -3.0f);
  EXPECT_EQ(obs->max(), 2.0f);
  EXPECT_EQ(obs->count(), 3); // non-finite values ignored
  EXPECT_EQ(obs->scale(), 3.0f / 127.5f);
  const float more[] = {5.0f, 0.5f};
  obs->observe(more, 2);
  EXPECT_EQ(obs->max(), 5.0f);
  EXPECT_EQ(obs->scale(), 5.0f / 127.5f);
  auto obs16 = ActivationObserver::create(ObserverKind::MinMax, 16);
  obs16->observe(data, 3);
  EXPECT_EQ(obs16->scale(), 3.0f / 32767.5f);
}

TEST(Observer, EmptyAndZeroUseFallback) {
  for (ObserverKind k :
       {ObserverKind::MinMax, ObserverKind::Percentile, ObserverKind::MSE}) {
    auto obs = ActivationObserver::create(k, 8);
    EXPECT_EQ(obs->scale(), 1.0f / 127.0f);
    EXPECT_EQ(obs->count(), 0);
    std::vector<float> zeros(100, 0.0f);
    obs->observe(zeros.data(), 100);
    EXPECT_EQ(obs->scale(), 1.0f / 127.0f);
    EXPECT_EQ(obs->count(), 100);
  }
}

TEST(Observer, SeenCountsNonFiniteValues) {
  // seen() > 0 with count() == 0 is how callers tell "all NaN/Inf" from
  // "nothing observed" and refuse the fallback scale.
  for (ObserverKind k :
       {ObserverKind::MinMax, ObserverKind::Percentile, ObserverKind::MSE}) {
    auto obs = ActivationObserver::create(k, 8);
    EXPECT_EQ(obs->seen(), 0);
    std::vector<float> bad = {NAN, INFINITY, -INFINITY};
    obs->observe(bad.data(), 3);
    EXPECT_EQ(obs->seen(), 3);
    EXPECT_EQ(obs->count(), 0);
    std::vector<float> good = {1.0f, NAN};
    obs->observe(good.data(), 2);
    EXPECT_EQ(obs->seen(), 5);
    EXPECT_EQ(obs->count(), 1);
  }
}

TEST(Observer, BatchesEqualConcatenationMinMax) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> all(10000);
  for (float &x : all)
    x = nd(rng);
  auto one = ActivationObserver::create(ObserverKind::MinMax, 8);
  one->observe(all.data(), int64_t(all.size()));
  auto many = ActivationObserver::create(ObserverKind::MinMax, 8);
  for (size_t off = 0; off < all.size(); off += 777)
    many->observe(all.data() + off,
                  int64_t(std::min<size_t>(777, all.size() - off)));
  EXPECT_EQ(one->min(), many->min());
  EXPECT_EQ(one->max(), many->max());
  EXPECT_EQ(one->count(), many->count());
  EXPECT_EQ(one->scale(), many->scale());
}

TEST(Observer, PercentileOfUniformMagnitudes) {
  // |x| uniform on [0, 1): the p-th percentile of |x| is p / 100.
  std::vector<float> data(200000);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = (i % 2 ? -1.0f : 1.0f) * float(i) / float(data.size());
  for (double p : {50.0, 90.0, 99.0}) {
    auto obs = ActivationObserver::create(ObserverKind::Percentile, 8, p);
    obs->observe(data.data(), int64_t(data.size()));
    EXPECT_NEAR(obs->scale() * 127.5, p / 100.0, 1.0 / 2048) << p;
  }
  // Fed in growing batches (forcing re-binning) the answer barely moves.
  auto obs = ActivationObserver::create(ObserverKind::Percentile, 8, 90.0);
  std::vector<float> sorted(data.size());
  for (size_t i = 0; i < data.size(); ++i)
    sorted[i] = float(i) / float(data.size());
  for (size_t off = 0; off < sorted.size(); off += 20000)
    obs->observe(sorted.data() + off, 20000);
  EXPECT_NEAR(obs->scale() * 127.5, 0.9, 3.0 / 2048);
}

TEST(Observer, PercentileClipsOutliers) {
  std::vector<float> data(100000, 1.0f);
  data[5] = 1000.0f;
  auto obs = ActivationObserver::create(ObserverKind::Percentile, 8, 99.9);
  obs->observe(data.data(), int64_t(data.size()));
  EXPECT_LT(obs->scale(), 2.0f / 127.5f);
  EXPECT_EQ(obs->max(), 1000.0f);
}

TEST(Observer, MSEUniformKeepsNearlyFullRange) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  std::vector<float> data(200000);
  for (float &x : data)
    x = ud(rng);
  auto obs = ActivationObserver::create(ObserverKind::MSE, 8);
  obs->observe(data.data(), int64_t(data.size()));
  const float amax = std::max(-obs->min(), obs->max());
  const float t = obs->scale() * 127.5f;
  EXPECT_LE(t, amax);
  EXPECT_GT(t, 0.97f * amax);
}

TEST(Observer, MSEClipsHeavyTail) {
  // Laplace(b = 1), the usual heavy-tailed activation model: the largest of
  // 10^6 samples is ~14 while the 8-bit MSE-optimal clip is ~10 (Banner et
  // al., ACIQ). Isolated huge outliers or a Cauchy tail would NOT be clipped:
  // their squared clipping error outweighs the rounding noise saved.
  std::mt19937 rng(9);
  std::exponential_distribution<float> ed(1.0f);
  std::vector<float> data(1000000);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = (i % 2 ? -1.0f : 1.0f) * ed(rng);
  auto mse = ActivationObserver::create(ObserverKind::MSE, 8);
  auto minmax = ActivationObserver::create(ObserverKind::MinMax, 8);
  // Batches in an order that raises the amax, exercising re-binning.
  for (size_t off = 0; off < data.size(); off += 100000)
    mse->observe(data.data() + off, 100000);
  minmax->observe(data.data(), int64_t(data.size()));
  EXPECT_EQ(mse->max(), minmax->max());
  EXPECT_EQ(mse->min(), minmax->min());
  const float amax = std::max(-minmax->min(), minmax->max());
  const float t = mse->scale() * 127.5f;
  EXPECT_LT(t, 0.85f * amax);
  EXPECT_GT(t, 7.0f);
  EXPECT_LT(t, 12.0f);
  EXPECT_LT(mse->scale(), minmax->scale());
}

TEST(Observer, Int16MSEKeepsMore) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> data(100000);
  for (float &x : data)
    x = nd(rng);
  data[0] = 40.0f;
  auto m8 = ActivationObserver::create(ObserverKind::MSE, 8);
  auto m16 = ActivationObserver::create(ObserverKind::MSE, 16);
  m8->observe(data.data(), int64_t(data.size()));
  m16->observe(data.data(), int64_t(data.size()));
  // Finer steps make clipping relatively costlier: int16 clips less.
  EXPECT_GT(m16->scale() * 32767.5f, m8->scale() * 127.5f);
  EXPECT_LE(m16->scale() * 32767.5f, 40.0f);
}

TEST(Observer, PerChannelWeightScales) {
  // shape [2, 3]
  const float w[] = {1.0f,  -4.0f, 2.0f, //
                     -0.5f, 0.25f, 0.0f};
  auto rows = perChannelWeightScales(w, {2, 3}, 0, 8);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], 4.0f / 127.5f);
  EXPECT_EQ(rows[1], 0.5f / 127.5f);
  auto cols = perChannelWeightScales(w, {2, 3}, -1, 8);
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(cols[0], 1.0f / 127.5f);
  EXPECT_EQ(cols[1], 4.0f / 127.5f);
  EXPECT_EQ(cols[2], 2.0f / 127.5f);
  // A conv weight [O=2, I=1, 1, 2] along axis 0, int16.
  const float c[] = {0.0f, 0.0f, 3.0f, -6.0f};
  auto conv = perChannelWeightScales(c, {2, 1, 1, 2}, 0, 16);
  ASSERT_EQ(conv.size(), 2u);
  EXPECT_EQ(conv[0], 1.0f / 32767.0f); // all-zero channel -> fallback
  EXPECT_EQ(conv[1], 6.0f / 32767.5f);
  EXPECT_TRUE(perChannelWeightScales(w, {2, 3}, 2, 8).empty());
  EXPECT_TRUE(perChannelWeightScales(w, {2, 3}, -3, 8).empty());
}
