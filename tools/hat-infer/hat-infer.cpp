//===- hat-infer.cpp - Predict with a stage's model from a config ---------===//
//
//   hat-infer --config CONFIG --stage float|calibration|qat|int_infer
//             [--out dets.json] [--visualize DIR [--max-images N]
//              [--min-score S]] [--predictor NAME] [--set path=value]...
//             [--merge FILE]... [--threads N] [--seed N]
//
// Runs `{stage}_predictor` (the stage's model from its checkpoint over the
// validation loader), prints its metrics as one line (hat-train's names),
// and for a detector writes the COCO results (--out) and draws them on the
// stored images (--visualize DIR/<image id>.jpg). The work is
// hat::engine::runPrediction. Exit codes: 0 success, 1 config/data/model
// error, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Engine.h"
#include "hat/Engine/Prediction.h"
#include "hat/Executor/CachingCpuAllocator.h"
#include "hat/Support/ParseNumber.h"
#include "hat/Support/ToolError.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>
#include <thread>

namespace {

const char *const kUsage =
    "usage: hat-infer --config CONFIG --stage STAGE [options]\n"
    "\n"
    "  --stage float|calibration|qat|int_infer\n"
    "                      runs the config's {stage}_predictor\n"
    "  --predictor NAME    another predictor of the config\n"
    "  --out FILE          a detector's COCO results (JSON)\n"
    "  --visualize DIR     draw a detector's boxes on the images\n"
    "  --max-images N      images to draw (default 50, 0: all)\n"
    "  --min-score S       draw boxes scoring at least S (default 0.3)\n"
    "  --set path=value    override a config value (repeatable)\n"
    "  --merge FILE        merge a config file first (repeatable)\n"
    "  --threads N         intra-op threads (default: all cores)\n"
    "  --seed N            random seed (default: the config's seed)\n";

int usage(const std::string &message) {
  std::cerr << "hat-infer: " << message << "\n" << kUsage;
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  hat::engine::PredictionOptions options;
  bool stageGiven = false;
  int64_t threads = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc)
      return usage(arg.rfind("--", 0) == 0 ? arg + " needs a value"
                                           : "unknown argument '" + arg + "'");
    std::string value = argv[++i];
    if (arg == "--config") {
      options.configPath = value;
    } else if (arg == "--stage") {
      if (value != "float" && value != "calibration" && value != "qat" &&
          value != "int_infer")
        return usage("--stage must be float, calibration, qat or int_infer, "
                     "got '" +
                     value + "'");
      options.stage = value;
      stageGiven = true;
    } else if (arg == "--predictor") {
      options.predictorName = value;
    } else if (arg == "--out") {
      options.detectionsPath = value;
    } else if (arg == "--visualize") {
      options.visualizeDir = value;
    } else if (arg == "--set") {
      options.overrides.push_back(value);
    } else if (arg == "--merge") {
      options.merges.push_back(value);
    } else if (arg == "--max-images" || arg == "--threads" || arg == "--seed") {
      const int64_t lo = arg == "--threads" ? 1 : 0;
      const int64_t hi = arg == "--threads" ? 1024 : INT64_MAX;
      std::optional<int64_t> n = hat::parseInteger(value, lo, hi);
      if (!n)
        return usage(hat::badIntegerMessage(arg, value, lo, hi));
      (arg == "--max-images" ? options.maxImages
       : arg == "--threads"  ? threads
                             : options.seed) = *n;
    } else if (arg == "--min-score") {
      std::optional<double> s = hat::parseDouble(value, 0.0, 1.0);
      if (!s)
        return usage("--min-score takes a number in [0, 1], got '" + value +
                     "'");
      options.minScore = static_cast<float>(*s);
    } else {
      return usage("unknown argument '" + arg + "'");
    }
  }
  if (options.configPath.empty() || !stageGiven)
    return usage("--config and --stage are required");
  at::set_num_threads(static_cast<int>(
      threads > 0 ? threads
                  : std::max(1u, std::thread::hardware_concurrency())));
  hat::executor::installCachingCpuAllocator();
  try {
    hat::engine::PredictionResult result = hat::engine::runPrediction(options);
    hat::engine::runContext().logger->progressEnd();
    if (!options.detectionsPath.empty())
      std::cout << "wrote " << result.detections << " detections of "
                << result.images << " images to " << options.detectionsPath
                << "\n";
    if (!options.visualizeDir.empty())
      std::cout << "drew " << result.drawn << " images into "
                << options.visualizeDir << "\n";
    std::string line = options.stage + ":";
    char number[64];
    for (auto &[name, value] : result.metrics) {
      std::snprintf(number, sizeof number, " %s=%.9g", name.c_str(), value);
      line += number;
    }
    std::snprintf(number, sizeof number, " (%.1f images/s)",
                  result.imagesPerSecond);
    std::cout << line << number << std::endl;
  } catch (const std::exception &e) {
    hat::engine::runContext().logger->progressEnd();
    std::cerr << hat::toolErrorLine("hat-infer", e.what()) << "\n";
    return 1;
  }
  return 0;
}
