//===- ModuleExecutor.cpp - Run a hat function on LibTorch ----------------===//
//
// create() walks the function once and turns every op into a Step: a closure
// holding pre-resolved slot indices, pre-built constant tensors (integer
// weights already in the form their kernel wants, requantization tables,
// resize indices) and the attributes it needs as plain C++ values. forward()
// is then a loop over steps doing ATen calls, with each intermediate slot
// released after its last use.
//
// No `using namespace mlir` here: together with ATen it makes ArrayRef and
// SmallVector ambiguous.
//
//===----------------------------------------------------------------------===//

#include "hat/Executor/ModuleExecutor.h"

#include "AttentionOps.h"
#include "IntegerOps.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/LayerName.h"
#include "hat/Eval/Kernels.h"
#include "hat/Executor/QuantKernels.h"
#include "hat/Quant/FixedPoint.h"
#include "hat/Quant/Observer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

namespace hat::exec {

using detail::Quad;

namespace {

using Slots = std::vector<at::Tensor>;

enum class ParamRole { Constant, Trainable, Buffer };

struct ParamEntry {
  std::string name;
  ParamOp op;
  at::Tensor tensor;
  ParamRole role = ParamRole::Constant;
  int slot = -1;
  /// A batch or layer norm's weight or bias (optimizer "norm_types").
  bool normalisation = false;
};

struct FakeQuantEntry {
  std::string name;
  FakeQuantOp op;
  int64_t axis = -1; // -1: per-tensor (an activation)
  int bits = 8;
  bool fixedScale = false;
  quant::ObserverKind observerKind = quant::ObserverKind::MinMax;
  /// Buffers (float [channels]); min/max are +inf/-inf until observed.
  at::Tensor scale, min, max;
  bool hasScale = false;
  /// Calibration state.
  std::unique_ptr<quant::ActivationObserver> observer;
  int64_t observedBatches = 0;
  at::Tensor calibrationWeight;
  /// The param a weight fake_quant reads, or -1.
  int weightParam = -1;
};

struct Step {
  std::function<void(Slots &)> run;
  std::string what;
  std::vector<int> release; // slots dead after this step
};

struct ArgumentSpec {
  int slot;
  bool isFloat;
  at::ScalarType type;
  std::vector<int64_t> shape;
};

std::vector<int64_t> toVector(llvm::ArrayRef<int64_t> a) {
  return {a.begin(), a.end()};
}
std::vector<int32_t> toVector(llvm::ArrayRef<int32_t> a) {
  return {a.begin(), a.end()};
}
Quad toQuad(llvm::ArrayRef<int64_t> a) { return {a[0], a[1], a[2], a[3]}; }

std::string shapeString(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

mlir::RankedTensorType rankedType(mlir::Value v) {
  return llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
}

/// Element bits of an integer tensor value (8, 16, 32).
int intBits(mlir::Value v) {
  return int(rankedType(v).getElementType().getIntOrFloatBitWidth());
}

quant::ObserverKind toObserverKind(Observer o) {
  switch (o) {
  case Observer::minmax:
    return quant::ObserverKind::MinMax;
  case Observer::percentile:
    return quant::ObserverKind::Percentile;
  case Observer::mse:
    return quant::ObserverKind::MSE;
  }
  return quant::ObserverKind::MinMax;
}

at::Tensor floatTensor(const std::vector<float> &values, at::Device device) {
  return at::tensor(values, at::TensorOptions(at::kFloat)).to(device);
}

std::vector<float> readFloats(const at::Tensor &t) {
  at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

void writeFloats(const at::Tensor &t, const std::vector<float> &values) {
  at::NoGradGuard noGrad;
  t.copy_(at::tensor(values, at::TensorOptions(at::kFloat)));
}

/// A weight fake_quant's stem: `conv1.weight` -> `conv1.weight_fake_quant`.
std::string weightFakeQuantName(const std::string &paramName) {
  return paramName + "_fake_quant";
}

} // namespace

//===----------------------------------------------------------------------===//
// Impl
//===----------------------------------------------------------------------===//

struct ModuleExecutor::Impl {
  mlir::Operation *function = nullptr;
  ExecutorOptions options;
  bool training = false;
  FakeQuantMode fakeQuantMode = FakeQuantMode::QAT;
  ModuleExecutor::BatchNormFn batchNormFn;

  std::vector<ParamEntry> params;
  std::vector<std::unique_ptr<FakeQuantEntry>> fakeQuants;
  std::vector<Step> steps;
  std::vector<ArgumentSpec> arguments;
  std::vector<int> results;
  int numSlots = 0;
  Slots slots;

  /// Compilation state.
  llvm::DenseMap<mlir::Value, int> slotOf;
  llvm::DenseMap<mlir::Operation *, int> paramIndexOf;

  /// ExecutorOptions::channelsLast applies now.
  bool channelsLastConvs() const {
    return options.channelsLast && fakeQuantMode == FakeQuantMode::Float &&
           options.device.is_cpu();
  }

  std::string compile(mlir::func::FuncOp func);
  std::string compileOp(mlir::Operation *op);
  /// One function per op kind, dispatched by compileOp: adds the step that
  /// writes the op's result to slot `out`; "" or why the op cannot run.
  std::string compileStep(Conv2dOp op, int out);
  std::string compileStep(LinearOp op, int out);
  std::string compileStep(BatchNormOp op, int out);
  std::string compileStep(MsDeformAttnOp op, int out);
  std::string compileStep(LayerNormOp op, int out);
  std::string compileStep(AddOp op, int out);
  std::string compileStep(MulOp op, int out);
  std::string compileStep(MatmulOp op, int out);
  std::string compileStep(ConcatOp op, int out);
  std::string compileStep(WeightedSumOp op, int out);
  std::string compileStep(MaxPool2dOp op, int out);
  std::string compileStep(AvgPool2dOp op, int out);
  std::string compileStep(GlobalAvgPoolOp op, int out);
  std::string compileStep(ResizeOp op, int out);
  std::string compileStep(TransposeOp op, int out);
  std::string compileStep(SoftmaxOp op, int out);
  std::string compileStep(FakeQuantOp op, int out);
  std::string compileStep(QuantizeOp op, int out);
  std::string compileStep(DequantizeOp op, int out);
  std::string compileStep(QConv2dOp op, int out);
  std::string compileStep(QLinearOp op, int out);
  std::string compileStep(QAddOp op, int out);
  std::string compileStep(QMulOp op, int out);
  std::string compileStep(QMatmulOp op, int out);
  std::string compileStep(QMsDeformAttnOp op, int out);
  std::string compileStep(QLayerNormOp op, int out);
  std::string compileStep(QConcatOp op, int out);
  std::string compileStep(QAvgPool2dOp op, int out);
  std::string compileStep(QGlobalAvgPoolOp op, int out);
  std::string compileStep(QResizeOp op, int out);
  std::string compileStep(RequantizeOp op, int out);
  std::string compileStep(QLutOp op, int out);
  using UnaryFn = at::Tensor (*)(const at::Tensor &);
  std::string compileUnary(mlir::Operation *op, int out, const char *what,
                           UnaryFn fn);
  std::string compileReshape(mlir::Operation *op, int out);
  void addNearestResize(const char *what, mlir::RankedTensorType inType,
                        int64_t outH, int64_t outW, int in, int out);
  std::shared_ptr<const detail::IntegerKernelLayer>
  integerKernel(mlir::Operation *op, std::string &notOnKernels,
                const runtime::ConvShape &shape, mlir::Value input,
                mlir::Value weight, mlir::Value bias,
                const std::vector<int32_t> &multiplier,
                const std::vector<int32_t> &shift, bool relu);
  int operandSlot(mlir::Operation *op, unsigned i) const {
    return slot(op->getOperand(i));
  }
  static int resultBits(mlir::Operation *op) {
    return intBits(op->getResult(0));
  }
  int newSlot(mlir::Value v) { return slotOf[v] = numSlots++; }
  int slot(mlir::Value v) const { return v ? slotOf.lookup(v) : -1; }
  void addStep(std::string what, std::function<void(Slots &)> fn) {
    steps.push_back(Step{std::move(fn), std::move(what), {}});
  }
  /// The integer param defining `v`, converted once by `convert`, or an
  /// undefined tensor when `v` is computed (then converted per call).
  at::Tensor constantOf(mlir::Value v,
                        const std::function<at::Tensor(at::Tensor)> &convert);
  std::string collectParams(mlir::func::FuncOp func);
  std::string collectFakeQuants(mlir::func::FuncOp func);
  void computeReleases();

  // Runtime.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor> &inputs);
  at::Tensor runFakeQuant(FakeQuantEntry &fq, const at::Tensor &x);
  void updateWeightScales(FakeQuantEntry &fq, const at::Tensor &w);
  void updateMovingAverage(FakeQuantEntry &fq, const at::Tensor &x);
  void startCalibration();
  void finishCalibration();
  NamedTensors buffers();
};

at::Tensor ModuleExecutor::Impl::constantOf(
    mlir::Value v, const std::function<at::Tensor(at::Tensor)> &convert) {
  if (auto p = v.getDefiningOp<ParamOp>())
    return convert(params[paramIndexOf.lookup(p)].tensor);
  return at::Tensor();
}

std::string ModuleExecutor::Impl::collectParams(mlir::func::FuncOp func) {
  // Roles from the uses: conv/linear weight or bias (directly or through
  // fake_quants) and BN affine parameters train; BN statistics are buffers.
  llvm::DenseMap<mlir::Operation *, ParamRole> roles;
  llvm::DenseSet<mlir::Operation *> norms;
  auto markNorm = [&](mlir::Value v) {
    if (auto p = v.getDefiningOp<ParamOp>())
      norms.insert(p);
  };
  auto mark = [&](mlir::Value v, ParamRole role) {
    while (v) {
      if (auto fq = v.getDefiningOp<FakeQuantOp>()) {
        v = fq.getInput();
        continue;
      }
      if (auto p = v.getDefiningOp<ParamOp>()) {
        ParamRole &r = roles[p];
        if (r != ParamRole::Trainable)
          r = role;
      }
      return;
    }
  };
  // A parameter the model builder declared trained whatever uses it (the
  // attention's scalar gamma, which only feeds a hat.mul).
  func.walk([&](ParamOp p) {
    if (p->hasAttr("hat.trainable"))
      roles[p] = ParamRole::Trainable;
  });
  func.walk([&](mlir::Operation *op) {
    if (llvm::isa<Conv2dOp, LinearOp>(op)) {
      for (unsigned i = 1; i < op->getNumOperands(); ++i)
        mark(op->getOperand(i), ParamRole::Trainable);
    } else if (auto ws = llvm::dyn_cast<WeightedSumOp>(op)) {
      mark(ws.getWeights(), ParamRole::Trainable);
    } else if (auto ln = llvm::dyn_cast<LayerNormOp>(op)) {
      mark(ln.getWeight(), ParamRole::Trainable);
      mark(ln.getBias(), ParamRole::Trainable);
      markNorm(ln.getWeight());
      markNorm(ln.getBias());
    } else if (auto bn = llvm::dyn_cast<BatchNormOp>(op)) {
      mark(bn.getWeight(), ParamRole::Trainable);
      mark(bn.getBias(), ParamRole::Trainable);
      markNorm(bn.getWeight());
      markNorm(bn.getBias());
      mark(bn.getMean(), ParamRole::Buffer);
      mark(bn.getVar(), ParamRole::Buffer);
    }
  });

  llvm::StringSet<> used;
  std::string error;
  func.walk([&](ParamOp p) {
    if (!error.empty())
      return;
    auto type = rankedType(p.getResult());
    mlir::Type element = type.getElementType();
    std::vector<int64_t> shape = toVector(type.getShape());
    at::Tensor t;
    if (element.isF32()) {
      auto values = p.getValue().tryGetValues<float>();
      if (!values) {
        error = "cannot read f32 data of parameter '" + p.getName().str() + "'";
        return;
      }
      std::vector<float> data(values->begin(), values->end());
      t = at::tensor(data, at::TensorOptions(at::kFloat)).reshape(shape);
    } else if (element.isInteger(8) || element.isInteger(16) ||
               element.isInteger(32)) {
      auto values = p.getValue().tryGetValues<llvm::APInt>();
      if (!values) {
        error =
            "cannot read integer data of parameter '" + p.getName().str() + "'";
        return;
      }
      std::vector<int32_t> data;
      for (const llvm::APInt &v : *values)
        data.push_back(int32_t(v.getSExtValue()));
      t = at::tensor(data, at::TensorOptions(at::kInt))
              .reshape(shape)
              .to(detail::intScalarType(int(element.getIntOrFloatBitWidth())));
    } else {
      error = "parameter '" + p.getName().str() +
              "' has an unsupported element type";
      return;
    }
    ParamEntry entry;
    entry.op = p;
    entry.role = roles.lookup(p);
    entry.normalisation = norms.contains(p);
    if (entry.role != ParamRole::Constant && !element.isF32())
      entry.role = ParamRole::Constant;
    // Names are unique in a valid module; keep them unique regardless so the
    // state dict cannot alias two tensors.
    std::string name = p.getName().str();
    for (int k = 1; used.contains(name); ++k)
      name = p.getName().str() + "__" + std::to_string(k);
    used.insert(name);
    entry.name = name;
    entry.tensor = t.to(options.device);
    if (entry.role == ParamRole::Trainable)
      entry.tensor.set_requires_grad(true);
    entry.slot = newSlot(p.getResult());
    paramIndexOf[p] = int(params.size());
    params.push_back(std::move(entry));
  });
  return error;
}

std::string ModuleExecutor::Impl::collectFakeQuants(mlir::func::FuncOp func) {
  std::optional<quant::ObserverKind> override;
  if (!options.observer.empty()) {
    override = quant::parseObserverKind(options.observer);
    if (!override)
      return "unknown observer '" + options.observer +
             "' (expected minmax, percentile or mse)";
  }
  llvm::StringSet<> used;
  for (const ParamEntry &p : params)
    used.insert(p.name);
  int activationIndex = 0;
  func.walk([&](FakeQuantOp op) {
    auto fq = std::make_unique<FakeQuantEntry>();
    fq->op = op;
    fq->axis = op.getAxis() ? int64_t(*op.getAxis()) : -1;
    fq->bits = int(getQDTypeBits(op.getDtype()));
    fq->fixedScale = op.getFixedScale();
    fq->observerKind = override ? *override : toObserverKind(op.getObserver());
    std::string name;
    if (auto p = op.getInput().getDefiningOp<ParamOp>(); p && fq->axis >= 0) {
      fq->weightParam = paramIndexOf.lookup(p);
      name = weightFakeQuantName(params[size_t(fq->weightParam)].name);
    } else if (auto layer = layerNameOf(op.getLoc())) {
      // Named after the layer whose output it quantizes, so a checkpoint
      // loads into a model whose other layers differ (a deploy model
      // without a training model's auxiliary heads).
      name = *layer + ".fake_quant";
    } else {
      name = "fake_quant." + std::to_string(activationIndex++);
    }
    std::string unique = name;
    for (int k = 1; used.contains(unique); ++k)
      unique = name + "__" + std::to_string(k);
    used.insert(unique);
    fq->name = unique;
    const int64_t channels = op.getNumChannels();
    std::vector<float> scale(size_t(channels), 0.0f);
    std::vector<float> mins(size_t(channels),
                            std::numeric_limits<float>::infinity());
    std::vector<float> maxs(size_t(channels),
                            -std::numeric_limits<float>::infinity());
    if (auto s = op.getScale()) {
      scale.assign(s->begin(), s->end());
      fq->hasScale = true;
    }
    if (auto mn = op.getMin())
      mins.assign(mn->begin(), mn->end());
    if (auto mx = op.getMax())
      maxs.assign(mx->begin(), mx->end());
    fq->scale = floatTensor(scale, options.device);
    fq->min = floatTensor(mins, options.device);
    fq->max = floatTensor(maxs, options.device);
    fakeQuants.push_back(std::move(fq));
  });
  return "";
}

std::string ModuleExecutor::Impl::compile(mlir::func::FuncOp func) {
  if (func.getBody().empty())
    return "function '" + func.getSymName().str() + "' has no body";
  if (!func.getBody().hasOneBlock())
    return "function '" + func.getSymName().str() + "' has several blocks";
  for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
    auto type = rankedType(arg);
    if (!type)
      return "argument #" + std::to_string(i) + " is not a ranked tensor";
    mlir::Type element = type.getElementType();
    ArgumentSpec spec;
    spec.isFloat = element.isF32();
    if (spec.isFloat)
      spec.type = at::kFloat;
    else if (element.isInteger(8) || element.isInteger(16) ||
             element.isInteger(32))
      spec.type = detail::intScalarType(int(element.getIntOrFloatBitWidth()));
    else
      return "argument #" + std::to_string(i) +
             " has an unsupported element type";
    spec.shape = toVector(type.getShape());
    spec.slot = newSlot(arg);
    arguments.push_back(std::move(spec));
  }
  if (std::string e = collectParams(func); !e.empty())
    return e;
  if (std::string e = collectFakeQuants(func); !e.empty())
    return e;
  for (mlir::Operation &op : func.getBody().front()) {
    if (llvm::isa<ParamOp>(op))
      continue;
    if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
      for (mlir::Value v : ret.getOperands())
        results.push_back(slot(v));
      computeReleases();
      slots.resize(size_t(numSlots));
      return "";
    }
    if (std::string e = compileOp(&op); !e.empty())
      return e;
  }
  return "function '" + func.getSymName().str() + "' has no return";
}

void ModuleExecutor::Impl::computeReleases() {
  // The last step reading each slot frees it; results are never freed. Steps
  // capture their operand slots, so the reads are recorded while compiling
  // through the op's operands (same order as the steps).
  std::vector<int> lastUse(size_t(numSlots), -1);
  mlir::Operation *func = function;
  int stepIndex = 0;
  for (mlir::Operation &op :
       llvm::cast<mlir::func::FuncOp>(func).getBody().front()) {
    if (llvm::isa<ParamOp, mlir::func::ReturnOp>(op))
      continue;
    for (mlir::Value v : op.getOperands())
      lastUse[size_t(slot(v))] = stepIndex;
    ++stepIndex;
  }
  for (int r : results)
    lastUse[size_t(r)] = -1;
  for (int s = 0; s < numSlots; ++s)
    if (lastUse[size_t(s)] >= 0)
      steps[size_t(lastUse[size_t(s)])].release.push_back(s);
}

//===----------------------------------------------------------------------===//
// Op -> step
//===----------------------------------------------------------------------===//

// compileOp dispatches on the op kind (TypeSwitch) to one function per op;
// each adds the step that computes the op's one result into slot `out` and
// returns "" or why the op cannot run.

std::string ModuleExecutor::Impl::compileOp(mlir::Operation *op) {
  const int out = op->getNumResults() == 1 ? newSlot(op->getResult(0)) : -1;
  if (out < 0)
    return "op '" + op->getName().getStringRef().str() +
           "' must have one result";
  auto unary = [&](mlir::Operation *o, const char *what, UnaryFn fn) {
    return compileUnary(o, out, what, fn);
  };
  return llvm::TypeSwitch<mlir::Operation *, std::string>(op)
      .Case<Conv2dOp, LinearOp, BatchNormOp, MsDeformAttnOp, LayerNormOp, AddOp,
            MulOp, MatmulOp, ConcatOp, WeightedSumOp, MaxPool2dOp, AvgPool2dOp,
            GlobalAvgPoolOp, ResizeOp, TransposeOp, SoftmaxOp, FakeQuantOp,
            QuantizeOp, DequantizeOp, QConv2dOp, QLinearOp, QAddOp, QMulOp,
            QMatmulOp, QMsDeformAttnOp, QLayerNormOp, QConcatOp, QAvgPool2dOp,
            QGlobalAvgPoolOp, QResizeOp, RequantizeOp, QLutOp>(
          [&](auto typed) { return compileStep(typed, out); })
      .Case<ReshapeOp, FlattenOp>(
          [&](mlir::Operation *o) { return compileReshape(o, out); })
      .Case([&](ReluOp o) {
        return unary(o, "hat.relu -> at::relu",
                     [](const at::Tensor &x) { return at::relu(x); });
      })
      .Case([&](Relu6Op o) {
        return unary(
            o, "hat.relu6 -> at::hardtanh(0, 6)",
            [](const at::Tensor &x) { return at::hardtanh(x, 0.0, 6.0); });
      })
      .Case([&](SigmoidOp o) {
        return unary(o, "hat.sigmoid -> at::sigmoid",
                     [](const at::Tensor &x) { return at::sigmoid(x); });
      })
      .Case([&](SiluOp o) {
        return unary(o, "hat.silu -> at::silu",
                     [](const at::Tensor &x) { return at::silu(x); });
      })
      .Case([&](HardswishOp o) {
        return unary(o, "hat.hardswish -> at::hardswish",
                     [](const at::Tensor &x) { return at::hardswish(x); });
      })
      .Default([](mlir::Operation *o) {
        return "the executor cannot run '" + o->getName().getStringRef().str() +
               "'";
      });
}

// Float layers.

std::string ModuleExecutor::Impl::compileStep(Conv2dOp conv, int out) {
  const int in = operandSlot(conv, 0), w = operandSlot(conv, 1),
            b = slot(conv.getBias());
  const std::vector<int64_t> stride = toVector(conv.getStride());
  const std::vector<int64_t> dilation = toVector(conv.getDilation());
  const Quad pad = toQuad(conv.getPadding());
  const int64_t groups = int64_t(conv.getGroups());
  // ExecutorOptions::channelsLast: the weight's channels-last copy (a
  // differentiable copy of the NCHW parameter) makes oneDNN pick NHWC.
  // Decided per call: the fake-quant mode can change after compilation.
  auto weight = [this](const at::Tensor &t) {
    return channelsLastConvs() ? t.contiguous(at::MemoryFormat::ChannelsLast)
                               : t;
  };
  if (detail::isSymmetric(pad)) {
    const std::vector<int64_t> padding{pad[0], pad[1]};
    addStep("hat.conv2d -> at::conv2d", [=](Slots &s) {
      s[out] = at::conv2d(s[in], weight(s[w]), b >= 0 ? s[b] : at::Tensor(),
                          stride, padding, dilation, groups);
    });
  } else {
    addStep("hat.conv2d -> at::constant_pad_nd + at::conv2d", [=](Slots &s) {
      s[out] = at::conv2d(detail::padNCHW(s[in], pad, 0.0), weight(s[w]),
                          b >= 0 ? s[b] : at::Tensor(), stride,
                          std::vector<int64_t>{0, 0}, dilation, groups);
    });
  }
  return "";
}

std::string ModuleExecutor::Impl::compileStep(LinearOp linear, int out) {
  const int in = operandSlot(linear, 0), w = operandSlot(linear, 1),
            b = slot(linear.getBias());
  addStep("hat.linear -> at::linear", [=](Slots &s) {
    s[out] = at::linear(s[in], s[w], b >= 0 ? s[b] : at::Tensor());
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(BatchNormOp bn, int out) {
  const int in = operandSlot(bn, 0), w = operandSlot(bn, 1),
            b = operandSlot(bn, 2), mean = operandSlot(bn, 3),
            var = operandSlot(bn, 4);
  const double eps = bn.getEps().convertToFloat();
  const double momentum = bn.getMomentum().convertToFloat();
  const bool cudnn = at::globalContext().userEnabledCuDNN();
  addStep("hat.batch_norm -> at::batch_norm", [=](Slots &s) {
    if (batchNormFn)
      s[out] = batchNormFn(s[in], s[w], s[b], s[mean], s[var], training,
                           momentum, eps);
    else
      s[out] = at::batch_norm(s[in], s[w], s[b], s[mean], s[var], training,
                              momentum, eps, cudnn);
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(MsDeformAttnOp attn, int out) {
  const int value = operandSlot(attn, 0), loc = operandSlot(attn, 1),
            weights = operandSlot(attn, 2);
  const std::vector<int64_t> shapes = toVector(attn.getSpatialShapes());
  addStep("hat.ms_deform_attn -> at::grid_sampler per level", [=](Slots &s) {
    s[out] = detail::msDeformAttn(s[value], s[loc], s[weights], shapes);
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(LayerNormOp ln, int out) {
  const int in = operandSlot(ln, 0), w = operandSlot(ln, 1),
            b = operandSlot(ln, 2);
  const double eps = ln.getEps().convertToFloat();
  const std::vector<int64_t> normalized = {
      rankedType(ln.getInput()).getShape().back()};
  addStep("hat.layer_norm -> at::layer_norm", [=](Slots &s) {
    s[out] = at::layer_norm(s[in], normalized, s[w], s[b], eps);
  });
  return "";
}

std::string ModuleExecutor::Impl::compileUnary(mlir::Operation *op, int out,
                                               const char *what, UnaryFn fn) {
  const int in = operandSlot(op, 0);
  addStep(what, [=](Slots &s) { s[out] = fn(s[in]); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(AddOp add, int out) {
  const int a = operandSlot(add, 0), b = operandSlot(add, 1);
  addStep("hat.add -> at::add", [=](Slots &s) { s[out] = s[a] + s[b]; });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(MulOp mul, int out) {
  const int a = operandSlot(mul, 0), b = operandSlot(mul, 1);
  addStep("hat.mul -> at::mul", [=](Slots &s) { s[out] = s[a] * s[b]; });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(MatmulOp matmul, int out) {
  const int a = operandSlot(matmul, 0), b = operandSlot(matmul, 1);
  addStep("hat.matmul -> at::matmul",
          [=](Slots &s) { s[out] = at::matmul(s[a], s[b]); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(ConcatOp concat, int out) {
  std::vector<int> ins;
  for (mlir::Value v : concat.getInputs())
    ins.push_back(slot(v));
  const int64_t axis = int64_t(concat.getAxis());
  addStep("hat.concat -> at::cat", [=](Slots &s) {
    std::vector<at::Tensor> tensors;
    tensors.reserve(ins.size());
    for (int i : ins)
      tensors.push_back(s[i]);
    s[out] = at::cat(tensors, axis);
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(WeightedSumOp ws, int out) {
  std::vector<int> ins;
  for (mlir::Value v : ws.getInputs())
    ins.push_back(slot(v));
  const int w = slot(ws.getWeights());
  const double eps = ws.getEps().convertToFloat();
  // Fast normalised fusion; autograd carries the gradient to the inputs
  // and to the raw (pre-ReLU) fusion weights.
  addStep("hat.weighted_sum -> relu(w) / (sum + eps), weighted at::add",
          [=](Slots &s) {
            at::Tensor pos = at::relu(s[w]);
            at::Tensor norm = pos / (pos.sum() + eps);
            at::Tensor acc = s[ins[0]] * norm[0];
            for (size_t i = 1; i < ins.size(); ++i)
              acc = acc + s[ins[i]] * norm[int64_t(i)];
            s[out] = acc;
          });
  return "";
}

/// A float pool's window, and whether ATen's own padding can take it
/// (symmetric, at most half the kernel).
struct PoolWindow {
  std::vector<int64_t> kernel, stride;
  Quad pad;
  bool direct;
};
template <typename PoolOp> PoolWindow poolWindow(PoolOp pool) {
  PoolWindow w{toVector(pool.getKernel()), toVector(pool.getStride()),
               toQuad(pool.getPadding()), false};
  w.direct = detail::isSymmetric(w.pad) && 2 * w.pad[0] <= w.kernel[0] &&
             2 * w.pad[1] <= w.kernel[1];
  return w;
}

std::string ModuleExecutor::Impl::compileStep(MaxPool2dOp pool, int out) {
  const int in = operandSlot(pool, 0);
  // Padding ATen cannot take is made explicit with -inf, which never wins.
  // Plain copies: lambdas cannot capture structured bindings in C++17.
  const PoolWindow window = poolWindow(pool);
  const std::vector<int64_t> kernel = window.kernel, stride = window.stride;
  const Quad pad = window.pad;
  const bool direct = window.direct;
  const std::vector<int64_t> padding =
      direct ? std::vector<int64_t>{pad[0], pad[1]}
             : std::vector<int64_t>{0, 0};
  const bool isFloat = rankedType(pool.getInput()).getElementType().isF32();
  auto maxPool = [=](const at::Tensor &x) {
    at::Tensor padded =
        direct
            ? x
            : detail::padNCHW(x, pad, -std::numeric_limits<double>::infinity());
    return at::max_pool2d(padded, kernel, stride, padding);
  };
  if (isFloat) {
    addStep("hat.max_pool2d -> at::max_pool2d",
            [=](Slots &s) { s[out] = maxPool(s[in]); });
  } else {
    // ATen has no integer max pooling on CPU; int8/int16 values are exact
    // in float and max never rounds.
    addStep("hat.max_pool2d (int) -> at::max_pool2d on float", [=](Slots &s) {
      s[out] = maxPool(s[in].to(at::kFloat)).to(s[in].scalar_type());
    });
  }
  return "";
}

std::string ModuleExecutor::Impl::compileStep(AvgPool2dOp pool, int out) {
  const int in = operandSlot(pool, 0);
  // Plain copies: lambdas cannot capture structured bindings in C++17.
  const PoolWindow window = poolWindow(pool);
  const std::vector<int64_t> kernel = window.kernel, stride = window.stride;
  const Quad pad = window.pad;
  const bool direct = window.direct;
  if (direct) {
    const std::vector<int64_t> padding{pad[0], pad[1]};
    addStep(
        "hat.avg_pool2d -> at::avg_pool2d(count_include_pad)", [=](Slots &s) {
          s[out] = at::avg_pool2d(s[in], kernel, stride, padding, false, true);
        });
  } else {
    addStep("hat.avg_pool2d -> at::constant_pad_nd + at::avg_pool2d",
            [=](Slots &s) {
              s[out] = at::avg_pool2d(detail::padNCHW(s[in], pad, 0.0), kernel,
                                      stride, std::vector<int64_t>{0, 0}, false,
                                      true);
            });
  }
  return "";
}

std::string ModuleExecutor::Impl::compileStep(GlobalAvgPoolOp globalAvgPool,
                                              int out) {
  const int in = operandSlot(globalAvgPool, 0);
  addStep("hat.global_avg_pool -> at::mean({2, 3}, keepdim)", [=](Slots &s) {
    s[out] = at::mean(s[in], {2, 3}, /*keepdim=*/true);
  });
  return "";
}

/// Nearest resizing (float or integer: it only moves values) as two index
/// selections with the reference evaluator's source rows and columns.
void ModuleExecutor::Impl::addNearestResize(const char *what,
                                            mlir::RankedTensorType inType,
                                            int64_t outH, int64_t outW, int in,
                                            int out) {
  const at::TensorOptions opts(at::kLong);
  at::Tensor rows =
      at::tensor(eval::nearestIndices(inType.getDimSize(2), outH), opts)
          .to(options.device);
  at::Tensor cols =
      at::tensor(eval::nearestIndices(inType.getDimSize(3), outW), opts)
          .to(options.device);
  // at::upsample_nearest2d picks src = floor(dst * (float(in) / out)), which
  // can differ from HAT's integer floor(dst * in / out) (6 -> 74 does). Where
  // the two agree on every row and column, float tensors take it: its
  // backward is one parallel pass, where index_select's is two serial
  // index_adds (about 10x slower on BiFPN's maps at 2 threads).
  const bool torchNearestAgrees =
      detail::torchNearestIndices(inType.getDimSize(2), outH) ==
          eval::nearestIndices(inType.getDimSize(2), outH) &&
      detail::torchNearestIndices(inType.getDimSize(3), outW) ==
          eval::nearestIndices(inType.getDimSize(3), outW);
  const std::vector<int64_t> size{outH, outW};
  addStep(what, [=](Slots &s) {
    const at::Tensor &x = s[in];
    s[out] = torchNearestAgrees && x.is_floating_point()
                 ? at::upsample_nearest2d(x, size)
                 : detail::nearestResize(x, rows, cols);
  });
}

std::string ModuleExecutor::Impl::compileStep(ResizeOp resize, int out) {
  const int in = operandSlot(resize, 0);
  auto inType = rankedType(resize.getInput());
  const int64_t outH = resize.getSize()[0], outW = resize.getSize()[1];
  if (resize.getMode() == hat::ResizeMode::nearest) {
    addNearestResize(
        "hat.resize nearest -> at::upsample_nearest2d or index_select", inType,
        outH, outW, in, out);
  } else {
    const bool alignCorners = resize.getAlignCorners();
    const std::vector<int64_t> size{outH, outW};
    addStep("hat.resize bilinear -> at::upsample_bilinear2d", [=](Slots &s) {
      s[out] = at::upsample_bilinear2d(s[in], size, alignCorners);
    });
  }
  return "";
}

std::string ModuleExecutor::Impl::compileReshape(mlir::Operation *op, int out) {
  const int in = operandSlot(op, 0);
  auto inType = rankedType(op->getOperand(0));
  std::vector<int64_t> shape =
      toVector(rankedType(op->getResult(0)).getShape());
  // A reshape that keeps dim 0 keeps the batch, whatever its size.
  if (options.dynamicBatch && !shape.empty() && inType.getRank() > 0 &&
      inType.getDimSize(0) == shape[0])
    shape[0] = -1;
  addStep(std::string(op->getName().getStringRef()) + " -> at::reshape",
          [=](Slots &s) { s[out] = at::reshape(s[in], shape); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(TransposeOp transpose, int out) {
  const int in = operandSlot(transpose, 0);
  const std::vector<int64_t> perm = toVector(transpose.getPerm());
  addStep("hat.transpose -> at::permute",
          [=](Slots &s) { s[out] = at::permute(s[in], perm); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(SoftmaxOp softmax, int out) {
  const int in = operandSlot(softmax, 0);
  const int64_t axis = int64_t(softmax.getAxis());
  // In an integer model the softmax runs in float between a dequantize
  // and a quantize; its result must round exactly as the reference
  // evaluator's and the HBM runtime's (std::exp, double sum), or a value
  // on a rounding boundary quantizes differently than in the HBM
  // (at::softmax's vectorized exp differs in the last bit). No gradient
  // flows there.
  if (softmax.getInput().getDefiningOp<DequantizeOp>()) {
    addStep("hat.softmax (integer model) -> eval::softmax", [=](Slots &s) {
      const at::Tensor x = s[in].detach().to(at::kCPU).contiguous();
      eval::Tensor e = eval::Tensor::f32(x.sizes().vec());
      std::copy_n(x.data_ptr<float>(), x.numel(), e.f.data());
      eval::Tensor r = eval::softmax(e, axis);
      s[out] = at::from_blob(r.f.data(), x.sizes(), at::kFloat)
                   .clone()
                   .to(s[in].device());
    });
    return "";
  }
  addStep("hat.softmax -> at::softmax",
          [=](Slots &s) { s[out] = at::softmax(s[in], axis); });
  return "";
}

// Quantization boundaries.

std::string ModuleExecutor::Impl::compileStep(FakeQuantOp fqOp, int out) {
  FakeQuantEntry *fq = nullptr;
  for (auto &entry : fakeQuants)
    if (entry->op == fqOp)
      fq = entry.get();
  const int in = operandSlot(fqOp, 0);
  addStep("hat.fake_quant -> " + fq->name + " (mode-dependent)",
          [this, fq, in, out](Slots &s) { s[out] = runFakeQuant(*fq, s[in]); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QuantizeOp q, int out) {
  const int in = operandSlot(q, 0);
  const float scale = q.getScale().convertToFloat();
  const int bits = intBits(q.getResult());
  addStep("hat.quantize -> fused quantize kernel",
          [=](Slots &s) { s[out] = quantizeTensor(s[in], scale, bits); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(DequantizeOp dq, int out) {
  const at::Device device = options.device;
  const int in = operandSlot(dq, 0);
  std::vector<float> scales(dq.getScale().begin(), dq.getScale().end());
  const int64_t rank = rankedType(dq.getInput()).getRank();
  std::vector<int64_t> shape;
  if (auto axis = dq.getAxis()) {
    shape.assign(size_t(rank), 1);
    shape[size_t(*axis)] = int64_t(scales.size());
  }
  at::Tensor scale = floatTensor(scales, device).reshape(shape);
  // float(q) * scale in float32, as section 3.
  addStep("hat.dequantize -> to(float) * scale",
          [=](Slots &s) { s[out] = s[in].to(at::kFloat) * scale; });
  return "";
}

// Integer ops.

// qconv2d / qlinear: HatRuntime's integer kernels when the weight (and bias)
// are constants and the kernels take the layer; otherwise, or with the
// test-only atenIntegerOps, the exact float64 ATen path (then null, and
// `notOnKernels` says why, for describe()).
std::shared_ptr<const detail::IntegerKernelLayer>
ModuleExecutor::Impl::integerKernel(
    mlir::Operation *op, std::string &notOnKernels,
    const runtime::ConvShape &shape, mlir::Value input, mlir::Value weight,
    mlir::Value bias, const std::vector<int32_t> &multiplier,
    const std::vector<int32_t> &shift, bool relu) {
  if (options.atenIntegerOps || !options.device.is_cpu()) {
    notOnKernels = options.atenIntegerOps ? "atenIntegerOps" : "not on CPU";
    return nullptr;
  }
  auto identity = [](at::Tensor t) { return t; };
  const at::Tensor w = constantOf(weight, identity);
  const at::Tensor b = bias ? constantOf(bias, identity) : at::Tensor();
  if (!w.defined() || (bias && !b.defined())) {
    notOnKernels = "weight or bias not a constant param";
    return nullptr;
  }
  return detail::IntegerKernelLayer::create(shape, intBits(input), w, b,
                                            multiplier, shift, relu,
                                            resultBits(op), notOnKernels);
}

std::string ModuleExecutor::Impl::compileStep(QConv2dOp qconv, int out) {
  const at::Device device = options.device;
  // Why the integer kernels were not used, for describe().
  std::string notOnKernels = "shapes not static";
  const int in = operandSlot(qconv, 0), w = operandSlot(qconv, 1);
  const int b = slot(qconv.getBias());
  const std::vector<int64_t> stride = toVector(qconv.getStride());
  const std::vector<int64_t> dilation = toVector(qconv.getDilation());
  const Quad pad = toQuad(qconv.getPadding());
  const int64_t groups = int64_t(qconv.getGroups());
  const std::vector<int32_t> multiplier = toVector(qconv.getMultiplier());
  const std::vector<int32_t> shift = toVector(qconv.getShift());
  auto inType = rankedType(qconv.getInput());
  auto wType = rankedType(qconv.getWeight());
  if (inType.getRank() == 4 && wType.getRank() == 4 && wType.hasStaticShape() &&
      !inType.isDynamicDim(1) && !inType.isDynamicDim(2) &&
      !inType.isDynamicDim(3)) {
    runtime::ConvShape shape;
    shape.channels = inType.getDimSize(1);
    shape.height = inType.getDimSize(2);
    shape.width = inType.getDimSize(3);
    shape.outChannels = wType.getDimSize(0);
    shape.kernelH = wType.getDimSize(2);
    shape.kernelW = wType.getDimSize(3);
    shape.strideH = stride.at(0);
    shape.strideW = stride.at(1);
    shape.padTop = pad[0];
    shape.padLeft = pad[1];
    shape.padBottom = pad[2];
    shape.padRight = pad[3];
    shape.dilationH = dilation.at(0);
    shape.dilationW = dilation.at(1);
    shape.groups = groups;
    if (auto layer = integerKernel(qconv, notOnKernels, shape, qconv.getInput(),
                                   qconv.getWeight(), qconv.getBias(),
                                   multiplier, shift, qconv.getRelu())) {
      addStep("hat.qconv2d -> HatRuntime integer conv (" + layer->what() +
                  "), requantized in the store",
              [=](Slots &s) { s[out] = layer->conv(s[in]); });
      return "";
    }
  }
  auto toDouble = [](at::Tensor t) { return t.to(at::kDouble); };
  auto toBias = [](at::Tensor t) {
    return t.to(at::kLong).reshape({1, -1, 1, 1});
  };
  const at::Tensor weight = constantOf(qconv.getWeight(), toDouble);
  const at::Tensor bias =
      qconv.getBias() ? constantOf(qconv.getBias(), toBias) : at::Tensor();
  const detail::Requantizer requant(multiplier, shift, qconv.getRelu(),
                                    resultBits(qconv), 1, 4, device);
  addStep("hat.qconv2d -> at::_convolution (f64, exact) + requantize (" +
              notOnKernels + ")",
          [=](Slots &s) {
            at::Tensor acc = detail::integerConvAccumulate(
                s[in], weight.defined() ? weight : toDouble(s[w]), stride, pad,
                dilation, groups);
            if (b >= 0)
              acc.add_(bias.defined() ? bias : toBias(s[b]));
            s[out] = requant(detail::clampToInt32(acc));
          });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QLinearOp qlinear, int out) {
  const at::Device device = options.device;
  // Why the integer kernels were not used, for describe().
  std::string notOnKernels = "shapes not static";
  const int in = operandSlot(qlinear, 0), w = operandSlot(qlinear, 1);
  const int b = slot(qlinear.getBias());
  const std::vector<int32_t> multiplier = toVector(qlinear.getMultiplier());
  const std::vector<int32_t> shift = toVector(qlinear.getShift());
  auto wType = rankedType(qlinear.getWeight());
  if (wType.hasStaticShape() && wType.getRank() == 2) {
    const runtime::ConvShape shape =
        runtime::ConvShape::linear(wType.getDimSize(1), wType.getDimSize(0));
    if (auto layer =
            integerKernel(qlinear, notOnKernels, shape, qlinear.getInput(),
                          qlinear.getWeight(), qlinear.getBias(), multiplier,
                          shift, qlinear.getRelu())) {
      addStep("hat.qlinear -> HatRuntime integer linear (" + layer->what() +
                  "), requantized in the store",
              [=](Slots &s) { s[out] = layer->linear(s[in]); });
      return "";
    }
  }
  auto toDouble = [](at::Tensor t) { return t.to(at::kDouble); };
  auto toBias = [](at::Tensor t) { return t.to(at::kLong); };
  const at::Tensor weight = constantOf(qlinear.getWeight(), toDouble);
  const at::Tensor bias =
      qlinear.getBias() ? constantOf(qlinear.getBias(), toBias) : at::Tensor();
  const int64_t rank = rankedType(qlinear.getResult()).getRank();
  const detail::Requantizer requant(multiplier, shift, qlinear.getRelu(),
                                    resultBits(qlinear), rank - 1, rank,
                                    device);
  addStep("hat.qlinear -> at::linear (f64, exact) + requantize (" +
              notOnKernels + ")",
          [=](Slots &s) {
            at::Tensor acc = detail::integerLinearAccumulate(
                s[in], weight.defined() ? weight : toDouble(s[w]));
            if (b >= 0)
              acc.add_(bias.defined() ? bias : toBias(s[b]));
            s[out] = requant(detail::clampToInt32(acc));
          });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QAddOp qadd, int out) {
  const at::Device device = options.device;
  const int a = operandSlot(qadd, 0), b = operandSlot(qadd, 1);
  const int64_t ma = int32_t(qadd.getLhsMultiplier());
  const int64_t mb = int32_t(qadd.getRhsMultiplier());
  const int32_t shift = int32_t(qadd.getShift());
  const bool relu = qadd.getRelu();
  const int outBits = resultBits(qadd);
  // One shared shift: (a * ma + b * mb + 2^(shift-1)) >> shift, i.e. a
  // requantization of the combined sum with multiplier 1.
  const detail::Requantizer requant({1}, {shift}, relu, outBits, 0, 1, device);
  auto atenAdd = [=](const at::Tensor &x, const at::Tensor &y) {
    at::Tensor sum = x.to(at::kLong) * ma;
    sum = sum + y.to(at::kLong) * mb;
    return requant(std::move(sum));
  };
  if (options.atenIntegerOps || !device.is_cpu()) {
    addStep("hat.qadd -> int64 a*ma + b*mb, shift",
            [=](Slots &s) { s[out] = atenAdd(s[a], s[b]); });
    return "";
  }
  // Same-shape operands (residual adds) on the fused integer kernel;
  // broadcasting ones keep the int64 tensors.
  const at::ScalarType outType = detail::intScalarType(outBits);
  addStep("hat.qadd -> HatRuntime integer add (same shapes; int64 ATen "
          "when broadcasting)",
          [=](Slots &s) {
            const at::Tensor &x = s[a], &y = s[b];
            if (x.sizes() != y.sizes()) {
              s[out] = atenAdd(x, y);
              return;
            }
            const at::Tensor xc = x.contiguous(), yc = y.contiguous();
            at::Tensor result =
                at::empty(x.sizes(), at::TensorOptions(outType));
            if (!runtime::integerAdd(xc.data_ptr(), int(xc.element_size() * 8),
                                     yc.data_ptr(), int(yc.element_size() * 8),
                                     xc.numel(), int32_t(ma), int32_t(mb),
                                     shift, relu, outBits, result.data_ptr(),
                                     detail::atenParallelFor)) {
              s[out] = atenAdd(x, y);
              return;
            }
            s[out] = std::move(result);
          });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QMulOp qmul, int out) {
  const at::Device device = options.device;
  const int a = operandSlot(qmul, 0), b = operandSlot(qmul, 1);
  const detail::Requantizer requant({int32_t(qmul.getMultiplier())},
                                    {int32_t(qmul.getShift())}, false,
                                    resultBits(qmul), 0, 1, device);
  addStep("hat.qmul -> int64 a*b + requantize", [=](Slots &s) {
    s[out] = requant(s[a].to(at::kLong) * s[b].to(at::kLong));
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QMatmulOp qmatmul, int out) {
  const at::Device device = options.device;
  const int a = operandSlot(qmatmul, 0), b = operandSlot(qmatmul, 1);
  const detail::Requantizer requant({int32_t(qmatmul.getMultiplier())},
                                    {int32_t(qmatmul.getShift())}, false,
                                    resultBits(qmatmul), 0, 1, device);
  // float64 sums of int8/int16 products are exact (|a * b| <= 2^30 per
  // term, far below 2^53 for any K this side of 2^23), then int32 clamp.
  addStep("hat.qmatmul -> exact float64 matmul + requantize", [=](Slots &s) {
    at::Tensor acc =
        at::matmul(s[a].to(at::kDouble), s[b].to(at::kDouble)).to(at::kLong);
    s[out] = requant(detail::clampToInt32(acc));
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QMsDeformAttnOp qattn, int out) {
  const int value = operandSlot(qattn, 0), loc = operandSlot(qattn, 1),
            weights = operandSlot(qattn, 2);
  const std::vector<int64_t> shapes = toVector(qattn.getSpatialShapes());
  const std::vector<int32_t> locMultiplier = toVector(qattn.getLocMultiplier());
  const std::vector<int32_t> locShift = toVector(qattn.getLocShift());
  const int32_t multiplier = int32_t(qattn.getMultiplier());
  const int32_t shift = int32_t(qattn.getShift());
  const int bits = resultBits(qattn);
  // Gathers at computed positions with int64 sums: the reference kernel
  // (the one definition the runtime shares) on the CPU.
  addStep(
      "hat.qms_deform_attn -> eval::qmsDeformAttn on the CPU", [=](Slots &s) {
        eval::Tensor r = eval::qmsDeformAttn(
            detail::toEvalInts(s[value]), detail::toEvalInts(s[loc]),
            detail::toEvalInts(s[weights]), shapes, locMultiplier, locShift,
            multiplier, shift, bits == 16 ? eval::DType::I16 : eval::DType::I8);
        s[out] = detail::fromEvalInts(r, bits).to(s[value].device());
      });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QLayerNormOp qln, int out) {
  const int in = operandSlot(qln, 0), b = operandSlot(qln, 1);
  const std::vector<int32_t> multiplier = toVector(qln.getMultiplier());
  const std::vector<int32_t> shift = toVector(qln.getShift());
  const at::Tensor bias = constantOf(qln.getBias(), [](at::Tensor t) {
    return t.to(at::kInt).to(at::kCPU).contiguous();
  });
  const int64_t epsQ = int64_t(qln.getEpsQ());
  const int bits = resultBits(qln);
  // The row arithmetic needs 128-bit integers LibTorch does not have: run
  // the one definition (hat::quant::layerNormRow) on the CPU.
  addStep("hat.qlayer_norm -> quant::layerNormRow per row", [=](Slots &s) {
    const at::Tensor x = s[in].to(at::kCPU).to(at::kInt).contiguous();
    const int64_t c = x.size(-1), rows = c ? x.numel() / c : 0;
    at::Tensor y = at::empty_like(x);
    const int32_t *src = x.data_ptr<int32_t>();
    int32_t *dst = y.data_ptr<int32_t>();
    const at::Tensor biasNow =
        bias.defined() ? bias : s[b].to(at::kCPU).to(at::kInt).contiguous();
    const int32_t *biasData = biasNow.data_ptr<int32_t>();
    for (int64_t r = 0; r < rows; ++r)
      quant::layerNormRow(src + r * c, c, epsQ, multiplier.data(), shift.data(),
                          biasData, bits, dst + r * c);
    s[out] = y.to(detail::intScalarType(bits)).to(s[in].device());
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QConcatOp qconcat, int out) {
  const at::Device device = options.device;
  std::vector<int> ins;
  std::vector<detail::Requantizer> requants;
  const int bits = resultBits(qconcat);
  const std::vector<int32_t> m = toVector(qconcat.getMultiplier());
  const std::vector<int32_t> sh = toVector(qconcat.getShift());
  for (auto [i, v] : llvm::enumerate(qconcat.getInputs())) {
    ins.push_back(slot(v));
    requants.emplace_back(std::vector<int32_t>{m[i]},
                          std::vector<int32_t>{sh[i]}, false, bits, 0, 1,
                          device);
  }
  const int64_t axis = int64_t(qconcat.getAxis());
  addStep("hat.qconcat -> requantize each + at::cat", [=](Slots &s) {
    std::vector<at::Tensor> tensors;
    tensors.reserve(ins.size());
    for (size_t i = 0; i < ins.size(); ++i)
      tensors.push_back(requants[i](s[ins[i]].to(at::kLong)));
    s[out] = at::cat(tensors, axis);
  });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QAvgPool2dOp pool, int out) {
  const at::Device device = options.device;
  const int in = operandSlot(pool, 0);
  const std::vector<int64_t> kernel = toVector(pool.getKernel());
  const std::vector<int64_t> stride = toVector(pool.getStride());
  const Quad pad = toQuad(pool.getPadding());
  const detail::Requantizer requant({int32_t(pool.getMultiplier())},
                                    {int32_t(pool.getShift())}, false,
                                    resultBits(pool), 0, 1, device);
  addStep("hat.qavg_pool2d -> at::avg_pool2d(f64, divisor 1) + requantize",
          [=](Slots &s) {
            at::Tensor acc =
                detail::integerWindowSum(s[in], kernel, stride, pad);
            s[out] = requant(detail::clampToInt32(acc));
          });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QGlobalAvgPoolOp pool, int out) {
  const at::Device device = options.device;
  const int in = operandSlot(pool, 0);
  const detail::Requantizer requant({int32_t(pool.getMultiplier())},
                                    {int32_t(pool.getShift())}, false,
                                    resultBits(pool), 0, 1, device);
  addStep("hat.qglobal_avg_pool -> int64 sum({2, 3}) + requantize",
          [=](Slots &s) {
            at::Tensor acc = s[in].to(at::kLong).sum({2, 3}, true);
            s[out] = requant(detail::clampToInt32(acc));
          });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QResizeOp resize, int out) {
  const at::Device device = options.device;
  const int in = operandSlot(resize, 0);
  auto inType = rankedType(resize.getInput());
  const int64_t outH = resize.getSize()[0], outW = resize.getSize()[1];
  if (resize.getMode() == hat::ResizeMode::nearest) {
    addNearestResize("hat.qresize nearest -> at::index_select", inType, outH,
                     outW, in, out);
    return "";
  }
  if (!resize.getMultiplier() || !resize.getShift())
    return "hat.qresize bilinear needs multiplier and shift";
  const detail::BilinearResizer resizer(inType.getDimSize(2),
                                        inType.getDimSize(3), outH, outW,
                                        resize.getAlignCorners(), device);
  const int32_t multiplier = int32_t(*resize.getMultiplier());
  const int32_t shift = int32_t(*resize.getShift());
  const int bits = resultBits(resize);
  const bool wide = intBits(resize.getInput()) > 8;
  const detail::Requantizer requant({multiplier}, {shift}, false, bits, 0, 1,
                                    device);
  addStep("hat.qresize bilinear -> Q10 taps (int64) + requantize",
          [=](Slots &s) {
            at::Tensor acc = resizer.accumulate(s[in]);
            // int8: |acc| <= 2^27, the plain int64 rule suffices.
            s[out] = wide ? detail::requantWide(acc, multiplier, shift, bits)
                          : requant(std::move(acc));
          });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(RequantizeOp rq, int out) {
  const at::Device device = options.device;
  const int in = operandSlot(rq, 0);
  const int64_t rank = rankedType(rq.getInput()).getRank();
  const detail::Requantizer requant(
      toVector(rq.getMultiplier()), toVector(rq.getShift()), rq.getRelu(),
      resultBits(rq), std::min<int64_t>(1, rank - 1), rank, device);
  addStep("hat.requantize -> int64 requantize",
          [=](Slots &s) { s[out] = requant(s[in].to(at::kLong)); });
  return "";
}

std::string ModuleExecutor::Impl::compileStep(QLutOp lut, int out) {
  const at::Device device = options.device;
  const int in = operandSlot(lut, 0);
  const int inBits = intBits(lut.getInput());
  const int bits = resultBits(lut);
  std::vector<int64_t> table;
  for (int32_t v : lut.getTable())
    table.push_back(quant::saturate(v, bits)); // saturate_out, once
  const at::Tensor tableTensor = at::tensor(table, at::TensorOptions(at::kLong))
                                     .to(detail::intScalarType(bits))
                                     .to(device);
  const int64_t offset = -quant::qmin(inBits);
  addStep("hat.qlut -> at::index_select on the table", [=](Slots &s) {
    const at::Tensor &x = s[in];
    at::Tensor index = (x.to(at::kLong) + offset).reshape({-1});
    s[out] = tableTensor.index_select(0, index).reshape(x.sizes());
  });
  return "";
}

//===----------------------------------------------------------------------===//
// Runtime
//===----------------------------------------------------------------------===//

std::vector<at::Tensor>
ModuleExecutor::Impl::forward(const std::vector<at::Tensor> &inputs) {
  if (inputs.size() != arguments.size())
    throw ExecutorError("the function takes " +
                        std::to_string(arguments.size()) + " inputs, got " +
                        std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ArgumentSpec &spec = arguments[i];
    const at::Tensor &x = inputs[i];
    bool ok = x.defined() && x.dim() == int64_t(spec.shape.size()) &&
              x.is_floating_point() == spec.isFloat;
    for (size_t d = 0; ok && d < spec.shape.size(); ++d)
      ok = x.size(int64_t(d)) == spec.shape[d] ||
           (d == 0 && options.dynamicBatch && x.size(0) > 0);
    if (!ok)
      throw ExecutorError("input #" + std::to_string(i) + " is " +
                          (x.defined()
                               ? std::string(c10::toString(x.scalar_type())) +
                                     " " + shapeString(x.sizes())
                               : std::string("undefined")) +
                          ", the function expects " + c10::toString(spec.type) +
                          " " + shapeString(spec.shape));
    slots[size_t(spec.slot)] = x.to(options.device, spec.type);
  }
  for (const ParamEntry &p : params)
    slots[size_t(p.slot)] = p.tensor;
  try {
    for (const Step &step : steps) {
      step.run(slots);
      for (int r : step.release)
        slots[size_t(r)].reset();
    }
  } catch (...) {
    for (at::Tensor &t : slots)
      t.reset();
    throw;
  }
  std::vector<at::Tensor> outputs;
  outputs.reserve(results.size());
  // Channels-last activations leave as plain contiguous tensors (a no-op
  // for those already so), which readers of raw data expect.
  const bool nhwc = channelsLastConvs();
  for (int r : results)
    outputs.push_back(nhwc ? slots[size_t(r)].contiguous() : slots[size_t(r)]);
  for (at::Tensor &t : slots)
    t.reset();
  return outputs;
}

at::Tensor ModuleExecutor::Impl::runFakeQuant(FakeQuantEntry &fq,
                                              const at::Tensor &x) {
  switch (fakeQuantMode) {
  case FakeQuantMode::Float:
    return x;
  case FakeQuantMode::Calibrate:
    if (fq.axis >= 0) {
      fq.calibrationWeight = x.detach();
    } else {
      if (!fq.observer)
        fq.observer = quant::ActivationObserver::create(
            fq.observerKind, fq.bits, options.percentile);
      const at::Tensor data = x.detach().to(at::kCPU, at::kFloat).contiguous();
      fq.observer->observe(data.data_ptr<float>(), data.numel());
      ++fq.observedBatches;
    }
    return x;
  case FakeQuantMode::QAT:
    if (fq.axis >= 0)
      updateWeightScales(fq, x);
    else if (training && !fq.fixedScale &&
             options.activationScales == ActivationScaleMode::MovingAverage)
      updateMovingAverage(fq, x);
    if (!fq.hasScale)
      throw ExecutorError(fq.name +
                          ": fake_quant has no scale; calibrate first "
                          "(FakeQuantMode::Calibrate or hat-calibrate)");
    return fakeQuantize(x, fq.scale, fq.axis, fq.bits);
  }
  return x;
}

void ModuleExecutor::Impl::updateWeightScales(FakeQuantEntry &fq,
                                              const at::Tensor &w) {
  if (fq.hasScale && (fq.fixedScale || options.freezeWeightScales))
    return;
  // Recomputed at every call: caching on the version counter would miss
  // optimizers that update through `.data()` (torch::optim does), which
  // gives a fresh counter. One pass over the weight is cheap next to the
  // layer itself.
  ChannelStats stats = weightChannelStats(w, fq.axis, fq.bits);
  writeFloats(fq.scale, stats.scales);
  writeFloats(fq.min, stats.mins);
  writeFloats(fq.max, stats.maxs);
  fq.hasScale = true;
}

void ModuleExecutor::Impl::updateMovingAverage(FakeQuantEntry &fq,
                                               const at::Tensor &x) {
  auto [batchMin, batchMax] = at::aminmax(x.detach());
  const float lo = batchMin.item<float>(), hi = batchMax.item<float>();
  if (!std::isfinite(lo) || !std::isfinite(hi))
    return; // as the observers: non-finite batches do not move the range
  float mn = readFloats(fq.min)[0], mx = readFloats(fq.max)[0];
  const float c = float(options.averagingConstant);
  if (!std::isfinite(mn) || !std::isfinite(mx)) {
    mn = lo;
    mx = hi;
  } else {
    mn = mn + c * (lo - mn);
    mx = mx + c * (hi - mx);
  }
  writeFloats(fq.min, {mn});
  writeFloats(fq.max, {mx});
  writeFloats(fq.scale, {quant::scaleFromAbsMax(
                            std::max(std::fabs(mn), std::fabs(mx)), fq.bits)});
  fq.hasScale = true;
}

void ModuleExecutor::Impl::startCalibration() {
  for (auto &fq : fakeQuants) {
    fq->observer.reset();
    fq->observedBatches = 0;
    fq->calibrationWeight = at::Tensor();
  }
}

void ModuleExecutor::Impl::finishCalibration() {
  for (auto &fq : fakeQuants) {
    if (fq->axis >= 0) {
      if (!fq->calibrationWeight.defined())
        continue;
      ChannelStats stats =
          weightChannelStats(fq->calibrationWeight, fq->axis, fq->bits);
      writeFloats(fq->scale, stats.scales);
      writeFloats(fq->min, stats.mins);
      writeFloats(fq->max, stats.maxs);
      fq->hasScale = true;
      fq->calibrationWeight = at::Tensor();
      continue;
    }
    if (!fq->observer || fq->observedBatches == 0)
      continue;
    if (fq->observer->count() == 0 && fq->observer->seen() > 0)
      throw ExecutorError(
          fq->name + ": the calibration observer saw " +
          std::to_string(fq->observer->seen()) +
          " values and none was finite (NaN/Inf): no scale can be derived; "
          "check the calibration data and the float model");
    // The observer keeps its state: calibration may continue afterwards.
    writeFloats(fq->scale, {fq->observer->scale()});
    writeFloats(fq->min, {fq->observer->min()});
    writeFloats(fq->max, {fq->observer->max()});
    fq->hasScale = true;
  }
}

NamedTensors ModuleExecutor::Impl::buffers() {
  if (fakeQuantMode == FakeQuantMode::Calibrate)
    finishCalibration();
  NamedTensors out;
  for (const ParamEntry &p : params)
    if (p.role == ParamRole::Buffer)
      out.emplace_back(p.name, p.tensor);
  for (const auto &fq : fakeQuants) {
    out.emplace_back(fq->name + ".scale", fq->scale);
    out.emplace_back(fq->name + ".min", fq->min);
    out.emplace_back(fq->name + ".max", fq->max);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// ModuleExecutor
//===----------------------------------------------------------------------===//

ModuleExecutor::ModuleExecutor(std::unique_ptr<Impl> impl)
    : impl(std::move(impl)) {}
ModuleExecutor::~ModuleExecutor() = default;

ModuleExecutor::CreateResult
ModuleExecutor::create(mlir::func::FuncOp func,
                       const ExecutorOptions &options) {
  CreateResult result;
  if (!func) {
    result.error = "no function";
    return result;
  }
#ifdef HAT_ENABLE_CUDA
  // The CUDA path: parameters, buffers and constants live on the device,
  // fake quantization uses the ATen-composed kernels, observers and weight
  // statistics read small copies on the host.
  if (options.device.is_cuda() && !at::hasCUDA()) {
    result.error = "device " + options.device.str() +
                   " requested but this LibTorch has no CUDA support";
    return result;
  }
  if (!options.device.is_cpu() && !options.device.is_cuda()) {
    result.error = "unsupported device " + options.device.str();
    return result;
  }
#else
  if (!options.device.is_cpu()) {
    result.error = "device " + options.device.str() +
                   " needs a build with HAT_ENABLE_CUDA=ON";
    return result;
  }
#endif
  auto impl = std::make_unique<Impl>();
  impl->function = func;
  impl->options = options;
  impl->fakeQuantMode = options.fakeQuantMode;
  try {
    result.error = impl->compile(func);
  } catch (const std::exception &e) {
    result.error = e.what();
  }
  if (!result.error.empty())
    return result;
  result.executor.reset(new ModuleExecutor(std::move(impl)));
  return result;
}

std::vector<at::Tensor>
ModuleExecutor::forward(const std::vector<at::Tensor> &inputs) {
  return impl->forward(inputs);
}

at::Tensor ModuleExecutor::forwardOne(const at::Tensor &input) {
  std::vector<at::Tensor> out = impl->forward({input});
  if (out.size() != 1)
    throw ExecutorError("the function returns " + std::to_string(out.size()) +
                        " results; use forward()");
  return out[0];
}

void ModuleExecutor::train(bool training) { impl->training = training; }
void ModuleExecutor::setBatchNormFunction(BatchNormFn fn) {
  impl->batchNormFn = std::move(fn);
}
bool ModuleExecutor::isTraining() const { return impl->training; }

void ModuleExecutor::setFakeQuantMode(FakeQuantMode mode) {
  if (mode == impl->fakeQuantMode)
    return;
  if (impl->fakeQuantMode == FakeQuantMode::Calibrate)
    impl->finishCalibration();
  if (mode == FakeQuantMode::Calibrate)
    impl->startCalibration();
  impl->fakeQuantMode = mode;
}
FakeQuantMode ModuleExecutor::fakeQuantMode() const {
  return impl->fakeQuantMode;
}
void ModuleExecutor::setFreezeWeightScales(bool freeze) {
  impl->options.freezeWeightScales = freeze;
}
void ModuleExecutor::setActivationScaleMode(ActivationScaleMode mode) {
  impl->options.activationScales = mode;
}

NamedTensors ModuleExecutor::namedParameters() const {
  NamedTensors out;
  for (const ParamEntry &p : impl->params)
    if (p.role == ParamRole::Trainable)
      out.emplace_back(p.name, p.tensor);
  return out;
}

std::set<std::string> ModuleExecutor::normParameterNames() const {
  std::set<std::string> out;
  for (const ParamEntry &p : impl->params)
    if (p.role == ParamRole::Trainable && p.normalisation)
      out.insert(p.name);
  return out;
}

std::vector<at::Tensor> ModuleExecutor::parameters() const {
  std::vector<at::Tensor> out;
  for (const ParamEntry &p : impl->params)
    if (p.role == ParamRole::Trainable)
      out.push_back(p.tensor);
  return out;
}

NamedTensors ModuleExecutor::namedBuffers() { return impl->buffers(); }

NamedTensors ModuleExecutor::stateDict() {
  NamedTensors out;
  for (auto &[name, t] : namedParameters())
    out.emplace_back(name, t.detach());
  for (auto &[name, t] : impl->buffers())
    out.emplace_back(name, t.detach());
  return out;
}

std::string ModuleExecutor::loadStateDict(const NamedTensors &state,
                                          bool strict) {
  NamedTensors expected = stateDict();
  std::unordered_map<std::string, const at::Tensor *> given;
  for (const auto &[name, t] : state)
    given[name] = &t;
  // Check everything first so a bad checkpoint changes nothing.
  std::vector<std::pair<at::Tensor, const at::Tensor *>> copies;
  for (const auto &[name, target] : expected) {
    auto it = given.find(name);
    if (it == given.end())
      return "state dict has no entry '" + name + "'";
    const at::Tensor &source = *it->second;
    if (!source.defined() || source.sizes() != target.sizes())
      return "state dict entry '" + name + "' has shape " +
             (source.defined() ? shapeString(source.sizes()) : "undefined") +
             ", the model expects " + shapeString(target.sizes());
    if (!source.is_floating_point())
      return "state dict entry '" + name + "' is " +
             c10::toString(source.scalar_type()) + ", expected a float tensor";
    copies.emplace_back(target, &source);
    given.erase(it);
  }
  if (strict && !given.empty()) {
    std::vector<std::string> names;
    for (const auto &entry : given)
      names.push_back(entry.first);
    std::sort(names.begin(), names.end());
    std::string list;
    for (const std::string &n : names)
      list += (list.empty() ? "'" : ", '") + n + "'";
    return "state dict has entries the model does not: " + list;
  }
  {
    at::NoGradGuard noGrad;
    for (auto &[target, source] : copies)
      target.copy_(*source);
  }
  for (auto &fq : impl->fakeQuants) {
    fq->hasScale = (fq->scale > 0).all().item<bool>();
    fq->observer.reset();
    fq->observedBatches = 0;
    fq->calibrationWeight = at::Tensor();
  }
  return "";
}

void ModuleExecutor::writeBack() {
  if (impl->fakeQuantMode == FakeQuantMode::Calibrate)
    impl->finishCalibration();
  // The last optimizer step came after the last forward: give per-step
  // weight scales the final weights, as the next forward would.
  if (impl->fakeQuantMode == FakeQuantMode::QAT)
    for (auto &fq : impl->fakeQuants)
      if (fq->weightParam >= 0)
        impl->updateWeightScales(*fq,
                                 impl->params[size_t(fq->weightParam)].tensor);
  for (ParamEntry &p : impl->params) {
    if (p.role == ParamRole::Constant)
      continue;
    std::vector<float> data = readFloats(p.tensor);
    auto type = rankedType(p.op.getResult());
    p.op.setValueAttr(
        mlir::DenseElementsAttr::get(type, llvm::ArrayRef<float>(data)));
  }
  for (auto &fq : impl->fakeQuants) {
    mlir::Builder b(fq->op.getContext());
    if (fq->hasScale)
      fq->op.setScaleAttr(b.getDenseF32ArrayAttr(readFloats(fq->scale)));
    std::vector<float> mins = readFloats(fq->min), maxs = readFloats(fq->max);
    bool finite = true;
    for (size_t c = 0; c < mins.size(); ++c)
      finite &= std::isfinite(mins[c]) && std::isfinite(maxs[c]);
    if (finite) {
      fq->op.setMinAttr(b.getDenseF32ArrayAttr(mins));
      fq->op.setMaxAttr(b.getDenseF32ArrayAttr(maxs));
    }
  }
}

void ModuleExecutor::zeroGrad() {
  for (ParamEntry &p : impl->params)
    if (p.role == ParamRole::Trainable && p.tensor.grad().defined())
      p.tensor.mutable_grad().reset();
}

const ExecutorOptions &ModuleExecutor::options() const { return impl->options; }

std::string ModuleExecutor::describe() const {
  std::ostringstream os;
  for (size_t i = 0; i < impl->steps.size(); ++i)
    os << i << ": " << impl->steps[i].what << "\n";
  return os.str();
}

size_t ModuleExecutor::numSteps() const { return impl->steps.size(); }

} // namespace hat::exec
