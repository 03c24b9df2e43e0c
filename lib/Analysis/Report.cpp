//===- Report.cpp - JSON, HTML, terminal and qconfig outputs --------------===//

#include "hat/Analysis/QuantAnalysis.h"

#include "hat/Telemetry/Html.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace hat::analysis {

using telemetry::formatNumber;
using telemetry::htmlEscape;

namespace {

nlohmann::json finite(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json similarityJson(const Similarity &s) {
  return {{"cosine", finite(s.cosine)},
          {"sqnr_db", finite(s.sqnrDb)},
          {"max_abs_error", finite(s.maxAbsError)},
          {"mean_abs_error", finite(s.meanAbsError)}};
}

nlohmann::json
metricsJson(const std::vector<std::pair<std::string, double>> &m) {
  nlohmann::json j = nlohmann::json::object();
  for (auto &[k, v] : m)
    j[k] = finite(v);
  return j;
}

std::string metricsText(const std::vector<std::pair<std::string, double>> &m) {
  std::string s;
  for (auto &[k, v] : m)
    s += (s.empty() ? "" : " ") + k + "=" + formatNumber(v, 5);
  return s;
}

std::string sqnrText(double db) {
  if (std::isinf(db))
    return db > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", db);
  return buf;
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f%%", fraction * 100);
  return buf;
}

double primary(const std::vector<std::pair<std::string, double>> &m) {
  return m.empty() ? 0 : m.front().second;
}

} // namespace

std::string reportJson(const AnalysisReport &r) {
  nlohmann::json j;
  j["config"] = r.configPath;
  j["quant_stage"] = r.quantStage;
  j["float_checkpoint"] = r.floatCheckpoint;
  j["quant_checkpoint"] = r.quantCheckpoint;
  j["batches"] = r.batches;
  j["images"] = r.images;
  j["cosine_threshold"] = r.cosineThreshold;
  j["primary_metric"] = r.primaryMetric;
  j["metrics"] = {{"float", metricsJson(r.floatMetrics)},
                  {"fake_quant", metricsJson(r.fakeMetrics)},
                  {"integer", metricsJson(r.intMetrics)}};
  j["first_drop"] = r.firstDrop >= 0
                        ? nlohmann::json(r.layers[size_t(r.firstDrop)].name)
                        : nlohmann::json(nullptr);
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerResult &l : r.layers) {
    nlohmann::json e = {{"name", l.name},
                        {"op", l.op},
                        {"dtype", l.bits == 16 ? "qint16" : "qint8"},
                        {"scale", l.scale},
                        {"elements", l.elements},
                        {"float_vs_fake_quant", similarityJson(l.floatVsFake)},
                        {"clipped_fraction", l.clippedFraction}};
    if (l.inInteger) {
      e["fake_quant_vs_integer"] = similarityJson(l.fakeVsInt);
      e["saturated_fraction"] = l.saturatedFraction;
    } else {
      e["fake_quant_vs_integer"] = nullptr;
    }
    layers.push_back(e);
  }
  j["layers"] = layers;
  nlohmann::json sens = nlohmann::json::array();
  for (size_t i = 0; i < r.sensitivity.size(); ++i) {
    const SensitivityResult &s = r.sensitivity[i];
    sens.push_back({{"rank", i + 1},
                    {"layer", s.layer},
                    {"metrics", metricsJson(s.metrics)},
                    {"drop", finite(s.drop)},
                    {"output_vs_float", similarityJson(s.output)}});
  }
  j["sensitivity"] = sens;
  j["seconds"] = r.seconds;
  j["sensitivity_seconds"] = r.sensitivitySeconds;
  return j.dump(2) + "\n";
}

std::string reportText(const AnalysisReport &r, int64_t topk) {
  std::string out;
  char line[512];
  out += "quantization analysis of " + r.configPath + " (" +
         std::to_string(r.batches) + " batches, " + std::to_string(r.images) +
         " images, fake-quant from " + r.quantStage + ")\n";
  out += "  float:      " + metricsText(r.floatMetrics) + "\n";
  out += "  fake-quant: " + metricsText(r.fakeMetrics) + "\n";
  out += "  integer:    " + metricsText(r.intMetrics) + "\n\n";
  std::snprintf(line, sizeof line, "%-3s %-28s %-5s %9s %9s %9s %9s %9s %9s\n",
                "", "layer", "dtype", "cos f/q", "SQNR f/q", "maxerr",
                "clipped", "cos q/i", "SQNR q/i");
  out += line;
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerResult &l = r.layers[i];
    std::snprintf(
        line, sizeof line, "%-3s %-28s %-5s %9.6f %9s %9.4g %9s %9s %9s\n",
        int(i) == r.firstDrop ? ">>" : "", l.name.c_str(),
        l.bits == 16 ? "int16" : "int8", l.floatVsFake.cosine,
        sqnrText(l.floatVsFake.sqnrDb).c_str(), l.floatVsFake.maxAbsError,
        percent(l.clippedFraction).c_str(),
        l.inInteger ? formatNumber(l.fakeVsInt.cosine, 6).c_str() : "-",
        l.inInteger ? sqnrText(l.fakeVsInt.sqnrDb).c_str() : "-");
    out += line;
  }
  if (r.firstDrop >= 0)
    out += ">> first layer whose float vs fake-quant cosine is below " +
           formatNumber(r.cosineThreshold, 6) + ": " +
           r.layers[size_t(r.firstDrop)].name + "\n";
  else
    out += "no layer's float vs fake-quant cosine is below " +
           formatNumber(r.cosineThreshold, 6) + "\n";
  if (!r.sensitivity.empty()) {
    out += "\nsensitivity (" + r.primaryMetric +
           " with only that layer quantized; float " +
           formatNumber(primary(r.floatMetrics), 5) + ")\n";
    std::snprintf(line, sizeof line, "%4s %-28s %10s %10s %10s\n", "rank",
                  "layer", r.primaryMetric.c_str(), "drop", "out SQNR");
    out += line;
    size_t shown = topk > 0
                       ? std::min<size_t>(size_t(topk), r.sensitivity.size())
                       : r.sensitivity.size();
    for (size_t i = 0; i < shown; ++i) {
      const SensitivityResult &s = r.sensitivity[i];
      std::snprintf(line, sizeof line, "%4zu %-28s %10.5f %10.5f %10s\n", i + 1,
                    s.layer.c_str(), s.metric, s.drop,
                    sqnrText(s.output.sqnrDb).c_str());
      out += line;
    }
  }
  std::snprintf(line, sizeof line, "\n%.1f s (sensitivity %.1f s)\n", r.seconds,
                r.sensitivitySeconds);
  out += line;
  return out;
}

std::string int16Fragment(const AnalysisReport &r, int64_t topk) {
  std::string out = "# Written by hat-quant-analysis: the " +
                    std::to_string(topk) + " most sensitive layer(s) of\n# " +
                    r.configPath +
                    " with int16 outputs. Re-run calibration/QAT with them:\n"
                    "#   hat-train --config " +
                    r.configPath +
                    " --merge THIS_FILE --stage calibration\n"
                    "qconfig = dict(\n    module_name={\n";
  size_t n = std::min<size_t>(size_t(std::max<int64_t>(topk, 0)),
                              r.sensitivity.size());
  for (size_t i = 0; i < n; ++i) {
    const SensitivityResult &s = r.sensitivity[i];
    char drop[64];
    std::snprintf(drop, sizeof drop, "%.6g", s.drop);
    // Layer names are module paths (letters, digits, '.', '_'): no quoting
    // problems in a Python string literal.
    out += "        \"" + s.layer + "\": \"qint16\",  # rank " +
           std::to_string(i + 1) + ", " + r.primaryMetric + " drop " + drop +
           "\n";
  }
  out += "    },\n)\n";
  return out;
}

std::string reportHtml(const AnalysisReport &r) {
  std::string body;
  body += "<p>config <code>" + htmlEscape(r.configPath) + "</code>; " +
          std::to_string(r.batches) + " validation batches (" +
          std::to_string(r.images) + " images); float checkpoint <code>" +
          htmlEscape(r.floatCheckpoint) + "</code>, fake-quant (" +
          htmlEscape(r.quantStage) + ") checkpoint <code>" +
          htmlEscape(r.quantCheckpoint) + "</code>; " +
          htmlEscape(formatNumber(r.seconds, 3)) + " s.</p>\n";

  std::vector<std::vector<std::string>> rows;
  auto metricRow = [&](const char *name,
                       const std::vector<std::pair<std::string, double>> &m) {
    std::vector<std::string> row = {htmlEscape(name)};
    for (auto &[k, v] : m)
      row.push_back(htmlEscape(formatNumber(v, 5)));
    rows.push_back(row);
  };
  metricRow("float", r.floatMetrics);
  metricRow("fake-quant", r.fakeMetrics);
  metricRow("integer", r.intMetrics);
  std::vector<std::string> header = {"model"};
  for (auto &[k, v] : r.floatMetrics)
    header.push_back(k);
  body += "<h2>Models</h2>\n" + telemetry::htmlTable(header, rows);

  body += "<h2>Layers</h2>\n<p>";
  if (r.firstDrop >= 0)
    body += "First layer whose float vs fake-quant cosine similarity is "
            "below " +
            htmlEscape(formatNumber(r.cosineThreshold, 6)) + ": <b>" +
            htmlEscape(r.layers[size_t(r.firstDrop)].name) +
            "</b> (highlighted).";
  else
    body += "No layer's float vs fake-quant cosine similarity is below " +
            htmlEscape(formatNumber(r.cosineThreshold, 6)) + ".";
  body += "</p>\n";
  telemetry::ChartSeries cosFQ{"cosine float vs fake-quant", {}},
      cosQI{"cosine fake-quant vs integer", {}};
  telemetry::ChartSeries sqnrFQ{"SQNR float vs fake-quant (dB)", {}},
      sqnrQI{"SQNR fake-quant vs integer (dB)", {}};
  std::vector<std::string> labels;
  rows.clear();
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerResult &l = r.layers[i];
    labels.push_back(l.name);
    double x = double(i);
    cosFQ.points.emplace_back(x, l.floatVsFake.cosine);
    sqnrFQ.points.emplace_back(x, l.floatVsFake.sqnrDb);
    cosQI.points.emplace_back(x, l.inInteger ? l.fakeVsInt.cosine : NAN);
    sqnrQI.points.emplace_back(x, l.inInteger ? l.fakeVsInt.sqnrDb : NAN);
    auto cell = [](double v, int d = 6) {
      return htmlEscape(formatNumber(v, d));
    };
    rows.push_back(
        {htmlEscape(l.name), htmlEscape(l.op), l.bits == 16 ? "int16" : "int8",
         cell(l.scale, 4), cell(l.floatVsFake.cosine),
         htmlEscape(sqnrText(l.floatVsFake.sqnrDb)),
         cell(l.floatVsFake.maxAbsError, 4),
         cell(l.floatVsFake.meanAbsError, 4),
         htmlEscape(percent(l.clippedFraction)),
         l.inInteger ? cell(l.fakeVsInt.cosine) : "-",
         l.inInteger ? htmlEscape(sqnrText(l.fakeVsInt.sqnrDb)) : "-",
         l.inInteger ? cell(l.fakeVsInt.maxAbsError, 4) : "-",
         l.inInteger ? cell(l.fakeVsInt.meanAbsError, 4) : "-",
         l.inInteger ? htmlEscape(percent(l.saturatedFraction)) : "-"});
  }
  std::optional<double> mark;
  if (r.firstDrop >= 0)
    mark = double(r.firstDrop);
  body += telemetry::svgLineChart("Cosine similarity per layer", {cosFQ, cosQI},
                                  "layer", "cosine", mark, labels) +
          "\n";
  body += telemetry::svgLineChart("SQNR per layer", {sqnrFQ, sqnrQI}, "layer",
                                  "dB", mark, labels) +
          "\n";
  body += telemetry::htmlTable({"layer", "op", "dtype", "scale", "cos f/q",
                                "SQNR f/q (dB)", "max err f/q", "mean err f/q",
                                "clipped", "cos q/i", "SQNR q/i (dB)",
                                "max err q/i", "mean err q/i", "saturated"},
                               rows, r.firstDrop);
  body += "<p class=\"note\">f/q: float vs fake-quant model; q/i: fake-quant "
          "vs integer model (integer codes times the layer's scale). "
          "Clipped: float values outside the layer's quantization range; "
          "saturated: integer codes at the range's ends.</p>\n";

  if (!r.sensitivity.empty()) {
    body += "<h2>Sensitivity</h2>\n<p>" + htmlEscape(r.primaryMetric) +
            " with only one layer quantized (its weights and output), every "
            "other layer float; float " +
            htmlEscape(formatNumber(primary(r.floatMetrics), 5)) +
            ". Most sensitive first.</p>\n";
    std::vector<std::pair<std::string, double>> bars;
    rows.clear();
    for (size_t i = 0; i < r.sensitivity.size(); ++i) {
      const SensitivityResult &s = r.sensitivity[i];
      bars.emplace_back(s.layer, s.drop);
      rows.push_back({std::to_string(i + 1), htmlEscape(s.layer),
                      htmlEscape(formatNumber(s.metric, 5)),
                      htmlEscape(formatNumber(s.drop, 4)),
                      htmlEscape(formatNumber(s.output.cosine, 6)),
                      htmlEscape(sqnrText(s.output.sqnrDb))});
    }
    body += telemetry::svgBarChart("Metric drop per layer (" + r.primaryMetric +
                                       ")",
                                   bars, r.primaryMetric + " drop") +
            "\n";
    body += telemetry::htmlTable({"rank", "layer", r.primaryMetric, "drop",
                                  "output cosine", "output SQNR (dB)"},
                                 rows);
  }
  return telemetry::htmlPage("HAT quantization analysis", body);
}

} // namespace hat::analysis
