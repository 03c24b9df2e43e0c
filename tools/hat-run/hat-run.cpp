//===- hat-run.cpp - Run an HBM on the CPU, as the board would ------------===//
//
//   hat-run model.hbm --input x.npy [--input y.npy] [-o DIR]
//       [--compare ref0.npy [--compare ref1.npy]] [--threads N]
//       [--repeat N] [--profile] [--info]
//
// --repeat N runs the model N times after one untimed warm-up run and
// prints the mean time per run; --profile adds each layer's measured time
// per run and its CPU kernel (the warm-up run is not counted). Outputs are
// written as out_<i>.npy (the names hat-eval uses). --compare checks each
// output against a reference .npy bit for bit and exits 1 on any difference.
// Inputs may stack several model batches along dimension 0.
//
//   hat-run model.hbm --config CONFIG [--loader val_data_loader]
//       [--batch-processor val_batch_processor] [--set path=value]...
//       [--threads N]
//
//       [--dets-out dets.json] [--lanes-out DIR] [--visualize DIR [--max-images
//       N]
//        [--min-score S]] [--ann-file instances.json]
//
// evaluates the config's validation loader as the board would compute it
// (hat::inference): a classifier's top-1 accuracy plus the TopKAccuracy
// metrics of int_infer_trainer's val_metrics; a detector's (an HBM with a
// post_process) COCO numbers against the COCODetectionMetric ann_file of
// the config (or --ann-file), after the same CPU decoding as hat-train's
// predict path; a lane detector's (post_process GaNetDecoder) CULane F1,
// precision and recall with the options of the config's CulaneF1Score,
// against the stored lanes. Printed with hat-train's names ("accuracy", "top2",
// "mAP",
// ...), so the two can be compared number for number. The batch
// processor's batch_transforms (val_batch_processor unless
// --batch-processor names another) run on each batch first, as in
// hat-train's validation. --dets-out writes the COCO results, --visualize
// draws them (or a lane detector's lanes) on the stored images, and
// --lanes-out writes a lane detector's lanes as CULane .lines.txt files at
// the images' packed paths (what hat-culane-eval --pred-root reads).
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"
#include "hat/Data/ConfigBuild.h"
#include "hat/Data/DataLoader.h"
#include "hat/Detection/CocoJson.h"
#include "hat/Eval/Npy.h"
#include "hat/HBM/Report.h"
#include "hat/Inference/Evaluate.h"
#include "hat/Runtime/Runtime.h"
#include "hat/Support/ParseNumber.h"

#include <any>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <sys/stat.h>

namespace {

constexpr int64_t kMaxRepeat = 1'000'000;

void usage() {
  std::cerr << "usage: hat-run model.hbm --input x.npy [--input ...] [-o DIR]"
               " [--compare ref.npy ...] [--threads N] [--repeat N]"
               " [--profile] [--info]\n"
               "       hat-run model.hbm --config CONFIG [--loader NAME]"
               " [--batch-processor NAME] [--set path=value]... [--threads N]\n"
               "               [--dets-out dets.json] [--lanes-out DIR]"
               " [--visualize DIR]"
               " [--max-images N] [--min-score S] [--ann-file FILE]\n";
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

/// The metric dicts of `owner.key` with `type=typeName` (a metric dict or
/// a list of them), in order; none when the config lacks them.
std::vector<const hat::config::DictData *>
metricsOfType(const hat::config::Module &module, const char *owner,
              const char *key, const std::string &typeName) {
  std::vector<const hat::config::DictData *> found;
  const hat::config::Value *trainer = module.get(owner);
  if (!trainer || !trainer->isDict())
    return found;
  const hat::config::Value *metrics = trainer->asDict().find(key);
  if (!metrics)
    return found;
  const std::vector<hat::config::Value> items =
      metrics->isList() || metrics->isTuple()
          ? metrics->sequenceItems()
          : std::vector<hat::config::Value>{*metrics};
  for (const hat::config::Value &m : items) {
    if (!m.isDict())
      continue;
    const hat::config::Value *type = m.asDict().find("type");
    if (type && type->isStr() && type->asStr() == typeName)
      found.push_back(&m.asDict());
  }
  return found;
}

/// The k of every TopKAccuracy in int_infer_trainer.val_metrics (top-1 is
/// always reported).
std::vector<int64_t> topKsFromConfig(const hat::config::Module &module) {
  std::vector<int64_t> ks;
  for (const hat::config::DictData *m : metricsOfType(
           module, "int_infer_trainer", "val_metrics", "TopKAccuracy")) {
    const hat::config::Value *k = m->find("top_k");
    ks.push_back(k && k->isInt() ? k->asInt() : 5);
  }
  return ks;
}

/// The ann_file of the config's COCODetectionMetric: int_infer_predictor's
/// metrics first, then the trainers' val_metrics (empty when none).
std::string cocoAnnFileFromConfig(const hat::config::Module &module) {
  for (auto [owner, key] : {std::pair{"int_infer_predictor", "metrics"},
                            std::pair{"int_infer_trainer", "val_metrics"},
                            std::pair{"qat_trainer", "val_metrics"},
                            std::pair{"float_trainer", "val_metrics"}})
    for (const hat::config::DictData *m :
         metricsOfType(module, owner, key, "COCODetectionMetric"))
      if (const hat::config::Value *ann = m->find("ann_file");
          ann && ann->isStr())
        return ann->asStr();
  return {};
}

/// The CulaneF1Score of the config (the same places as the COCO metric),
/// parsed as the trainer's metric parses it; CULane's defaults when none.
hat::config::Expected<hat::inference::CulaneF1Spec>
culaneSpecFromConfig(const hat::config::Module &module) {
  for (auto [owner, key] : {std::pair{"int_infer_predictor", "metrics"},
                            std::pair{"int_infer_trainer", "val_metrics"},
                            std::pair{"qat_trainer", "val_metrics"},
                            std::pair{"float_trainer", "val_metrics"}})
    for (const hat::config::DictData *m :
         metricsOfType(module, owner, key, "CulaneF1Score"))
      return hat::inference::parseCulaneF1Score(
          hat::config::BuildArgs("CulaneF1Score", *m));
  return hat::inference::CulaneF1Spec{};
}

struct ConfigRun {
  std::string path, loaderName, annFile, detsOut, visualizeDir, lanesOut;
  /// Whose batch_transforms run on each batch; empty: val_batch_processor
  /// when the config has one.
  std::string batchProcessorName;
  std::vector<std::string> overrides;
  float minScore = 0.3f;
  int64_t maxImages = 50;
};

/// Runs the session over a config's validation loader and prints the
/// metrics hat-train prints for the same stage.
int evaluateConfig(hat::runtime::Session &session, const ConfigRun &run) {
  auto module = hat::config::loadConfig(run.path, run.overrides);
  if (!module) {
    std::cerr << module.error().str();
    return 1;
  }
  const hat::config::Value *loaderConfig = (*module)->get(run.loaderName);
  if (!loaderConfig) {
    std::cerr << run.path << ": error: the config defines no '"
              << run.loaderName << "'\n";
    return 1;
  }
  auto built =
      hat::config::Registry::instance().build(*loaderConfig, "data_loader");
  if (!built) {
    std::cerr << built.error().str();
    return 1;
  }
  auto loader = std::any_cast<std::shared_ptr<hat::data::DataLoader>>(*built);
  // The batch processor's batch_transforms (e.g. BgrToYuv444 to the BPU's
  // YUV444) run on each collated batch, as hat-train's validation does.
  const std::string processorName = run.batchProcessorName.empty()
                                        ? "val_batch_processor"
                                        : run.batchProcessorName;
  std::vector<hat::data::TransformPtr> batchTransforms;
  if (const hat::config::Value *processor = (*module)->get(processorName);
      processor && processor->isDict()) {
    if (const hat::config::Value *list =
            processor->asDict().find("batch_transforms")) {
      auto transforms = hat::data::buildBatchTransforms(*list);
      if (!transforms) {
        std::cerr << transforms.error().str();
        return 1;
      }
      batchTransforms = std::move(*transforms);
    }
  } else if (!run.batchProcessorName.empty()) {
    std::cerr << run.path << ": error: the config defines no batch processor '"
              << run.batchProcessorName << "'\n";
    return 1;
  }
  const std::string &postProcess = session.model().postProcess;
  std::vector<std::pair<std::string, double>> metrics;
  hat::inference::Throughput throughput;
  try {
    if (postProcess.empty()) {
      if (!run.detsOut.empty() || !run.visualizeDir.empty() ||
          !run.lanesOut.empty()) {
        std::cerr << "hat-run: --dets-out, --lanes-out and --visualize need "
                     "a detector (an HBM with a post_process)\n";
        return 2;
      }
      metrics = hat::inference::evaluateClassifier(session, *loader,
                                                   topKsFromConfig(**module),
                                                   run.loaderName, throughput);
    } else if (hat::lane::GaNetPostProcessor::typeOf(postProcess) ==
               "GaNetDecoder") {
      if (!run.detsOut.empty()) {
        std::cerr << "hat-run: --dets-out writes boxes; a lane detector has "
                     "none (--lanes-out writes its lanes)\n";
        return 2;
      }
      auto spec = culaneSpecFromConfig(**module);
      if (!spec) {
        std::cerr << spec.error().str();
        return 1;
      }
      auto postProcessor = hat::lane::GaNetPostProcessor::fromJson(postProcess);
      hat::lane::CulaneF1Score score(spec->options);
      hat::inference::LanePredictions lanes;
      hat::inference::evaluateLaneDetector(session, postProcessor, *loader,
                                           score, throughput, batchTransforms,
                                           &lanes);
      metrics = hat::inference::culaneFigures(score.get(), spec->name);
      const hat::data::Dataset &dataset = *loader->options().dataset;
      if (!run.lanesOut.empty())
        std::cout << "wrote "
                  << hat::inference::writeLaneFiles(dataset, lanes,
                                                    run.lanesOut)
                  << " .lines.txt files into " << run.lanesOut << "\n";
      if (!run.visualizeDir.empty())
        std::cout << "drew "
                  << hat::inference::writeLaneImages(
                         dataset, lanes, run.visualizeDir, run.maxImages)
                  << " images into " << run.visualizeDir << "\n";
    } else {
      std::string annFile =
          run.annFile.empty() ? cocoAnnFileFromConfig(**module) : run.annFile;
      if (annFile.empty()) {
        std::cerr << run.path
                  << ": error: no COCODetectionMetric(ann_file=...) in "
                     "int_infer_predictor or the trainers; give --ann-file\n";
        return 1;
      }
      auto postProcessor =
          hat::detection::DetectionPostProcessor::fromJson(postProcess);
      hat::detection::CocoAccumulator accumulator(annFile);
      hat::inference::evaluateDetector(session, postProcessor, *loader,
                                       accumulator, throughput,
                                       batchTransforms);
      metrics = accumulator.metrics();
      if (!run.detsOut.empty()) {
        hat::detection::writeCocoDetections(run.detsOut, accumulator.results());
        std::cout << "wrote " << accumulator.results().size()
                  << " detections of " << accumulator.imageIds().size()
                  << " images to " << run.detsOut << "\n";
      }
      if (!run.visualizeDir.empty()) {
        size_t n = hat::inference::writeDetectionImages(
            *loader->options().dataset, accumulator.imageDetections(),
            run.visualizeDir, run.minScore, run.maxImages);
        std::cout << "drew " << n << " images into " << run.visualizeDir
                  << "\n";
      }
    }
  } catch (const std::exception &e) {
    std::cerr << "hat-run: " << e.what() << "\n";
    return 1;
  }
  char line[96];
  for (size_t i = 0; i < metrics.size(); ++i) {
    std::snprintf(line, sizeof line, "%s%s=%.9g", i ? " " : "",
                  metrics[i].first.c_str(), metrics[i].second);
    std::cout << line;
  }
  std::cout << " (" << throughput.images << " images, "
            << (int64_t)(throughput.images / std::max(throughput.seconds, 1e-9))
            << " images/s, " << hat::runtime::isaName(session.isa()) << ", "
            << session.threads() << " threads)\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string modelPath, outDir;
  ConfigRun configRun;
  configRun.loaderName = "val_data_loader";
  std::vector<std::string> inputs, compares;
  int threads = 0, repeat = 1;
  bool info = false, profile = false;
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
    else if (arg == "--threads" || arg == "--repeat") {
      value(v);
      // --threads 0 means every core; --repeat is bounded so a typo cannot
      // keep the machine busy for days.
      const int64_t lo = arg == "--threads" ? 0 : 1;
      const int64_t hi =
          arg == "--threads" ? hat::runtime::kMaxThreads : kMaxRepeat;
      std::optional<int64_t> n = hat::parseInteger(v, lo, hi);
      if (!n) {
        std::cerr << "hat-run: " << hat::badIntegerMessage(arg, v, lo, hi)
                  << "\n";
        return 2;
      }
      (arg == "--threads" ? threads : repeat) = int(*n);
    } else if (arg == "--info")
      info = true;
    else if (arg == "--profile")
      profile = true;
    else if (arg == "--config")
      value(configRun.path);
    else if (arg == "--set")
      value(v), configRun.overrides.push_back(v);
    else if (arg == "--loader")
      value(configRun.loaderName);
    else if (arg == "--batch-processor")
      value(configRun.batchProcessorName);
    else if (arg == "--lanes-out")
      value(configRun.lanesOut);
    else if (arg == "--dets-out")
      value(configRun.detsOut);
    else if (arg == "--visualize")
      value(configRun.visualizeDir);
    else if (arg == "--ann-file")
      value(configRun.annFile);
    else if (arg == "--max-images") {
      value(v);
      std::optional<int64_t> n = hat::parseInteger(v, 0, kMaxRepeat);
      if (!n) {
        std::cerr << "hat-run: "
                  << hat::badIntegerMessage(arg, v, 0, kMaxRepeat) << "\n";
        return 2;
      }
      configRun.maxImages = *n;
    } else if (arg == "--min-score") {
      value(v);
      std::optional<double> x = hat::parseDouble(v, 0.0, 1.0);
      if (!x) {
        std::cerr << "hat-run: --min-score takes a number in [0, 1], got '" << v
                  << "'\n";
        return 2;
      }
      configRun.minScore = static_cast<float>(*x);
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
    for (size_t o = 0; o < model.outputNames.size(); ++o)
      std::cout << "output #" << o << ": " << model.outputNames[o] << "\n";
    for (const hat::hbm::TensorDesc &t : model.tensors)
      if (t.constant >= 0)
        std::cout << "constant tensor " << t.name << " "
                  << hat::eval::dtypeName(t.dtype) << " " << t.numel()
                  << " elements\n";
    if (!model.postProcess.empty())
      std::cout << "post_process: " << model.postProcess << "\n";
    // Which CPU kernel each layer runs on here, and how many activations
    // stay NHWC between conv kernels (docs/bpu.md, "Runtime").
    hat::runtime::Options probe;
    probe.threads = 1;
    auto session = hat::runtime::Session::create(model, probe);
    std::map<std::string, int> kernels;
    for (size_t i = 0; i < model.layers.size(); ++i)
      ++kernels[session->layerKernel(i)];
    std::cout << "cpu kernels (" << hat::runtime::isaName(session->isa())
              << "):";
    for (const auto &[name, count] : kernels)
      std::cout << " " << name << " " << count;
    int nhwc = 0;
    for (size_t t = 0; t < model.tensors.size(); ++t)
      nhwc += session->tensorNhwc(t);
    std::cout << "; " << nhwc << " of " << model.tensors.size()
              << " tensors kept NHWC\n";
    if (inputs.empty())
      return 0;
  }
  if (configRun.path.empty() &&
      (!configRun.detsOut.empty() || !configRun.visualizeDir.empty() ||
       !configRun.annFile.empty() || !configRun.lanesOut.empty())) {
    std::cerr << "hat-run: --dets-out, --lanes-out, --visualize and "
                 "--ann-file need --config\n";
    return 2;
  }
  if (!configRun.path.empty()) {
    hat::runtime::Options options;
    options.threads = threads;
    options.profile = profile;
    auto session = hat::runtime::Session::create(std::move(model), options);
    const int status = evaluateConfig(*session, configRun);
    if (profile)
      std::cout << hat::runtime::layerProfileText(*session);
    return status;
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
  options.profile = profile;
  const std::vector<std::string> outputNames = model.outputNames;
  auto session = hat::runtime::Session::create(std::move(model), options);
  std::vector<hat::eval::Tensor> outputs;
  // With --repeat, one untimed warm-up run first: the first run sizes the
  // arena and the kernels' scratch buffers, which a timing should not
  // include.
  if (repeat > 1 && !session->run(args, outputs, error)) {
    std::cerr << "hat-run: " << error << "\n";
    return 1;
  }
  session->resetProfile();
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
    std::cout << "] sum=" << sum;
    // Integer outputs (dequant_output=False) come with the caller's scale.
    const hat::hbm::Model &compiled = session->model();
    const auto &scale = compiled.tensors[size_t(compiled.outputs[o])].scale;
    if (t.dtype != hat::eval::DType::F32 && scale.size() == 1)
      std::cout << " scale=" << scale[0];
    std::cout << "\n";
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
              << session->threads() << " threads"
              << (session->lastRunStreams() > 1
                      ? ", " + std::to_string(session->lastRunStreams()) +
                            " image streams"
                      : std::string())
              << ")\n";
  if (profile)
    std::cout << hat::runtime::layerProfileText(*session);
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
