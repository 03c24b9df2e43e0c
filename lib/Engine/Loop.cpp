//===- Loop.cpp - Trainer, Calibrator and Predictor -----------------------===//

#include "hat/Engine/Builders.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/optimizer.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>

namespace hat::engine {

Loop::~Loop() = default;

double Loop::learningRate() const {
  if (!optimizer || optimizer->param_groups().empty())
    return 0;
  return optimizer->param_groups()[0].options().get_lr();
}

void Loop::setLearningRate(double lr) {
  if (!optimizer)
    return;
  // Each group keeps its ratio to the first group's configured LR.
  auto &groups = optimizer->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    double ratio = baseLearningRates.empty() || baseLearningRates[0] == 0
                       ? 1.0
                       : baseLearningRates[i] / baseLearningRates[0];
    groups[i].options().set_lr(lr * ratio);
  }
}

void Loop::runEpoch(int64_t epoch, int64_t &stepsLeft) {
  LoopState &st = loopState;
  static const int64_t killAtStep = [] {
    const char *v = getenv("HAT_DEBUG_KILL_AT_STEP");
    return v ? std::atoll(v) : 0;
  }();
  Logger &log = *runContext().logger;
  st.epoch = epoch;
  st.stepInEpoch = 0;
  st.stepsPerEpoch = (int64_t)dataLoader->size();
  dataLoader->startEpoch((uint64_t)epoch);
  // A calibrator's num_steps are one pass, however many epochs of data they
  // span: epoch hooks would validate (and observe validation data) before
  // calibration ends, so only loop and step hooks run.
  bool epochHooks = kind != Kind::Calibrator;
  if (epochHooks)
    for (auto &cb : callbacks)
      cb->onEpochBegin(st);
  int64_t total = stopBy == "step" ? std::min(st.stepsPerEpoch, stepsLeft)
                                   : st.stepsPerEpoch;
  log.progressBegin(runContext().stage + " epoch " + std::to_string(epoch),
                    total);
  auto begin = std::chrono::steady_clock::now();
  int64_t images = 0;
  double lossSum = 0;
  data::Batch batch;
  while (stepsLeft > 0 && dataLoader->next(batch)) {
    st.batch = batchToValue(batch);
    for (auto &cb : callbacks)
      cb->onStepBegin(st);
    batchProcessor->run(st, st.batch);
    for (auto &cb : callbacks)
      cb->onStepEnd(st);
    ++st.globalStep;
    ++st.stepInEpoch;
    --stepsLeft;
    // Test hook: die like a killed job right after this step, so resume
    // can be tested deterministically (test/tools/hat-train/resume.test).
    if (killAtStep > 0 && st.globalStep == killAtStep)
      raise(SIGKILL);
    images += st.batchSize;
    lossSum += st.loss;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
            .count();
    log.progressUpdate(st.stepInEpoch, lossSum / st.stepInEpoch,
                       seconds > 0 ? images / seconds : 0);
  }
  log.progressEnd();
  if (epochHooks)
    for (Callback *cb : endOrder())
      cb->onEpochEnd(st);
}

std::vector<Callback *> Loop::endOrder() const {
  std::vector<Callback *> ordered;
  for (auto &cb : callbacks)
    ordered.push_back(cb.get());
  std::stable_sort(
      ordered.begin(), ordered.end(),
      [](Callback *a, Callback *b) { return a->order() < b->order(); });
  return ordered;
}

void Loop::fit() {
  RunContext &ctx = runContext();
  Logger &log = *ctx.logger;
  LoopState &st = loopState;
  st.loop = this;
  if (optimizer)
    for (auto &group : optimizer->param_groups())
      baseLearningRates.push_back(group.options().get_lr());

  // hat-train --resume restores everything; otherwise resume_optimizer /
  // resume_epoch_or_step take those parts from the checkpoint that the
  // model_convert_pipeline's LoadCheckpoint loaded.
  bool fromCommandLine = !ctx.resumeFrom.empty();
  std::string resumePath = fromCommandLine ? ctx.resumeFrom
                           : (resumeOptimizer || resumeEpochOrStep)
                               ? model->lastCheckpoint
                               : std::string();
  if (!resumePath.empty() && kind == Kind::Trainer) {
    bool withOptimizer = fromCommandLine || resumeOptimizer;
    CheckpointData ck =
        loadCheckpoint(resumePath, withOptimizer ? optimizer.get() : nullptr,
                       fromCommandLine ? ctx.stage : std::string());
    if (fromCommandLine) {
      // With an EMA the checkpoint's model is the average; training goes on
      // from the live weights and the EMA from the average.
      model->loadStateDict(ck.live.empty() ? ck.model : ck.live, resumePath);
      if (!ck.live.empty())
        st.resumedAverage = ck.model;
    }
    if (fromCommandLine || resumeEpochOrStep) {
      startEpoch =
          stopBy == "epoch" ? ck.epoch + 1 : std::max<int64_t>(0, ck.epoch);
      startStep = ck.globalStep;
    }
    log.info("resumed from " + resumePath + " (epoch " +
             std::to_string(ck.epoch) + ", step " +
             std::to_string(ck.globalStep) + "); continuing at epoch " +
             std::to_string(startEpoch) +
             (withOptimizer ? " with the optimizer state" : ""));
  }
  if (dataLoader && dataLoader->size() == 0) {
    // PyTorch's DataLoader semantics: with drop_last=True a dataset smaller
    // than one batch yields no batch at all. Training on it would run 0
    // steps (or, stopped by steps, never end) and save an untrained model
    // as the best one.
    const data::DataLoaderOptions &o = dataLoader->options();
    throw EngineError(
        typeName + "'s data_loader yields no batch: the dataset has " +
        std::to_string(o.dataset ? o.dataset->size() : 0) +
        " samples, batch_size=" + std::to_string(o.batch_size) +
        (o.drop_last ? " with drop_last=True drops the only, partial batch; "
                       "lower batch_size or set drop_last=False"
                     : "; the dataset (or this rank's share of it) is "
                       "empty"));
  }
  st.epoch = startEpoch;
  st.globalStep = startStep;
  st.training = kind == Kind::Trainer && optimizer != nullptr;
  model->train(st.training);

  auto begin = std::chrono::steady_clock::now();
  int64_t stepsBefore = st.globalStep;
  for (auto &cb : callbacks)
    cb->onLoopBegin(st);

  if (dataLoader) {
    if (kind == Kind::Predictor) {
      int64_t steps = INT64_MAX;
      runEpoch(0, steps);
    } else if (stopBy == "step") {
      int64_t stepsLeft = numSteps - st.globalStep;
      for (int64_t epoch = startEpoch; stepsLeft > 0; ++epoch)
        runEpoch(epoch, stepsLeft);
    } else {
      for (int64_t epoch = startEpoch; epoch < numEpochs; ++epoch) {
        int64_t steps = INT64_MAX;
        runEpoch(epoch, steps);
      }
    }
  } else if ((stopBy == "epoch" && numEpochs > startEpoch) ||
             (stopBy == "step" && numSteps > startStep)) {
    throw EngineError(typeName + " has epochs or steps to run but no "
                                 "data_loader");
  }
  wallSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
          .count();
  int64_t steps = st.globalStep - stepsBefore;
  int64_t batchSize = dataLoader ? dataLoader->options().batch_size : 0;
  imagesPerSecond = wallSeconds > 0 ? steps * batchSize / wallSeconds : 0;
  model->train(false);
  // Calibration ends here: the observed scales land in the model and the
  // validation and checkpoint that follow see the fake-quantized model.
  if (kind == Kind::Calibrator)
    model->setFakeQuantMode(exec::FakeQuantMode::QAT);
  for (Callback *cb : endOrder())
    cb->onLoopEnd(st);
}

//===----------------------------------------------------------------------===//
// Builders
//===----------------------------------------------------------------------===//

namespace {

config::Expected<std::any> buildLoopFromArgs(const config::BuildArgs &args) {
  try {
    auto loop = std::make_shared<Loop>();
    loop->typeName = args.typeName();
    if (args.typeName() == "Calibrator")
      loop->kind = Loop::Kind::Calibrator;
    else if (args.typeName() == "Predictor")
      loop->kind = Loop::Kind::Predictor;

    config::Value device = args.get("device");
    if (!device.isNone()) {
#ifndef HAT_ENABLE_CUDA
      return args.error("device=" + device.repr() +
                        " asks for a GPU, but this build has no CUDA "
                        "(configure with -DHAT_ENABLE_CUDA=ON against a "
                        "CUDA LibTorch); use device=None to train on CPU");
#endif
    }
    if (!args.get("profiler").isNone())
      return args.error("'profiler' is not supported; remove it or set None");
    config::Value syncBn = args.get("sync_bn");
    if (syncBn.isBool() && syncBn.asBool())
      runContext().logger->info(
          args.typeName() + ": sync_bn=True has no effect in a single process");

    // The model, then its conversions, then what depends on its parameters.
    loop->model = EngineModel::fromConfig(args.get("model"));
    config::Value pipeline = args.get("model_convert_pipeline");
    for (const config::Value &step : pipeline.isDict()
                                         ? std::vector<config::Value>{pipeline}
                                         : asList(pipeline))
      buildAs<Converter>(step, "converter")(*loop->model);

    config::Value optimizer = args.get("optimizer");
    if (!optimizer.isNone()) {
      if (loop->kind != Loop::Kind::Trainer)
        return args.error("a " + args.typeName() + " takes no optimizer");
      auto factory = buildAs<OptimizerFactory>(optimizer, "optimizer");
      loop->optimizer = factory(loop->model->executor().namedParameters());
    }
    config::Value loader = args.get("data_loader");
    if (!loader.isNone())
      loop->dataLoader =
          buildAs<std::shared_ptr<data::DataLoader>>(loader, "data_loader");
    config::Value processor = args.get("batch_processor");
    if (!processor.isNone())
      loop->batchProcessor =
          buildAs<BatchProcessorPtr>(processor, "batch_processor");
    else if (loop->dataLoader)
      return args.error("a data_loader needs a batch_processor");

    loop->stopBy =
        args.get("stop_by").isNone() ? "epoch" : args.get("stop_by").str();
    if (loop->stopBy != "epoch" && loop->stopBy != "step")
      return args.error("'stop_by' must be \"epoch\" or \"step\", got " +
                        args.get("stop_by").repr());
    if (loop->kind == Loop::Kind::Calibrator)
      loop->stopBy = "step";
    loop->numEpochs = intKwarg(args, "num_epochs", 0);
    loop->startEpoch = intKwarg(args, "start_epoch", 0);
    loop->numSteps = intKwarg(args, "num_steps", 0);
    loop->startStep = intKwarg(args, "start_step", 0);
    loop->resumeOptimizer = boolKwarg(args, "resume_optimizer", false);
    loop->resumeEpochOrStep = boolKwarg(args, "resume_epoch_or_step", false);
    loop->logInterval = intKwarg(args, "log_interval", 0);
    if (loop->stopBy == "epoch" && loop->kind == Loop::Kind::Trainer &&
        args.get("num_epochs").isNone())
      return args.error("needs 'num_epochs' (or stop_by=\"step\" with "
                        "num_steps)");
    if (loop->stopBy == "step" && args.get("num_steps").isNone() &&
        loop->kind != Loop::Kind::Predictor)
      return args.error("needs 'num_steps' when stopping by step");

    auto metricsFrom = [&](const char *name) {
      auto built = metrics::buildMetrics(args.get(name));
      if (!built)
        throw EngineError(diagnosticText(built.error()));
      return *built;
    };
    loop->metrics = metricsFrom(
        loop->kind == Loop::Kind::Predictor ? "metrics" : "train_metrics");
    loop->valMetrics = metricsFrom("val_metrics");
    for (const config::Value &cb : asList(args.get("callbacks")))
      loop->callbacks.push_back(buildAs<CallbackPtr>(cb, "callback"));
    return std::any(loop);
  } catch (const EngineError &e) {
    return config::Diagnostic(e.what());
  }
}

const config::KwargSpec kLoopKwargs{{"model"},
                                    {"data_loader",
                                     "optimizer",
                                     "batch_processor",
                                     "device",
                                     "model_convert_pipeline",
                                     "resume_optimizer",
                                     "resume_epoch_or_step",
                                     "stop_by",
                                     "num_epochs",
                                     "start_epoch",
                                     "num_steps",
                                     "start_step",
                                     "callbacks",
                                     "train_metrics",
                                     "val_metrics",
                                     "metrics",
                                     "profiler",
                                     "log_interval",
                                     "sync_bn",
                                     "sync_bn_by_host",
                                     "find_unused_parameters",
                                     "assign_module_buffers"}};

HAT_REGISTER("trainer",
             {"Trainer", "distributed_data_parallel_trainer",
              "DistributedDataParallelTrainer", "data_parallel_trainer",
              "DataParallelTrainer", "Calibrator", "Predictor"},
             kLoopKwargs, buildLoopFromArgs);

} // namespace

LoopPtr buildLoop(const config::Value &trainerConfig) {
  return buildAs<LoopPtr>(trainerConfig, "trainer");
}

} // namespace hat::engine
