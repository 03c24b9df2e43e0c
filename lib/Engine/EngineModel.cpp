//===- EngineModel.cpp - The model a loop trains --------------------------===//
//
// Owns the MLIR context and module of the model, the executor running it and
// the losses. Conversions (fuse-bn, float2qat, qat2quantize) are pass
// pipelines on the IR: the trained state is written back first, so the IR is
// always the single source of truth between stages.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Builders.h"
#include "hat/Engine/DetectionLosses.h"
#include "hat/Engine/DetrLosses.h"
#include "hat/Engine/Engine.h"
#include "hat/Engine/FcosTarget.h"
#include "hat/Engine/GaNetLoss.h"

#include "hat/Config/Registry.h"
#include "hat/Detection/PostProcess.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/ResultAttributes.h"
#include "hat/Inference/Evaluate.h"
#include "hat/Lane/GaNetPostProcess.h"
#include "hat/Metrics/TensorValue.h"
#include "hat/Models/Module.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <any>
#include <cmath>
#include <cstring>
#include <mutex>

namespace hat::engine {

RunContext &runContext() {
  static RunContext context;
  return context;
}

config::Value callConfigFunction(const config::Value &fn,
                                 const std::vector<config::Value> &args,
                                 const std::string &what) {
  auto result = config::callFunction(fn, args);
  if (!result)
    throw EngineError(what + ": " + result.error().str());
  return *result;
}

namespace {
/// Per image, its lanes as a list of [P, 2] (x, y) tensors: the layout of
/// gt_lines, ori_gt_lines and pred_lanes.
config::Value lanesValue(const std::vector<std::vector<lane::Lane>> &images) {
  static_assert(sizeof(lane::LanePoint) == 2 * sizeof(float));
  std::vector<config::Value> perImage;
  for (const std::vector<lane::Lane> &lanes : images) {
    std::vector<config::Value> tensors;
    for (const lane::Lane &l : lanes) {
      at::Tensor t = at::empty({static_cast<int64_t>(l.size()), 2}, at::kFloat);
      std::memcpy(t.data_ptr<float>(), l.data(),
                  l.size() * sizeof(lane::LanePoint));
      tensors.push_back(metrics::tensorValue(t));
    }
    perImage.push_back(config::Value::list(std::move(tensors)));
  }
  return config::Value::list(std::move(perImage));
}
} // namespace

config::Value batchToValue(const data::Batch &batch) {
  auto &s = batch.imageShape;
  at::Tensor images = at::from_blob(const_cast<float *>(batch.images.data()),
                                    {s[0], s[1], s[2], s[3]}, at::kFloat)
                          .clone();
  std::vector<std::pair<std::string, config::Value>> items = {
      {"img", metrics::tensorValue(images)}};
  if (!batch.labels.empty())
    items.emplace_back(
        "labels", metrics::tensorValue(
                      at::from_blob(const_cast<int64_t *>(batch.labels.data()),
                                    {(int64_t)batch.labels.size()}, at::kLong)
                          .clone()));
  const int64_t n = batch.size();
  // Detection batches (samples with COCO image ids) also carry their ground
  // truth (per image: boxes in network-input pixels, labels with crowd
  // regions as -1) and what the post-processing needs to return boxes to
  // the stored images. Classification batches (image id -1) skip this
  // per-step work.
  const bool detection =
      static_cast<int64_t>(batch.boxOffsets.size()) == n + 1 &&
      static_cast<int64_t>(batch.imageIds.size()) == n &&
      static_cast<int64_t>(batch.scaleFactors.size()) == n &&
      static_cast<int64_t>(batch.validRegions.size()) == n &&
      static_cast<int64_t>(batch.originalSizes.size()) == n &&
      std::any_of(batch.imageIds.begin(), batch.imageIds.end(),
                  [](int64_t id) { return id >= 0; });
  // The arrays of std::array are contiguous: one copy each.
  auto copyOf = [](const auto &rows, int64_t cols, at::ScalarType type) {
    using Row = typename std::decay_t<decltype(rows)>::value_type;
    using Elem = typename Row::value_type;
    return at::from_blob(const_cast<Elem *>(rows.data()->data()),
                         {static_cast<int64_t>(rows.size()), cols}, type)
        .clone();
  };
  if (detection) {
    DetectionGroundTruth truth = groundTruthFromBatch(batch);
    std::vector<config::Value> boxes, labels;
    for (int64_t i = 0; i < n; ++i) {
      boxes.push_back(metrics::tensorValue(truth.boxes[i]));
      labels.push_back(metrics::tensorValue(truth.labels[i]));
    }
    items.emplace_back("gt_bboxes", config::Value::list(std::move(boxes)));
    items.emplace_back("gt_classes", config::Value::list(std::move(labels)));
    items.emplace_back(
        "img_id", metrics::tensorValue(at::from_blob(const_cast<int64_t *>(
                                                         batch.imageIds.data()),
                                                     {n}, at::kLong)
                                           .clone()));
    items.emplace_back("scale_factor", metrics::tensorValue(copyOf(
                                           batch.scaleFactors, 2, at::kFloat)));
    items.emplace_back("valid_region", metrics::tensorValue(copyOf(
                                           batch.validRegions, 4, at::kFloat)));
    items.emplace_back("ori_size", metrics::tensorValue(copyOf(
                                       batch.originalSizes, 2, at::kLong)));
  }
  // Lane batches carry, per image, the lanes in network-input pixels (the
  // targets), the lanes as stored (the metric's ground truth, HAT's
  // ori_gt_lines) and how to map decoded lanes back: stored = current /
  // scale_factor + crop_offset.
  if (batch.hasLanes && !detection) {
    try {
      items.emplace_back("gt_lines",
                         lanesValue(inference::batchLanes(batch, false)));
      items.emplace_back("ori_gt_lines",
                         lanesValue(inference::batchLanes(batch, true)));
    } catch (const std::exception &e) {
      throw EngineError(e.what());
    }
    items.emplace_back("scale_factor", metrics::tensorValue(copyOf(
                                           batch.scaleFactors, 2, at::kFloat)));
    items.emplace_back("crop_offset", metrics::tensorValue(copyOf(
                                          batch.cropOffsets, 2, at::kFloat)));
    items.emplace_back("ori_size", metrics::tensorValue(copyOf(
                                       batch.originalSizes, 2, at::kLong)));
  }
  return metrics::makeDict(std::move(items));
}

struct EngineModel::IR {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp func() {
    return *module->getOps<mlir::func::FuncOp>().begin();
  }
};

EngineModel::EngineModel() : ir(std::make_unique<IR>()) {}
EngineModel::~EngineModel() = default;

namespace {
std::vector<Loss> buildLosses(const config::Value &cfg) {
  std::vector<Loss> losses;
  if (cfg.isNone())
    return losses;
  std::vector<config::Value> items = (cfg.isList() || cfg.isTuple())
                                         ? cfg.sequenceItems()
                                         : std::vector<config::Value>{cfg};
  for (const config::Value &item : items) {
    auto built = config::Registry::instance().build(item, "loss");
    if (!built)
      throw EngineError(diagnosticText(built.error()));
    const Loss *loss = std::any_cast<Loss>(&*built);
    if (!loss)
      throw EngineError("the model's losses take class scores and labels (e.g. "
                        "CrossEntropyLoss); " +
                        item.repr() +
                        " is a detection loss, which the detector's own loss "
                        "module applies");
    losses.push_back(*loss);
  }
  return losses;
}
} // namespace

EngineModelPtr EngineModel::fromConfig(const config::Value &modelConfig) {
  RunContext &ctx = runContext();
  const config::Value *deployInputs =
      ctx.config ? ctx.config->get("deploy_inputs") : nullptr;
  if (!deployInputs)
    throw EngineError(ctx.configPath +
                      ": the config needs deploy_inputs (e.g. "
                      "dict(img=torch.randn((1, 3, 224, 224)))) to know the "
                      "model's input shape");
  auto inputs = models::parseDeployInputs(*deployInputs);
  if (!inputs)
    throw EngineError(diagnosticText(inputs.error()));
  auto module = models::buildModule(modelConfig, "model");
  if (!module)
    throw EngineError(diagnosticText(module.error()));
  EngineModelPtr model(new EngineModel());
  models::LoweringOptions lowering;
  lowering.seed = ctx.seed;
  auto lowered =
      models::lowerModel(model->ir->context, *module, *inputs, lowering);
  if (!lowered)
    throw EngineError(diagnosticText(lowered.error()));
  model->ir->module = std::move(*lowered);
  model->lossFns = buildLosses((*module)->losses());
  // A detector trains through its own targets and losses (HAT's FCOS
  // applies them inside forward); the deploy form has none.
  if ((*module)->typeName() == "FCOS" && modelConfig.isDict()) {
    const config::Value *targets = modelConfig.asDict().find("targets");
    if (targets && !targets->isNone()) {
      auto loss = buildFcosLoss(modelConfig);
      if (!loss)
        throw EngineError(diagnosticText(loss.error()));
      model->fcosLoss = *loss;
    }
  }
  if ((*module)->typeName() == "GaNet" && modelConfig.isDict()) {
    const config::Value *targets = modelConfig.asDict().find("targets");
    if (targets && !targets->isNone()) {
      auto loss = buildGaNetLoss(modelConfig);
      if (!loss)
        throw EngineError(diagnosticText(loss.error()));
      model->ganetLoss = *loss;
    }
  }
  if ((*module)->typeName() == "DeformableDETR" && modelConfig.isDict()) {
    const config::Value *criterion = modelConfig.asDict().find("criterion");
    if (criterion && !criterion->isNone()) {
      auto built = buildSetCriterion(modelConfig);
      if (!built)
        throw EngineError(diagnosticText(built.error()));
      model->detrCriterion = *built;
    }
  }
  model->rebuild(exec::FakeQuantMode::Float, {});
  return model;
}

void EngineModel::rebuild(exec::FakeQuantMode mode,
                          const exec::ExecutorOptions &base) {
  exec::ExecutorOptions options = base;
  options.fakeQuantMode = mode;
  options.dynamicBatch = true;
  auto created = exec::ModuleExecutor::create(ir->func(), options);
  if (!created.executor)
    throw EngineError("cannot run the model: " + created.error);
  runner = std::move(created.executor);
  mlir::func::FuncOp func = ir->func();
  outputNames_.clear();
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    if (auto name = func.getResultAttrOfType<mlir::StringAttr>(i, "hat.name"))
      outputNames_.push_back(name.str());
  if (!outputNames_.empty() && outputNames_.size() != func.getNumResults())
    throw EngineError("the model names " + std::to_string(outputNames_.size()) +
                      " of its " + std::to_string(func.getNumResults()) +
                      " outputs: every output of a multi-output model needs a "
                      "hat.name");
  postProcessor_.reset();
  lanePostProcessor_.reset();
  if (auto pp = func->getAttrOfType<mlir::StringAttr>("hat.post_process")) {
    try {
      if (lane::GaNetPostProcessor::typeOf(pp.str()) == "GaNetDecoder")
        lanePostProcessor_ = std::make_shared<lane::GaNetPostProcessor>(
            lane::GaNetPostProcessor::fromJson(pp.str()));
      else
        postProcessor_ = std::make_shared<detection::DetectionPostProcessor>(
            detection::DetectionPostProcessor::fromJson(pp.str()));
    } catch (const std::exception &e) {
      throw EngineError(std::string("the model's hat.post_process: ") +
                        e.what());
    }
  }
  runner->train(training);
  runner->setBatchNormFunction(batchNormFn);
  bool hasInt = false, hasFakeQuant = false;
  ir->func().walk([&](mlir::Operation *op) {
    hasInt |= mlir::isa<hat::QConv2dOp, hat::QLinearOp, hat::QuantizeOp>(op);
    hasFakeQuant |= mlir::isa<hat::FakeQuantOp>(op);
  });
  kindName = hasInt ? "int" : hasFakeQuant ? "qat" : "float";
}

void EngineModel::runPasses(const std::string &pipeline,
                            exec::FakeQuantMode mode,
                            const exec::ExecutorOptions &options) {
  runner->writeBack();
  static std::once_flag passesRegistered;
  std::call_once(passesRegistered, [] { registerHatPasses(); });
  mlir::PassManager pm(&ir->context, mlir::ModuleOp::getOperationName());
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm, os)))
    throw EngineError("bad pass pipeline '" + pipeline + "': " + os.str());
  // Pass diagnostics (an uncalibrated fake_quant, an unfoldable BN) become
  // the stage's error message.
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(
      &ir->context, [&](mlir::Diagnostic &diag) {
        if (diag.getSeverity() == mlir::DiagnosticSeverity::Error)
          diagnostics += (diagnostics.empty() ? "" : "\n") + diag.str();
        return mlir::success();
      });
  if (mlir::failed(pm.run(*ir->module)))
    throw EngineError("converting the model (" + pipeline +
                      ") failed: " + diagnostics);
  rebuild(mode, options);
}

void EngineModel::editIR(const std::function<void(mlir::func::FuncOp)> &edit,
                         bool rebuildAfter) {
  runner->writeBack();
  edit(ir->func());
  if (rebuildAfter) {
    exec::ExecutorOptions options = runner->options();
    rebuild(runner->fakeQuantMode(), options);
  }
}

void EngineModel::setFakeQuantMode(exec::FakeQuantMode mode) {
  runner->setFakeQuantMode(mode);
}

void EngineModel::setBatchNormFunction(exec::ModuleExecutor::BatchNormFn fn) {
  batchNormFn = std::move(fn);
  runner->setBatchNormFunction(batchNormFn);
}

void EngineModel::train(bool t) {
  training = t;
  runner->train(t);
}

void EngineModel::loadStateDict(const exec::NamedTensors &state,
                                const std::string &from, bool strict) {
  std::string error = runner->loadStateDict(state, strict);
  if (!error.empty())
    throw EngineError("loading " + from + " into the " + kindName +
                      " model: " + error);
}

void EngineModel::saveIR(const std::string &path, bool bytecode) {
  runner->writeBack();
  llvm::Error written =
      llvm::writeToOutput(path, [&](llvm::raw_ostream &os) -> llvm::Error {
        if (bytecode &&
            mlir::failed(mlir::writeBytecodeToFile(*ir->module, os)))
          return llvm::createStringError(std::errc::io_error,
                                         "bytecode writer failed");
        if (!bytecode)
          ir->module->print(os);
        return llvm::Error::success();
      });
  if (written)
    throw EngineError("cannot write " + path + ": " +
                      llvm::toString(std::move(written)));
}

config::Value EngineModel::forward(const config::Value &batch) {
  at::Tensor images;
  if (batch.isDict())
    if (const config::Value *img = batch.asDict().find("img"))
      images = metrics::asTensor(*img);
  if (!images.defined())
    throw EngineError("the model expects a batch with an 'img' tensor");
  if (!outputNames_.empty())
    return lanePostProcessor_ || ganetLoss
               ? laneForward(batch, runner->forward({images}))
               : detectionForward(batch, runner->forward({images}));
  at::Tensor preds = runner->forwardOne(images);
  if (!training || lossFns.empty())
    return metrics::tensorValue(preds);
  const config::Value *labelsValue = batch.asDict().find("labels");
  at::Tensor labels =
      labelsValue ? metrics::asTensor(*labelsValue) : at::Tensor();
  if (!labels.defined())
    throw EngineError("training with losses needs 'labels' in the batch");
  config::Value losses = config::Value::dict();
  for (const Loss &loss : lossFns)
    losses.asDict().set(loss.name,
                        metrics::tensorValue(loss.fn(preds, labels)));
  return config::Value::tuple({metrics::tensorValue(preds), losses});
}

namespace {
/// A per-image list of tensors from the batch (gt_bboxes, gt_classes).
std::vector<at::Tensor> tensorList(const config::Value &batch, const char *key,
                                   int64_t images) {
  const config::Value *v = batch.asDict().find(key);
  if (!v || !(v->isList() || v->isTuple()))
    throw EngineError(std::string("training a detector needs '") + key +
                      "' in the batch: a detection dataset (e.g. "
                      "CocoFromLMDB) collated by collate_2d");
  std::vector<at::Tensor> tensors;
  for (const config::Value &item : v->sequenceItems())
    tensors.push_back(metrics::asTensor(item));
  if (static_cast<int64_t>(tensors.size()) != images)
    throw EngineError(std::string("the batch's '") + key + "' has " +
                      std::to_string(tensors.size()) + " entries for " +
                      std::to_string(images) + " images");
  return tensors;
}

/// Per result of `func`: the scale of an integer result the caller
/// dequantizes (hat.scale, dequant_output=False), 0 for a float result.
std::vector<float> integerResultScales(mlir::func::FuncOp func) {
  std::vector<float> scales(func.getNumResults(), 0.f);
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    auto scale =
        func.getResultAttrOfType<mlir::DenseF32ArrayAttr>(i, kResultScaleAttr);
    if (!scale)
      continue;
    auto type =
        mlir::dyn_cast<mlir::RankedTensorType>(func.getResultTypes()[i]);
    if (scale.size() != 1 || !(scale[0] > 0) || !std::isfinite(scale[0]) ||
        !type || !type.getElementType().isSignlessInteger())
      throw EngineError("result " + std::to_string(i) +
                        " of the model: " + kResultScaleAttr +
                        " must be one positive finite scale on an integer "
                        "result");
    scales[i] = scale[0];
  }
  return scales;
}

/// The model's output `name`: the outputs a loss or decoder reads by name.
const at::Tensor &outputByName(const std::vector<std::string> &names,
                               const std::vector<at::Tensor> &outputs,
                               const std::string &name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name)
      return outputs[i];
  throw EngineError("the model has no output '" + name +
                    "' that its losses or hat.post_process name");
}

/// {name: output} for the config's eval-mode model outputs.
config::Value namedOutputDict(const std::vector<std::string> &names,
                              const std::vector<at::Tensor> &outputs) {
  config::Value result = config::Value::dict();
  for (size_t i = 0; i < outputs.size(); ++i)
    result.asDict().set(names[i], metrics::tensorValue(outputs[i]));
  return result;
}

/// A training-mode detector's losses as the dict its loss_collector reads.
config::Value
lossDict(const std::vector<std::pair<std::string, at::Tensor>> &losses) {
  config::Value dict = config::Value::dict();
  for (auto &[name, value] : losses)
    dict.asDict().set(name, metrics::tensorValue(value));
  return dict;
}

at::Tensor batchTensor(const config::Value &batch, const char *key) {
  const config::Value *v = batch.asDict().find(key);
  at::Tensor t = v ? metrics::asTensor(*v) : at::Tensor();
  if (!t.defined())
    throw EngineError(std::string("decoding the outputs needs '") + key +
                      "' in the batch: a detection or lane dataset collated "
                      "by collate_2d");
  return t;
}
} // namespace

std::vector<at::Tensor>
EngineModel::decoderInputs(const std::vector<at::Tensor> &outputs) {
  // Decoding on the CPU, on the float outputs, exactly as hat-run does after
  // the HBM. An integer result (dequant_output=False) is dequantized here as
  // float(q) * scale in float32, the in-model hat.dequantize's arithmetic.
  const std::vector<float> resultScales = integerResultScales(ir->func());
  std::vector<at::Tensor> maps;
  for (size_t i = 0; i < outputs.size(); ++i) {
    at::Tensor map = outputs[i].detach().to(at::kCPU, at::kFloat);
    if (resultScales.at(i) > 0)
      map = map * at::full({}, resultScales[i], at::kFloat);
    maps.push_back(map.contiguous());
  }
  return maps;
}

config::Value EngineModel::laneForward(const config::Value &batch,
                                       const std::vector<at::Tensor> &outputs) {
  auto byName = [&](const std::string &name) -> const at::Tensor & {
    return outputByName(outputNames_, outputs, name);
  };
  const at::Tensor images = metrics::asTensor(*batch.asDict().find("img"));
  if (training && ganetLoss) {
    // The decoder's description names the maps; without one, GaNetHead's
    // names.
    GaNetHeadOutputs heads;
    heads.heatmap =
        byName(lanePostProcessor_ ? lanePostProcessor_->heatmapOutput()
                                  : std::string("kpts_hm"));
    heads.startOffset =
        byName(lanePostProcessor_ ? lanePostProcessor_->startOffsetOutput()
                                  : std::string("pts_offset"));
    heads.pointOffset =
        byName(lanePostProcessor_ ? lanePostProcessor_->pointOffsetOutput()
                                  : std::string("int_offset"));
    const config::Value *gt = batch.asDict().find("gt_lines");
    if (!gt || !(gt->isList() || gt->isTuple()))
      throw EngineError("training GaNet needs 'gt_lines' in the batch: a "
                        "lane dataset (e.g. CuLaneFromLMDB) collated by "
                        "collate_2d");
    LaneBatch lanes;
    for (const config::Value &image : gt->sequenceItems()) {
      std::vector<lane::Lane> imageLanes;
      if (image.isList() || image.isTuple())
        for (const config::Value &l : image.sequenceItems()) {
          at::Tensor t = metrics::asTensor(l);
          if (!t.defined() || t.dim() != 2 || t.size(1) != 2)
            throw EngineError("'gt_lines' must hold [P, 2] lane tensors");
          t = t.to(at::kFloat).contiguous();
          const float *p = t.data_ptr<float>();
          lane::Lane points;
          for (int64_t k = 0; k < t.size(0); ++k)
            points.push_back({p[2 * k], p[2 * k + 1]});
          imageLanes.push_back(std::move(points));
        }
      lanes.push_back(std::move(imageLanes));
    }
    std::vector<std::pair<std::string, at::Tensor>> losses;
    try {
      losses = (*ganetLoss)(heads, lanes, images.size(2), images.size(3));
    } catch (const std::invalid_argument &e) {
      throw EngineError(std::string("GaNet losses: ") + e.what());
    }
    return lossDict(losses);
  }
  config::Value result = namedOutputDict(outputNames_, outputs);
  if (!lanePostProcessor_)
    return result;
  const std::vector<at::Tensor> maps = decoderInputs(outputs);
  std::vector<detection::NamedOutput> named;
  for (size_t i = 0; i < maps.size(); ++i)
    named.push_back(
        {outputNames_[i], maps[i].sizes().vec(), maps[i].data_ptr<float>()});
  std::vector<std::vector<lane::Lane>> lanes;
  try {
    lanes = lanePostProcessor_->decode(named);
  } catch (const std::exception &e) {
    throw EngineError(std::string("decoding the lanes: ") + e.what());
  }
  at::Tensor scales = batchTensor(batch, "scale_factor").to(at::kFloat);
  at::Tensor crops = batchTensor(batch, "crop_offset").to(at::kFloat);
  for (size_t n = 0; n < lanes.size(); ++n) {
    try {
      lane::lanesToOriginalImage(
          lanes[n], scales[n][0].item<float>(), scales[n][1].item<float>(),
          crops[n][0].item<float>(), crops[n][1].item<float>());
    } catch (const std::exception &e) {
      throw EngineError(std::string("mapping lanes back: ") + e.what());
    }
  }
  result.asDict().set("pred_lanes", lanesValue(lanes));
  return result;
}

config::Value
EngineModel::detectionForward(const config::Value &batch,
                              const std::vector<at::Tensor> &outputs) {
  auto byName = [&](const std::string &name) -> const at::Tensor & {
    return outputByName(outputNames_, outputs, name);
  };
  const at::Tensor imageBatch = metrics::asTensor(*batch.asDict().find("img"));
  const int64_t images = imageBatch.size(0);
  if (training && detrCriterion) {
    // Every decoder layer's (logits, boxes), the last layer last: the aux
    // outputs are named aux_logits_<j> / aux_boxes_<j> (DeformableDETR).
    std::vector<std::pair<at::Tensor, at::Tensor>> layers;
    for (size_t j = 0;; ++j) {
      const std::string suffix = "_" + std::to_string(j);
      auto it = std::find(outputNames_.begin(), outputNames_.end(),
                          "aux_logits" + suffix);
      if (it == outputNames_.end())
        break;
      layers.emplace_back(byName("aux_logits" + suffix),
                          byName("aux_boxes" + suffix));
    }
    layers.emplace_back(byName("pred_logits"), byName("pred_boxes"));
    std::vector<std::pair<std::string, at::Tensor>> losses;
    try {
      const SetTargets targets =
          setTargetsFromBoxes(tensorList(batch, "gt_bboxes", images),
                              tensorList(batch, "gt_classes", images),
                              imageBatch.size(2), imageBatch.size(3));
      losses = (*detrCriterion)(layers, targets);
    } catch (const std::invalid_argument &e) {
      throw EngineError(std::string("DETR losses: ") + e.what());
    }
    return lossDict(losses);
  }
  if (training && fcosLoss) {
    if (!postProcessor_)
      throw EngineError("training FCOS needs the model's post_process "
                        "(FCOSMultiStrideFilter) to know which output is "
                        "which");
    const detection::DetectionPostProcessor &pp = *postProcessor_;
    const bool pixels = pp.options().bboxUnits ==
                        detection::FcosDecodeOptions::BboxUnits::Pixels;
    FcosHeadOutputs heads;
    for (size_t l = 0; l < pp.clsOutputs().size(); ++l) {
      heads.clsScores.push_back(byName(pp.clsOutputs()[l]));
      const at::Tensor &bbox = byName(pp.bboxOutputs()[l]);
      // The targets work in stride units (upscale_bbox_pred heads output
      // pixels).
      heads.bboxPreds.push_back(
          pixels ? bbox / static_cast<double>(pp.options().strides[l]) : bbox);
      heads.centerness.push_back(byName(pp.centernessOutputs()[l]));
    }
    DetectionGroundTruth truth;
    truth.boxes = tensorList(batch, "gt_bboxes", images);
    truth.labels = tensorList(batch, "gt_classes", images);
    std::vector<std::pair<std::string, at::Tensor>> losses;
    try {
      losses = (*fcosLoss)(heads, truth);
    } catch (const std::invalid_argument &e) {
      throw EngineError(std::string("FCOS losses: ") + e.what());
    }
    return lossDict(losses);
  }
  config::Value result = namedOutputDict(outputNames_, outputs);
  if (!postProcessor_)
    return result;
  const std::vector<at::Tensor> contiguous = decoderInputs(outputs);
  std::vector<detection::NamedOutput> named;
  for (size_t i = 0; i < outputs.size(); ++i)
    named.push_back({outputNames_[i], contiguous[i].sizes().vec(),
                     contiguous[i].data_ptr<float>()});
  std::vector<detection::ImageDetections> detections;
  try {
    detections = postProcessor_->decode(named);
  } catch (const std::exception &e) {
    throw EngineError(std::string("decoding the detections: ") + e.what());
  }
  at::Tensor ids = batchTensor(batch, "img_id").to(at::kLong);
  at::Tensor scales = batchTensor(batch, "scale_factor").to(at::kFloat);
  at::Tensor regions = batchTensor(batch, "valid_region").to(at::kFloat);
  at::Tensor sizes = batchTensor(batch, "ori_size").to(at::kLong);
  std::vector<config::Value> perImage;
  for (int64_t n = 0; n < images; ++n) {
    detection::ImageMeta meta;
    meta.imageId = ids[n].item<int64_t>();
    meta.scaleX = scales[n][0].item<float>();
    meta.scaleY = scales[n][1].item<float>();
    for (int k = 0; k < 4; ++k)
      meta.validRegion[k] = regions[n][k].item<float>();
    meta.originalHeight = sizes[n][0].item<int64_t>();
    meta.originalWidth = sizes[n][1].item<int64_t>();
    detection::ImageDetections &d = detections[n];
    detection::DetectionPostProcessor::toOriginalImage(d, meta);
    at::Tensor t = at::empty({static_cast<int64_t>(d.size()), 6}, at::kFloat);
    auto a = t.accessor<float, 2>();
    for (size_t k = 0; k < d.size(); ++k) {
      a[k][0] = d.boxes[k].x1;
      a[k][1] = d.boxes[k].y1;
      a[k][2] = d.boxes[k].x2;
      a[k][3] = d.boxes[k].y2;
      a[k][4] = d.scores[k];
      a[k][5] = static_cast<float>(d.labels[k]);
    }
    perImage.push_back(metrics::tensorValue(t));
  }
  result.asDict().set("pred_bboxes", config::Value::list(std::move(perImage)));
  result.asDict().set("img_id", metrics::tensorValue(ids));
  return result;
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

namespace {
config::Expected<std::any> buildCrossEntropy(const config::BuildArgs &args) {
  const bool labelSmooth = args.typeName() == "CEWithLabelSmooth";
  if (!labelSmooth) {
    config::Value sigmoid = args.get("use_sigmoid");
    if (!sigmoid.isNone() && !sigmoid.isBool())
      return args.error("'use_sigmoid' must be True or False, got " +
                        sigmoid.repr());
    // The binary form on logits (FCOS's centerness) is a detection loss.
    if (!sigmoid.isNone() && sigmoid.asBool())
      return buildSigmoidCrossEntropyLoss(args);
  }
  double smoothing = 0.0;
  std::string key = labelSmooth ? "smooth_alpha" : "label_smoothing";
  config::Value v = args.get(key);
  if (!v.isNone()) {
    if (!v.isNumber() || v.isBool() || v.asNumber() < 0 || v.asNumber() >= 1)
      return args.error("'" + key + "' must be a number in [0, 1), got " +
                        v.repr());
    smoothing = v.asNumber();
  } else if (labelSmooth) {
    smoothing = 0.1;
  }
  config::Value w = args.get("loss_weight");
  double weight = w.isNone() ? 1.0 : w.asNumber();
  if (!w.isNone() && (!w.isNumber() || w.isBool()))
    return args.error("'loss_weight' must be a number, got " + w.repr());
  Loss loss;
  loss.name = labelSmooth ? "ce_with_label_smooth" : "cross_entropy";
  config::Value name = args.get("loss_name");
  if (!name.isNone()) {
    if (!name.isStr())
      return args.error("'loss_name' must be a string, got " + name.repr());
    loss.name = name.asStr();
  }
  // The classification loss is one number per batch: "none" has no use.
  at::Reduction::Reduction reduction = at::Reduction::Mean;
  config::Value r = args.get("reduction");
  if (!r.isNone()) {
    if (!r.isStr() || (r.asStr() != "mean" && r.asStr() != "sum"))
      return args.error("'reduction' of the softmax CrossEntropyLoss must be "
                        "'mean' or 'sum', got " +
                        r.repr());
    reduction = r.asStr() == "sum" ? at::Reduction::Sum : at::Reduction::Mean;
  }
  loss.fn = [smoothing, weight, reduction](const at::Tensor &preds,
                                           const at::Tensor &labels) {
    return at::cross_entropy_loss(preds, labels.to(preds.device()), {},
                                  reduction, -100, smoothing) *
           weight;
  };
  return std::any(loss);
}
HAT_REGISTER("loss", {"CrossEntropyLoss", "torch.nn.CrossEntropyLoss"},
             config::KwargSpec{{},
                               {"label_smoothing", "loss_weight", "use_sigmoid",
                                "loss_name", "reduction"}},
             buildCrossEntropy);
HAT_REGISTER("loss", {"CEWithLabelSmooth"},
             config::KwargSpec{
                 {}, {"smooth_alpha", "loss_weight", "loss_name", "reduction"}},
             buildCrossEntropy);
} // namespace

} // namespace hat::engine
