//===- hat-cocoeval.cpp - COCO bbox metrics of a results file -------------===//
//
//   hat-cocoeval GT.json DETS.json [--per-category] [--summary]
//                [--threads N] [--max-warnings N]
//
// Prints {"stats": [AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs,
// ARm, ARl]} as JSON on stdout: pycocotools' COCOeval(iouType='bbox')
// numbers (hat/Detection/CocoEval.h). --per-category adds "per_category"
// (id, name, AP, AP50 per category); --summary prints pycocotools' 12
// summary lines on stderr. Warnings about the input go to stderr; invalid
// input is an error naming the file and entry, exit code 1.
//
//===----------------------------------------------------------------------===//

#include "hat/Detection/CocoEval.h"
#include "hat/Detection/CocoJson.h"
#include "hat/Support/ParseNumber.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <vector>

using namespace hat::detection;

namespace {

// libLLVM already registers a global `--threads`, so this tool uses the
// checked parser instead of llvm::cl (and links no LLVM).
struct Options {
  std::string gtFile, detsFile;
  bool perCategory = false, summary = false;
  unsigned threads = 0;
  std::size_t maxWarnings = 10;
};

const char *kUsage =
    "usage: hat-cocoeval GT.json DETS.json [--per-category] [--summary]\n"
    "                    [--threads N] [--max-warnings N]\n"
    "  Prints {\"stats\": [AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100,\n"
    "  ARs, ARm, ARl]}: pycocotools' COCOeval(iouType='bbox') numbers.\n"
    "  --per-category   add AP and AP50 per category to the JSON\n"
    "  --summary        print pycocotools' 12 summary lines on stderr\n"
    "  --threads N      worker threads (default 0: one per core)\n"
    "  --max-warnings N warnings printed before a count of the rest (10)\n";

// Parses argv; prints the problem and returns false on bad arguments.
bool parseArguments(int argc, char **argv, Options &options, bool &help) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    const std::size_t eq = arg.find('=');
    const bool hasValue = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (hasValue) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto number = [&](const char *name,
                      uint64_t max) -> std::optional<uint64_t> {
      if (!hasValue) {
        if (i + 1 >= argc) {
          std::cerr << "hat-cocoeval: " << name << " needs a value\n";
          return std::nullopt;
        }
        value = argv[++i];
      }
      std::optional<uint64_t> parsed = hat::parseCount(value);
      if (!parsed || *parsed > max) {
        std::cerr << "hat-cocoeval: " << name
                  << " must be a non-negative integer, not '" << value << "'\n";
        return std::nullopt;
      }
      return parsed;
    };
    if (arg == "-h" || arg == "--help") {
      help = true;
      return true;
    } else if (arg == "--per-category" && !hasValue) {
      options.perCategory = true;
    } else if (arg == "--summary" && !hasValue) {
      options.summary = true;
    } else if (arg == "--threads") {
      auto n = number("--threads", 4096);
      if (!n)
        return false;
      options.threads = static_cast<unsigned>(*n);
    } else if (arg == "--max-warnings") {
      auto n = number("--max-warnings", std::numeric_limits<uint32_t>::max());
      if (!n)
        return false;
      options.maxWarnings = *n;
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::cerr << "hat-cocoeval: unknown option '" << argv[i] << "'\n";
      return false;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    std::cerr << "hat-cocoeval: expected GT.json and DETS.json, got "
              << positional.size() << " file argument(s)\n";
    return false;
  }
  options.gtFile = positional[0];
  options.detsFile = positional[1];
  return true;
}

void printWarnings(const std::vector<std::string> &warnings,
                   std::size_t maxWarnings) {
  for (std::size_t i = 0; i < warnings.size() && i < maxWarnings; ++i)
    std::cerr << "hat-cocoeval: warning: " << warnings[i] << "\n";
  if (warnings.size() > maxWarnings)
    std::cerr << "hat-cocoeval: warning: " << warnings.size() - maxWarnings
              << " more warnings not shown\n";
}

// pycocotools' summarize() lines.
void printSummary(const CocoEvalResult &result) {
  struct Line {
    bool ap;
    const char *iou, *area;
    int maxDets;
  };
  static const Line lines[12] = {
      {true, "0.50:0.95", "all", 100},     {true, "0.50", "all", 100},
      {true, "0.75", "all", 100},          {true, "0.50:0.95", "small", 100},
      {true, "0.50:0.95", "medium", 100},  {true, "0.50:0.95", "large", 100},
      {false, "0.50:0.95", "all", 1},      {false, "0.50:0.95", "all", 10},
      {false, "0.50:0.95", "all", 100},    {false, "0.50:0.95", "small", 100},
      {false, "0.50:0.95", "medium", 100}, {false, "0.50:0.95", "large", 100}};
  for (int i = 0; i < 12; ++i) {
    const Line &l = lines[i];
    std::fprintf(
        stderr, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
        l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)",
        l.iou, l.area, l.maxDets, result.stats[i]);
  }
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  bool help = false;
  if (!parseArguments(argc, argv, options, help)) {
    std::cerr << kUsage;
    return 2;
  }
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  try {
    std::vector<std::string> warnings;
    CocoGroundTruth gt = loadCocoGroundTruth(options.gtFile, &warnings);
    std::vector<DetectionBox> dets =
        loadCocoDetections(options.detsFile, gt, &warnings);
    printWarnings(warnings, options.maxWarnings);
    CocoEvalOptions evalOptions;
    evalOptions.threads = options.threads;
    CocoEvalResult result = evaluateCoco(gt, dets, evalOptions);

    nlohmann::ordered_json out;
    out["stats"] = result.stats;
    if (options.perCategory) {
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (std::size_t k = 0; k < result.categoryIds.size(); ++k) {
        std::string name;
        for (const CocoCategory &category : gt.categories)
          if (category.id == result.categoryIds[k])
            name = category.name;
        rows.push_back({{"id", result.categoryIds[k]},
                        {"name", name},
                        {"AP", result.categoryAP[k]},
                        {"AP50", result.categoryAP50[k]}});
      }
      out["per_category"] = rows;
    }
    std::cout << out.dump() << "\n";
    if (options.summary)
      printSummary(result);
    return 0;
  } catch (const std::exception &error) {
    std::cerr << "hat-cocoeval: " << error.what() << "\n";
    return 1;
  }
}
