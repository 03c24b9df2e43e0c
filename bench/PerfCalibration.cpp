//===- PerfCalibration.cpp - Estimates against board measurements --------===//
//
//   hat-perf-calibration [--configs DIR] [--models a,b] [--json FILE]
//                        [--activation-sram BYTES]
//
// Builds each reference model from the project's own config (its
// deploy_model at its deploy_inputs size) with random weights, quantizes it
// with placeholder scales (speed and memory do not depend on values),
// compiles it at -O3 for nash-m and nash-p with the config's
// compile_cfg.input_source (DDR without one) and prints the estimate next to
// the board figure from the public model cards, with the relative error and
// the parts of the peak DDR. --json writes per-layer figures for
// bench/fit_perf_model.py, which fits the march table's calibrated parameters
// (docs/bpu.md, "Calibration").
//
// Exit: 0 (it prints errors, it does not judge them), 1 on a config or
// compile failure, 2 on bad usage.
//
//===----------------------------------------------------------------------===//

#include "hat/BPU/BpuOps.h"
#include "hat/BPU/Compile.h"
#include "hat/BPU/March.h"
#include "hat/BPU/Passes.h"
#include "hat/Config/Config.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Models/Module.h"
#include "hat/Transforms/Passes.h"

#include "hat/Support/CommandLine.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

using namespace mlir;
namespace cl = llvm::cl;

#ifndef HAT_SOURCE_DIR
#define HAT_SOURCE_DIR "."
#endif

static cl::OptionCategory kToolOptions("hat-perf-calibration options");
static cl::opt<std::string>
    configsDir("configs", cl::desc("the project's configs/ directory"),
               cl::init(HAT_SOURCE_DIR "/configs"), cl::cat(kToolOptions));
static cl::opt<std::string>
    modelList("models", cl::desc("comma-separated subset of the models"),
              cl::init(""), cl::cat(kToolOptions));
static cl::opt<std::string>
    jsonFile("json", cl::desc("write per-layer figures for the fit here"),
             cl::init(""), cl::cat(kToolOptions));
static cl::opt<int64_t> activationSram(
    "activation-sram",
    cl::desc("SRAM bytes for on-chip activations (-1: the march table's; 0: "
             "every tensor through DDR), to compare residency assumptions"),
    cl::init(-1), cl::cat(kToolOptions));
static cl::opt<unsigned> seed("seed", cl::desc("weight initialisation seed"),
                              cl::init(0), cl::cat(kToolOptions));

namespace {

/// Board figures from Horizon's public model cards (HEAL, hbdk4 4.11;
/// latency = one BPU core, one thread; memory = peak DDR), as quoted in
/// issue 16 and /work/shared/docs/ANCHORS.md.
struct BoardFigure {
  const char *name;
  const char *config; // relative to --configs
  double nashMMs, nashPMs, nashMPeakDdrMB;
};

const BoardFigure kBoard[] = {
    {"efficientnet_b0", "classification/efficientnetb0_imagenet.py", 0.40, 0.35,
     8.9},
    {"mixvargenet", "classification/mixvargenet_imagenet.py", 0.36, 0.33, 6.4},
    {"resnet50", "classification/resnet50_imagenet.py", 0.90, 0.59, 28.8},
    {"fcos_effb3_bifpn", "detection/fcos_efficientnetb3_bifpn_896_deploy.py",
     3.90, 2.98, 30.9},
};

/// Every fake_quant gets a fixed scale: the compiled model's layers, shapes,
/// weight sizes and therefore its estimate do not depend on the values.
void assignPlaceholderScales(ModuleOp module) {
  module.walk([](hat::FakeQuantOp fq) {
    if (fq.isCalibrated())
      return;
    const float scale = fq.getAxis() ? 1.0f / 128 : 1.0f / 16;
    SmallVector<float> scales(size_t(fq.getNumChannels()), scale);
    fq.setScaleAttr(DenseF32ArrayAttr::get(fq.getContext(), scales));
  });
}

/// The input source the config deploys with: `compile_cfg.input_source`
/// (HAT writes one entry per input; the reference models have one), "ddr"
/// when the config has no compile_cfg.
FailureOr<std::string> configInputSource(const hat::config::Module &config,
                                         const std::string &path) {
  const hat::config::Value *compile = config.get("compile_cfg");
  if (!compile)
    return std::string("ddr");
  const hat::config::Value *source =
      compile->isDict() ? compile->asDict().find("input_source") : nullptr;
  if (!source)
    return std::string("ddr");
  if ((source->isList() || source->isTuple()) &&
      source->sequenceItems().size() == 1 &&
      source->sequenceItems()[0].isStr()) {
    const std::string s = source->sequenceItems()[0].asStr();
    if (s == "ddr" || s == "pyramid")
      return s;
  }
  llvm::errs() << path
               << ": error: compile_cfg input_source must be [\"ddr\"] or "
                  "[\"pyramid\"], got "
               << source->repr() << "\n";
  return failure();
}

struct ReferenceModel {
  OwningOpRef<ModuleOp> module;
  std::string inputSource;
};

/// The integer model of `board`'s config (deploy_model at deploy_inputs)
/// and the input source it deploys with.
FailureOr<ReferenceModel> buildIntegerModel(MLIRContext &context,
                                            const BoardFigure &board) {
  const std::string path = configsDir + "/" + board.config;
  auto config = hat::config::loadConfig(path, {});
  if (!config) {
    llvm::errs() << config.error().str();
    return failure();
  }
  const hat::config::Value *modelConfig = (*config)->get("deploy_model");
  const hat::config::Value *deployInputs = (*config)->get("deploy_inputs");
  if (!modelConfig || !deployInputs) {
    llvm::errs() << path << ": error: needs deploy_model and deploy_inputs\n";
    return failure();
  }
  auto inputSource = configInputSource(**config, path);
  if (failed(inputSource))
    return failure();
  auto inputs = hat::models::parseDeployInputs(*deployInputs);
  auto model = hat::models::buildModule(*modelConfig, "model");
  if (!inputs || !model) {
    llvm::errs() << (!inputs ? inputs.error() : model.error()).str();
    return failure();
  }
  hat::models::LoweringOptions lowering;
  lowering.seed = seed;
  auto lowered = hat::models::lowerModel(context, *model, *inputs, lowering);
  if (!lowered) {
    llvm::errs() << path << ": " << lowered.error().str();
    return failure();
  }
  OwningOpRef<ModuleOp> module = std::move(*lowered);
  PassManager toQat(&context, ModuleOp::getOperationName());
  toQat.addNestedPass<func::FuncOp>(hat::createHatFuseBN());
  toQat.addNestedPass<func::FuncOp>(hat::createHatFloat2QAT());
  if (failed(toQat.run(*module)))
    return failure();
  assignPlaceholderScales(*module);
  PassManager toInt(&context, ModuleOp::getOperationName());
  toInt.addNestedPass<func::FuncOp>(hat::createHatQAT2Quantize());
  if (failed(toInt.run(*module)))
    return failure();
  return ReferenceModel{std::move(module), *inputSource};
}

double percentError(double estimate, double board) {
  return 100.0 * (estimate - board) / board;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  hat::showOnlyToolOptions(kToolOptions);
  cl::ParseCommandLineOptions(
      argc, argv,
      "hat-perf-calibration: perf estimates against board measurements\n");
  std::vector<const BoardFigure *> selected;
  for (llvm::StringRef name : llvm::split(llvm::StringRef(modelList), ',')) {
    if (name.trim().empty())
      continue;
    const BoardFigure *found = nullptr;
    for (const BoardFigure &b : kBoard)
      if (name.trim() == b.name)
        found = &b;
    if (!found) {
      std::string known;
      for (const BoardFigure &b : kBoard)
        known += std::string(known.empty() ? "" : ", ") + b.name;
      llvm::errs() << "hat-perf-calibration: unknown model '" << name
                   << "' (known: " << known << ")\n";
      return 2;
    }
    selected.push_back(found);
  }
  if (selected.empty())
    for (const BoardFigure &b : kBoard)
      selected.push_back(&b);

  MLIRContext context;
  context
      .loadDialect<hat::HatDialect, hat::bpu::BpuDialect, func::FuncDialect>();
  hat::bpu::registerBpuPasses();
  nlohmann::json dump = nlohmann::json::array();
  llvm::outs() << "perf calibration: hat-compile -O3 estimate (input source "
                  "of each config) vs board (model cards, HEAL / hbdk4 "
                  "4.11)\n";
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%-16s %-7s %-7s %8s %9s %9s %8s %9s %9s %8s\n", "model",
                "march", "input", "GMACs", "est_ms", "board_ms", "err%",
                "ddr_MB", "board_MB", "err%");
  llvm::outs() << buf;
  double sumAbsLat = 0, maxAbsLat = 0, sumAbsDdr = 0, maxAbsDdr = 0;
  int nLat = 0, nDdr = 0;
  for (const BoardFigure *board : selected) {
    auto reference = buildIntegerModel(context, *board);
    if (failed(reference)) {
      llvm::errs() << "hat-perf-calibration: cannot build " << board->name
                   << "\n";
      return 1;
    }
    for (const char *marchName : {"nash-m", "nash-p"}) {
      OwningOpRef<ModuleOp> clone = reference->module->clone();
      hat::bpu::CompileOptions options;
      options.march = marchName;
      options.optLevel = 3;
      options.function = "forward";
      options.inputSource = reference->inputSource;
      options.activationSramBytes = activationSram;
      (*clone)->setAttr(hat::bpu::kOptLevelAttr,
                        Builder(&context).getI32IntegerAttr(3));
      PassManager pm(&context, ModuleOp::getOperationName());
      if (failed(hat::bpu::buildPipeline(pm, options)) ||
          failed(pm.run(*clone))) {
        llvm::errs() << "hat-perf-calibration: cannot compile " << board->name
                     << " for " << marchName << "\n";
        return 1;
      }
      auto hbm = hat::bpu::exportHbm(*clone);
      if (failed(hbm))
        return 1;
      const bool nashM = std::string(marchName) == "nash-m";
      const double estMs = hbm->perf.latencyUs / 1e3;
      const double boardMs = nashM ? board->nashMMs : board->nashPMs;
      const double latErr = percentError(estMs, boardMs);
      const double ddrMB = double(hbm->perf.peakDdrBytes) / 1e6;
      sumAbsLat += std::fabs(latErr), ++nLat;
      maxAbsLat = std::max(maxAbsLat, std::fabs(latErr));
      if (nashM) {
        const double ddrErr = percentError(ddrMB, board->nashMPeakDdrMB);
        sumAbsDdr += std::fabs(ddrErr), ++nDdr;
        maxAbsDdr = std::max(maxAbsDdr, std::fabs(ddrErr));
        std::snprintf(buf, sizeof buf,
                      "%-16s %-7s %-7s %8.3f %9.3f %9.3f %+7.1f%% %9.2f %9.2f "
                      "%+7.1f%%\n",
                      board->name, marchName, reference->inputSource.c_str(),
                      double(hbm->perf.macs) / 1e9, estMs, boardMs, latErr,
                      ddrMB, board->nashMPeakDdrMB, ddrErr);
      } else {
        std::snprintf(buf, sizeof buf,
                      "%-16s %-7s %-7s %8.3f %9.3f %9.3f %+7.1f%% %9.2f %9s "
                      "%8s\n",
                      board->name, marchName, reference->inputSource.c_str(),
                      double(hbm->perf.macs) / 1e9, estMs, boardMs, latErr,
                      ddrMB, "-", "-");
      }
      llvm::outs() << buf;
      std::snprintf(buf, sizeof buf,
                    "%-16s %-7s   peak DDR = weights %.2f + activations %.2f "
                    "+ I/O %.2f + runtime %.2f MB\n",
                    "", "", double(hbm->perf.weightBytes) / 1e6,
                    double(hbm->perf.ddrActivationBytes) / 1e6,
                    double(hbm->perf.ioBytes) / 1e6,
                    double(hbm->perf.runtimeBytes) / 1e6);
      llvm::outs() << buf;
      if (!jsonFile.empty()) {
        const hat::bpu::March &march = *hat::bpu::findMarch(marchName);
        nlohmann::json layers = nlohmann::json::array();
        for (size_t i = 0; i < hbm->layerPerf.size(); ++i) {
          const hat::hbm::LayerPerf &p = hbm->layerPerf[i];
          const bool mac = p.macs > 0;
          // Raw quantities, free of the fitted parameters: array or vector
          // cycles, DDR bytes, tiles.
          layers.push_back(
              {{"name", p.name},
               {"op", p.op},
               {"macs", p.macs},
               {"cycles", p.computeUs * march.clockMHz *
                              (mac ? march.macEfficiency : 1.0)},
               {"mac_array", mac},
               {"ddr_bytes", p.loadBytes + p.storeBytes},
               {"tiles", i < hbm->layers.size()
                             ? std::max<int64_t>(1, hbm->layers[i].tile.tiles)
                             : 1},
               {"reshape", p.op == "reshape"},
               {"inputs", i < hbm->layers.size() ? hbm->layers[i].inputs
                                                 : std::vector<int32_t>{}},
               {"output", i < hbm->layers.size() ? hbm->layers[i].output : -1},
               {"groups", i < hbm->layers.size() ? hbm->layers[i].groups : 1},
               {"weight",
                i < hbm->layers.size() ? hbm->layers[i].weight : -1}});
        }
        nlohmann::json tensors = nlohmann::json::array();
        for (const hat::hbm::TensorDesc &t : hbm->tensors)
          tensors.push_back({{"shape", t.shape},
                             {"bytes", t.bytes()},
                             {"arena_offset", t.arenaOffset}});
        nlohmann::json constants = nlohmann::json::array();
        for (const hat::hbm::Constant &c : hbm->constants)
          constants.push_back({{"shape", c.shape},
                               {"layout", c.layout},
                               {"groups", c.groups},
                               {"bytes", c.data.size()}});
        dump.push_back(
            {{"model", board->name},
             {"tensors", tensors},
             {"constants", constants},
             {"model_inputs", hbm->inputs},
             {"model_outputs", hbm->outputs},
             {"march", marchName},
             {"input_source", reference->inputSource},
             {"clock_mhz", march.clockMHz},
             {"ddr_bytes_per_us", march.ddrBytesPerUs()},
             {"board_ms", boardMs},
             {"estimate_ms", estMs},
             {"peak_ddr_mb", ddrMB},
             {"weight_bytes", hbm->perf.weightBytes},
             {"ddr_activation_bytes", hbm->perf.ddrActivationBytes},
             {"io_bytes", hbm->perf.ioBytes},
             {"runtime_bytes", hbm->perf.runtimeBytes},
             {"board_peak_ddr_mb",
              nashM ? nlohmann::json(board->nashMPeakDdrMB) : nlohmann::json()},
             {"arena_bytes", hbm->arenaBytes},
             {"layers", layers}});
      }
    }
  }
  std::snprintf(buf, sizeof buf,
                "latency |error|: mean %.1f%%, max %.1f%% over %d; peak DDR "
                "|error| (nash-m): mean %.1f%%, max %.1f%% over %d\n",
                nLat ? sumAbsLat / nLat : 0.0, maxAbsLat, nLat,
                nDdr ? sumAbsDdr / nDdr : 0.0, maxAbsDdr, nDdr);
  llvm::outs() << buf;
  if (!jsonFile.empty()) {
    std::ofstream out(jsonFile);
    out << dump.dump(1) << "\n";
    if (!out) {
      llvm::errs() << "hat-perf-calibration: cannot write " << jsonFile << "\n";
      return 1;
    }
  }
  return 0;
}
