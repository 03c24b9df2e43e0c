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
//   hat-run model.hbm --config CONFIG [--loader val_data_loader]
//       [--set path=value]... [--threads N]
//
// evaluates the config's validation loader as the board would compute it:
// top-1 accuracy plus the TopKAccuracy metrics of int_infer_trainer's
// val_metrics, printed with hat-train's names ("accuracy", "top2", ...), so
// the two can be compared number for number.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"
#include "hat/Data/DataLoader.h"
#include "hat/Eval/Npy.h"
#include "hat/HBM/Report.h"
#include "hat/Runtime/Runtime.h"

#include <any>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <sys/stat.h>

namespace {

void usage() {
  std::cerr << "usage: hat-run model.hbm --input x.npy [--input ...] [-o DIR]"
               " [--compare ref.npy ...] [--threads N] [--repeat N] [--info]\n"
               "       hat-run model.hbm --config CONFIG [--loader NAME]"
               " [--set path=value]... [--threads N]\n";
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

/// The k of every TopKAccuracy in int_infer_trainer.val_metrics (top-1 is
/// always reported).
std::vector<int64_t> topKsFromConfig(const hat::config::Module &module) {
  std::vector<int64_t> ks;
  const hat::config::Value *trainer = module.get("int_infer_trainer");
  if (!trainer || !trainer->isDict())
    return ks;
  const hat::config::Value *metrics = trainer->asDict().find("val_metrics");
  if (!metrics)
    return ks;
  std::vector<hat::config::Value> items =
      metrics->isList() || metrics->isTuple()
          ? metrics->sequenceItems()
          : std::vector<hat::config::Value>{*metrics};
  for (const hat::config::Value &m : items) {
    if (!m.isDict())
      continue;
    const hat::config::Value *type = m.asDict().find("type");
    if (!type || !type->isStr() || type->asStr() != "TopKAccuracy")
      continue;
    const hat::config::Value *k = m.asDict().find("top_k");
    ks.push_back(k && k->isInt() ? k->asInt() : 5);
  }
  return ks;
}

/// Runs the session over a config's validation loader and prints accuracy.
int evaluateConfig(hat::runtime::Session &session, const std::string &path,
                   const std::vector<std::string> &overrides,
                   const std::string &loaderName) {
  auto module = hat::config::loadConfig(path, overrides);
  if (!module) {
    std::cerr << module.error().str();
    return 1;
  }
  const hat::config::Value *loaderConfig = (*module)->get(loaderName);
  if (!loaderConfig) {
    std::cerr << path << ": error: the config defines no '" << loaderName
              << "'\n";
    return 1;
  }
  auto built =
      hat::config::Registry::instance().build(*loaderConfig, "data_loader");
  if (!built) {
    std::cerr << built.error().str();
    return 1;
  }
  auto loader = std::any_cast<std::shared_ptr<hat::data::DataLoader>>(*built);
  std::vector<int64_t> ks = topKsFromConfig(**module);
  std::vector<int64_t> correct(ks.size() + 1, 0);
  int64_t total = 0;
  std::string error;
  hat::data::Batch batch;
  auto t0 = std::chrono::steady_clock::now();
  try {
    loader->startEpoch(0);
    while (loader->next(batch)) {
      hat::eval::Tensor images =
          hat::eval::Tensor::f32({batch.imageShape[0], batch.imageShape[1],
                                  batch.imageShape[2], batch.imageShape[3]});
      images.f = batch.images;
      std::vector<hat::eval::Tensor> outputs;
      if (!session.run({images}, outputs, error)) {
        std::cerr << "hat-run: " << error << "\n";
        return 1;
      }
      const hat::eval::Tensor &logits = outputs.at(0);
      if (logits.dtype != hat::eval::DType::F32 || logits.shape.size() != 2 ||
          logits.shape[0] != batch.size()) {
        std::cerr << "hat-run: the model's first output is not [N, classes] "
                     "float scores\n";
        return 1;
      }
      int64_t classes = logits.shape[1];
      for (int64_t n = 0; n < batch.size(); ++n) {
        const float *row = logits.f.data() + n * classes;
        float label = row[batch.labels[n]];
        // Rank of the label: how many classes score higher (ties resolved
        // towards the lower index, as argmax does).
        int64_t rank = 0;
        for (int64_t c = 0; c < classes; ++c)
          rank += row[c] > label || (row[c] == label && c < batch.labels[n]);
        correct[0] += rank == 0;
        for (size_t i = 0; i < ks.size(); ++i)
          correct[i + 1] += rank < ks[i];
      }
      total += batch.size();
    }
  } catch (const std::exception &e) {
    std::cerr << "hat-run: " << e.what() << "\n";
    return 1;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (total == 0) {
    std::cerr << "hat-run: the loader produced no samples\n";
    return 1;
  }
  char line[64];
  std::snprintf(line, sizeof line, "accuracy=%.9g",
                (double)correct[0] / (double)total);
  std::cout << line;
  for (size_t i = 0; i < ks.size(); ++i) {
    std::snprintf(line, sizeof line, " top%lld=%.9g", (long long)ks[i],
                  (double)correct[i + 1] / (double)total);
    std::cout << line;
  }
  std::cout << " (" << total << " images, " << (int64_t)(total / seconds)
            << " images/s, " << hat::runtime::isaName(session.isa()) << ", "
            << session.threads() << " threads)\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string modelPath, outDir, configPath;
  std::string loaderName = "val_data_loader";
  std::vector<std::string> overrides;
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
    else if (arg == "--config")
      value(configPath);
    else if (arg == "--set")
      value(v), overrides.push_back(v);
    else if (arg == "--loader")
      value(loaderName);
    else if (arg == "-h" || arg == "--help") {
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
    for (size_t o = 0; o < model.outputNames.size(); ++o)
      std::cout << "output #" << o << ": " << model.outputNames[o] << "\n";
    if (!model.postProcess.empty())
      std::cout << "post_process: " << model.postProcess << "\n";
    if (inputs.empty())
      return 0;
  }
  if (!configPath.empty()) {
    hat::runtime::Options options;
    options.threads = threads;
    auto session = hat::runtime::Session::create(std::move(model), options);
    return evaluateConfig(*session, configPath, overrides, loaderName);
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
  const std::vector<std::string> outputNames = model.outputNames;
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
    std::cout << "result #" << o;
    if (o < outputNames.size())
      std::cout << " (" << outputNames[o] << ")";
    std::cout << ": " << hat::eval::dtypeName(t.dtype) << " [";
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
