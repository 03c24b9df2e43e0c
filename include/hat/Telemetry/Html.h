//===- Html.h - Self-contained HTML reports with inline SVG -----*- C++ -*-===//
//
// The run report of hat-train and the quantization analysis report are
// single HTML files (no scripts, no external resources) with charts drawn
// as inline SVG. Every text that reaches the page goes through htmlEscape.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TELEMETRY_HTML_H
#define HAT_TELEMETRY_HTML_H

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hat::telemetry {

/// `& < > " '` as entities; also safe inside attribute values.
std::string htmlEscape(const std::string &text);

/// A number for a table cell: `%.*g` with `digits`, "-" when not finite.
std::string formatNumber(double value, int digits = 4);

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points; ///< (x, y), x ascending
};

/// A line chart with axes, ticks, a legend and optional markers. `markX`
/// draws a vertical guide at that x (e.g. the first layer whose similarity
/// drops). `categoryLabels`, when given, label integer x positions 0..n-1
/// instead of numeric ticks. Non-finite y values break the line.
std::string svgLineChart(const std::string &title,
                         const std::vector<ChartSeries> &series,
                         const std::string &xLabel, const std::string &yLabel,
                         std::optional<double> markX = std::nullopt,
                         const std::vector<std::string> &categoryLabels = {},
                         int width = 760, int height = 280);

/// Horizontal bars, one per (label, value), in the given order.
std::string svgBarChart(const std::string &title,
                        const std::vector<std::pair<std::string, double>> &bars,
                        const std::string &valueLabel, int width = 760);

/// A table: header cells and rows of already escaped cell HTML;
/// `highlightRow` (>= 0) gets the `hl` class.
std::string htmlTable(const std::vector<std::string> &header,
                      const std::vector<std::vector<std::string>> &rows,
                      int highlightRow = -1);

/// A complete page with the shared style sheet; `bodyHtml` is inserted as is.
std::string htmlPage(const std::string &title, const std::string &bodyHtml);

} // namespace hat::telemetry

#endif // HAT_TELEMETRY_HTML_H
