//===- hat-quant-analysis.cpp - Per-layer quantization debugging ----------===//
//
//   hat-quant-analysis --config CONFIG [--batches N] [--topk K] [--out-dir D]
//
// Compares the float, fake-quant and integer models of a config layer by
// layer over N validation batches, ranks the layers by sensitivity and, with
// --topk, writes the qconfig fragment moving the K most sensitive to int16
// (hat-train --merge FRAGMENT). Writes quant_analysis.json and .html and
// prints the summary. Exit codes: 0 success, 1 config/checkpoint/data
// error, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "hat/Analysis/QuantAnalysis.h"
#include "hat/Support/CommandLine.h"
#include "hat/Support/ParseNumber.h"

#include <ATen/Parallel.h>

#include "llvm/Support/raw_ostream.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace cl = llvm::cl;

static cl::OptionCategory category("hat-quant-analysis options");
static cl::opt<std::string> configPath("config", cl::desc("the HAT config"),
                                       cl::value_desc("CONFIG"),
                                       cl::cat(category));
static cl::alias configAlias("c", cl::aliasopt(configPath),
                             cl::desc("alias for --config"), cl::cat(category));
static cl::opt<unsigned>
    batches("batches", cl::init(8),
            cl::desc("validation batches to analyse (0: the whole set)"),
            cl::cat(category));
static cl::opt<std::string>
    quantStage("quant-stage", cl::init("qat"),
               cl::desc("fake-quant model from the qat or calibration "
                        "checkpoint"),
               cl::cat(category));
static cl::opt<std::string> floatCheckpoint(
    "float-checkpoint",
    cl::desc("default {ckpt_dir}/float-checkpoint-best.pth.tar"),
    cl::cat(category));
static cl::opt<std::string> quantCheckpoint(
    "quant-checkpoint",
    cl::desc("default {ckpt_dir}/{quant-stage}-checkpoint-best.pth.tar"),
    cl::cat(category));
static cl::opt<unsigned>
    topk("topk", cl::init(0),
         cl::desc("print the K most sensitive layers and write the qconfig "
                  "fragment setting them to int16"),
         cl::cat(category));
static cl::opt<std::string>
    fragmentPath("fragment",
                 cl::desc("where --topk writes the fragment (default "
                          "OUT_DIR/int16_qconfig.py)"),
                 cl::cat(category));
static cl::opt<std::string>
    outDir("out-dir",
           cl::desc("directory of the JSON and HTML report (default "
                    "{ckpt_dir}/quant_analysis)"),
           cl::cat(category));
static cl::opt<double> cosThreshold(
    "cos-threshold", cl::init(0.99),
    cl::desc("a layer whose float vs fake-quant cosine is below this "
             "'drops' (the first one is highlighted)"),
    cl::cat(category));
static cl::opt<bool> noSensitivity("no-sensitivity",
                                   cl::desc("skip the sensitivity ranking"),
                                   cl::cat(category));
static cl::list<std::string>
    merges("merge",
           cl::desc("config file merged into the config, e.g. a "
                    "qconfig fragment (repeatable)"),
           cl::cat(category));
static cl::list<std::string>
    overrides("set", cl::desc("override a config value: path=value"),
              cl::cat(category));

static bool writeFile(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return bool(out);
}

int main(int argc, char **argv) {
  hat::showOnlyToolOptions(category);
  // `--threads N` as hat-train spells it; a library linked here already
  // registers an llvm::cl option named "threads", so it is taken out of
  // argv before llvm::cl sees the rest.
  int64_t threads = 0;
  std::vector<char *> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string text;
    if (arg == "--threads" || arg == "-threads") {
      if (i + 1 >= argc) {
        llvm::errs() << "hat-quant-analysis: error: --threads needs a value\n";
        return 2;
      }
      text = argv[++i];
    } else if (arg.rfind("--threads=", 0) == 0) {
      text = arg.substr(10);
    } else {
      args.push_back(argv[i]);
      continue;
    }
    std::optional<uint64_t> n = hat::parseCount(text);
    if (!n || *n < 1 || *n > 1024) {
      llvm::errs() << "hat-quant-analysis: error: --threads needs a thread "
                      "count in [1, 1024], got '"
                   << text << "'\n";
      return 2;
    }
    threads = int64_t(*n);
  }
  std::string overview = "per-layer quantization analysis of a HAT config\n"
                         "\n  --threads N  intra-op threads (default: all "
                         "cores)\n";
  if (!cl::ParseCommandLineOptions(int(args.size()), args.data(), overview,
                                   &llvm::errs()))
    return 2;
  if (configPath.empty()) {
    llvm::errs() << "hat-quant-analysis: error: missing --config\n";
    return 2;
  }
  if (!(cosThreshold >= -1 && cosThreshold <= 1)) {
    llvm::errs() << "hat-quant-analysis: error: --cos-threshold must be in "
                    "[-1, 1]\n";
    return 2;
  }
  if (topk > 0 && noSensitivity) {
    llvm::errs() << "hat-quant-analysis: error: --topk needs the sensitivity "
                    "ranking (drop --no-sensitivity)\n";
    return 2;
  }
  at::set_num_threads(
      threads > 0 ? int(threads)
                  : int(std::max(1u, std::thread::hardware_concurrency())));

  hat::analysis::AnalysisOptions options;
  options.configPath = configPath;
  options.merges.assign(merges.begin(), merges.end());
  options.overrides.assign(overrides.begin(), overrides.end());
  options.numBatches = batches;
  options.quantStage = quantStage;
  options.floatCheckpoint = floatCheckpoint;
  options.quantCheckpoint = quantCheckpoint;
  options.cosineThreshold = cosThreshold;
  options.sensitivity = !noSensitivity;
  try {
    hat::analysis::AnalysisReport report =
        hat::analysis::runQuantAnalysis(options);
    std::string dir =
        outDir.empty() ? report.ckptDir + "/quant_analysis" : outDir;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string json = dir + "/quant_analysis.json";
    std::string html = dir + "/quant_analysis.html";
    if (ec || !writeFile(json, hat::analysis::reportJson(report)) ||
        !writeFile(html, hat::analysis::reportHtml(report))) {
      llvm::errs() << "hat-quant-analysis: error: cannot write the report "
                      "into "
                   << dir << "\n";
      return 1;
    }
    std::cout << hat::analysis::reportText(report, topk);
    std::cout << "report: " << json << ", " << html << "\n";
    if (topk > 0) {
      std::string fragment =
          fragmentPath.empty() ? dir + "/int16_qconfig.py" : fragmentPath;
      if (!writeFile(fragment, hat::analysis::int16Fragment(report, topk))) {
        llvm::errs() << "hat-quant-analysis: error: cannot write " << fragment
                     << "\n";
        return 1;
      }
      std::cout << "int16 qconfig for the " << topk
                << " most sensitive layer(s): " << fragment
                << "\n  hat-train --config " << configPath << " --merge "
                << fragment << " --stage calibration (then qat, int_infer)\n";
    }
  } catch (const std::exception &e) {
    llvm::errs() << "hat-quant-analysis: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
