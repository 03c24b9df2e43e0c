//===- Report.h - Perf reports of a compiled model --------------*- C++ -*-===//

#ifndef HAT_HBM_REPORT_H
#define HAT_HBM_REPORT_H

#include "hat/HBM/Model.h"

#include <string>

namespace hat::hbm {

/// {"march":..., "summary": {...}, "layers": [{...}, ...]} with every
/// per-layer and model figure of the estimate.
std::string perfJson(const Model &model);
/// A self-contained HTML page (inline CSS, no scripts or external files):
/// Summary, Layer Details and a Timeline bar per layer.
std::string perfHtml(const Model &model);
/// A few lines for the terminal.
std::string perfSummaryText(const Model &model);
/// The per-layer table for the terminal (hat-compile --layer-details).
std::string perfLayerTable(const Model &model);

} // namespace hat::hbm

#endif // HAT_HBM_REPORT_H
