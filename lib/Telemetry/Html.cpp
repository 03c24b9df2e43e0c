//===- Html.cpp - Self-contained HTML reports with inline SVG -------------===//

#include "hat/Telemetry/Html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace hat::telemetry {

std::string htmlEscape(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string formatNumber(double value, int digits) {
  if (!std::isfinite(value))
    return value > 0 ? "inf" : value < 0 ? "-inf" : "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

namespace {
const char *const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                               "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

/// About five round tick values covering [lo, hi].
std::vector<double> niceTicks(double lo, double hi) {
  double span = hi - lo;
  if (!(span > 0))
    return {lo};
  double raw = span / 5;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}
} // namespace

std::string svgLineChart(const std::string &title,
                         const std::vector<ChartSeries> &series,
                         const std::string &xLabel, const std::string &yLabel,
                         std::optional<double> markX,
                         const std::vector<std::string> &categoryLabels,
                         int width, int height) {
  const bool categorical = !categoryLabels.empty();
  // The legend has its own rows between the title and the plot.
  const double legendRows = double((series.size() + 3) / 4);
  const double left = 64, right = 16, top = 30 + 14 * legendRows,
               bottom = categorical ? 110 : 42;
  const double totalHeight = height + (categorical ? 68 : 0) + 14 * legendRows;
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  double ymin = xmin, ymax = -xmin;
  for (const ChartSeries &s : series)
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y))
        continue;
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  if (categorical) {
    xmin = 0;
    xmax = double(categoryLabels.size() - 1);
  }
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(width) + "\" height=\"" + num(totalHeight) +
                    "\" class=\"chart\">";
  svg += "<text x=\"" + num(left) + "\" y=\"18\" class=\"title\">" +
         htmlEscape(title) + "</text>";
  if (!std::isfinite(xmin) || !std::isfinite(ymin)) {
    svg += "<text x=\"" + num(left) + "\" y=\"60\">no data</text></svg>";
    return svg;
  }
  if (xmax == xmin) { // a single step: centre it
    xmin -= 0.5;
    xmax += 0.5;
  }
  if (ymax == ymin) {
    double pad = std::max(std::abs(ymax) * 0.05, 1e-6);
    ymin -= pad;
    ymax += pad;
  } else {
    double pad = (ymax - ymin) * 0.05;
    ymin -= pad;
    ymax += pad;
  }
  const double plotW = width - left - right;
  const double plotH = totalHeight - top - bottom;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * plotW; };
  auto py = [&](double y) {
    return top + plotH - (y - ymin) / (ymax - ymin) * plotH;
  };
  // Axes and grid.
  svg += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" +
         num(plotW) + "\" height=\"" + num(plotH) +
         "\" fill=\"none\" stroke=\"#999\"/>";
  for (double t : niceTicks(ymin, ymax)) {
    svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(left + plotW) +
           "\" y1=\"" + num(py(t)) + "\" y2=\"" + num(py(t)) +
           "\" stroke=\"#eee\"/>";
    svg += "<text x=\"" + num(left - 4) + "\" y=\"" + num(py(t) + 4) +
           "\" text-anchor=\"end\">" + htmlEscape(formatNumber(t, 4)) +
           "</text>";
  }
  if (categorical) {
    for (size_t i = 0; i < categoryLabels.size(); ++i) {
      double x = px(double(i));
      svg += "<text transform=\"translate(" + num(x + 4) + "," +
             num(top + plotH + 8) +
             ") rotate(60)\" text-anchor=\"start\" class=\"small\">" +
             htmlEscape(categoryLabels[i]) + "</text>";
    }
  } else {
    for (double t : niceTicks(xmin, xmax))
      svg += "<text x=\"" + num(px(t)) + "\" y=\"" + num(top + plotH + 16) +
             "\" text-anchor=\"middle\">" + htmlEscape(formatNumber(t, 6)) +
             "</text>";
  }
  svg += "<text x=\"" + num(left + plotW / 2) + "\" y=\"" +
         num(totalHeight - 4) + "\" text-anchor=\"middle\">" +
         htmlEscape(xLabel) + "</text>";
  svg += "<text transform=\"translate(14," + num(top + plotH / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + htmlEscape(yLabel) +
         "</text>";
  if (markX && std::isfinite(*markX))
    svg += "<line x1=\"" + num(px(*markX)) + "\" x2=\"" + num(px(*markX)) +
           "\" y1=\"" + num(top) + "\" y2=\"" + num(top + plotH) +
           "\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>";
  // Series.
  for (size_t si = 0; si < series.size(); ++si) {
    const char *color = kColors[si % (sizeof kColors / sizeof *kColors)];
    std::string path;
    bool penDown = false;
    for (auto [x, y] : series[si].points) {
      if (!std::isfinite(x) || !std::isfinite(y)) {
        penDown = false;
        continue;
      }
      path += (penDown ? "L" : "M") + num(px(x)) + " " + num(py(y)) + " ";
      penDown = true;
    }
    svg += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + color +
           "\" stroke-width=\"1.6\"/>";
    if (series[si].points.size() <= 80)
      for (auto [x, y] : series[si].points)
        if (std::isfinite(x) && std::isfinite(y))
          svg += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) +
                 "\" r=\"2.2\" fill=\"" + color + "\"><title>" +
                 htmlEscape(series[si].name + ": " + formatNumber(y, 6)) +
                 "</title></circle>";
    const double lx = left + 190 * double(si % 4),
                 ly = 26 + 14 * double(si / 4);
    svg += "<rect x=\"" + num(lx) + "\" y=\"" + num(ly + 2) +
           "\" width=\"12\" height=\"3\" fill=\"" + color + "\"/>";
    svg += "<text x=\"" + num(lx + 16) + "\" y=\"" + num(ly + 6) +
           "\" class=\"small\">" + htmlEscape(series[si].name) + "</text>";
  }
  return svg + "</svg>";
}

std::string svgBarChart(const std::string &title,
                        const std::vector<std::pair<std::string, double>> &bars,
                        const std::string &valueLabel, int width) {
  const double labelW = 200, right = 70, top = 28, barH = 16, gap = 4;
  const double height = top + double(bars.size()) * (barH + gap) + 24;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(width) + "\" height=\"" + num(height) +
                    "\" class=\"chart\">";
  svg +=
      "<text x=\"4\" y=\"18\" class=\"title\">" + htmlEscape(title) + "</text>";
  double lo = 0, hi = 0;
  for (auto &[label, v] : bars)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (hi == lo)
    hi = lo + 1;
  const double plotW = width - labelW - right;
  auto px = [&](double v) { return labelW + (v - lo) / (hi - lo) * plotW; };
  for (size_t i = 0; i < bars.size(); ++i) {
    double y = top + double(i) * (barH + gap);
    double v = std::isfinite(bars[i].second) ? bars[i].second : 0;
    double x0 = px(std::min(0.0, v)), x1 = px(std::max(0.0, v));
    svg += "<text x=\"" + num(labelW - 6) + "\" y=\"" + num(y + barH - 4) +
           "\" text-anchor=\"end\" class=\"small\">" +
           htmlEscape(bars[i].first) + "</text>";
    svg += "<rect x=\"" + num(x0) + "\" y=\"" + num(y) + "\" width=\"" +
           num(std::max(1.0, x1 - x0)) + "\" height=\"" + num(barH) +
           "\" fill=\"" + (i == 0 ? "#d62728" : "#1f77b4") + "\"><title>" +
           htmlEscape(bars[i].first + ": " + formatNumber(bars[i].second, 6)) +
           "</title></rect>";
    svg += "<text x=\"" + num(x1 + 4) + "\" y=\"" + num(y + barH - 4) +
           "\" class=\"small\">" + htmlEscape(formatNumber(bars[i].second, 4)) +
           "</text>";
  }
  svg += "<text x=\"" + num(labelW + plotW / 2) + "\" y=\"" + num(height - 6) +
         "\" text-anchor=\"middle\">" + htmlEscape(valueLabel) + "</text>";
  return svg + "</svg>";
}

std::string htmlTable(const std::vector<std::string> &header,
                      const std::vector<std::vector<std::string>> &rows,
                      int highlightRow) {
  std::string html = "<table><thead><tr>";
  for (const std::string &h : header)
    html += "<th>" + htmlEscape(h) + "</th>";
  html += "</tr></thead><tbody>";
  for (size_t r = 0; r < rows.size(); ++r) {
    html += int(r) == highlightRow ? "<tr class=\"hl\">" : "<tr>";
    for (const std::string &cell : rows[r])
      html += "<td>" + cell + "</td>";
    html += "</tr>";
  }
  return html + "</tbody></table>";
}

std::string htmlPage(const std::string &title, const std::string &bodyHtml) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<title>" +
         htmlEscape(title) +
         "</title><style>"
         "body{font-family:sans-serif;margin:20px;color:#222;max-width:1200px}"
         "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
         "table{border-collapse:collapse;font-size:12px;margin:8px 0}"
         "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}"
         "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
         "tr.hl td{background:#ffe0e0;font-weight:bold}"
         ".chart text{font-size:11px;font-family:sans-serif}"
         ".chart .title{font-size:13px;font-weight:bold}"
         ".chart .small{font-size:10px}"
         "pre{background:#f7f7f7;padding:8px;font-size:12px;overflow:auto;"
         "max-height:420px}.note{color:#666;font-size:13px}"
         "</style></head><body>\n<h1>" +
         htmlEscape(title) + "</h1>\n" + bodyHtml + "\n</body></html>\n";
}

} // namespace hat::telemetry
