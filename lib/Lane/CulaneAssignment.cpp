//===- CulaneAssignment.cpp - The official GT/prediction pairing ----------===//
//
// Kuhn-Munkres (Hungarian method with vertex labels) maximising the summed
// IoU, written to take the official evaluator's decisions: an edge is
// "tight" when |label(u) + label(v) - w| < 1e-2 rather than exactly equal,
// left vertices are processed in order, right vertices are scanned in index
// order, and the smaller side is the left one. The tolerance makes the
// result depend on those orders when IoUs are within 1e-2 of each other, so
// any other optimal matcher (e.g. scipy's linear_sum_assignment) may pair a
// near-tie differently and count a different number of true positives.
//
// Quirks kept on purpose (they change counts):
//  * the minimum slack uses std::min's comparison, so NaN weights (two
//    lanes that both draw nothing) are never the minimum;
//  * when no slack is found, the whole matching stops, leaving the later
//    left vertices unmatched.
//
//===----------------------------------------------------------------------===//

#include "hat/Lane/CulaneMetric.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace hat::lane {

namespace {

constexpr double kTightTolerance = 1e-2;
constexpr double kNoSlack = 1e10;
constexpr double kInitialLabel = -1e5;
// Each labelling step makes at least one more right vertex reachable in a
// well-behaved run; far more steps than that means it cycles.
constexpr int kMaxStepsPerVertex = 100000;

class LabelledMatching {
public:
  explicit LabelledMatching(std::vector<std::vector<double>> weight)
      : weight(std::move(weight)), left(this->weight.size()),
        right(this->weight[0].size()), leftLabel(left, kInitialLabel),
        rightLabel(right, 0.0), leftMatch(left, -1), rightMatch(right, -1),
        leftSeen(left), rightSeen(right) {
    for (std::size_t u = 0; u < left; ++u)
      for (double w : this->weight[u])
        if (leftLabel[u] < w)
          leftLabel[u] = w;
  }

  void run() {
    for (std::size_t u = 0; u < left; ++u) {
      for (int step = 0;; ++step) {
        if (step == kMaxStepsPerVertex)
          throw std::runtime_error(
              "lane matching does not converge (IoU matrix with " +
              std::to_string(left) + "x" + std::to_string(right) + " entries)");
        std::fill(leftSeen.begin(), leftSeen.end(), false);
        std::fill(rightSeen.begin(), rightSeen.end(), false);
        if (augment(u))
          break;
        double slack = kNoSlack;
        for (std::size_t i = 0; i < left; ++i) {
          if (!leftSeen[i])
            continue;
          for (std::size_t j = 0; j < right; ++j)
            if (!rightSeen[j])
              slack =
                  std::min(slack, leftLabel[i] + rightLabel[j] - weight[i][j]);
        }
        if (slack == kNoSlack)
          return;
        for (std::size_t i = 0; i < left; ++i)
          if (leftSeen[i])
            leftLabel[i] -= slack;
        for (std::size_t j = 0; j < right; ++j)
          if (rightSeen[j])
            rightLabel[j] += slack;
      }
    }
  }

  const std::vector<int> &leftMatches() const { return leftMatch; }
  const std::vector<int> &rightMatches() const { return rightMatch; }

private:
  // Depth-first search for an augmenting path of tight edges from u.
  bool augment(std::size_t u) {
    leftSeen[u] = true;
    for (std::size_t v = 0; v < right; ++v) {
      if (rightSeen[v] || !(std::fabs(leftLabel[u] + rightLabel[v] -
                                      weight[u][v]) < kTightTolerance))
        continue;
      rightSeen[v] = true;
      if (rightMatch[v] == -1 ||
          augment(static_cast<std::size_t>(rightMatch[v]))) {
        rightMatch[v] = static_cast<int>(u);
        leftMatch[u] = static_cast<int>(v);
        return true;
      }
    }
    return false;
  }

  std::vector<std::vector<double>> weight;
  std::size_t left, right;
  std::vector<double> leftLabel, rightLabel;
  std::vector<int> leftMatch, rightMatch;
  std::vector<char> leftSeen, rightSeen;
};

} // namespace

std::vector<int>
culaneAssignment(const std::vector<std::vector<double>> &similarity) {
  const std::size_t rows = similarity.size();
  if (rows == 0)
    return {};
  const std::size_t cols = similarity[0].size();
  for (const std::vector<double> &row : similarity)
    if (row.size() != cols)
      throw std::invalid_argument("culaneAssignment: ragged similarity matrix");
  if (cols == 0)
    return std::vector<int>(rows, -1);
  if (rows <= cols) {
    LabelledMatching matching(similarity);
    matching.run();
    return matching.leftMatches();
  }
  // More GT lanes than predictions: the predictions are the left side.
  std::vector<std::vector<double>> transposed(cols, std::vector<double>(rows));
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j)
      transposed[j][i] = similarity[i][j];
  LabelledMatching matching(std::move(transposed));
  matching.run();
  return matching.rightMatches();
}

} // namespace hat::lane
