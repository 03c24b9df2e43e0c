//===- hat-train.cpp - Train, calibrate, QAT and validate from a config ---===//
//
//   hat-train --config CONFIG --stage float|calibration|qat|int_infer|all
//             [--set path=value]... [--resume [CHECKPOINT]] [--threads N]
//
// Each stage builds `{stage}_trainer` from the config (with HAT_TRAINING_STEP
// set to the stage while the config is evaluated, as HAT's tools/train.py
// does) and runs it. At the end it writes {ckpt_dir}/{stage}-metrics.json,
// {ckpt_dir}/{stage}-model.mlir (the stage's model with trained values; for
// int_infer the integer model hat-compile takes) and prints a summary.
// Exit codes: 0 success, 1 config/data/training error, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Engine/Engine.h"
#include "hat/Support/ParseNumber.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Utils.h>
#include <ATen/core/Generator.h>

#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

using namespace hat;

namespace {

constexpr int kExitError = 1, kExitUsage = 2;

const char *const kUsage =
    "usage: hat-train --config CONFIG --stage STAGE [options]\n"
    "\n"
    "  --stage float|calibration|qat|int_infer|all\n"
    "                      stage to run (all: the four in order)\n"
    "  --set path=value    override a config value after evaluation\n"
    "                      (repeatable), e.g. --set "
    "float_trainer.num_epochs=2\n"
    "  --resume [CKPT]     continue an interrupted stage from CKPT (default\n"
    "                      {ckpt_dir}/{stage}-checkpoint-last.pth.tar)\n"
    "  --threads N         intra-op threads (default: all cores)\n"
    "  --seed N            seed for weight initialisation (default: the\n"
    "                      config's `seed`, else 0)\n"
    "\n"
    "exit codes: 0 success, 1 config/data/training error, 2 usage error\n";

int usage(const std::string &message) {
  std::cerr << "hat-train: error: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

struct Options {
  std::string config;
  std::vector<std::string> stages;
  std::vector<std::string> overrides;
  bool resume = false;
  std::string resumePath;
  int64_t threads = 0;
  int64_t seed = -1;
};

struct StageResult {
  std::string stage;
  std::vector<std::pair<std::string, double>> metrics;
  int64_t epochs = 0, steps = 0;
  double seconds = 0, imagesPerSecond = 0;
};

std::string numberText(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void writeAtomically(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp";
  bool ok;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    ok = bool(out);
  }
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    throw engine::EngineError("cannot write " + path);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    throw engine::EngineError("cannot write " + path + ": " + ec.message());
}

StageResult runStage(const Options &options, const std::string &stage) {
  auto stageStart = std::chrono::steady_clock::now();
  engine::RunContext &ctx = engine::runContext();
  setenv("HAT_TRAINING_STEP", stage.c_str(), 1);
  auto module = config::loadConfig(options.config, options.overrides);
  if (!module)
    throw engine::EngineError(module.error().str());
  ctx.stage = stage;
  ctx.config = *module;
  ctx.configPath = options.config;

  const config::Value *ckptValue = (*module)->get("ckpt_dir");
  std::string ckptDir = ckptValue && ckptValue->isStr()
                            ? ckptValue->asStr()
                            : std::string("./tmp_models");
  engine::prepareCheckpointDir(ckptDir);
  ctx.logger->openJsonLog(ckptDir + "/" + stage + "-log.jsonl");

  if (options.seed >= 0) {
    ctx.seed = options.seed;
  } else if (const config::Value *seed = (*module)->get("seed");
             seed && seed->isInt()) {
    ctx.seed = seed->asInt();
  }
  at::manual_seed(ctx.seed);

  ctx.resumeFrom.clear();
  if (options.resume) {
    ctx.resumeFrom = options.resumePath.empty()
                         ? ckptDir + "/" + stage + "-checkpoint-last.pth.tar"
                         : options.resumePath;
  }

  std::string trainerName = stage + "_trainer";
  const config::Value *trainer = (*module)->get(trainerName);
  if (!trainer)
    throw engine::EngineError(options.config + ": the config defines no '" +
                              trainerName + "' for --stage " + stage);
  ctx.logger->info("stage " + stage + ": building " + trainerName + " from " +
                   options.config);
  engine::LoopPtr loop = engine::buildLoop(*trainer);
  ctx.logger->info("model: " + loop->model->kind() + ", " +
                   std::to_string(loop->model->executor().numSteps()) +
                   " ops, " +
                   std::to_string(loop->model->executor().parameters().size()) +
                   " parameter tensors");
  loop->fit();

  loop->model->saveIR(ckptDir + "/" + stage + "-model.mlir");

  StageResult result;
  result.stage = stage;
  result.metrics = loop->state().valMetrics;
  result.epochs = loop->state().epoch + (loop->dataLoader ? 1 : 0);
  result.steps = loop->state().globalStep;
  // The whole stage: building, converting, training and validating.
  result.seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - stageStart)
                       .count();
  result.imagesPerSecond = loop->imagesPerSecond;

  // NaN/Inf metrics are written as null (nlohmann's rule), never as 0.
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (auto &[name, value] : result.metrics)
    metrics[name] = value;
  nlohmann::ordered_json json = {{"stage", stage},
                                 {"metrics", metrics},
                                 {"epochs", result.epochs},
                                 {"steps", result.steps},
                                 {"wall_time_s", result.seconds},
                                 {"images_per_sec", result.imagesPerSecond},
                                 {"model", stage + "-model.mlir"}};
  writeAtomically(
      ckptDir + "/" + stage + "-metrics.json",
      json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n");

  std::string line = stage + ":";
  for (auto &[k, v] : result.metrics)
    line += " " + k + "=" + numberText(v);
  line += " (" + std::to_string(result.steps) + " steps, " +
          std::to_string((int64_t)result.seconds) + " s, " +
          std::to_string((int64_t)result.imagesPerSecond) + " images/s)";
  std::cout << line << std::endl;
  return result;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  std::string stage;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string &name) -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument("'" + name + "' needs a value");
      return argv[++i];
    };
    try {
      if (arg == "-h" || arg == "--help") {
        std::cout << kUsage;
        return 0;
      } else if (arg == "--config" || arg == "-c") {
        options.config = value(arg);
      } else if (arg == "--stage") {
        stage = value(arg);
      } else if (arg == "--set") {
        options.overrides.push_back(value(arg));
      } else if (arg.rfind("--set=", 0) == 0) {
        options.overrides.push_back(arg.substr(6));
      } else if (arg == "--resume") {
        options.resume = true;
        if (i + 1 < argc && argv[i + 1][0] != '-')
          options.resumePath = argv[++i];
      } else if (arg == "--threads" || arg == "--seed") {
        std::string text = value(arg);
        std::optional<uint64_t> n = hat::parseCount(text);
        if (!n || (arg == "--threads" && (*n < 1 || *n > 1024)) ||
            *n > (uint64_t)INT64_MAX)
          return usage(
              arg + " needs a " +
              (arg == "--threads" ? "thread count" : "non-negative integer") +
              ", got '" + text + "'");
        (arg == "--threads" ? options.threads : options.seed) = (int64_t)*n;
      } else {
        return usage("unknown argument '" + arg + "'");
      }
    } catch (const std::exception &e) {
      return usage(e.what());
    }
  }
  if (options.config.empty())
    return usage("missing --config");
  if (stage == "all")
    options.stages = {"float", "calibration", "qat", "int_infer"};
  else if (stage == "float" || stage == "calibration" || stage == "qat" ||
           stage == "int_infer")
    options.stages = {stage};
  else
    return usage(stage.empty() ? "missing --stage"
                               : "unknown stage '" + stage + "'");
  if (options.resume && options.stages.size() > 1)
    return usage("--resume continues one stage; name it with --stage");

  int threads = options.threads > 0
                    ? options.threads
                    : (int)std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(threads);

  std::vector<StageResult> results;
  try {
    for (const std::string &s : options.stages)
      results.push_back(runStage(options, s));
  } catch (const std::exception &e) {
    engine::runContext().logger->progressEnd();
    std::cerr << "hat-train: error: " << e.what() << "\n";
    return kExitError;
  }
  if (results.size() > 1) {
    std::cout << "\nstage        metric         value   steps   time(s)\n";
    for (const StageResult &r : results)
      for (auto &[k, v] : r.metrics) {
        char line[160];
        std::snprintf(line, sizeof line, "%-12s %-12s %8.4f %7lld %9.0f\n",
                      r.stage.c_str(), k.c_str(), v, (long long)r.steps,
                      r.seconds);
        std::cout << line;
      }
  }
  return 0;
}
