//===- RunReport.h - The HTML report of one training stage ------*- C++ -*-===//
//
// hat-train writes `{ckpt_dir}/{stage}-report.html` at the end of a stage:
// the stage table (every stage's metrics found in ckpt_dir), the loss, LR
// and metric curves read back from the stage's TensorBoard event files, a
// link to the compiled model's perf report when it exists, and the config
// as hat-config dump prints it.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_TELEMETRY_RUNREPORT_H
#define HAT_TELEMETRY_RUNREPORT_H

#include "hat/Telemetry/EventFile.h"

#include <string>
#include <vector>

namespace hat::telemetry {

struct RunReportInput {
  std::string stage;
  std::string configPath;
  /// The evaluated config as JSON.
  std::string configJson;
  /// ckpt_dir: `{stage}-metrics.json` of every stage are read from here.
  std::string ckptDir;
  /// The stage's event directory (all its files, e.g. after a resume).
  std::string eventDirectory;
  /// The compiled model's `.perf.html`; linked when the file exists.
  std::string perfReport;
};

/// Scalars grouped per tag, sorted by step; for a step logged twice (a
/// resumed run) the later event wins.
std::vector<std::pair<std::string, std::vector<ScalarEvent>>>
groupScalarsByTag(const std::vector<ScalarEvent> &events);

/// The report page; problems reading event or metrics files are listed on
/// the page itself, not fatal.
std::string runReportHtml(const RunReportInput &input);

/// Writes runReportHtml() to `path`; returns an error message or "".
std::string writeRunReport(const RunReportInput &input,
                           const std::string &path);

} // namespace hat::telemetry

#endif // HAT_TELEMETRY_RUNREPORT_H
