//===- ModuleExecutor.h - Run a hat function on LibTorch --------*- C++ -*-===//
//
// Turns a func.func of hat ops (float, fake-quant or integer) into a flat list
// of ATen calls that runs forward and backward on at::Tensor. Weights become
// trainable tensors, BN statistics and fake-quant state become buffers, and
// writeBack() puts trained values into the IR again. Integer ops follow
// docs/quantization.md bit for bit (the same results as hat::eval).
//
// This header is MLIR-free apart from a forward declaration, so the engine's
// translation units stay light; only create() and writeBack() touch the IR.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EXECUTOR_MODULEEXECUTOR_H
#define HAT_EXECUTOR_MODULEEXECUTOR_H

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace hat::exec {

/// What hat.fake_quant does in forward.
enum class FakeQuantMode {
  /// Pass-through: float training of a model that already has fake_quants.
  Float,
  /// Pass-through; activation observers (hat::quant) see every input and
  /// weight scales follow the weights (per-channel abs-max). The scales land
  /// in the buffers when calibration ends (mode change, stateDict(),
  /// namedBuffers(), writeBack()).
  Calibrate,
  /// Fake quantization with the straight-through gradient.
  QAT,
};

/// How activation (per-tensor) scales behave in QAT training.
enum class ActivationScaleMode {
  /// Keep the calibrated scale.
  Fixed,
  /// Moving-average min/max (torch's MovingAverageMinMaxObserver):
  /// m += c * (batch_m - m), scale = scaleFromAbsMax(max(|min|, |max|)).
  MovingAverage,
};

struct ExecutorOptions {
  /// Where parameters, buffers and computation live. A CUDA device needs a
  /// build with HAT_ENABLE_CUDA and a CUDA LibTorch.
  c10::Device device = c10::Device(c10::kCPU);
  FakeQuantMode fakeQuantMode = FakeQuantMode::QAT;
  /// QAT: keep weight scales from calibration instead of recomputing them
  /// from the current weights at every step.
  bool freezeWeightScales = false;
  ActivationScaleMode activationScales = ActivationScaleMode::Fixed;
  /// Moving-average constant (torch's default).
  double averagingConstant = 0.01;
  /// Calibration observer for every activation fake_quant: "minmax",
  /// "percentile" or "mse"; empty keeps each op's own `observer`.
  std::string observer;
  /// Percentile of the percentile observer.
  double percentile = 99.99;
  /// Accept any batch size (dim 0) on the inputs, not only the function's.
  bool dynamicBatch = true;
  /// Tests and benchmarks only: run qconv2d / qlinear / qadd as the former
  /// ATen compositions (exact float64 convolutions, int64 tensors) instead
  /// of HatRuntime's integer kernels. The results are the same bit for bit;
  /// the ATen forms are many times slower (docs/executor.md).
  bool atenIntegerOps = false;
  /// Float mode on the CPU: 2-D convs take their weight in channels-last
  /// order, so oneDNN runs them forward and backward on NHWC activations,
  /// which the ops between convs keep (TinyResNet trains 7-16 % faster).
  /// The parameters stay NCHW; outputs are made contiguous. Fake-quant and
  /// integer modes always run NCHW.
  bool channelsLast = true;
};

/// Name -> tensor in program order (an OrderedDict, as torch's state_dict).
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// Thrown by forward() for inputs that do not fit the function and for
/// fake_quants that need a scale they do not have.
class ExecutorError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class ModuleExecutor {
public:
  /// An executor, or (executor null) the reason why `func` cannot run.
  struct CreateResult {
    std::unique_ptr<ModuleExecutor> executor;
    std::string error;
  };

  /// Compiles `func` into steps. The function's module must outlive the
  /// executor if writeBack() is used.
  static CreateResult create(mlir::func::FuncOp func,
                             const ExecutorOptions &options = {});
  ~ModuleExecutor();
  ModuleExecutor(const ModuleExecutor &) = delete;
  ModuleExecutor &operator=(const ModuleExecutor &) = delete;

  /// Runs the function. f32 arguments take float tensors, i8/i16 arguments
  /// integer tensors (converted to the argument's type); inputs move to the
  /// executor's device. Integer results are int8/int16/int32 tensors. One
  /// forward at a time per executor (the slots are reused); ATen threads
  /// inside each op as usual.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor> &inputs);
  /// Single input, single result (a separate name: `forward({x})` would
  /// otherwise be ambiguous).
  at::Tensor forwardOne(const at::Tensor &input);

  /// BN uses batch statistics (and updates running ones) while training and
  /// running statistics otherwise; QAT moving-average scales move only while
  /// training.
  void train(bool training = true);
  void eval() { train(false); }
  bool isTraining() const;

  void setFakeQuantMode(FakeQuantMode mode);
  FakeQuantMode fakeQuantMode() const;
  void setFreezeWeightScales(bool freeze);
  void setActivationScaleMode(ActivationScaleMode mode);

  /// Trainable tensors (conv/linear weights and biases, BN weight/bias),
  /// named by their hat.param, in program order.
  NamedTensors namedParameters() const;
  std::vector<at::Tensor> parameters() const;
  /// The trainable parameters that are a batch or layer norm's weight or
  /// bias (custom_param_optimizer's "norm_types").
  std::set<std::string> normParameterNames() const;
  /// BN running mean/var (by param name) and fake-quant state
  /// (`<fq>.scale`, `<fq>.min`, `<fq>.max`).
  NamedTensors namedBuffers();
  /// Parameters then buffers (detached views sharing storage).
  NamedTensors stateDict();
  /// Copies every entry in place (optimizers holding the parameters stay
  /// valid). Nothing is changed when the returned error is non-empty: a
  /// missing key, a shape mismatch or (strict) an unexpected key, named.
  std::string loadStateDict(const NamedTensors &state, bool strict = true);

  /// Trained values into the IR: every parameter's and buffer's hat.param
  /// data, every fake_quant's scale/min/max. The executor stays usable.
  void writeBack();

  /// Clears the gradients of all parameters.
  void zeroGrad();

  /// Replaces at::batch_norm in every hat.batch_norm step (the engine's
  /// SyncBN under data-parallel training); null restores at::batch_norm.
  using BatchNormFn = std::function<at::Tensor(
      const at::Tensor &input, const at::Tensor &weight, const at::Tensor &bias,
      const at::Tensor &runningMean, const at::Tensor &runningVar,
      bool training, double momentum, double eps)>;
  void setBatchNormFunction(BatchNormFn fn);

  const ExecutorOptions &options() const;
  /// One line per step: the hat op and what it runs.
  std::string describe() const;
  size_t numSteps() const;

private:
  struct Impl;
  explicit ModuleExecutor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace hat::exec

#endif // HAT_EXECUTOR_MODULEEXECUTOR_H
