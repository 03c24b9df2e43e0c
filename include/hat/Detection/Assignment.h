//===- Assignment.h - Minimum-cost bipartite assignment ---------*- C++ -*-===//
//
// The exact linear assignment DETR's Hungarian matcher needs (Deformable
// DETR's HungarianMatcher calls scipy.optimize.linear_sum_assignment on the
// [queries x objects] cost matrix): a rectangular cost matrix, every row of
// the smaller side assigned to a distinct column of the other, the total
// cost minimal. Solved with the shortest augmenting path method (Jonker &
// Volgenant, as scipy's implementation, after Crouse 2016): O(n^2 m) for
// n <= m, exact for any finite costs. Torch-free (plain doubles), so the
// engine's matcher and its tests share it.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DETECTION_ASSIGNMENT_H
#define HAT_DETECTION_ASSIGNMENT_H

#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

namespace hat::detection {

/// (row, column) pairs of a minimum-cost assignment of a rows x cols
/// row-major `cost` matrix: min(rows, cols) pairs, rows ascending (the order
/// scipy returns). Throws std::invalid_argument for a size mismatch or a
/// non-finite cost (naming the entry). An empty side gives no pairs.
std::vector<std::pair<std::size_t, std::size_t>>
linearSumAssignment(const std::vector<double> &cost, std::size_t rows,
                    std::size_t cols);

} // namespace hat::detection

#endif // HAT_DETECTION_ASSIGNMENT_H
