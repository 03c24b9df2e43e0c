//===- hat-train.cpp - Train, calibrate, QAT and validate from a config ---===//
//
//   hat-train --config CONFIG --stage float|calibration|qat|int_infer|all
//             [--set path=value]... [--resume [CHECKPOINT]] [--threads N]
//             [--num-procs N | --dist-url tcp://HOST:PORT --world-size W
//              --rank R] [--dist-timeout SECONDS]
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
#include "hat/Data/Samplers.h"
#include "hat/Distributed/Distributed.h"
#include "hat/Engine/Engine.h"
#include "hat/Engine/TensorBoard.h"
#include "hat/Executor/CachingCpuAllocator.h"
#include "hat/Support/ParseNumber.h"
#include "hat/Support/ToolError.h"
#include "hat/Telemetry/RunReport.h"

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
#include <functional>
#include <iostream>
#include <thread>

using namespace hat;
namespace dist = hat::dist;

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
    "  --merge FILE        merge a config file into the config before the\n"
    "                      --set overrides (dicts merge key by key), e.g.\n"
    "                      the int16 qconfig of hat-quant-analysis --topk\n"
    "  --resume [CKPT]     continue an interrupted stage from CKPT (default\n"
    "                      {ckpt_dir}/{stage}-checkpoint-last.pth.tar)\n"
    "  --threads N         intra-op threads (default: all cores, divided\n"
    "                      among the ranks on this machine)\n"
    "  --seed N            seed for weight initialisation (default: the\n"
    "                      config's `seed`, else 0)\n"
    "\n"
    "data-parallel training (c10d, Gloo):\n"
    "  --num-procs N       N ranks on this machine (default: the config's\n"
    "                      len(device_ids))\n"
    "  --dist-url tcp://HOST:PORT --world-size W --rank R\n"
    "                      join a job whose store rank 0 hosts at HOST:PORT\n"
    "  --dist-timeout S    a rank silent for S seconds ends the job (60)\n"
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
  std::vector<std::string> merges;
  bool resume = false;
  std::string resumePath;
  int64_t threads = 0;
  int64_t seed = -1;
  // Data parallel: --num-procs (0: from device_ids), or one rank of a job.
  int64_t numProcs = 0;
  std::string distUrl;
  int64_t worldSize = 0, rank = -1;
  int64_t distTimeout = hat::dist::kDefaultTimeoutSeconds;
};

/// Parses a data-parallel option at argv[i]; false when `arg` is not one.
bool parseDistributedOption(Options &options, const std::string &arg,
                            const std::function<std::string()> &value) {
  if (arg == "--dist-url") {
    options.distUrl = value();
    if (!hat::dist::parseDistUrl(options.distUrl))
      throw std::invalid_argument("--dist-url needs tcp://HOST:PORT, got '" +
                                  options.distUrl + "'");
    return true;
  }
  int64_t *target = arg == "--num-procs"      ? &options.numProcs
                    : arg == "--world-size"   ? &options.worldSize
                    : arg == "--rank"         ? &options.rank
                    : arg == "--dist-timeout" ? &options.distTimeout
                                              : nullptr;
  if (!target)
    return false;
  std::string text = value();
  std::optional<uint64_t> n = hat::parseCount(text);
  bool positive = arg != "--rank";
  if (!n || *n > 65536 || (positive && *n < 1))
    throw std::invalid_argument(arg + " needs a" +
                                (positive ? " positive" : " non-negative") +
                                " integer, got '" + text + "'");
  *target = (int64_t)*n;
  return true;
}

/// The config's len(device_ids): HAT's number of ranks when the command
/// line names none. 1 when the config has none or does not evaluate (the
/// stage then reports the error).
int64_t deviceCount(const Options &options, const std::string &stage) {
  setenv("HAT_TRAINING_STEP", stage.c_str(), 1);
  auto module = config::loadConfig(options.config, options.overrides);
  if (!module)
    return 1;
  const config::Value *ids = (*module)->get("device_ids");
  if (ids && (ids->isList() || ids->isTuple()))
    return std::max<int64_t>(1, (int64_t)ids->sequenceItems().size());
  return 1;
}

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
  auto module = config::loadConfigWithMerges(options.config, options.merges,
                                             options.overrides);
  if (!module)
    throw engine::EngineError(module.error().str());
  ctx.stage = stage;
  ctx.config = *module;
  ctx.configPath = options.config;

  const config::Value *ckptValue = (*module)->get("ckpt_dir");
  std::string ckptDir = ckptValue && ckptValue->isStr()
                            ? ckptValue->asStr()
                            : std::string("./tmp_models");
  // Data parallel: only rank 0 writes files; log_rank_zero_only (HAT's
  // default) silences the other ranks' logs.
  dist::Context *distContext = dist::Context::get();
  const bool rankZero = !distContext || distContext->rank() == 0;
  if (distContext) {
    const config::Value *zeroOnly = (*module)->get("log_rank_zero_only");
    ctx.logger->setRank(distContext->rank(),
                        !zeroOnly || !zeroOnly->isBool() || zeroOnly->asBool());
  }
  // TensorBoard: one run directory per stage (tensorboard --logdir
  // {ckpt_dir}/tensorboard shows the stages side by side).
  const std::string eventDir = ckptDir + "/tensorboard/" + stage;
  ctx.logger->clearSinks();
  if (rankZero) {
    // Only rank 0 writes (and locks) the checkpoint directory.
    engine::prepareCheckpointDir(ckptDir);
    ctx.logger->openJsonLog(ckptDir + "/" + stage + "-log.jsonl");
    std::string error;
    if (auto sink = engine::makeTensorBoardSink(eventDir, error))
      ctx.logger->addSink(sink);
    else
      ctx.logger->warning("no TensorBoard events: " + error);
  }

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

  if (rankZero)
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
  if (!rankZero) {
    // The next stage reads what rank 0 wrote: wait until it is there.
    distContext->barrier();
    return result;
  }
  writeAtomically(
      ckptDir + "/" + stage + "-metrics.json",
      json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n");
  ctx.logger->clearSinks();

  telemetry::RunReportInput report;
  report.stage = stage;
  report.configPath = options.config;
  auto configJson = config::moduleToJson(**module);
  report.configJson = configJson ? *configJson : configJson.error().str();
  report.ckptDir = ckptDir;
  report.eventDirectory = eventDir;
  if (const config::Value *compile = (*module)->get("compile_cfg");
      compile && compile->isDict())
    if (const config::Value *hbm = compile->asDict().find("hbm");
        hbm && hbm->isStr())
      report.perfReport =
          std::filesystem::path(hbm->asStr()).replace_extension("").string() +
          ".perf.html";
  std::string reportPath = ckptDir + "/" + stage + "-report.html";
  if (std::string error = telemetry::writeRunReport(report, reportPath);
      !error.empty())
    ctx.logger->warning("no run report: " + error);
  else
    ctx.logger->info("run report: " + reportPath);
  if (distContext)
    distContext->barrier();

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
      } else if (arg == "--merge") {
        options.merges.push_back(value(arg));
      } else if (arg.rfind("--merge=", 0) == 0) {
        options.merges.push_back(arg.substr(8));
      } else if (arg.rfind("--set=", 0) == 0) {
        options.overrides.push_back(arg.substr(6));
      } else if (arg == "--resume") {
        options.resume = true;
        if (i + 1 < argc && argv[i + 1][0] != '-')
          options.resumePath = argv[++i];
      } else if (parseDistributedOption(options, arg,
                                        [&] { return value(arg); })) {
        continue;
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

  // Data parallel: start N local ranks, or join a job as one rank.
  bool joining = !options.distUrl.empty();
  if (joining && options.numProcs > 0)
    return usage("--num-procs starts a local job; --dist-url joins one: give "
                 "one of them");
  if (joining && (options.worldSize < 1 || options.rank < 0))
    return usage("--dist-url needs --world-size W and --rank R");
  if (!joining && (options.worldSize > 0 || options.rank >= 0))
    return usage("--world-size and --rank go with --dist-url");
  if (joining && options.rank >= options.worldSize)
    return usage("--rank " + std::to_string(options.rank) +
                 " is not below --world-size " +
                 std::to_string(options.worldSize));
  const auto timeout = std::chrono::milliseconds(options.distTimeout * 1000);
  if (!joining) {
    int64_t procs = options.numProcs > 0
                        ? options.numProcs
                        : deviceCount(options, options.stages.front());
    if (procs > 1) {
      dist::LocalJobOptions job;
      job.numProcs = (int)procs;
      job.timeout = timeout;
      for (int i = 0; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--num-procs") {
          ++i;
          continue;
        }
        job.argv.push_back(arg);
      }
      try {
        return dist::runLocalJob(job);
      } catch (const std::exception &e) {
        std::cerr << "hat-train: error: cannot start " << procs
                  << " ranks: " << e.what() << "\n";
        return kExitError;
      }
    }
  }
  dist::Context *distContext = nullptr;
  if (joining) {
    auto [host, port] = *dist::parseDistUrl(options.distUrl);
    dist::InitOptions init;
    init.host = host;
    init.port = port;
    init.rank = (int)options.rank;
    init.worldSize = (int)options.worldSize;
    init.timeout = timeout;
    init.storeHostedElsewhere = getenv("HAT_DIST_STORE_HOSTED") != nullptr;
    try {
      distContext = &dist::Context::init(init);
      data::setDistributedDefaults(init.rank, init.worldSize);
    } catch (const std::exception &e) {
      std::cerr << hat::toolErrorLine("hat-train", e.what()) << "\n";
      return kExitError;
    }
  }

  int cores = (int)std::max(1u, std::thread::hardware_concurrency());
  int threads =
      options.threads > 0
          ? options.threads
          : std::max(1,
                     cores / (distContext ? distContext->localWorldSize() : 1));
  at::set_num_threads(threads);
  // Steps reuse their activation and gradient buffers instead of faulting
  // fresh pages in every step (hat/Executor/CachingCpuAllocator.h).
  hat::executor::installCachingCpuAllocator();

  std::vector<StageResult> results;
  try {
    for (const std::string &s : options.stages)
      results.push_back(runStage(options, s));
  } catch (const std::exception &e) {
    engine::runContext().logger->progressEnd();
    std::string who =
        distContext ? "[rank " + std::to_string(distContext->rank()) + "] "
                    : "";
    std::cerr << hat::toolErrorLine("hat-train", who + e.what()) << "\n";
    if (!distContext)
      return kExitError;
    distContext->reportFailure(e.what());
    std::cerr.flush();
    // Gloo's threads may still wait on peers: no orderly teardown.
    std::_Exit(kExitError);
  }
  if (distContext) {
    try {
      distContext->finish();
    } catch (const std::exception &e) {
      std::cerr << "hat-train: error: [rank " << distContext->rank()
                << "] at the end of the job: " << e.what() << "\n";
      std::_Exit(kExitError);
    }
  }
  if (results.size() > 1 && (!distContext || distContext->rank() == 0)) {
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
