//===- RunReport.cpp - The HTML report of one training stage --------------===//

#include "hat/Telemetry/RunReport.h"

#include "hat/Telemetry/Html.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace hat::telemetry {

std::vector<std::pair<std::string, std::vector<ScalarEvent>>>
groupScalarsByTag(const std::vector<ScalarEvent> &events) {
  std::vector<std::pair<std::string, std::vector<ScalarEvent>>> groups;
  std::map<std::string, size_t> index;
  for (const ScalarEvent &e : events) {
    auto [it, inserted] = index.try_emplace(e.tag, groups.size());
    if (inserted)
      groups.push_back({e.tag, {}});
    groups[it->second].second.push_back(e);
  }
  for (auto &[tag, list] : groups) {
    // Stable: among equal steps file order (later writes last) is kept.
    std::stable_sort(list.begin(), list.end(),
                     [](const ScalarEvent &a, const ScalarEvent &b) {
                       return a.step < b.step;
                     });
    std::vector<ScalarEvent> unique;
    for (const ScalarEvent &e : list) {
      if (!unique.empty() && unique.back().step == e.step)
        unique.back() = e;
      else
        unique.push_back(e);
    }
    list = std::move(unique);
  }
  return groups;
}

namespace {

std::string chartKind(const std::string &tag) {
  std::string lower = tag;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  std::string leaf = lower.substr(lower.rfind('/') + 1);
  if (leaf == "lr")
    return "Learning rate";
  if (leaf.find("loss") != std::string::npos || lower.find("loss") == 0)
    return "Loss";
  if (leaf == "images_per_sec")
    return "Throughput (images/s)";
  if (lower.find("validation") != std::string::npos)
    return "Validation metrics";
  return "Other values";
}

std::string stageTable(const std::string &ckptDir, std::string &problems) {
  std::vector<std::string> header = {"stage", "metrics",  "epochs",
                                     "steps", "time (s)", "images/s"};
  std::vector<std::vector<std::string>> rows;
  for (const char *stage : {"float", "calibration", "qat", "int_infer"}) {
    std::string path = ckptDir + "/" + stage + "-metrics.json";
    std::ifstream in(path);
    if (!in)
      continue;
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      problems += "<li>" + htmlEscape(path) + ": not valid JSON</li>";
      continue;
    }
    std::string metrics;
    if (j.contains("metrics") && j["metrics"].is_object())
      for (auto &[k, v] : j["metrics"].items())
        if (v.is_number())
          metrics += (metrics.empty() ? "" : ", ") + k + "=" +
                     formatNumber(v.get<double>(), 5);
    auto field = [&](const char *key, int digits) -> std::string {
      if (j.contains(key) && j[key].is_number())
        return formatNumber(j[key].get<double>(), digits);
      return "-";
    };
    rows.push_back({htmlEscape(stage), htmlEscape(metrics), field("epochs", 6),
                    field("steps", 9), field("wall_time_s", 4),
                    field("images_per_sec", 5)});
  }
  if (rows.empty())
    return "<p class=\"note\">no {stage}-metrics.json in " +
           htmlEscape(ckptDir) + " yet</p>";
  return htmlTable(header, rows);
}

} // namespace

std::string runReportHtml(const RunReportInput &input) {
  std::string problems;
  std::vector<ScalarEvent> events;
  std::vector<std::string> files = listEventFiles(input.eventDirectory);
  for (const std::string &file : files) {
    EventFileContents contents = readEventFile(file);
    if (!contents.error.empty())
      problems += "<li>" + htmlEscape(contents.error) + "</li>";
    events.insert(events.end(), contents.scalars.begin(),
                  contents.scalars.end());
  }

  std::string body;
  body +=
      "<p>config <code>" + htmlEscape(input.configPath) +
      "</code>, checkpoints in <code>" + htmlEscape(input.ckptDir) +
      "</code>, TensorBoard: <code>tensorboard --logdir " +
      htmlEscape(
          std::filesystem::path(input.eventDirectory).parent_path().string()) +
      "</code></p>\n";
  body += "<h2>Stages</h2>\n" + stageTable(input.ckptDir, problems);

  body += "<h2>Compiled model</h2>\n";
  if (!input.perfReport.empty() && std::filesystem::exists(input.perfReport)) {
    std::string href = input.perfReport;
    std::error_code ec;
    auto rel = std::filesystem::relative(input.perfReport, input.ckptDir, ec);
    if (!ec && !rel.empty())
      href = rel.string();
    body += "<p><a href=\"" + htmlEscape(href) +
            "\">performance report of the compiled model</a> (" +
            htmlEscape(input.perfReport) + ")</p>\n";
  } else {
    body += "<p class=\"note\">no perf report yet" +
            (input.perfReport.empty()
                 ? std::string()
                 : " (expected at " + htmlEscape(input.perfReport) + ")") +
            "; compile the int_infer model with hat-compile</p>\n";
  }

  body += "<h2>Curves of stage " + htmlEscape(input.stage) + "</h2>\n";
  auto groups = groupScalarsByTag(events);
  if (groups.empty())
    body += "<p class=\"note\">no scalars were logged in " +
            htmlEscape(input.eventDirectory) + "</p>\n";
  std::vector<std::string> kinds = {"Loss", "Learning rate",
                                    "Validation metrics", "Other values",
                                    "Throughput (images/s)"};
  for (const std::string &kind : kinds) {
    std::vector<ChartSeries> series;
    for (auto &[tag, list] : groups) {
      if (chartKind(tag) != kind)
        continue;
      ChartSeries s;
      s.name = tag;
      for (const ScalarEvent &e : list)
        s.points.emplace_back(double(e.step), double(e.value));
      series.push_back(std::move(s));
    }
    if (!series.empty())
      body += svgLineChart(kind, series, "step", kind) + "\n";
  }

  if (!problems.empty())
    body += "<h2>Problems</h2><ul>" + problems + "</ul>\n";
  body += "<h2>Config</h2>\n<pre>" + htmlEscape(input.configJson) + "</pre>\n";
  return htmlPage("HAT run report: stage " + input.stage, body);
}

std::string writeRunReport(const RunReportInput &input,
                           const std::string &path) {
  std::string html = runReportHtml(input);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << html;
    if (!out)
      return "cannot write " + tmp;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return "cannot write " + path + ": " + ec.message();
  return "";
}

} // namespace hat::telemetry
