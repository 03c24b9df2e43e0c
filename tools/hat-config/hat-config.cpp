//===- hat-config.cpp - Inspect HAT config files --------------------------===//
//
//   hat-config dump CONFIG [--set path=value]... [-o out.json]
//   hat-config lower CONFIG [--model deploy_model] [--input-shape 1,3,H,W]
//                    [--seed N] [--set path=value]... -o model.mlir
//   hat-config data CONFIG [--loader data_loader]
//                   [--batch-processor train_batch_processor] [--batches N]
//
// Subcommands are table-driven so that new ones (e.g. `lower`) slot in.
// Exit codes: 0 success, 1 config error, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"
#include "hat/Data/ConfigBuild.h"
#include "hat/Data/Error.h"
#include "hat/Dialect/HatDialect.h"
#include "hat/Models/Module.h"
#include "hat/Support/ParseNumber.h"
#include "hat/Support/ToolError.h"
#include "hat/Support/WriteFile.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace hat::config;

namespace {

constexpr int kExitConfigError = 1;
constexpr int kExitUsage = 2;

const char *const kUsage =
    "usage: hat-config <subcommand> [options]\n"
    "\n"
    "subcommands:\n"
    "  dump CONFIG [--set path=value]... [-o FILE]\n"
    "      Evaluate CONFIG and print its module-level variables as JSON.\n"
    "      --set overrides a value after evaluation (repeatable), e.g.\n"
    "      --set float_trainer.num_epochs=2 --set data_loader.batch_size=64\n"
    "  lower CONFIG [--model VAR] [--input-shape N,C,H,W] [--seed N]\n"
    "        [--emit-bytecode] [--set path=value]... -o FILE\n"
    "      Build the model dict VAR (default: deploy_model if the config has\n"
    "      one, else model) and write it as hat dialect IR, with inputs\n"
    "      shaped by deploy_inputs (or --input-shape).\n"
    "  data CONFIG [--loader VAR] [--batch-processor VAR] [--batches N]\n"
    "       [--set path=value]...\n"
    "      Build the data loader VAR (default data_loader), load N batches\n"
    "      (default 1) of epoch 0, run the batch_transforms of the batch\n"
    "      processor VAR if given, and print one JSON line per batch: shape,\n"
    "      colour spaces, boxes and lanes per image, lane points, channel\n"
    "      statistics.\n"
    "\n"
    "exit codes: 0 success, 1 config error, 2 usage error\n";

int usageError(const std::string &message) {
  std::cerr << "hat-config: error: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

/// Options shared by every subcommand that reads a config.
struct ConfigOptions {
  std::string configPath;
  std::vector<std::string> overrides;
  std::string outputPath;
  /// Subcommand-specific `--name value` options the caller allowed.
  std::vector<std::pair<std::string, std::string>> extra;
  std::vector<std::string> flags;
};

/// Parses CONFIG, --set (twice forms: `--set a=b`, `--set=a=b`) and -o.
bool parseConfigOptions(const std::vector<std::string> &args,
                        ConfigOptions &options, std::string &error,
                        const std::vector<std::string> &valueOptions = {},
                        const std::vector<std::string> &flagOptions = {}) {
  auto allowed = [](const std::vector<std::string> &names,
                    const std::string &arg) {
    for (const std::string &n : names)
      if (n == arg)
        return true;
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (allowed(flagOptions, arg)) {
      options.flags.push_back(arg);
    } else if (allowed(valueOptions, arg)) {
      if (i + 1 >= args.size()) {
        error = "'" + arg + "' needs a value";
        return false;
      }
      options.extra.emplace_back(arg, args[++i]);
    } else if (arg == "--set" || arg == "-o" || arg == "--output") {
      if (i + 1 >= args.size()) {
        error = "'" + arg + "' needs a value";
        return false;
      }
      (arg == "--set" ? options.overrides.push_back(args[++i])
                      : void(options.outputPath = args[++i]));
    } else if (arg.rfind("--set=", 0) == 0) {
      options.overrides.push_back(arg.substr(6));
    } else if (arg.rfind("--output=", 0) == 0) {
      options.outputPath = arg.substr(9);
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
      error = "unknown option '" + arg + "'";
      return false;
    } else if (options.configPath.empty()) {
      options.configPath = arg;
    } else {
      error = "unexpected argument '" + arg + "' (only one CONFIG)";
      return false;
    }
  }
  if (options.configPath.empty()) {
    error = "missing CONFIG";
    return false;
  }
  return true;
}

int runDump(const std::vector<std::string> &args) {
  ConfigOptions options;
  std::string error;
  if (!parseConfigOptions(args, options, error))
    return usageError(error);
  Expected<std::shared_ptr<Module>> module =
      loadConfig(options.configPath, options.overrides);
  if (!module) {
    std::cerr << module.error().str();
    return kExitConfigError;
  }
  Expected<std::string> json = moduleToJson(**module);
  if (!json) {
    std::cerr << json.error().str();
    return kExitConfigError;
  }
  if (options.outputPath.empty() || options.outputPath == "-") {
    std::cout << *json << "\n" << std::flush;
    if (!std::cout) {
      std::cerr << "hat-config: error: cannot write to stdout\n";
      return kExitConfigError;
    }
    return 0;
  }
  // Atomic: a full disk leaves the old file (or none), never a truncated one.
  std::string failure =
      hat::writeFileAtomically(options.outputPath, *json + "\n");
  if (!failure.empty()) {
    std::cerr << "hat-config: error: cannot write '" << options.outputPath
              << "': " << failure << "\n";
    return kExitConfigError;
  }
  return 0;
}

std::string extraOption(const ConfigOptions &options, const std::string &name,
                        const std::string &fallback) {
  std::string value = fallback;
  for (auto &[n, v] : options.extra)
    if (n == name)
      value = v;
  return value;
}

int runLower(const std::vector<std::string> &args) {
  ConfigOptions options;
  std::string error;
  if (!parseConfigOptions(args, options, error,
                          {"--model", "--input-shape", "--seed"},
                          {"--emit-bytecode"}))
    return usageError(error);
  if (options.outputPath.empty())
    return usageError("lower needs -o FILE (use -o - for stdout)");
  Expected<std::shared_ptr<Module>> module =
      loadConfig(options.configPath, options.overrides);
  if (!module) {
    std::cerr << module.error().str();
    return kExitConfigError;
  }
  std::string variable = extraOption(options, "--model", "");
  if (variable.empty())
    variable = (*module)->get("deploy_model") ? "deploy_model" : "model";
  const Value *modelConfig = (*module)->get(variable);
  if (!modelConfig) {
    std::cerr << options.configPath << ": error: the config defines no '"
              << variable << "'\n";
    return kExitConfigError;
  }

  std::vector<std::pair<std::string, std::vector<int64_t>>> inputs;
  std::string shapeText = extraOption(options, "--input-shape", "");
  if (!shapeText.empty()) {
    std::vector<int64_t> shape;
    size_t pos = 0;
    while (pos <= shapeText.size()) {
      size_t comma = shapeText.find(',', pos);
      std::string dim = shapeText.substr(pos, comma - pos);
      // Dimensions beyond 2^20 are refused here rather than overflowing the
      // element count later.
      std::optional<int64_t> v = hat::parseInteger(dim, 1, int64_t(1) << 20);
      if (!v)
        return usageError("--input-shape must be positive integers up to "
                          "1048576 like 1,3,224,224, got '" +
                          shapeText + "'");
      shape.push_back(*v);
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    inputs.emplace_back("img", shape);
  } else {
    const Value *deployInputs = (*module)->get("deploy_inputs");
    if (!deployInputs) {
      std::cerr << options.configPath
                << ": error: the config has no deploy_inputs; pass "
                   "--input-shape N,C,H,W\n";
      return kExitConfigError;
    }
    auto parsed = hat::models::parseDeployInputs(*deployInputs);
    if (!parsed) {
      std::cerr << parsed.error().str();
      return kExitConfigError;
    }
    inputs = *parsed;
  }

  auto model = hat::models::buildModule(*modelConfig, "model");
  if (!model) {
    std::cerr << model.error().str();
    return kExitConfigError;
  }
  mlir::MLIRContext context;
  hat::models::LoweringOptions lowering;
  std::string seedText = extraOption(options, "--seed", "0");
  std::optional<uint64_t> seed = hat::parseCount(seedText);
  if (!seed)
    return usageError("--seed must be a non-negative integer, got '" +
                      seedText + "'");
  lowering.seed = *seed;
  auto ir = hat::models::lowerModel(context, *model, inputs, lowering);
  if (!ir) {
    Diagnostic d = ir.error();
    if (d.file.empty())
      d.file = options.configPath;
    std::cerr << d.str();
    return kExitConfigError;
  }
  // llvm::writeToOutput writes a temporary file and renames it: a failed
  // run never leaves a truncated model behind.
  bool bytecode = !options.flags.empty();
  llvm::Error written = llvm::writeToOutput(
      options.outputPath, [&](llvm::raw_ostream &os) -> llvm::Error {
        if (bytecode)
          return mlir::failed(mlir::writeBytecodeToFile(**ir, os))
                     ? llvm::createStringError(std::errc::io_error,
                                               "cannot write bytecode")
                     : llvm::Error::success();
        (*ir)->print(os);
        return llvm::Error::success();
      });
  if (written) {
    std::cerr << "hat-config: error: cannot write '" << options.outputPath
              << "': " << llvm::toString(std::move(written)) << "\n";
    return kExitConfigError;
  }
  return 0;
}

int runData(const std::vector<std::string> &args) {
  ConfigOptions options;
  std::string error;
  if (!parseConfigOptions(args, options, error,
                          {"--loader", "--batch-processor", "--batches"}))
    return usageError(error);
  if (!options.outputPath.empty())
    return usageError("data prints to stdout; it takes no -o");
  std::string batchesText = extraOption(options, "--batches", "1");
  std::optional<int64_t> batches =
      hat::parseInteger(batchesText, 1, int64_t(1) << 30);
  if (!batches)
    return usageError("--batches must be a positive integer, got '" +
                      batchesText + "'");
  Expected<std::shared_ptr<Module>> module =
      loadConfig(options.configPath, options.overrides);
  if (!module) {
    std::cerr << module.error().str();
    return kExitConfigError;
  }
  auto variable = [&](const std::string &name) -> const Value * {
    const Value *value = (*module)->get(name);
    if (!value)
      std::cerr << options.configPath << ": error: the config defines no '"
                << name << "'\n";
    return value;
  };
  const Value *loaderConfig =
      variable(extraOption(options, "--loader", "data_loader"));
  if (!loaderConfig)
    return kExitConfigError;
  std::vector<hat::data::TransformPtr> batchTransforms;
  std::string processorName = extraOption(options, "--batch-processor", "");
  if (!processorName.empty()) {
    const Value *processor = variable(processorName);
    if (!processor)
      return kExitConfigError;
    if (!processor->isDict()) {
      std::cerr << options.configPath << ": error: '" << processorName
                << "' is not a batch processor dict\n";
      return kExitConfigError;
    }
    const Value *list = processor->asDict().find("batch_transforms");
    Expected<std::vector<hat::data::TransformPtr>> built =
        hat::data::buildBatchTransforms(list ? *list : Value());
    if (!built) {
      Diagnostic d = built.error();
      if (d.file.empty())
        d.file = options.configPath;
      std::cerr << d.str();
      return kExitConfigError;
    }
    batchTransforms = std::move(*built);
  }
  Expected<std::any> built =
      Registry::instance().build(*loaderConfig, "data_loader");
  if (!built) {
    std::cerr << built.error().str();
    return kExitConfigError;
  }
  auto loader = std::any_cast<std::shared_ptr<hat::data::DataLoader>>(*built);
  try {
    loader->startEpoch(0);
    hat::data::Batch batch;
    for (int64_t i = 0; i < *batches && loader->next(batch); ++i) {
      try {
        hat::data::applyBatchTransforms(batchTransforms, batch);
      } catch (const std::invalid_argument &error) {
        std::cerr << options.configPath << ": error: batch_transforms of '"
                  << processorName << "': " << error.what() << "\n";
        return kExitConfigError;
      }
      std::cout << hat::data::batchSummaryJson(batch) << "\n";
    }
  } catch (const hat::data::DataError &error) {
    std::cerr << "hat-config: error: " << error.what() << "\n";
    return kExitConfigError;
  } catch (const std::invalid_argument &error) {
    std::cerr << options.configPath << ": error: " << error.what() << "\n";
    return kExitConfigError;
  }
  std::cout << std::flush;
  return std::cout ? 0 : kExitConfigError;
}

struct Subcommand {
  const char *name;
  int (*run)(const std::vector<std::string> &args);
};

const Subcommand kSubcommands[] = {
    {"dump", runDump},
    {"lower", runLower},
    {"data", runData},
};

} // namespace

int runTool(int argc, char **argv) {
  if (argc < 2)
    return usageError("missing subcommand");
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Subcommand &subcommand : kSubcommands)
    if (name == subcommand.name)
      return subcommand.run(args);
  std::string known;
  for (const Subcommand &subcommand : kSubcommands)
    known += std::string(known.empty() ? "" : ", ") + subcommand.name;
  return usageError("unknown subcommand '" + name + "' (known: " + known + ")");
}

int main(int argc, char **argv) {
  hat::reportFileSizeLimitAsError();
  try {
    return runTool(argc, argv);
  } catch (const std::bad_alloc &) {
    std::cerr << "hat-config: error: out of memory (is a size in the config "
                 "far too large?)\n";
  } catch (const std::exception &error) {
    std::cerr << hat::toolErrorLine("hat-config", error.what()) << "\n";
  }
  return kExitConfigError;
}
