//===- Report.cpp - Perf reports of a compiled model ----------------------===//

#include "hat/HBM/Report.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

namespace hat::hbm {

namespace {

/// The one HTML escaping helper of the reports: every text that comes from
/// the model (names, march, input source) passes through it.
std::string html(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else if (c == '"')
      o += "&quot;";
    else if (c == '\'')
      o += "&#39;";
    else
      o += c;
  }
  return o;
}

std::string num(double v, int prec = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

} // namespace

std::string perfJson(const Model &m) {
  // nlohmann-json: strings escaped, NaN/Inf written as null.
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerPerf &p : m.layerPerf)
    layers.push_back({{"name", p.name},
                      {"op", p.op},
                      {"macs", p.macs},
                      {"compute_us", p.computeUs},
                      {"load_bytes", p.loadBytes},
                      {"store_bytes", p.storeBytes},
                      {"memory_us", p.memoryUs},
                      {"total_us", p.totalUs},
                      {"share", p.share},
                      {"sram_bytes", p.sramBytes},
                      {"mac_utilisation", p.macUtilisation}});
  nlohmann::ordered_json report = {
      {"march", m.march},
      {"opt_level", m.optLevel},
      {"input_source", m.inputSource},
      {"note", "estimate from the march table (docs/bpu.md), not a "
               "measurement"},
      {"summary",
       {{"latency_us", m.perf.latencyUs},
        {"fps", m.perf.fps},
        {"ddr_bytes_per_frame", m.perf.ddrBytesPerFrame},
        {"macs", m.perf.macs},
        {"mac_utilisation", m.perf.macUtilisation},
        {"batch", m.perf.batch},
        {"peak_ddr_bytes", m.perf.peakDdrBytes},
        {"weight_bytes", m.perf.weightBytes},
        {"ddr_activation_bytes", m.perf.ddrActivationBytes},
        {"io_bytes", m.perf.ioBytes},
        {"runtime_bytes", m.perf.runtimeBytes},
        {"layers", m.layerPerf.size()},
        {"arena_bytes", m.arenaBytes}}},
      {"layers", layers}};
  return report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

std::string perfHtml(const Model &m) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>HAT perf "
       "report: "
    << html(m.march)
    << "</title>\n<style>body{font-family:sans-serif;margin:1.5em}"
       "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:"
       "2px 6px;text-align:right}td.l,th.l{text-align:left}"
       ".bar{background:#4a7;height:10px;display:inline-block}"
       ".mem{background:#c74}</style></head><body>\n";
  o << "<h1>HAT perf report</h1>\n<p>Estimate from the march table "
       "(docs/bpu.md); not a measurement.</p>\n<h2>Summary</h2>\n<table>\n";
  auto row = [&](const std::string &k, const std::string &v) {
    o << "<tr><th class=l>" << k << "</th><td>" << v << "</td></tr>\n";
  };
  row("march", html(m.march));
  row("optimization level", "-O" + std::to_string(m.optLevel));
  row("input source", html(m.inputSource));
  row("latency (&micro;s)", num(m.perf.latencyUs));
  row("FPS", num(m.perf.fps, 1));
  row("DDR bytes per frame", std::to_string(m.perf.ddrBytesPerFrame));
  row("peak DDR (bytes)",
      std::to_string(m.perf.peakDdrBytes) + " (weights " +
          std::to_string(m.perf.weightBytes) + ", activations " +
          std::to_string(m.perf.ddrActivationBytes) + ", I/O " +
          std::to_string(m.perf.ioBytes) + ", runtime " +
          std::to_string(m.perf.runtimeBytes) + ")");
  row("MACs", std::to_string(m.perf.macs));
  row("MAC utilisation", num(100 * m.perf.macUtilisation, 2) + " %");
  row("layers", std::to_string(m.layerPerf.size()));
  row("activation arena (bytes)", std::to_string(m.arenaBytes));
  o << "</table>\n<h2>Layer Details</h2>\n<table>\n<tr><th class=l>layer</th>"
       "<th class=l>op</th><th>MACs</th><th>compute &micro;s</th><th>DDR "
       "load B</th><th>DDR store B</th><th>load/store &micro;s</th><th>total "
       "&micro;s</th><th>share %</th><th>SRAM B</th><th>MAC util %</th></tr>\n";
  for (const LayerPerf &p : m.layerPerf)
    o << "<tr><td class=l>" << html(p.name) << "</td><td class=l>" << html(p.op)
      << "</td><td>" << p.macs << "</td><td>" << num(p.computeUs) << "</td><td>"
      << p.loadBytes << "</td><td>" << p.storeBytes << "</td><td>"
      << num(p.memoryUs) << "</td><td>" << num(p.totalUs) << "</td><td>"
      << num(100 * p.share, 2) << "</td><td>" << p.sramBytes << "</td><td>"
      << num(100 * p.macUtilisation, 2) << "</td></tr>\n";
  o << "</table>\n<h2>Timeline</h2>\n<p>One row per layer in execution "
       "order; green: compute, orange: DDR time (the longer one bounds the "
       "layer).</p>\n<table>\n";
  double maxUs = 1e-9;
  for (const LayerPerf &p : m.layerPerf)
    maxUs = std::max(maxUs, std::max(p.computeUs, p.memoryUs));
  double start = 0;
  for (const LayerPerf &p : m.layerPerf) {
    o << "<tr><td class=l>" << html(p.name) << "</td><td>" << num(start)
      << "</td><td class=l><span class=bar style=\"width:"
      << int(400 * p.computeUs / maxUs) << "px\"></span><br><span "
      << "class=\"bar mem\" style=\"width:" << int(400 * p.memoryUs / maxUs)
      << "px\"></span></td></tr>\n";
    start += p.totalUs;
  }
  o << "</table>\n</body></html>\n";
  return o.str();
}

std::string perfSummaryText(const Model &m) {
  std::ostringstream o;
  o << "march " << m.march << " -O" << m.optLevel << " (input " << m.inputSource
    << "), estimate:\n"
    << "  latency      " << num(m.perf.latencyUs) << " us\n"
    << "  FPS          " << num(m.perf.fps, 1) << "\n"
    << "  DDR / frame  " << m.perf.ddrBytesPerFrame << " bytes\n"
    << "  peak DDR     " << m.perf.peakDdrBytes
    << " bytes = " << num(double(m.perf.peakDdrBytes) / 1e6, 2)
    << " MB (weights " << m.perf.weightBytes << ", activations "
    << m.perf.ddrActivationBytes << ", I/O " << m.perf.ioBytes << ", runtime "
    << m.perf.runtimeBytes << ")\n"
    << "  MACs         " << m.perf.macs << "\n"
    << "  MAC util     " << num(100 * m.perf.macUtilisation, 2) << " %\n"
    << "  layers       " << m.layerPerf.size() << ", arena " << m.arenaBytes
    << " bytes\n";
  return o.str();
}

std::string perfLayerTable(const Model &m) {
  std::ostringstream o;
  char buf[512];
  // Wide enough for the longest layer name (detector layers such as
  // "neck.stack.2.out.s128.pw_conv"), within reason.
  int width = 28;
  for (const LayerPerf &p : m.layerPerf)
    width = std::max(width, (int)std::min<size_t>(p.name.size(), 64));
  std::snprintf(buf, sizeof buf,
                "%-*s %-14s %12s %10s %10s %10s %10s %7s %9s\n", width, "layer",
                "op", "MACs", "comp_us", "load_B", "store_B", "total_us",
                "share%", "sram_B");
  o << buf;
  for (const LayerPerf &p : m.layerPerf) {
    std::snprintf(buf, sizeof buf,
                  "%-*s %-14s %12lld %10.3f %10lld %10lld %10.3f %7.2f %9lld\n",
                  width, p.name.substr(0, size_t(width)).c_str(),
                  p.op.substr(0, 14).c_str(), (long long)p.macs, p.computeUs,
                  (long long)p.loadBytes, (long long)p.storeBytes, p.totalUs,
                  100 * p.share, (long long)p.sramBytes);
    o << buf;
  }
  return o.str();
}

} // namespace hat::hbm
