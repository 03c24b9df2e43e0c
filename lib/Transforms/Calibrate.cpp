//===- Calibrate.cpp - Set fake_quant scales from sample inputs -----------===//
//
// Runs the float model (fake_quant bypassed) over the sample batches with the
// reference evaluator and feeds each activation fake_quant's input to its
// observer; weight fake_quant scales come from the weights themselves
// (per-channel abs-max). The observers are the ones training-time
// calibration uses, so both paths agree.
//
//===----------------------------------------------------------------------===//

#include "hat/Eval/Evaluator.h"
#include "hat/Eval/Npy.h"
#include "hat/Quant/FixedPoint.h"
#include "hat/Quant/Observer.h"
#include "hat/Transforms/ParamUtils.h"
#include "hat/Transforms/Passes.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"

namespace hat {
#define GEN_PASS_DEF_HATCALIBRATE
#include "hat/Dialect/HatPasses.h.inc"
} // namespace hat

using namespace mlir;
using namespace hat;

namespace {

quant::ObserverKind toKind(Observer o) {
  switch (o) {
  case Observer::minmax:
    return quant::ObserverKind::MinMax;
  case Observer::percentile:
    return quant::ObserverKind::Percentile;
  case Observer::mse:
    return quant::ObserverKind::MSE;
  }
  llvm_unreachable("unknown observer");
}

Observer fromKind(quant::ObserverKind kind) {
  switch (kind) {
  case quant::ObserverKind::MinMax:
    return Observer::minmax;
  case quant::ObserverKind::Percentile:
    return Observer::percentile;
  case quant::ObserverKind::MSE:
    return Observer::mse;
  }
  llvm_unreachable("unknown observer kind");
}

struct CalibratePass : hat::impl::HatCalibrateBase<CalibratePass> {
  using HatCalibrateBase::HatCalibrateBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp func = eval::findEntryFunction(module, function);
    if (!func)
      return signalPassFailure();
    std::optional<quant::ObserverKind> override;
    if (!observerOverride.empty()) {
      override = quant::parseObserverKind(observerOverride);
      if (!override) {
        module.emitError("unknown observer '")
            << observerOverride << "' (expected minmax, percentile or mse)";
        return signalPassFailure();
      }
    }
    if (failed(calibrateWeights(func)))
      return signalPassFailure();

    bool hasActivations = false;
    func.walk([&](FakeQuantOp fq) { hasActivations |= !fq.getAxis(); });
    if (!hasActivations)
      return;
    if (inputs.empty()) {
      func.emitError("hat-calibrate needs sample inputs: "
                     "--hat-calibrate=\"inputs=a.npy,b.npy\"");
      return signalPassFailure();
    }

    llvm::MapVector<Operation *, std::unique_ptr<quant::ActivationObserver>>
        observers;
    func.walk([&](FakeQuantOp fq) {
      if (fq.getAxis())
        return;
      observers[fq] = quant::ActivationObserver::create(
          override ? *override : toKind(fq.getObserver()),
          getQDTypeBits(fq.getDtype()), percentile);
    });

    eval::FunctionEvaluator evaluator(func);
    eval::EvalOptions options;
    options.bypassFakeQuant = true;
    options.onFakeQuantInput = [&](FakeQuantOp fq, const eval::Tensor &t) {
      auto it = observers.find(fq);
      if (it != observers.end())
        it->second->observe(t.f.data(), t.numel());
    };
    for (const std::string &sample : inputs) {
      SmallVector<StringRef> files;
      StringRef(sample).split(files, '+');
      std::vector<eval::Tensor> batch(files.size());
      for (auto [i, file] : llvm::enumerate(files)) {
        std::string error;
        if (!eval::readNpy(file.str(), batch[i], error)) {
          func.emitError("calibration input: ") << error;
          return signalPassFailure();
        }
      }
      if (failed(evaluator.run(batch, options)))
        return signalPassFailure();
    }

    Builder b(&getContext());
    bool nonFinite = false;
    for (auto &[op, observer] : observers)
      if (observer->seen() > 0 && observer->count() == 0) {
        op->emitError() << "calibration: this fake_quant's observer saw "
                        << observer->seen()
                        << " values and none was finite (NaN/Inf): no scale "
                           "can be derived; check the calibration inputs "
                           "and the float model";
        nonFinite = true;
      }
    if (nonFinite)
      return signalPassFailure();
    for (auto &[op, observer] : observers) {
      auto fq = cast<FakeQuantOp>(op);
      if (override)
        fq.setObserver(fromKind(*override));
      fq.setScaleAttr(b.getDenseF32ArrayAttr({observer->scale()}));
      fq.setMinAttr(b.getDenseF32ArrayAttr({observer->min()}));
      fq.setMaxAttr(b.getDenseF32ArrayAttr({observer->max()}));
    }
  }

  LogicalResult calibrateWeights(func::FuncOp func) {
    Builder b(&getContext());
    WalkResult result = func.walk([&](FakeQuantOp fq) {
      if (!fq.getAxis())
        return WalkResult::advance();
      auto data = readFloatParam(getParamDefiningOp(fq.getInput()));
      if (!data) {
        fq.emitError("per-channel fake_quant input must be hat.param f32 "
                     "data (a weight)");
        return WalkResult::interrupt();
      }
      auto type = fq.getInput().getType();
      std::vector<int64_t> shape(type.getShape().begin(),
                                 type.getShape().end());
      int axis = (int)*fq.getAxis();
      std::vector<float> scales = quant::perChannelWeightScales(
          data->data(), shape, axis, getQDTypeBits(fq.getDtype()));
      std::vector<float> mins(scales.size()), maxs(scales.size());
      int64_t channels = shape[axis];
      int64_t inner = 1;
      for (size_t d = axis + 1; d < shape.size(); ++d)
        inner *= shape[d];
      for (int64_t c = 0; c < channels; ++c) {
        mins[c] = std::numeric_limits<float>::infinity();
        maxs[c] = -std::numeric_limits<float>::infinity();
      }
      for (size_t idx = 0; idx < data->size(); ++idx) {
        int64_t c = (idx / inner) % channels;
        mins[c] = std::min(mins[c], (*data)[idx]);
        maxs[c] = std::max(maxs[c], (*data)[idx]);
      }
      fq.setScaleAttr(b.getDenseF32ArrayAttr(scales));
      fq.setMinAttr(b.getDenseF32ArrayAttr(mins));
      fq.setMaxAttr(b.getDenseF32ArrayAttr(maxs));
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }
};
} // namespace
