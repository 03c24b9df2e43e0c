//===- hat-config.cpp - Inspect HAT config files --------------------------===//
//
//   hat-config dump CONFIG [--set path=value]... [-o out.json]
//
// Subcommands are table-driven so that new ones (e.g. `lower`) slot in.
// Exit codes: 0 success, 1 config error, 2 usage error.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"

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
};

/// Parses CONFIG, --set (twice forms: `--set a=b`, `--set=a=b`) and -o.
bool parseConfigOptions(const std::vector<std::string> &args,
                        ConfigOptions &options, std::string &error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (arg == "--set" || arg == "-o" || arg == "--output") {
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
    std::cout << *json << "\n";
    return std::cout.good() ? 0 : kExitConfigError;
  }
  std::ofstream out(options.outputPath, std::ios::binary);
  out << *json << "\n";
  if (!out) {
    std::cerr << "hat-config: error: cannot write '" << options.outputPath
              << "'\n";
    return kExitConfigError;
  }
  return 0;
}

struct Subcommand {
  const char *name;
  int (*run)(const std::vector<std::string> &args);
};

const Subcommand kSubcommands[] = {
    {"dump", runDump},
};

} // namespace

int main(int argc, char **argv) {
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
