//===- Callbacks.cpp - Metrics, validation, checkpoints, LR, EMA, logs ----===//

#include "hat/Distributed/Distributed.h"
#include "hat/Engine/Builders.h"

#include "hat/Metrics/TensorValue.h"
#include "hat/Models/Module.h"
#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <torch/types.h> // clip_grad.h needs torch::Tensor first

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/optimizer.h>

#include <chrono>
#include <cmath>
#include <filesystem>

namespace hat::engine {

namespace {

Logger &logger() { return *runContext().logger; }

/// Only rank 0 writes files (checkpoints, IR); the others compute the same.
bool writesFiles() {
  dist::Context *ctx = dist::Context::get();
  return !ctx || ctx->rank() == 0;
}

int worldSize() {
  return dist::Context::active() ? dist::Context::get()->worldSize() : 1;
}

/// Each rank validated its shard: gather every rank's metric state and merge
/// the others' into this rank's, so all ranks hold the metrics of the whole
/// validation set (and agree on the best checkpoint).
void reduceMetricsOverRanks(const std::vector<metrics::MetricPtr> &ms) {
  dist::Context *ctx = dist::Context::get();
  if (!dist::Context::active())
    return;
  for (const metrics::MetricPtr &m : ms) {
    std::vector<std::vector<double>> states = ctx->allGather(m->state());
    for (int r = 0; r < ctx->worldSize(); ++r) {
      if (r == ctx->rank())
        continue;
      auto merged = m->mergeState(states[r]);
      if (!merged)
        throw EngineError("combining " + m->typeName() +
                          " over the ranks: " + merged.error().str());
    }
  }
}

std::vector<std::pair<std::string, double>>
metricValues(const std::vector<metrics::MetricPtr> &ms) {
  std::vector<std::pair<std::string, double>> out;
  for (auto &m : ms)
    for (auto &v : m->get())
      out.push_back(v);
  return out;
}

config::Value metricsValue(const std::vector<metrics::MetricPtr> &ms) {
  std::vector<config::Value> items;
  for (auto &m : ms)
    items.push_back(config::Value::host(m));
  return config::Value::list(items);
}

/// Wraps a builder so EngineErrors from kwarg checks become diagnostics.
template <typename Fn>
config::Expected<std::any> guarded(const config::BuildArgs &args, Fn fn) {
  try {
    return std::any(CallbackPtr(fn(args)));
  } catch (const EngineError &e) {
    return config::Diagnostic(e.what());
  }
}

//===----------------------------------------------------------------------===//

class StatsMonitor : public Callback {
public:
  int64_t logFreq = 200;
  std::string name() const override { return "StatsMonitor"; }
  void onEpochBegin(LoopState &) override {
    windowStart = std::chrono::steady_clock::now();
    windowImages = 0;
  }
  void onStepEnd(LoopState &st) override {
    windowImages += st.batchSize;
    if (logFreq == 0 || (st.globalStep + 1) % logFreq != 0)
      return;
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - windowStart)
                         .count();
    std::vector<std::pair<std::string, double>> values = {
        {"loss", st.loss},
        {"images_per_sec",
         seconds > 0 ? windowImages * worldSize() / seconds : 0}};
    if (st.loop->optimizer)
      values.emplace_back("lr", st.loop->learningRate());
    logger().logValues("Epoch[" + std::to_string(st.epoch) + "] Step[" +
                           std::to_string(st.stepInEpoch + 1) + "/" +
                           std::to_string(st.stepsPerEpoch) + "]",
                       runContext().stage, st.epoch, st.globalStep + 1, values);
    windowStart = std::chrono::steady_clock::now();
    windowImages = 0;
  }
  void onLoopEnd(LoopState &st) override {
    if (st.loop->wallSeconds > 0 && st.loop->dataLoader)
      logger().info(st.loop->typeName + " finished in " +
                    std::to_string((int64_t)st.loop->wallSeconds) + " s (" +
                    std::to_string((int64_t)st.loop->imagesPerSecond) +
                    " images/s)");
  }

private:
  std::chrono::steady_clock::time_point windowStart;
  int64_t windowImages = 0;
};

config::Expected<std::any> buildStatsMonitor(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<StatsMonitor>();
    cb->logFreq = intKwarg(a, "log_freq", 200);
    return cb;
  });
}
HAT_REGISTER("callback", {"StatsMonitor"}, config::KwargSpec{{}, {"log_freq"}},
             buildStatsMonitor);

//===----------------------------------------------------------------------===//

/// Calls the config's update function with the loop's metrics, the batch
/// and the model outputs; logs the metrics by step and/or epoch.
class MetricUpdater : public Callback {
public:
  config::Value updateFunc;
  int64_t stepLogFreq = 0, epochLogFreq = 1;
  std::string logPrefix;
  std::string resetBy = "epoch";
  std::string name() const override { return "MetricUpdater"; }

  void onLoopBegin(LoopState &st) override {
    for (auto &m : st.loop->metrics)
      m->reset();
  }
  void onEpochBegin(LoopState &st) override {
    if (resetBy == "epoch")
      for (auto &m : st.loop->metrics)
        m->reset();
  }
  void onStepEnd(LoopState &st) override {
    callConfigFunction(updateFunc,
                       {metricsValue(st.loop->metrics), st.batch, st.outputs},
                       "metric_update_func");
    if (stepLogFreq > 0 && (st.globalStep + 1) % stepLogFreq == 0) {
      logger().logValues(prefix(st) + " Step[" +
                             std::to_string(st.stepInEpoch + 1) + "]",
                         runContext().stage, st.epoch, st.globalStep + 1,
                         metricValues(st.loop->metrics));
      if (resetBy == "log")
        for (auto &m : st.loop->metrics)
          m->reset();
    }
  }
  void onEpochEnd(LoopState &st) override {
    if (epochLogFreq > 0 && (st.epoch + 1) % epochLogFreq == 0 &&
        st.loop->kind != Loop::Kind::Predictor)
      logger().logValues(prefix(st), runContext().stage, st.epoch,
                         st.globalStep, metricValues(st.loop->metrics));
  }

private:
  std::string prefix(LoopState &st) const {
    return (logPrefix.empty() ? std::string("metrics") : logPrefix) +
           " Epoch[" + std::to_string(st.epoch) + "]";
  }
};

config::Expected<std::any> buildMetricUpdater(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<MetricUpdater>();
    cb->updateFunc = a.get("metric_update_func");
    if (!cb->updateFunc.isFunction())
      throw EngineError(a.error("'metric_update_func' must be a config "
                                "function, got " +
                                cb->updateFunc.repr())
                            .str());
    cb->stepLogFreq = intKwarg(a, "step_log_freq", 0);
    cb->epochLogFreq = intKwarg(a, "epoch_log_freq", 1);
    cb->logPrefix = strKwarg(a, "log_prefix", "");
    cb->resetBy =
        strKwarg(a, "reset_metrics_by", "epoch", {"epoch", "log", "loop"});
    return cb;
  });
}
HAT_REGISTER("callback", {"MetricUpdater"},
             config::KwargSpec{{"metric_update_func"},
                               {"step_log_freq", "epoch_log_freq", "log_prefix",
                                "reset_metrics_by"}},
             buildMetricUpdater);

//===----------------------------------------------------------------------===//

/// Runs a Predictor over the validation data with the trainer's model and
/// val_metrics; results go to LoopState::valMetrics for the checkpoint.
class Validation : public Callback {
public:
  std::shared_ptr<data::DataLoader> dataLoader;
  BatchProcessorPtr batchProcessor;
  std::vector<CallbackPtr> callbacks;
  int64_t interval = 1;
  std::string intervalBy = "epoch";
  bool onTrainEnd = true;
  std::string logPrefix = "Validation";
  std::string name() const override { return "Validation"; }
  int order() const override { return 0; }

  void run(LoopState &st) {
    Loop &outer = *st.loop;
    Loop predictor;
    predictor.kind = Loop::Kind::Predictor;
    predictor.typeName = "Predictor";
    predictor.model = outer.model;
    predictor.dataLoader = dataLoader;
    predictor.batchProcessor = batchProcessor;
    predictor.callbacks = callbacks;
    predictor.metrics = outer.valMetrics;
    predictor.state().epoch = st.epoch;
    bool wasTraining = outer.model->isTraining();
    outer.broadcastBuffers(); // every rank validates rank 0's BN statistics
    if (st.swapAveragedWeights)
      st.swapAveragedWeights(true);
    predictor.fit(); // a predictor never resumes: the trainer's model is it
    if (st.swapAveragedWeights)
      st.swapAveragedWeights(false);
    outer.model->train(wasTraining);
    reduceMetricsOverRanks(outer.valMetrics);
    st.valMetrics = metricValues(outer.valMetrics);
    logger().logValues(logPrefix + " Epoch[" + std::to_string(st.epoch) + "]",
                       runContext().stage, st.epoch, st.globalStep,
                       st.valMetrics);
    ranAtStep = st.globalStep;
  }
  void onStepEnd(LoopState &st) override {
    if (intervalBy == "step" && interval > 0 &&
        (st.globalStep + 1) % interval == 0) {
      ++st.globalStep; // the step is done; report it as such
      run(st);
      --st.globalStep;
    }
  }
  void onEpochEnd(LoopState &st) override {
    if (intervalBy == "epoch" && interval > 0 && (st.epoch + 1) % interval == 0)
      run(st);
  }
  void onLoopEnd(LoopState &st) override {
    if (onTrainEnd && ranAtStep != st.globalStep)
      run(st);
  }

private:
  int64_t ranAtStep = -1;
};

config::Expected<std::any> buildValidation(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<Validation>();
    cb->dataLoader = buildAs<std::shared_ptr<data::DataLoader>>(
        a.get("data_loader"), "data_loader");
    // Data parallel: a loader without a sampler of its own is split over
    // the ranks exactly (no padding), so the gathered metrics count every
    // sample once. A configured DistributedSampler is kept as torch would.
    if (dist::Context::active() && !cb->dataLoader->options().sampler) {
      dist::Context &ctx = *dist::Context::get();
      data::DataLoaderOptions options = cb->dataLoader->options();
      data::SamplerPtr order =
          options.shuffle
              ? data::SamplerPtr(std::make_shared<data::RandomSampler>(
                    data::RandomSamplerOptions{options.seed}))
              : std::make_shared<data::SequentialSampler>();
      options.sampler = std::make_shared<data::ShardSampler>(order, ctx.rank(),
                                                             ctx.worldSize());
      cb->dataLoader = std::make_shared<data::DataLoader>(std::move(options));
    }
    cb->batchProcessor =
        buildAs<BatchProcessorPtr>(a.get("batch_processor"), "batch_processor");
    if (cb->batchProcessor->needGradUpdate)
      throw EngineError(a.error("the validation batch_processor must have "
                                "need_grad_update=False")
                            .str());
    for (const config::Value &c : asList(a.get("callbacks")))
      cb->callbacks.push_back(buildAs<CallbackPtr>(c, "callback"));
    cb->interval = intKwarg(a, "val_interval", 1);
    cb->intervalBy = strKwarg(a, "interval_by", "epoch", {"epoch", "step"});
    cb->onTrainEnd = boolKwarg(a, "val_on_train_end", true);
    cb->logPrefix = strKwarg(a, "log_prefix", "Validation");
    // Validation always runs the trainer's own model; HAT's alternative (a
    // separate val_model) is refused rather than silently ignored.
    // init_with_train_model only says how a given val_model is initialised:
    // without one HAT validates the trainer's model whatever its value (the
    // seed FCOS config sets it False), so both values are accepted then.
    if (!a.get("val_model").isNone())
      throw EngineError(a.error("'val_model' is not supported: validation "
                                "runs the trainer's model")
                            .str());
    boolKwarg(a, "init_with_train_model", true);
    return cb;
  });
}
HAT_REGISTER("callback", {"Validation"},
             config::KwargSpec{{"data_loader", "batch_processor"},
                               {"callbacks", "val_interval", "interval_by",
                                "val_on_train_end", "log_prefix",
                                "init_with_train_model", "val_model"}},
             buildValidation);

//===----------------------------------------------------------------------===//

/// `{save_dir}/{name_prefix}checkpoint-last.pth.tar` at each
/// interval and at the end; `...-best` whenever the monitored validation
/// metric improves (and at the end when nothing was monitored), both with
/// optimizer state so either can be resumed.
class CheckpointCallback : public Callback {
public:
  std::string saveDir, namePrefix;
  int64_t interval = 1;
  std::string intervalBy = "epoch";
  bool saveOnTrainEnd = true;
  std::string mode = "max";
  std::string monitorKey;
  std::string name() const override { return "Checkpoint"; }
  int order() const override { return 2; }

  std::string path(const std::string &which) const {
    return (std::filesystem::path(saveDir) /
            (namePrefix + "checkpoint-" + which + ".pth.tar"))
        .string();
  }

  void save(LoopState &st, const std::string &which) {
    if (!writesFiles())
      return;
    CheckpointData data;
    data.stage = runContext().stage;
    data.epoch = st.epoch;
    data.globalStep = st.globalStep;
    // nlohmann: keys escaped, NaN/Inf as null (std::to_string wrote "nan").
    nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
    for (auto &[k, v] : st.valMetrics)
      metrics[k] = v;
    data.metricsJson =
        metrics.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (st.swapAveragedWeights) {
      // The averaged weights are what the next stage loads; the live ones
      // (copied: the swap reuses their storage) are what resume continues.
      for (auto &[name, tensor] : st.loop->model->stateDict())
        data.live.emplace_back(name, tensor.detach().clone());
      st.swapAveragedWeights(true);
    }
    data.model = st.loop->model->stateDict();
    saveCheckpoint(path(which), data, st.loop->optimizer.get());
    if (st.swapAveragedWeights)
      st.swapAveragedWeights(false);
  }

  void maybeSaveBest(LoopState &st) {
    if (monitorKey.empty())
      return;
    for (auto &[k, v] : st.valMetrics) {
      if (k != monitorKey)
        continue;
      bool better = !hasBest || (mode == "max" ? v > best : v < best);
      if (better) {
        best = v;
        hasBest = true;
        save(st, "best");
        logger().info("new best " + monitorKey + "=" + std::to_string(v) +
                      " saved to " + path("best"));
      }
      return;
    }
  }

  void onStepEnd(LoopState &st) override {
    if (intervalBy == "step" && interval > 0 &&
        (st.globalStep + 1) % interval == 0) {
      ++st.globalStep;
      save(st, "last");
      --st.globalStep;
    }
  }
  void onEpochEnd(LoopState &st) override {
    if (intervalBy == "epoch" && interval > 0 &&
        (st.epoch + 1) % interval == 0) {
      save(st, "last");
      maybeSaveBest(st);
    }
  }
  void onLoopEnd(LoopState &st) override {
    if (saveOnTrainEnd)
      save(st, "last");
    maybeSaveBest(st);
    // Stages without a monitored metric (calibration, or no validation)
    // still leave a best checkpoint for the next stage to load.
    if (!hasBest && saveOnTrainEnd) {
      save(st, "best");
      hasBest = true;
    }
  }

private:
  bool hasBest = false;
  double best = 0;
};

config::Expected<std::any> buildCheckpoint(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<CheckpointCallback>();
    cb->saveDir = strKwarg(a, "save_dir", "");
    if (cb->saveDir.empty())
      throw EngineError(a.error("'save_dir' is required").str());
    // HAT's configs pass name_prefix=training_step + "-", giving the
    // float-checkpoint-best.pth.tar their LoadCheckpoint converters read;
    // without the kwarg the stage is the prefix, for the same names.
    cb->namePrefix =
        strKwarg(a, "name_prefix", runContext().stage + std::string("-"));
    cb->interval = intKwarg(a, "save_interval", 1);
    cb->intervalBy = strKwarg(a, "interval_by", "epoch", {"epoch", "step"});
    cb->saveOnTrainEnd = boolKwarg(a, "save_on_train_end", true);
    cb->mode = strKwarg(a, "mode", "max", {"max", "min"});
    cb->monitorKey = strKwarg(a, "monitor_metric_key", "");
    // Checkpoints written here are read back by `hat-train --resume`, which
    // always matches names strictly: True states that, False cannot be had.
    if (!boolKwarg(a, "strict_match", true))
      throw EngineError(
          a.error("'strict_match=False' is not supported: checkpoints are "
                  "always loaded with strictly matching names (use "
                  "LoadCheckpoint's ignore_extra=True in a "
                  "model_convert_pipeline to load a checkpoint with extra "
                  "tensors)")
              .str());
    return cb;
  });
}
HAT_REGISTER("callback", {"Checkpoint"},
             config::KwargSpec{{"save_dir"},
                               {"name_prefix", "save_interval", "interval_by",
                                "save_on_train_end", "strict_match", "mode",
                                "monitor_metric_key"}},
             buildCheckpoint);

//===----------------------------------------------------------------------===//

/// Sets the LR at each step: linear warmup, then cosine or step decay.
class LrUpdater : public Callback {
public:
  bool cosine = true;
  int64_t warmupLen = 0;
  std::string warmupBy = "epoch";
  double warmupRatio = 0.1;
  double stopLr = 0;
  std::vector<int64_t> decayIds;
  double decayFactor = 0.1;
  int64_t stepLogInterval = 0;
  std::string name() const override {
    return cosine ? "CosLrUpdater" : "StepDecayLrUpdater";
  }

  void onStepBegin(LoopState &st) override {
    Loop &loop = *st.loop;
    if (!loop.optimizer || loop.baseLearningRates.empty())
      return;
    double base = loop.baseLearningRates[0];
    int64_t perEpoch = std::max<int64_t>(1, st.stepsPerEpoch);
    int64_t total =
        loop.stopBy == "step" ? loop.numSteps : loop.numEpochs * perEpoch;
    int64_t warmup = warmupLen * (warmupBy == "epoch" ? perEpoch : 1);
    int64_t t = st.globalStep;
    double lr;
    if (t < warmup) {
      lr = base * (warmupRatio + (1 - warmupRatio) * (double)t / warmup);
    } else if (cosine) {
      double span = std::max<int64_t>(1, total - warmup);
      double progress = std::min(1.0, (double)(t - warmup) / span);
      lr = stopLr + (base - stopLr) * 0.5 * (1 + std::cos(M_PI * progress));
    } else {
      int64_t epoch = t / perEpoch;
      lr = base;
      for (int64_t id : decayIds)
        if (epoch >= id)
          lr *= decayFactor;
    }
    loop.setLearningRate(lr);
    if (stepLogInterval > 0 && (t + 1) % stepLogInterval == 0)
      logger().logValues(name(), runContext().stage, st.epoch, t + 1,
                         {{"lr", lr}});
  }
};

config::Expected<std::any> buildLrUpdater(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<LrUpdater>();
    cb->cosine = a.typeName() == "CosLrUpdater";
    cb->warmupLen = intKwarg(a, "warmup_len", 0);
    cb->warmupBy = strKwarg(a, "warmup_by", "epoch", {"epoch", "step"});
    cb->warmupRatio = numberKwarg(a, "warmup_lr_ratio", 0.1);
    cb->stopLr = numberKwarg(a, "stop_lr", 0.0);
    cb->decayFactor = numberKwarg(a, "lr_decay_factor", 0.1);
    cb->stepLogInterval = intKwarg(a, "step_log_interval", 0);
    for (const config::Value &id : asList(a.get("lr_decay_id"))) {
      if (!id.isInt())
        throw EngineError(
            a.error("'lr_decay_id' must be a list of epochs").str());
      cb->decayIds.push_back(id.asInt());
    }
    if (!cb->cosine && cb->decayIds.empty())
      throw EngineError(
          a.error("StepDecayLrUpdater needs 'lr_decay_id'").str());
    return cb;
  });
}
/// Clips the total gradient norm of the trainable parameters to `max_norm`
/// (torch.nn.utils.clip_grad_norm_, `norm_type` 2 by default) once per
/// optimizer step, after the gradients are accumulated and all-reduced, so
/// every rank clips the same gradients (Deformable DETR trains with
/// max_norm 0.1). `log_interval` > 0 logs the norm before clipping.
struct GradClip : Callback {
  double maxNorm = 0, normType = 2;
  int64_t logInterval = 0;

  std::string name() const override { return "GradClip"; }
  void beforeOptimizerStep(LoopState &st) override {
    std::vector<at::Tensor> params = st.loop->model->executor().parameters();
    const double norm =
        torch::nn::utils::clip_grad_norm_(params, maxNorm, normType);
    if (logInterval > 0 && (st.globalStep + 1) % logInterval == 0)
      logger().logValues(name(), runContext().stage, st.epoch,
                         st.globalStep + 1, {{"grad_norm", norm}});
  }
};

config::Expected<std::any> buildGradClip(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<GradClip>();
    cb->maxNorm = numberKwarg(a, "max_norm", 0);
    cb->normType = numberKwarg(a, "norm_type", 2);
    cb->logInterval = intKwarg(a, "log_interval", 0);
    if (!(cb->maxNorm > 0) || !std::isfinite(cb->maxNorm))
      throw EngineError(a.error("'max_norm' must be a positive number").str());
    if (!(cb->normType > 0))
      throw EngineError(
          a.error("'norm_type' must be positive (2 for the L2 norm, inf for "
                  "the largest magnitude)")
              .str());
    if (cb->logInterval < 0)
      throw EngineError(a.error("'log_interval' must be >= 0").str());
    return cb;
  });
}
HAT_REGISTER("callback", {"GradClip"},
             config::KwargSpec{{"max_norm"}, {"norm_type", "log_interval"}},
             buildGradClip);

HAT_REGISTER("callback", {"CosLrUpdater"},
             config::KwargSpec{{},
                               {"warmup_len", "warmup_by", "warmup_lr_ratio",
                                "stop_lr", "step_log_interval"}},
             buildLrUpdater);
HAT_REGISTER("callback", {"StepDecayLrUpdater"},
             config::KwargSpec{{"lr_decay_id"},
                               {"lr_decay_factor", "warmup_len", "warmup_by",
                                "warmup_lr_ratio", "step_log_interval"}},
             buildLrUpdater);

//===----------------------------------------------------------------------===//

/// Keeps an exponential moving average of parameters and buffers; the
/// average is swapped in for validation and checkpoints.
class ExponentialMovingAverage : public Callback {
public:
  double decay = 0.9999;
  int64_t baseSteps = 0;
  std::string name() const override { return "ExponentialMovingAverage"; }

  void onLoopBegin(LoopState &st) override {
    shadow.clear();
    updates = std::max<int64_t>(0, st.globalStep - baseSteps);
    for (auto &[name, t] : st.loop->model->stateDict()) {
      if (!t.is_floating_point())
        continue;
      at::Tensor average = t.detach().clone();
      // A resumed run continues the average it checkpointed.
      for (auto &[savedName, saved] : st.resumedAverage)
        if (savedName == name && saved.sizes() == t.sizes())
          average.copy_(saved);
      shadow.emplace_back(t, average);
    }
    st.swapAveragedWeights = [this](bool in) { swap(in); };
  }
  void onStepEnd(LoopState &st) override {
    if (!st.training || st.globalStep < baseSteps)
      return;
    at::NoGradGuard noGrad;
    ++updates;
    double d = std::min(decay, (1.0 + updates) / (10.0 + updates));
    for (auto &[live, avg] : shadow)
      avg.mul_(d).add_(live.detach(), 1 - d);
  }
  /// After validation and checkpoints (order 3), the average becomes the
  /// model: the stage's saved IR is what its checkpoints hold.
  int order() const override { return 3; }
  void onLoopEnd(LoopState &st) override {
    swap(true);
    swappedIn = false;
    st.swapAveragedWeights = nullptr;
  }

private:
  void swap(bool in) {
    if (in == swappedIn)
      return;
    at::NoGradGuard noGrad;
    for (auto &[live, avg] : shadow) {
      at::Tensor tmp = live.detach().clone();
      live.detach().copy_(avg);
      avg.copy_(tmp);
    }
    swappedIn = in;
  }
  std::vector<std::pair<at::Tensor, at::Tensor>> shadow;
  int64_t updates = 0;
  bool swappedIn = false;
};

config::Expected<std::any> buildEma(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<ExponentialMovingAverage>();
    cb->decay = numberKwarg(a, "decay", 0.9999);
    if (!(cb->decay > 0 && cb->decay < 1))
      throw EngineError(a.error("'decay' must be in (0, 1)").str());
    cb->baseSteps = intKwarg(a, "base_steps", 0);
    return cb;
  });
}
HAT_REGISTER("callback", {"ExponentialMovingAverage"},
             config::KwargSpec{{}, {"decay", "base_steps"}}, buildEma);

//===----------------------------------------------------------------------===//

/// Saves the stage's model IR (trained values written back) at loop end:
/// `{save_dir}/{stage}-deploy-model.mlir` (and `.mlirbc`).
class SaveTraced : public Callback {
public:
  std::string saveDir;
  std::string name() const override { return "SaveTraced"; }
  int order() const override { return 3; }
  void onLoopEnd(LoopState &st) override {
    if (!writesFiles())
      return;
    std::string base = (std::filesystem::path(saveDir) /
                        (runContext().stage + "-deploy-model"))
                           .string();
    std::filesystem::create_directories(saveDir);
    st.loop->model->saveIR(base + ".mlir");
    st.loop->model->saveIR(base + ".mlirbc", /*bytecode=*/true);
    logger().info("saved the " + st.loop->model->kind() + " model IR to " +
                  base + ".mlir");
  }
};

config::Expected<std::any> buildSaveTraced(const config::BuildArgs &args) {
  return guarded(args, [](const config::BuildArgs &a) {
    auto cb = std::make_shared<SaveTraced>();
    cb->saveDir = strKwarg(a, "save_dir", "");
    if (cb->saveDir.empty())
      throw EngineError(a.error("'save_dir' is required").str());
    // HAT traces the model with trace_inputs; here the model is lowered
    // (and so saved) at the shapes of deploy_inputs. Equal shapes are what
    // the user asked for; other shapes cannot be honoured and are refused.
    config::Value traceInputs = a.get("trace_inputs");
    if (!traceInputs.isNone()) {
      auto traced = models::parseDeployInputs(traceInputs);
      if (!traced)
        throw EngineError(
            a.error("'trace_inputs': " + traced.error().message).str());
      const RunContext &ctx = runContext();
      const config::Value *deployInputs =
          ctx.config ? ctx.config->get("deploy_inputs") : nullptr;
      auto deployed =
          deployInputs
              ? models::parseDeployInputs(*deployInputs)
              : config::Expected<
                    std::vector<std::pair<std::string, std::vector<int64_t>>>>(
                    config::Diagnostic("missing"));
      auto text = [](const auto &inputs) {
        std::string out;
        for (const auto &[name, shape] : inputs) {
          out += (out.empty() ? "" : ", ") + name + " ";
          for (size_t i = 0; i < shape.size(); ++i)
            out += (i ? "x" : "") + std::to_string(shape[i]);
        }
        return out;
      };
      if (!deployed || *deployed != *traced)
        throw EngineError(
            a.error("'trace_inputs' (" + text(*traced) +
                    ") must match deploy_inputs" +
                    (deployed ? " (" + text(*deployed) + ")"
                              : std::string(" (the config has none)")) +
                    ": the model is lowered and saved at deploy_inputs' "
                    "shapes; pass trace_inputs=deploy_inputs or leave it out")
                .str());
    }
    return cb;
  });
}
HAT_REGISTER("callback", {"SaveTraced"},
             config::KwargSpec{{"save_dir"}, {"trace_inputs"}},
             buildSaveTraced);

} // namespace
} // namespace hat::engine
