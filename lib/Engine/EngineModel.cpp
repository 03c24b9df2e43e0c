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
#include "hat/Engine/Engine.h"

#include "hat/Config/Registry.h"
#include "hat/Dialect/HatOps.h"
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

#include <any>
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
