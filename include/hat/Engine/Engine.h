//===- Engine.h - Trainers, batch processors, callbacks ---------*- C++ -*-===//
//
// The training loop of HAT's engine API on the LibTorch executor:
//
//   Loop (Trainer / Calibrator / Predictor)
//     pulls batches from a data::DataLoader,
//     hands each to a BatchProcessor (forward through the EngineModel, loss
//     collection, backward, optimizer step),
//     and calls Callbacks at fixed points (loop, epoch, step begin/end) for
//     metrics, validation, checkpoints, LR schedules, EMA and logging.
//
// Everything is built from the config through the registry; hat-train sets
// the RunContext first so builders know the stage and the config.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_ENGINE_ENGINE_H
#define HAT_ENGINE_ENGINE_H

#include "hat/Config/Config.h"
#include "hat/Data/DataLoader.h"
#include "hat/Data/Transforms.h"
#include "hat/Engine/Logger.h"
#include "hat/Executor/ModuleExecutor.h"
#include "hat/Metrics/Metrics.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
} // namespace torch::optim

namespace hat::dist {
class GradientReducer;
} // namespace hat::dist

namespace hat::detection {
class DetectionPostProcessor;
} // namespace hat::detection
namespace hat::lane {
class GaNetPostProcessor;
} // namespace hat::lane

namespace hat::engine {

/// An error that ends a stage: a config value only checkable at run time, a
/// data or checkpoint problem. hat-train prints it and exits 1.
class EngineError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What hat-train knows before building the stage's trainer.
struct RunContext {
  std::string stage = "float"; ///< float, calibration, qat, int_infer
  std::shared_ptr<config::Module> config;
  std::string configPath;
  /// A checkpoint to resume from (hat-train --resume): model, optimizer and
  /// epoch/step.
  std::string resumeFrom;
  uint64_t seed = 0;
  std::shared_ptr<Logger> logger = std::make_shared<Logger>();
};
RunContext &runContext();

class EngineModel;
using EngineModelPtr = std::shared_ptr<EngineModel>;

/// A loss built from the config: preds [N, C] and labels [N] to a scalar.
struct Loss {
  std::string name;
  std::function<at::Tensor(const at::Tensor &preds, const at::Tensor &labels)>
      fn;
};

class FcosLoss;
class GaNetLoss;
class SetCriterion;

/// The model a loop trains: its hat IR, the executor running it, and the
/// config's losses. forward() follows HAT's models:
///  * a classifier (one unnamed output) returns, while training with
///    losses, (preds, {loss_name: loss}), otherwise preds;
///  * a detector (named outputs and a `hat.post_process` description, e.g.
///    FCOS) returns, while training with its targets and losses, the dict
///    {loss_name: loss}; otherwise the dict of its named outputs plus
///    `pred_bboxes` (one [K, 6] tensor per image: x1, y1, x2, y2 in the
///    stored image's pixels, score, label) and `img_id` [N], which
///    COCODetectionMetric.update(model_outs) reads. The decoding is
///    hat::detection's, the code hat-run runs after the HBM;
///  * any other model with named outputs returns the dict of them.
class EngineModel {
public:
  /// Lowers the config model for the input shape of `deploy_inputs`.
  static EngineModelPtr fromConfig(const config::Value &modelConfig);
  ~EngineModel();

  config::Value forward(const config::Value &batch);
  void train(bool training);
  bool isTraining() const { return training; }

  exec::ModuleExecutor &executor() { return *runner; }
  /// Runs an MLIR pass pipeline (textual, on the module) on the current
  /// state: trained values are written back first, the executor rebuilt
  /// after with `mode`.
  void runPasses(const std::string &pipeline, exec::FakeQuantMode mode,
                 const exec::ExecutorOptions &options = {});
  void setFakeQuantMode(exec::FakeQuantMode mode);
  /// Writes the trained state into the IR and hands the function to `edit`
  /// (analysis tools read it, clone it or add results to tap layer outputs).
  /// With `rebuild` the executor is then rebuilt in its current mode and
  /// options, so forward() runs the edited function.
  void editIR(const std::function<void(mlir::func::FuncOp)> &edit,
              bool rebuild = true);
  /// Replaces batch norm (SyncBN under data-parallel training); kept across
  /// conversions.
  void setBatchNormFunction(exec::ModuleExecutor::BatchNormFn fn);
  /// "float", "qat" (fake-quant) or "int" (integer ops).
  std::string kind() const { return kindName; }

  exec::NamedTensors stateDict() { return runner->stateDict(); }
  /// Loads a state dict (by name); `strict` also refuses unexpected names.
  void loadStateDict(const exec::NamedTensors &state, const std::string &from,
                     bool strict = true);
  /// Writes the trained state into the IR and prints it (or bytecode).
  void saveIR(const std::string &path, bool bytecode = false);

  const std::vector<Loss> &losses() const { return lossFns; }
  /// The function results' hat.name, in order (empty for one unnamed
  /// result).
  const std::vector<std::string> &outputNames() const { return outputNames_; }
  /// The detector's CPU post-processing; null for other models.
  const detection::DetectionPostProcessor *postProcessor() const {
    return postProcessor_.get();
  }

  /// The checkpoint the last LoadCheckpoint conversion read, for
  /// resume_optimizer / resume_epoch_or_step.
  std::string lastCheckpoint;

private:
  EngineModel();
  void rebuild(exec::FakeQuantMode mode, const exec::ExecutorOptions &options);

  struct IR;
  std::unique_ptr<IR> ir;
  std::unique_ptr<exec::ModuleExecutor> runner;
  std::vector<Loss> lossFns;
  std::shared_ptr<const FcosLoss> fcosLoss;
  std::shared_ptr<const GaNetLoss> ganetLoss;
  std::shared_ptr<const SetCriterion> detrCriterion;
  std::vector<std::string> outputNames_;
  std::shared_ptr<detection::DetectionPostProcessor> postProcessor_;
  std::shared_ptr<lane::GaNetPostProcessor> lanePostProcessor_;
  config::Value detectionForward(const config::Value &batch,
                                 const std::vector<at::Tensor> &outputs);
  config::Value laneForward(const config::Value &batch,
                            const std::vector<at::Tensor> &outputs);
  /// The outputs as float32 CPU maps, integer results (dequant_output=
  /// False) dequantized as float(q) * scale: what the CPU decoders read.
  std::vector<at::Tensor> decoderInputs(const std::vector<at::Tensor> &outputs);
  bool training = false;
  std::string kindName = "float";
  exec::ModuleExecutor::BatchNormFn batchNormFn;
};

/// A data::Batch as the config sees it: {"img": Tensor, "labels": Tensor}.
config::Value batchToValue(const data::Batch &batch);

struct LoopState;

/// BasicBatchProcessor / MultiBatchProcessor.
class BatchProcessor {
public:
  bool needGradUpdate = true;
  /// A config function, a collect_loss_by_index/regex call, or None (every
  /// loss tensor of the outputs).
  config::Value lossCollector;
  int64_t gradAccumulationStep = 1;
  /// MultiBatchProcessor: a tuple batch is several batches of one step.
  bool multiBatch = false;
  /// HAT's batch_transforms, run on each collated batch before the forward
  /// (per-pixel transforms only: BgrToYuv444, Normalize /
  /// TorchVisionAdapter(interface="Normalize")).
  std::vector<data::TransformPtr> batchTransforms;

  /// The loader's batch after batch_transforms, as the config sees it.
  config::Value prepare(data::Batch &batch) const;

  /// Forward (and, when training, backward and the optimizer step at the
  /// end of an accumulation window). Fills state.outputs and state.loss.
  void run(LoopState &state, const config::Value &batch);
  /// The loss tensors of `outputs`.
  std::vector<at::Tensor> collectLosses(const config::Value &outputs) const;
};
using BatchProcessorPtr = std::shared_ptr<BatchProcessor>;

class Callback;
using CallbackPtr = std::shared_ptr<Callback>;

class Loop;

/// What callbacks see.
struct LoopState {
  Loop *loop = nullptr;
  int64_t epoch = 0;
  int64_t globalStep = 0;  ///< steps done before the current one
  int64_t stepInEpoch = 0; ///< within the epoch
  int64_t stepsPerEpoch = 0;
  config::Value batch;
  config::Value outputs;
  double loss = 0;
  int64_t batchSize = 0;
  /// Latest validation results, name -> value.
  std::vector<std::pair<std::string, double>> valMetrics;
  bool training = false;
  /// Set by ExponentialMovingAverage: swaps the averaged weights in (true)
  /// or back out (false), for validation and checkpoints.
  std::function<void(bool)> swapAveragedWeights;
  /// On resume: the averaged weights the EMA continues from.
  exec::NamedTensors resumedAverage;
};

class Callback {
public:
  virtual ~Callback() = default;
  virtual std::string name() const = 0;
  /// Lower runs first at epoch and loop end (validation before the
  /// checkpoint that keeps the best model); ties keep config order.
  virtual int order() const { return 1; }
  virtual void onLoopBegin(LoopState &) {}
  virtual void onEpochBegin(LoopState &) {}
  virtual void onStepBegin(LoopState &) {}
  /// A training step's gradients are complete (accumulated over
  /// grad_accumulation_step batches and all-reduced across ranks) and the
  /// optimizer is about to apply them (GradClip).
  virtual void beforeOptimizerStep(LoopState &) {}
  virtual void onStepEnd(LoopState &) {}
  virtual void onEpochEnd(LoopState &) {}
  virtual void onLoopEnd(LoopState &) {}
};

/// Trainer, Calibrator and Predictor in one loop: a trainer has an
/// optimizer, a calibrator runs `num_steps` batches in calibration mode, a
/// predictor runs its data once without gradients.
class Loop {
public:
  enum class Kind { Trainer, Calibrator, Predictor };
  Kind kind = Kind::Trainer;
  std::string typeName;

  EngineModelPtr model;
  std::shared_ptr<data::DataLoader> dataLoader;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  BatchProcessorPtr batchProcessor;
  std::vector<CallbackPtr> callbacks;
  std::vector<metrics::MetricPtr>
      metrics; ///< train metrics (predictor: its metrics)
  std::vector<metrics::MetricPtr> valMetrics;

  std::string stopBy = "epoch";
  int64_t numEpochs = 0, startEpoch = 0, numSteps = 0, startStep = 0;
  bool resumeOptimizer = false, resumeEpochOrStep = false;
  int64_t logInterval = 0;

  /// Data parallel (with more than one rank; see docs/engine.md): SyncBN,
  /// torch DDP's find_unused_parameters and bucket_cap_mb, and whether
  /// bucket all-reduces overlap backward (false: all after backward).
  bool syncBn = false, findUnusedParameters = false;
  double bucketCapMb = 25;
  bool overlapGradReduce = true;
  /// Set by fit() for a trainer when several ranks run.
  std::unique_ptr<dist::GradientReducer> reducer;

  ~Loop();
  void fit();
  LoopState &state() { return loopState; }
  /// Learning rate of the first parameter group (0 without an optimizer).
  double learningRate() const;
  void setLearningRate(double lr);
  /// LRs as configured, per param group, before any schedule.
  std::vector<double> baseLearningRates;
  /// Images/s over the whole loop.
  double imagesPerSecond = 0;
  double wallSeconds = 0;

  /// Rank 0's floating-point buffers to every rank (no-op in one process).
  void broadcastBuffers();

private:
  void runEpoch(int64_t epoch, int64_t &stepsLeft);
  /// Broadcast from rank 0; for a trainer, SyncBN and the gradient reducer.
  void setUpDataParallel();
  std::vector<Callback *> endOrder() const;
  LoopState loopState;
};
using LoopPtr = std::shared_ptr<Loop>;

/// Builds `{stage}_trainer` from the config and runs it.
LoopPtr buildLoop(const config::Value &trainerConfig);

/// Checkpoint files: model state, optimizer state and progress, written
/// atomically (temporary file + rename).
struct CheckpointData {
  std::string stage;
  int64_t epoch = -1;
  int64_t globalStep = 0;
  std::string metricsJson = "{}";
  /// The model to load in the next stage (averaged when an EMA runs).
  exec::NamedTensors model;
  /// With an EMA: the un-averaged weights training continues from on
  /// resume (`model` then restores the running average).
  exec::NamedTensors live;
};
void saveCheckpoint(const std::string &path, const CheckpointData &data,
                    torch::optim::Optimizer *optimizer);
/// Creates `dir` and makes sure this process may write checkpoints there
/// before any training: refuses (EngineError) a directory that is not
/// writable or that another hat-train holds, naming that process (an
/// advisory flock on dir/.hat-train.lock, held until the process exits).
void prepareCheckpointDir(const std::string &dir);

/// Throws EngineError naming the file for a missing, truncated or corrupt
/// checkpoint (CRC-32 mismatch), one whose weights hold NaN/Inf (naming the
/// tensor), or, with `expectedStage`, one saved by another stage.
CheckpointData loadCheckpoint(const std::string &path,
                              torch::optim::Optimizer *optimizer = nullptr,
                              const std::string &expectedStage = "");

/// Calls a config function, turning its error into an EngineError.
config::Value callConfigFunction(const config::Value &fn,
                                 const std::vector<config::Value> &args,
                                 const std::string &what);

} // namespace hat::engine

#endif // HAT_ENGINE_ENGINE_H
