//===- hat-culane-eval.cpp - CULane lane F1 of a prediction folder --------===//
//
//   hat-culane-eval --gt-root DIR --list FILE --pred-root DIR
//                   [--iou 0.5] [--width 30] [--image-width 1640]
//                   [--image-height 590] [--category-lists DIR]
//                   [--threads N] [--per-image FILE]
//
// Prints the official CULane evaluator's numbers as JSON on stdout
// (hat/Lane/CulaneFiles.h, docs/lane.md): precision, recall, f1, tp, fp,
// fn, and with --category-lists the same per test category. Invalid input
// is an error naming the file and line, exit code 1; bad arguments exit 2.
//
//===----------------------------------------------------------------------===//

#include "hat/Lane/CulaneFiles.h"
#include "hat/Support/ParseNumber.h"
#include "hat/Support/WriteFile.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <optional>

using namespace hat::lane;

namespace {

// libLLVM registers a global `--threads`, so this LLVM-free tool uses the
// checked parser rather than llvm::cl.
const char *kUsage =
    "usage: hat-culane-eval --gt-root DIR --list FILE --pred-root DIR\n"
    "                       [--iou T] [--width W] [--image-width N]\n"
    "                       [--image-height N] [--category-lists DIR]\n"
    "                       [--threads N] [--per-image FILE]\n"
    "  The CULane lane F1 with the official evaluator's semantics.\n"
    "  --gt-root DIR         annotations: DIR/<image without ext>.lines.txt\n"
    "  --list FILE           images to evaluate (e.g. list/test.txt)\n"
    "  --pred-root DIR       predictions, laid out as the annotations\n"
    "  --iou T               IoU a match must exceed (default 0.5)\n"
    "  --width W             lane width in pixels (default 30)\n"
    "  --image-width N       canvas width (default 1640)\n"
    "  --image-height N      canvas height (default 590)\n"
    "  --category-lists DIR  the nine split lists test0_normal.txt ...\n"
    "                        test8_night.txt (list/test_split): adds the\n"
    "                        figures per category\n"
    "  --threads N           worker threads (default 2, 0: one per core)\n"
    "  --per-image FILE      also write one JSON line per image: image, tp,\n"
    "                        fp, fn, gt_match (the prediction each GT lane\n"
    "                        matched, or -1)\n";

bool parseArguments(int argc, char **argv, CulaneDatasetOptions &options,
                    std::string &perImageFile, bool &help) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    const std::size_t eq = arg.find('=');
    const bool inlineValue = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inlineValue) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
      return true;
    }
    auto takeValue = [&]() -> bool {
      if (inlineValue)
        return true;
      if (i + 1 >= argc) {
        std::cerr << "hat-culane-eval: " << arg << " needs a value\n";
        return false;
      }
      value = argv[++i];
      return true;
    };
    auto integer = [&](int64_t min, int64_t max, auto &out) -> bool {
      if (!takeValue())
        return false;
      std::optional<int64_t> parsed = hat::parseInteger(value, min, max);
      if (!parsed) {
        std::cerr << "hat-culane-eval: "
                  << hat::badIntegerMessage(arg, value, min, max) << "\n";
        return false;
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(*parsed);
      return true;
    };
    if (arg == "--gt-root") {
      if (!takeValue())
        return false;
      options.gtRoot = value;
    } else if (arg == "--pred-root") {
      if (!takeValue())
        return false;
      options.predRoot = value;
    } else if (arg == "--list") {
      if (!takeValue())
        return false;
      options.listFile = value;
    } else if (arg == "--category-lists") {
      if (!takeValue())
        return false;
      options.categoryDir = value;
    } else if (arg == "--per-image") {
      if (!takeValue())
        return false;
      perImageFile = value;
      options.keepImages = true;
    } else if (arg == "--iou") {
      if (!takeValue())
        return false;
      std::optional<double> parsed = hat::parseFiniteReal(value);
      if (!parsed || *parsed < 0 || *parsed > 1) {
        std::cerr << "hat-culane-eval: --iou: '" << value
                  << "' is not a number in 0..1\n";
        return false;
      }
      options.metric.iouThreshold = *parsed;
    } else if (arg == "--width") {
      if (!integer(1, 32767, options.metric.laneWidth))
        return false;
    } else if (arg == "--image-width") {
      if (!integer(1, 32767, options.metric.imageWidth))
        return false;
    } else if (arg == "--image-height") {
      if (!integer(1, 32767, options.metric.imageHeight))
        return false;
    } else if (arg == "--threads") {
      if (!integer(0, 1024, options.threads))
        return false;
    } else {
      std::cerr << "hat-culane-eval: unexpected argument '" << argv[i] << "'\n";
      return false;
    }
  }
  for (auto [name, value] : {std::pair<const char *, const std::string *>{
                                 "--gt-root", &options.gtRoot},
                             {"--pred-root", &options.predRoot},
                             {"--list", &options.listFile}})
    if (value->empty()) {
      std::cerr << "hat-culane-eval: " << name << " is required\n";
      return false;
    }
  return true;
}

nlohmann::ordered_json optionalNumber(const std::optional<double> &value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json();
}

nlohmann::ordered_json countsJson(const CulaneCounts &counts) {
  return {{"precision", optionalNumber(counts.precision())},
          {"recall", optionalNumber(counts.recall())},
          {"f1", optionalNumber(counts.f1())},
          {"tp", counts.tp},
          {"fp", counts.fp},
          {"fn", counts.fn},
          {"images", counts.images}};
}

// One JSON object per line, in list order, written atomically
// (hat/Support/WriteFile.h).
void writePerImage(const std::string &path, const CulaneDatasetResult &result) {
  std::string text;
  for (const auto &[image, outcome] : result.images)
    text += nlohmann::ordered_json{{"image", image},
                                   {"tp", outcome.tp},
                                   {"fp", outcome.fp},
                                   {"fn", outcome.fn},
                                   {"gt_match", outcome.gtMatch}}
                .dump() +
            "\n";
  const std::string error = hat::writeFileAtomically(path, text);
  if (!error.empty())
    throw std::runtime_error(path +
                             ": cannot write the per-image file: " + error);
}

} // namespace

int main(int argc, char **argv) {
  CulaneDatasetOptions options;
  std::string perImageFile;
  bool help = false;
  if (!parseArguments(argc, argv, options, perImageFile, help)) {
    std::cerr << kUsage;
    return 2;
  }
  if (help) {
    std::cout << kUsage;
    return 0;
  }
  hat::reportFileSizeLimitAsError();
  try {
    const CulaneDatasetResult result = evaluateCulaneDataset(options);
    if (result.missingPredictions) {
      std::cerr << "hat-culane-eval: warning: " << result.missingPredictions
                << " image(s) have no prediction file and count as "
                   "predicting no lane, e.g. "
                << result.missingPredictionExamples.front() << "\n";
    }
    if (result.total.degenerateGt || result.total.degeneratePred)
      std::cerr << "hat-culane-eval: warning: lanes with fewer than 2 points "
                   "(they never match): "
                << result.total.degenerateGt << " in the GT, "
                << result.total.degeneratePred << " in the predictions\n";

    nlohmann::ordered_json out = countsJson(result.total);
    out["iou_threshold"] = options.metric.iouThreshold;
    out["lane_width"] = options.metric.laneWidth;
    out["missing_predictions"] = result.missingPredictions;
    out["degenerate_gt_lanes"] = result.total.degenerateGt;
    out["degenerate_pred_lanes"] = result.total.degeneratePred;
    if (!options.categoryDir.empty()) {
      nlohmann::ordered_json categories = nlohmann::ordered_json::array();
      for (const CulaneCategoryResult &category : result.categories) {
        nlohmann::ordered_json row = {{"name", category.name}};
        row.update(countsJson(category.counts));
        row["not_in_list"] = category.notInList;
        categories.push_back(row);
        if (category.notInList)
          std::cerr << "hat-culane-eval: warning: " << category.notInList
                    << " image(s) of " << category.listFile << " are not in "
                    << options.listFile << " and are not evaluated\n";
      }
      out["categories"] = categories;
      out["uncategorized_images"] = result.uncategorized;
    }
    if (!perImageFile.empty())
      writePerImage(perImageFile, result);
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception &error) {
    std::cerr << "hat-culane-eval: " << error.what() << "\n";
    return 1;
  }
}
