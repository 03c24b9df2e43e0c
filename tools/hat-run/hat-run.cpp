//===- hat-run.cpp - Run an HBM on the CPU, as the board would ------------===//
//
//   hat-run model.hbm --input x.npy [--input y.npy] [-o DIR]
//       [--compare ref0.npy [--compare ref1.npy]] [--threads N]
//       [--repeat N] [--info]
//
// Outputs are written as out_<i>.npy (the names hat-eval uses). --compare
// checks each output against a reference .npy bit for bit and exits 1 on any
// difference. Inputs may stack several model batches along dimension 0.
//
// Planned: `hat-run model.hbm --config CONFIG` evaluating the config's
// validation set and metrics (needs the Config/Data/Metrics areas); the
// runtime API (hat/Runtime/Runtime.h) is what that will call per batch.
//
//===----------------------------------------------------------------------===//

#include "hat/Eval/Npy.h"
#include "hat/HBM/Report.h"
#include "hat/Runtime/Runtime.h"

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <sys/stat.h>

namespace {

void usage() {
  std::cerr << "usage: hat-run model.hbm --input x.npy [--input ...] [-o DIR]"
               " [--compare ref.npy ...] [--threads N] [--repeat N] [--info]\n";
}

bool sameBits(const hat::eval::Tensor &a, const hat::eval::Tensor &b,
              std::string &why) {
  if (a.dtype != b.dtype || a.shape != b.shape) {
    why = "dtype or shape differs";
    return false;
  }
  if (a.dtype == hat::eval::DType::F32) {
    for (size_t k = 0; k < a.f.size(); ++k)
      if (std::memcmp(&a.f[k], &b.f[k], sizeof(float)) != 0) {
        why = "element " + std::to_string(k) + ": " + std::to_string(a.f[k]) +
              " vs " + std::to_string(b.f[k]);
        return false;
      }
  } else if (a.i != b.i) {
    why = "integer values differ";
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  std::string modelPath, outDir;
  std::vector<std::string> inputs, compares;
  int threads = 0, repeat = 1;
  bool info = false;
  for (int a = 1; a < argc; ++a) {
    std::string arg = argv[a];
    auto value = [&](std::string &dst) {
      if (a + 1 >= argc) {
        std::cerr << "hat-run: " << arg << " needs a value\n";
        std::exit(2);
      }
      dst = argv[++a];
    };
    std::string v;
    if (arg == "--input")
      value(v), inputs.push_back(v);
    else if (arg == "--compare")
      value(v), compares.push_back(v);
    else if (arg == "-o")
      value(outDir);
    else if (arg == "--threads")
      value(v), threads = std::atoi(v.c_str());
    else if (arg == "--repeat")
      value(v), repeat = std::max(1, std::atoi(v.c_str()));
    else if (arg == "--info")
      info = true;
    else if (arg == "--config") {
      std::cerr << "hat-run: --config is not available yet (needs the config "
                   "and data areas); use --input\n";
      return 2;
    } else if (arg == "-h" || arg == "--help") {
      usage();
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "hat-run: unknown option " << arg << "\n";
      usage();
      return 2;
    } else if (modelPath.empty())
      modelPath = arg;
    else {
      usage();
      return 2;
    }
  }
  if (modelPath.empty()) {
    usage();
    return 2;
  }
  hat::hbm::Model model;
  std::string error;
  if (!hat::hbm::readFile(modelPath, model, error)) {
    std::cerr << "hat-run: " << error << "\n";
    return 1;
  }
  if (info) {
    std::cout << modelPath << ": HBM v" << model.version << ", march "
              << model.march << ", -O" << model.optLevel << ", "
              << model.layers.size() << " layers, arena " << model.arenaBytes
              << " bytes\n"
              << hat::hbm::perfSummaryText(model);
    if (inputs.empty())
      return 0;
  }
  if (inputs.empty()) {
    usage();
    return 2;
  }
  std::vector<hat::eval::Tensor> args(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!hat::eval::readNpy(inputs[i], args[i], error)) {
      std::cerr << "hat-run: " << error << "\n";
      return 1;
    }
  hat::runtime::Options options;
  options.threads = threads;
  auto session = hat::runtime::Session::create(std::move(model), options);
  std::vector<hat::eval::Tensor> outputs;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; ++r)
    if (!session->run(args, outputs, error)) {
      std::cerr << "hat-run: " << error << "\n";
      return 1;
    }
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
  for (size_t o = 0; o < outputs.size(); ++o) {
    const hat::eval::Tensor &t = outputs[o];
    std::cout << "result #" << o << ": " << hat::eval::dtypeName(t.dtype)
              << " [";
    for (size_t d = 0; d < t.shape.size(); ++d)
      std::cout << (d ? ", " : "") << t.shape[d];
    double sum = 0;
    for (int64_t k = 0; k < t.numel(); ++k)
      sum += t.dtype == hat::eval::DType::F32 ? t.f[size_t(k)] : t.i[size_t(k)];
    std::cout << "] sum=" << sum << "\n";
    if (!outDir.empty()) {
      mkdir(outDir.c_str(), 0755);
      if (!hat::eval::writeNpy(outDir + "/out_" + std::to_string(o) + ".npy", t,
                               error)) {
        std::cerr << "hat-run: " << error << "\n";
        return 1;
      }
    }
  }
  if (repeat > 1)
    std::cout << "time: " << ms / repeat << " ms per run ("
              << hat::runtime::isaName(session->isa()) << ", "
              << session->threads() << " threads)\n";
  if (!compares.empty()) {
    if (compares.size() != outputs.size()) {
      std::cerr << "hat-run: " << compares.size() << " --compare files for "
                << outputs.size() << " outputs\n";
      return 2;
    }
    bool all = true;
    for (size_t o = 0; o < outputs.size(); ++o) {
      hat::eval::Tensor ref;
      if (!hat::eval::readNpy(compares[o], ref, error)) {
        std::cerr << "hat-run: " << error << "\n";
        return 1;
      }
      std::string why;
      if (sameBits(outputs[o], ref, why)) {
        std::cout << "output #" << o << ": bit-exact with " << compares[o]
                  << "\n";
      } else {
        std::cout << "output #" << o << ": DIFFERS from " << compares[o] << " ("
                  << why << ")\n";
        all = false;
      }
    }
    return all ? 0 : 1;
  }
  return 0;
}
