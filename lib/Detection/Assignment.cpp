//===- Assignment.cpp - Minimum-cost bipartite assignment -----------------===//
//
// Shortest augmenting paths with dual variables (the "Hungarian" method in
// its O(n^2 m) Jonker-Volgenant form): each row of the smaller side is added
// in turn by a Dijkstra-like search over reduced costs for the cheapest
// path to a free column, then the duals are updated so reduced costs stay
// non-negative and the path is flipped. The matrix is transposed first when
// it has more rows than columns.
//
//===----------------------------------------------------------------------===//

#include "hat/Detection/Assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace hat::detection {

std::vector<std::pair<std::size_t, std::size_t>>
linearSumAssignment(const std::vector<double> &cost, std::size_t rows,
                    std::size_t cols) {
  if (cost.size() != rows * cols)
    throw std::invalid_argument(
        "linearSumAssignment: " + std::to_string(cost.size()) +
        " costs for a " + std::to_string(rows) + " x " + std::to_string(cols) +
        " matrix");
  for (std::size_t i = 0; i < cost.size(); ++i)
    if (!std::isfinite(cost[i]))
      throw std::invalid_argument("linearSumAssignment: cost[" +
                                  std::to_string(i / cols) + "][" +
                                  std::to_string(i % cols) + "] is not finite");
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  if (rows == 0 || cols == 0)
    return pairs;
  // Work on n <= m: rows of `c` are the smaller side.
  const bool transposed = rows > cols;
  const std::size_t n = transposed ? cols : rows;
  const std::size_t m = transposed ? rows : cols;
  auto c = [&](std::size_t i, std::size_t j) {
    return transposed ? cost[j * cols + i] : cost[i * cols + j];
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::vector<double> u(n, 0.0), v(m, 0.0), shortest(m);
  std::vector<std::size_t> rowOfCol(m, kNone), colOfRow(n, kNone), path(m);
  std::vector<char> rowSeen(n), colSeen(m);
  std::vector<std::size_t> remaining(m);
  for (std::size_t current = 0; current < n; ++current) {
    std::fill(shortest.begin(), shortest.end(), kInf);
    std::fill(rowSeen.begin(), rowSeen.end(), 0);
    std::fill(colSeen.begin(), colSeen.end(), 0);
    // Columns not yet reached, scanned in reverse so ties prefer the
    // lowest index (as scipy does).
    std::size_t numRemaining = m;
    for (std::size_t j = 0; j < m; ++j)
      remaining[j] = m - 1 - j;
    double minVal = 0;
    std::size_t i = current, sink = kNone;
    while (sink == kNone) {
      rowSeen[i] = 1;
      std::size_t index = kNone;
      double lowest = kInf;
      for (std::size_t it = 0; it < numRemaining; ++it) {
        const std::size_t j = remaining[it];
        const double r = minVal + c(i, j) - u[i] - v[j];
        if (r < shortest[j]) {
          path[j] = i;
          shortest[j] = r;
        }
        if (shortest[j] < lowest ||
            (shortest[j] == lowest && rowOfCol[j] == kNone)) {
          lowest = shortest[j];
          index = it;
        }
      }
      minVal = lowest;
      const std::size_t j = remaining[index];
      if (rowOfCol[j] == kNone)
        sink = j;
      else
        i = rowOfCol[j];
      colSeen[j] = 1;
      remaining[index] = remaining[--numRemaining];
    }
    // Dual update, then flip the augmenting path.
    u[current] += minVal;
    for (std::size_t r = 0; r < n; ++r)
      if (rowSeen[r] && r != current)
        u[r] += minVal - shortest[colOfRow[r]];
    for (std::size_t j = 0; j < m; ++j)
      if (colSeen[j])
        v[j] -= minVal - shortest[j];
    std::size_t j = sink;
    while (true) {
      const std::size_t r = path[j];
      rowOfCol[j] = r;
      std::swap(colOfRow[r], j);
      if (r == current)
        break;
    }
  }
  for (std::size_t r = 0; r < n; ++r)
    pairs.emplace_back(transposed ? colOfRow[r] : r,
                       transposed ? r : colOfRow[r]);
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

} // namespace hat::detection
