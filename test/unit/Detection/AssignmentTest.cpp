//===- AssignmentTest.cpp - Minimum-cost assignment vs brute force --------===//

#include "hat/Detection/Assignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace hat::detection;

namespace {

double totalCost(const std::vector<double> &cost, std::size_t cols,
                 const std::vector<std::pair<std::size_t, std::size_t>> &p) {
  double sum = 0;
  for (auto [r, c] : p)
    sum += cost[r * cols + c];
  return sum;
}

/// The best total over every injective map of the smaller side.
double bruteForce(const std::vector<double> &cost, std::size_t rows,
                  std::size_t cols) {
  const bool t = rows > cols;
  const std::size_t n = t ? cols : rows, m = t ? rows : cols;
  std::vector<std::size_t> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  double best = INFINITY;
  do {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i)
      sum += t ? cost[perm[i] * cols + i] : cost[i * cols + perm[i]];
    best = std::min(best, sum);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(LinearSumAssignment, SolvesAHandMadeMatrix) {
  // scipy's documentation example: rows 0, 1, 2 -> columns 1, 0, 2, cost 5.
  std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  auto pairs = linearSumAssignment(cost, 3, 3);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0], (std::pair<std::size_t, std::size_t>{0, 1}));
  EXPECT_EQ(pairs[1], (std::pair<std::size_t, std::size_t>{1, 0}));
  EXPECT_EQ(pairs[2], (std::pair<std::size_t, std::size_t>{2, 2}));
  EXPECT_DOUBLE_EQ(totalCost(cost, 3, pairs), 5.0);
}

TEST(LinearSumAssignment, MatchesBruteForceOnRandomRectangles) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> value(-3.0, 10.0);
  std::uniform_int_distribution<int> small(0, 3);
  for (int trial = 0; trial < 600; ++trial) {
    const std::size_t rows = 1 + trial % 6, cols = 1 + (trial / 6) % 7;
    std::vector<double> cost(rows * cols);
    for (double &x : cost)
      // Every third matrix has many ties (small integers).
      x = trial % 3 == 0 ? small(rng) : value(rng);
    auto pairs = linearSumAssignment(cost, rows, cols);
    ASSERT_EQ(pairs.size(), std::min(rows, cols));
    std::vector<char> rowUsed(rows), colUsed(cols);
    for (auto [r, c] : pairs) {
      ASSERT_LT(r, rows);
      ASSERT_LT(c, cols);
      ASSERT_FALSE(rowUsed[r]++) << "row used twice";
      ASSERT_FALSE(colUsed[c]++) << "column used twice";
    }
    EXPECT_NEAR(totalCost(cost, cols, pairs), bruteForce(cost, rows, cols),
                1e-9)
        << rows << " x " << cols << ", trial " << trial;
    EXPECT_TRUE(std::is_sorted(pairs.begin(), pairs.end()));
  }
}

TEST(LinearSumAssignment, DetrSizedProblemHasNoImprovingSwap) {
  // 300 queries x 50 objects (Deformable DETR sizes; no brute force here:
  // check optimality through the triangle of single swaps).
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> value(0.0, 1.0);
  const std::size_t rows = 300, cols = 50;
  std::vector<double> cost(rows * cols);
  for (double &x : cost)
    x = value(rng);
  auto pairs = linearSumAssignment(cost, rows, cols);
  ASSERT_EQ(pairs.size(), cols);
  std::vector<std::size_t> rowOf(cols);
  std::vector<char> used(rows);
  for (auto [r, c] : pairs)
    rowOf[c] = r, used[r] = 1;
  // No unused query is cheaper for any object, no two objects gain by
  // swapping their queries.
  for (std::size_t c = 0; c < cols; ++c) {
    for (std::size_t r = 0; r < rows; ++r)
      if (!used[r])
        ASSERT_GE(cost[r * cols + c] + 1e-12, cost[rowOf[c] * cols + c]);
    for (std::size_t d = 0; d < cols; ++d)
      ASSERT_GE(cost[rowOf[d] * cols + c] + cost[rowOf[c] * cols + d] + 1e-12,
                cost[rowOf[c] * cols + c] + cost[rowOf[d] * cols + d]);
  }
}

TEST(LinearSumAssignment, EmptySidesAndBadInput) {
  EXPECT_TRUE(linearSumAssignment({}, 0, 5).empty());
  EXPECT_TRUE(linearSumAssignment({}, 4, 0).empty());
  EXPECT_THROW(linearSumAssignment({1, 2, 3}, 2, 2), std::invalid_argument);
  try {
    linearSumAssignment({1, NAN, 3, 4}, 2, 2);
    ADD_FAILURE();
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("cost[0][1]"), std::string::npos);
  }
}

} // namespace
