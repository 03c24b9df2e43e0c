//===- QuantAnalysis.cpp - Per-layer quantization debugging ---------------===//
//
// Layers are matched by name: NetBuilder gives every op a NameLoc with its
// module path, float2qat names each activation fake_quant after its unit's
// first op and qat2quantize gives each integer op the location of the float
// op it replaces. The analysis adds the layer values as extra function
// results (EngineModel::editIR), so the executor returns them with the
// model output and nothing in the executor knows about taps.
//
// No `using namespace mlir`: with ATen it makes ArrayRef ambiguous.
//
//===----------------------------------------------------------------------===//

#include "hat/Analysis/QuantAnalysis.h"

#include "hat/Config/Config.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/LayerName.h"
#include "hat/Engine/Builders.h"
#include "hat/Engine/Engine.h"
#include "hat/Metrics/Metrics.h"
#include "hat/Metrics/TensorValue.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <filesystem>
#include <map>

namespace hat::analysis {

using engine::EngineError;
using engine::EngineModel;
using engine::EngineModelPtr;

namespace {

/// The layer name of a location, "" when it has none.
std::string layerName(mlir::Location loc) {
  return layerNameOf(loc).value_or("");
}

std::string typeOf(const config::Value &dict) {
  if (!dict.isDict())
    return "";
  const config::Value *type = dict.asDict().find("type");
  if (!type)
    return "";
  if (type->isStr())
    return type->asStr();
  if (type->isSymbol()) {
    const std::string &n = type->symbolName();
    return n.substr(n.rfind('.') + 1);
  }
  return "";
}

const config::Value *dictGet(const config::Value &dict, const char *key) {
  return dict.isDict() ? dict.asDict().find(key) : nullptr;
}

/// The converters of a trainer's model_convert_pipeline (a pipeline dict
/// or a plain list).
std::vector<config::Value> converterConfigs(const config::Value &trainer) {
  const config::Value *pipeline = dictGet(trainer, "model_convert_pipeline");
  if (!pipeline || pipeline->isNone())
    return {};
  if (pipeline->isDict()) {
    const config::Value *converters = dictGet(*pipeline, "converters");
    return converters ? engine::asList(*converters)
                      : std::vector<config::Value>{};
  }
  return engine::asList(*pipeline);
}

/// What the analysis takes from the config.
struct ConfigParts {
  config::Value modelConfig;
  config::Value quantConverter; ///< a Float2QAT/Float2Calibration dict
  config::Value valLoader;
  /// Its batch processor: its batch_transforms run on each batch.
  config::Value valBatchProcessor;
  config::Value valMetrics;
  config::Value updateFunction; ///< may be None
  std::string ckptDir;
};

ConfigParts findConfigParts(const config::Module &module,
                            const std::string &path) {
  ConfigParts parts;
  const config::Value *ckpt = module.get("ckpt_dir");
  parts.ckptDir = ckpt && ckpt->isStr() ? ckpt->asStr() : "./tmp_models";
  // int_infer defines the integer model; qat and calibration quantize the
  // same way (the converter is read from the first that has one).
  for (const char *name :
       {"int_infer_trainer", "qat_trainer", "calibration_trainer"}) {
    const config::Value *trainer = module.get(name);
    if (!trainer || !trainer->isDict())
      continue;
    for (const config::Value &c : converterConfigs(*trainer)) {
      std::string type = typeOf(c);
      if (type == "Float2QAT" || type == "Float2Calibration") {
        parts.quantConverter = c;
        break;
      }
    }
    if (parts.quantConverter.isNone())
      continue;
    if (const config::Value *m = dictGet(*trainer, "model"))
      parts.modelConfig = *m;
    if (const config::Value *m = dictGet(*trainer, "val_metrics"))
      parts.valMetrics = *m;
    if (const config::Value *cbs = dictGet(*trainer, "callbacks"))
      for (const config::Value &cb : engine::asList(*cbs)) {
        if (typeOf(cb) != "Validation")
          continue;
        if (const config::Value *loader = dictGet(cb, "data_loader"))
          parts.valLoader = *loader;
        if (const config::Value *processor = dictGet(cb, "batch_processor"))
          parts.valBatchProcessor = *processor;
        if (const config::Value *inner = dictGet(cb, "callbacks"))
          for (const config::Value &u : engine::asList(*inner))
            if (typeOf(u) == "MetricUpdater")
              if (const config::Value *f = dictGet(u, "metric_update_func"))
                parts.updateFunction = *f;
        break;
      }
    break;
  }
  if (parts.quantConverter.isNone())
    throw EngineError(path + ": no Float2QAT or Float2Calibration converter "
                             "in int_infer_trainer, qat_trainer or "
                             "calibration_trainer: nothing says how the "
                             "model is quantized");
  if (parts.modelConfig.isNone()) {
    const config::Value *m = module.get("model");
    if (!m)
      throw EngineError(path + ": the config defines no model");
    parts.modelConfig = *m;
  }
  if (parts.valLoader.isNone())
    if (const config::Value *v = module.get("val_data_loader")) {
      parts.valLoader = *v;
      if (const config::Value *b = module.get("val_batch_processor"))
        parts.valBatchProcessor = *b;
    }
  if (parts.valLoader.isNone())
    throw EngineError(path + ": no validation data: neither a Validation "
                             "callback with a data_loader nor "
                             "val_data_loader");
  // Tutorial-style configs validate in the float, calibration and QAT
  // trainers; the int_infer trainer, which only converts, has no metrics.
  if (parts.valMetrics.isNone())
    for (const char *name :
         {"qat_trainer", "calibration_trainer", "float_trainer"}) {
      const config::Value *trainer = module.get(name);
      if (!trainer || !trainer->isDict())
        continue;
      if (const config::Value *m = dictGet(*trainer, "val_metrics")) {
        parts.valMetrics = *m;
        break;
      }
    }
  if (parts.valMetrics.isNone())
    throw EngineError(path + ": no val_metrics to rank layers by in "
                             "int_infer_trainer, qat_trainer, "
                             "calibration_trainer or float_trainer");
  return parts;
}

struct Batch {
  config::Value value; ///< {"img": ..., "labels": ...} as configs see it
  at::Tensor images;
};

/// An activation fake_quant of the fake-quant model.
struct LayerInfo {
  std::string name, op;
  int bits = 8;
  float scale = 0;
};

/// Appends `extra` to the function's results. The result attributes grow
/// with them (`setType`, not `setFunctionType`: a result attribute array
/// shorter than the results is read out of bounds), and when the model names
/// its outputs (`hat.name`, which every output of a multi-output model needs)
/// each tap is named too.
void appendResults(mlir::func::FuncOp func, llvm::ArrayRef<mlir::Value> extra) {
  auto ret =
      llvm::cast<mlir::func::ReturnOp>(func.getBody().front().getTerminator());
  llvm::SmallVector<mlir::Value> results(ret.getOperands());
  const unsigned before = results.size();
  bool named = false;
  for (unsigned i = 0; i < before; ++i)
    named |= bool(func.getResultAttr(i, "hat.name"));
  results.append(extra.begin(), extra.end());
  ret->setOperands(results);
  llvm::SmallVector<mlir::Type> types;
  for (mlir::Value v : results)
    types.push_back(v.getType());
  func.setType(mlir::FunctionType::get(func.getContext(),
                                       func.getArgumentTypes(), types));
  if (named)
    for (unsigned i = before; i < results.size(); ++i)
      func.setResultAttr(i, "hat.name",
                         mlir::StringAttr::get(func.getContext(),
                                               "quant_analysis.tap." +
                                                   std::to_string(i - before)));
}

/// Collects the named activation fake_quants (program order) and appends
/// their results to the function's results; returns them.
std::vector<LayerInfo> tapFakeQuants(mlir::func::FuncOp func) {
  std::vector<LayerInfo> layers;
  std::vector<mlir::Value> taps;
  llvm::StringMap<mlir::Operation *> firstOpOf;
  func.walk([&](mlir::Operation *op) {
    if (llvm::isa<FakeQuantOp, ParamOp>(op))
      return;
    std::string n = layerName(op->getLoc());
    if (!n.empty())
      firstOpOf.try_emplace(n, op);
  });
  func.walk([&](FakeQuantOp fq) {
    if (fq.getAxis())
      return; // a weight
    LayerInfo info;
    info.name = layerName(fq.getLoc());
    if (info.name.empty())
      info.name = "fake_quant." + std::to_string(layers.size());
    info.op = firstOpOf.count(info.name)
                  ? firstOpOf[info.name]->getName().getStringRef().str()
                  : std::string("input");
    info.bits = int(getQDTypeBits(fq.getDtype()));
    info.scale = fq.getScale() ? (*fq.getScale())[0] : 0.f;
    layers.push_back(info);
    taps.push_back(fq.getResult());
  });
  appendResults(func, taps);
  return layers;
}

/// Appends, for each layer name, the last integer-typed result of an op of
/// that name; returns the result index per layer (-1: not found).
std::vector<int> tapIntegerLayers(mlir::func::FuncOp func,
                                  const std::vector<LayerInfo> &layers) {
  llvm::StringMap<mlir::Value> last;
  func.walk([&](mlir::Operation *op) {
    if (llvm::isa<ParamOp>(op) || op->getNumResults() != 1)
      return;
    auto type =
        llvm::dyn_cast<mlir::RankedTensorType>(op->getResult(0).getType());
    if (!type || !type.getElementType().isSignlessInteger())
      return;
    std::string n = layerName(op->getLoc());
    if (!n.empty())
      last[n] = op->getResult(0);
  });
  auto ret =
      llvm::cast<mlir::func::ReturnOp>(func.getBody().front().getTerminator());
  llvm::SmallVector<mlir::Value> results(ret.getOperands());
  const int base = int(results.size());
  std::vector<int> index;
  for (const LayerInfo &l : layers) {
    auto it = last.find(l.name);
    if (it == last.end()) {
      index.push_back(-1);
      continue;
    }
    index.push_back(int(results.size()) - base);
    results.push_back(it->second);
  }
  appendResults(func, llvm::ArrayRef<mlir::Value>(results).drop_front(base));
  return index;
}

/// Keeps only layer `name`'s fake_quants (its output and the weights of its
/// ops); every other fake_quant is bypassed.
void keepOnlyLayer(mlir::func::FuncOp func, const std::string &name) {
  llvm::SmallVector<FakeQuantOp> drop;
  func.walk([&](FakeQuantOp fq) {
    bool keep = false;
    if (!fq.getAxis()) {
      keep = layerName(fq.getLoc()) == name;
    } else {
      for (mlir::Operation *user : fq->getUsers())
        keep |= layerName(user->getLoc()) == name;
    }
    if (!keep)
      drop.push_back(fq);
  });
  for (FakeQuantOp fq : drop) {
    fq.getResult().replaceAllUsesWith(fq.getInput());
    fq->erase();
  }
}

class ModelMetrics {
public:
  ModelMetrics(const config::Value &metricsConfig, config::Value update)
      : update(std::move(update)) {
    auto built = metrics::buildMetrics(metricsConfig);
    if (!built)
      throw EngineError(engine::diagnosticText(built.error()));
    list = *built;
    if (list.empty())
      throw EngineError("val_metrics is empty: nothing to rank layers by");
  }
  void reset() {
    for (auto &m : list)
      m->reset();
  }
  void add(const Batch &batch, const at::Tensor &preds) {
    config::Value out = metrics::tensorValue(preds);
    if (update.isFunction()) {
      std::vector<config::Value> ms;
      for (auto &m : list)
        ms.push_back(config::Value::host(m));
      engine::callConfigFunction(update,
                                 {config::Value::list(ms), batch.value, out},
                                 "metric_update_func");
      return;
    }
    const config::Value *labels = batch.value.asDict().find("labels");
    for (auto &m : list) {
      auto r = m->update({labels ? *labels : config::Value(), out});
      if (!r)
        throw EngineError(r.error().str());
    }
  }
  std::vector<std::pair<std::string, double>> values() const {
    std::vector<std::pair<std::string, double>> all;
    for (auto &m : list)
      for (auto &kv : m->get())
        all.push_back(kv);
    return all;
  }

private:
  std::vector<metrics::MetricPtr> list;
  config::Value update;
};

void addSimilarity(SimilarityAccumulator &acc, const at::Tensor &ref,
                   const at::Tensor &test) {
  at::Tensor r = ref.detach().to(at::kFloat).contiguous();
  at::Tensor t = test.detach().to(at::kFloat).contiguous();
  if (r.sizes() != t.sizes())
    throw EngineError("internal: compared tensors differ in shape");
  acc.add(r.data_ptr<float>(), t.data_ptr<float>(), size_t(r.numel()));
}

double primaryValue(const std::vector<std::pair<std::string, double>> &m) {
  return m.empty() ? 0 : m.front().second;
}

std::string defaultCheckpoint(const std::string &ckptDir,
                              const std::string &stage) {
  return ckptDir + "/" + stage + "-checkpoint-best.pth.tar";
}

} // namespace

AnalysisReport runQuantAnalysis(const AnalysisOptions &options) {
  auto start = std::chrono::steady_clock::now();
  at::NoGradGuard noGrad;
  if (options.quantStage != "qat" && options.quantStage != "calibration")
    throw EngineError("--quant-stage must be qat or calibration, got '" +
                      options.quantStage + "'");
  // Configs may branch on the stage; the integer model is int_infer's.
  setenv("HAT_TRAINING_STEP", "int_infer", 1);
  auto module = config::loadConfigWithMerges(options.configPath, options.merges,
                                             options.overrides);
  if (!module)
    throw EngineError(module.error().str());
  engine::RunContext &ctx = engine::runContext();
  ctx.stage = "int_infer";
  ctx.config = *module;
  ctx.configPath = options.configPath;
  ctx.seed = options.seed;
  if (const config::Value *seed = (*module)->get("seed"); seed && seed->isInt())
    ctx.seed = uint64_t(seed->asInt());
  at::manual_seed(ctx.seed);

  ConfigParts parts = findConfigParts(**module, options.configPath);
  AnalysisReport report;
  report.configPath = options.configPath;
  report.ckptDir = parts.ckptDir;
  report.quantStage = options.quantStage;
  report.cosineThreshold = options.cosineThreshold;
  report.floatCheckpoint = options.floatCheckpoint.empty()
                               ? defaultCheckpoint(parts.ckptDir, "float")
                               : options.floatCheckpoint;
  report.quantCheckpoint =
      options.quantCheckpoint.empty()
          ? defaultCheckpoint(parts.ckptDir, options.quantStage)
          : options.quantCheckpoint;

  auto quantize =
      engine::buildAs<engine::Converter>(parts.quantConverter, "converter");
  auto loadInto = [](EngineModel &model, const std::string &path) {
    engine::CheckpointData ck = engine::loadCheckpoint(path);
    model.loadStateDict(ck.model, path, /*strict=*/true);
  };

  // Float: the float checkpoint, converted the same way (BN folded, the
  // same fake_quant ops), fake quantization bypassed.
  EngineModelPtr floatModel = EngineModel::fromConfig(parts.modelConfig);
  // The comparison and the ranking feed one output tensor to the metric;
  // detectors need their outputs decoded first, which is not done here.
  if (floatModel->outputNames().size() > 1 || floatModel->postProcessor())
    throw EngineError(
        options.configPath + ": the model has " +
        std::to_string(floatModel->outputNames().size()) + " outputs" +
        (floatModel->postProcessor() ? " and a post-process" : "") +
        "; hat-quant-analysis compares and ranks single-output models only "
        "(detection and lane models are not supported yet)");
  loadInto(*floatModel, report.floatCheckpoint);
  quantize(*floatModel);
  floatModel->setFakeQuantMode(exec::FakeQuantMode::Float);
  floatModel->train(false);

  EngineModelPtr fakeModel = EngineModel::fromConfig(parts.modelConfig);
  quantize(*fakeModel);
  loadInto(*fakeModel, report.quantCheckpoint);
  fakeModel->setFakeQuantMode(exec::FakeQuantMode::QAT);
  fakeModel->train(false);

  EngineModelPtr intModel = EngineModel::fromConfig(parts.modelConfig);
  quantize(*intModel);
  loadInto(*intModel, report.quantCheckpoint);
  intModel->setFakeQuantMode(exec::FakeQuantMode::QAT);
  intModel->runPasses("func.func(hat-qat2quantize)", exec::FakeQuantMode::QAT);
  intModel->train(false);

  // The fake-quant IR (before taps) is the base of every sensitivity model.
  mlir::OwningOpRef<mlir::ModuleOp> baseModule;
  fakeModel->editIR(
      [&](mlir::func::FuncOp f) {
        baseModule = llvm::cast<mlir::ModuleOp>(f->getParentOp()).clone();
      },
      /*rebuild=*/false);

  std::vector<LayerInfo> layers;
  fakeModel->editIR([&](mlir::func::FuncOp f) { layers = tapFakeQuants(f); });
  {
    std::vector<LayerInfo> floatLayers;
    floatModel->editIR(
        [&](mlir::func::FuncOp f) { floatLayers = tapFakeQuants(f); });
    if (floatLayers.size() != layers.size())
      throw EngineError("internal: the float and fake-quant models have "
                        "different layers");
  }
  std::vector<int> intIndex;
  intModel->editIR(
      [&](mlir::func::FuncOp f) { intIndex = tapIntegerLayers(f, layers); });
  for (const LayerInfo &l : layers)
    if (!(l.scale > 0))
      throw EngineError(report.quantCheckpoint + ": layer '" + l.name +
                        "' has no calibrated scale");

  // The validation batches, decoded once.
  auto loader = engine::buildAs<std::shared_ptr<data::DataLoader>>(
      parts.valLoader, "data_loader");
  engine::BatchProcessorPtr processor =
      parts.valBatchProcessor.isNone()
          ? std::make_shared<engine::BatchProcessor>()
          : engine::buildAs<engine::BatchProcessorPtr>(parts.valBatchProcessor,
                                                       "batch_processor");
  std::vector<Batch> batches;
  loader->startEpoch(0);
  data::Batch raw;
  while ((options.numBatches <= 0 ||
          int64_t(batches.size()) < options.numBatches) &&
         loader->next(raw)) {
    Batch b;
    b.value = processor->prepare(raw);
    b.images = metrics::asTensor(*b.value.asDict().find("img"));
    report.images += b.images.size(0);
    batches.push_back(std::move(b));
  }
  report.batches = int64_t(batches.size());
  if (batches.empty())
    throw EngineError("the validation data loader gave no batches");

  ModelMetrics floatMetrics(parts.valMetrics, parts.updateFunction);
  ModelMetrics fakeMetrics(parts.valMetrics, parts.updateFunction);
  ModelMetrics intMetrics(parts.valMetrics, parts.updateFunction);
  std::vector<SimilarityAccumulator> floatVsFake(layers.size()),
      fakeVsInt(layers.size());
  std::vector<int64_t> clipped(layers.size()), saturated(layers.size()),
      elements(layers.size());
  std::vector<at::Tensor> floatOutputs;
  for (const Batch &b : batches) {
    std::vector<at::Tensor> f = floatModel->executor().forward({b.images});
    std::vector<at::Tensor> q = fakeModel->executor().forward({b.images});
    std::vector<at::Tensor> n = intModel->executor().forward({b.images});
    floatMetrics.add(b, f[0]);
    fakeMetrics.add(b, q[0]);
    intMetrics.add(b, n[0]);
    floatOutputs.push_back(f[0]);
    for (size_t i = 0; i < layers.size(); ++i) {
      const at::Tensor &fl = f[1 + i], &fq = q[1 + i];
      addSimilarity(floatVsFake[i], fl, fq);
      at::Tensor flc = fl.contiguous();
      clipped[i] += countClipped(flc.data_ptr<float>(), size_t(flc.numel()),
                                 layers[i].scale, layers[i].bits);
      elements[i] += fl.numel();
      if (intIndex[i] < 0)
        continue;
      at::Tensor codes = n[1 + size_t(intIndex[i])].to(at::kInt).contiguous();
      at::Tensor deq = codes.to(at::kFloat) * layers[i].scale;
      addSimilarity(fakeVsInt[i], fq, deq);
      saturated[i] += countAtBounds(codes.data_ptr<int32_t>(),
                                    size_t(codes.numel()), layers[i].bits);
    }
  }
  report.floatMetrics = floatMetrics.values();
  report.fakeMetrics = fakeMetrics.values();
  report.intMetrics = intMetrics.values();
  report.primaryMetric =
      report.floatMetrics.empty() ? "" : report.floatMetrics.front().first;
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerResult r;
    r.name = layers[i].name;
    r.op = layers[i].op;
    r.bits = layers[i].bits;
    r.scale = layers[i].scale;
    r.elements = elements[i];
    r.floatVsFake = floatVsFake[i].result();
    r.inInteger = intIndex[i] >= 0;
    if (r.inInteger)
      r.fakeVsInt = fakeVsInt[i].result();
    r.clippedFraction = elements[i] ? double(clipped[i]) / elements[i] : 0;
    r.saturatedFraction = elements[i] ? double(saturated[i]) / elements[i] : 0;
    if (report.firstDrop < 0 && r.floatVsFake.cosine < options.cosineThreshold)
      report.firstDrop = int(i);
    report.layers.push_back(std::move(r));
  }

  if (options.sensitivity) {
    auto sensStart = std::chrono::steady_clock::now();
    const double floatPrimary = primaryValue(report.floatMetrics);
    for (const LayerInfo &layer : layers) {
      // The function inputs have no qconfig to move; they are compared
      // above but not ranked.
      if (layer.op == "input")
        continue;
      mlir::OwningOpRef<mlir::ModuleOp> clone = baseModule->clone();
      auto func = *clone->getOps<mlir::func::FuncOp>().begin();
      keepOnlyLayer(func, layer.name);
      exec::ExecutorOptions execOptions;
      execOptions.fakeQuantMode = exec::FakeQuantMode::QAT;
      auto created = exec::ModuleExecutor::create(func, execOptions);
      if (!created.executor)
        throw EngineError("cannot run the model with only '" + layer.name +
                          "' quantized: " + created.error);
      created.executor->eval();
      ModelMetrics m(parts.valMetrics, parts.updateFunction);
      SimilarityAccumulator out;
      for (size_t bi = 0; bi < batches.size(); ++bi) {
        at::Tensor preds = created.executor->forwardOne(batches[bi].images);
        m.add(batches[bi], preds);
        addSimilarity(out, floatOutputs[bi], preds);
      }
      SensitivityResult s;
      s.layer = layer.name;
      s.metrics = m.values();
      s.metric = primaryValue(s.metrics);
      s.drop = floatPrimary - s.metric;
      s.output = out.result();
      report.sensitivity.push_back(std::move(s));
    }
    // Largest metric drop first; equal drops by the output SQNR (lower is
    // more sensitive), then by name for a stable order.
    std::stable_sort(
        report.sensitivity.begin(), report.sensitivity.end(),
        [](const SensitivityResult &a, const SensitivityResult &b) {
          if (a.drop != b.drop)
            return a.drop > b.drop;
          if (a.output.sqnrDb != b.output.sqnrDb)
            return a.output.sqnrDb < b.output.sqnrDb;
          return a.layer < b.layer;
        });
    report.sensitivitySeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                      sensStart)
            .count();
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return report;
}

} // namespace hat::analysis
