//===- Loop.cpp - Trainer, Calibrator and Predictor -----------------------===//

#include "hat/Distributed/Distributed.h"
#include "hat/Engine/Builders.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/optimizer.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
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
  // Test hooks: die like a killed job (SIGKILL) or fail with an error
  // right after a step, on every rank or only on HAT_DEBUG_RANK.
  static const auto envInt = [](const char *name) -> int64_t {
    const char *v = getenv(name);
    return v ? std::atoll(v) : 0;
  };
  static const bool debugThisRank = [] {
    const char *v = getenv("HAT_DEBUG_RANK");
    dist::Context *ctx = dist::Context::get();
    return !v || std::atoi(v) == (ctx ? ctx->rank() : 0);
  }();
  static const int64_t killAtStep =
      debugThisRank ? envInt("HAT_DEBUG_KILL_AT_STEP") : 0;
  static const int64_t failAtStep =
      debugThisRank ? envInt("HAT_DEBUG_FAIL_AT_STEP") : 0;
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
    st.batch = batchProcessor->prepare(batch);
    for (auto &cb : callbacks)
      cb->onStepBegin(st);
    batchProcessor->run(st, st.batch);
    for (auto &cb : callbacks)
      cb->onStepEnd(st);
    ++st.globalStep;
    ++st.stepInEpoch;
    --stepsLeft;
    if (killAtStep > 0 && st.globalStep == killAtStep)
      raise(SIGKILL);
    if (failAtStep > 0 && st.globalStep == failAtStep)
      throw EngineError("failing on purpose after step " +
                        std::to_string(failAtStep) +
                        " (HAT_DEBUG_FAIL_AT_STEP)");
    images += st.batchSize;
    lossSum += st.loss;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
            .count();
    log.progressUpdate(st.stepInEpoch, lossSum / st.stepInEpoch,
                       seconds > 0 ? images / seconds : 0);
    // HAT's log_interval: a log line every N steps (the progress bar only
    // shows on a terminal and is not kept in the log).
    if (logInterval > 0 && st.stepInEpoch % logInterval == 0) {
      char line[160];
      std::snprintf(line, sizeof(line), " step %lld/%lld: %s%.1f img/s",
                    (long long)st.stepInEpoch, (long long)total,
                    kind == Kind::Trainer
                        ? ("loss " + std::to_string(lossSum / st.stepInEpoch) +
                           ", lr " + std::to_string(learningRate()) + ", ")
                              .c_str()
                        : "",
                    seconds > 0 ? images / seconds : 0.0);
      log.info(runContext().stage + " epoch " + std::to_string(epoch) + line);
    }
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
  if (kind != Kind::Predictor)
    setUpDataParallel();
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
  // Every rank runs as many steps of batch_size: images/s of the whole job.
  int64_t batchSize = dataLoader ? dataLoader->options().batch_size : 0;
  int world = dist::Context::active() ? dist::Context::get()->worldSize() : 1;
  imagesPerSecond =
      wallSeconds > 0 ? steps * batchSize * world / wallSeconds : 0;
  model->train(false);
  // Calibration ends here: the observed scales land in the model and the
  // validation and checkpoint that follow see the fake-quantized model.
  if (kind == Kind::Calibrator)
    model->setFakeQuantMode(exec::FakeQuantMode::QAT);
  // Buffers that ranks computed apart (calibration scales from each rank's
  // shard, BN statistics without sync_bn) are rank 0's from here on, as
  // torch's DDP broadcasts them from rank 0.
  if (kind != Kind::Predictor)
    broadcastBuffers();
  for (Callback *cb : endOrder())
    cb->onLoopEnd(st);
}

void Loop::setUpDataParallel() {
  dist::Context *ctx = dist::Context::get();
  Logger &log = *runContext().logger;
  if (!ctx || ctx->worldSize() == 1) {
    if (syncBn)
      log.info(typeName + ": sync_bn=True with a single process: nothing to "
                          "synchronise");
    return;
  }
  // Every rank starts from rank 0's parameters and buffers (whatever the
  // per-rank initialisation or resume gave).
  std::vector<at::Tensor> state;
  for (auto &[name, t] : model->stateDict())
    if (t.is_floating_point())
      state.push_back(t);
  {
    at::NoGradGuard noGrad;
    ctx->broadcast(state, 0);
  }
  if (!loopState.training)
    return;
  if (dataLoader && !dynamic_cast<const data::DistributedSampler *>(
                        dataLoader->options().sampler.get()))
    log.warning(typeName + ": the data_loader has no DistributedSampler, so "
                           "every rank reads all of it (as with torch's DDP); "
                           "add sampler=dict(type=torch.utils.data."
                           "DistributedSampler) to split it over the ranks");
  if (syncBn)
    model->setBatchNormFunction(
        [ctx](const at::Tensor &input, const at::Tensor &weight,
              const at::Tensor &bias, const at::Tensor &mean,
              const at::Tensor &var, bool training, double momentum,
              double eps) {
          return dist::syncBatchNorm(*ctx, input, weight, bias, mean, var,
                                     training, momentum, eps);
        });
  dist::ReducerOptions options;
  options.bucketCapMb = bucketCapMb;
  options.findUnusedParameters = findUnusedParameters;
  options.overlap = overlapGradReduce;
  reducer = std::make_unique<dist::GradientReducer>(
      *ctx, model->executor().namedParameters(), options);
  log.info(typeName + ": data parallel over " +
           std::to_string(ctx->worldSize()) + " ranks (Gloo), " +
           std::to_string(reducer->numBuckets()) + " gradient bucket(s)" +
           (overlapGradReduce ? " all-reduced during backward"
                              : " all-reduced after backward") +
           (syncBn ? ", SyncBN" : "") +
           (findUnusedParameters ? ", find_unused_parameters" : ""));
}

void Loop::broadcastBuffers() {
  if (!dist::Context::active())
    return;
  std::vector<at::Tensor> buffers;
  for (auto &[name, t] : model->executor().namedBuffers())
    if (t.is_floating_point())
      buffers.push_back(t);
  at::NoGradGuard noGrad;
  dist::Context::get()->broadcast(buffers, 0);
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
    loop->syncBn = boolKwarg(args, "sync_bn", false);
    if (boolKwarg(args, "sync_bn_by_host", false))
      return args.error("sync_bn_by_host=True is not supported: SyncBN "
                        "synchronises over all ranks");
    loop->findUnusedParameters =
        boolKwarg(args, "find_unused_parameters", false);
    loop->bucketCapMb = numberKwarg(args, "bucket_cap_mb", 25);
    if (!(loop->bucketCapMb > 0))
      return args.error("'bucket_cap_mb' must be a positive number");
    loop->overlapGradReduce = boolKwarg(args, "overlap_grad_reduce", true);

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
      loop->optimizer = factory(loop->model->executor().namedParameters(),
                                loop->model->executor().normParameterNames());
      // What each parameter group got, so a custom_param_mapper can be
      // checked before the first step.
      if (Logger *log = runContext().logger.get())
        log->info(describeOptimizer(*loop->optimizer));
    }
    config::Value loader = args.get("data_loader");
    // HAT's Predictor takes a list of loaders (the seed passes
    // [val_data_loader]); one is supported, more are refused.
    if (loop->kind == Loop::Kind::Predictor &&
        (loader.isList() || loader.isTuple())) {
      if (loader.sequenceItems().size() != 1)
        return args.error("a Predictor here runs one data_loader; got a "
                          "list of " +
                          std::to_string(loader.sequenceItems().size()) +
                          " (run one predictor per loader)");
      loader = loader.sequenceItems()[0];
    }
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
                                     "bucket_cap_mb",
                                     "overlap_grad_reduce",
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
