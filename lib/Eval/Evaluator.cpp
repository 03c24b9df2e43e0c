//===- Evaluator.cpp - Reference interpreter of hat functions -------------===//

#include "hat/Eval/Evaluator.h"
#include "hat/Eval/Kernels.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace hat::eval {

namespace {
Pair pair(ArrayRef<int64_t> a) { return {a[0], a[1]}; }
Quad quad(ArrayRef<int64_t> a) { return {a[0], a[1], a[2], a[3]}; }
std::vector<int32_t> vec(ArrayRef<int32_t> a) { return {a.begin(), a.end()}; }

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

DType resultDType(Operation *op) {
  auto t = llvm::cast<RankedTensorType>(op->getResult(0).getType());
  return *dtypeOf(t.getElementType());
}

Requantization requantization(ArrayRef<int32_t> multiplier,
                              ArrayRef<int32_t> shift, bool relu, DType out) {
  Requantization rq;
  rq.multiplier = vec(multiplier);
  rq.shift = vec(shift);
  rq.relu = relu;
  rq.out = out;
  return rq;
}

ResizeMode resizeMode(hat::ResizeMode mode) {
  return mode == hat::ResizeMode::nearest ? ResizeMode::Nearest
                                          : ResizeMode::Bilinear;
}
} // namespace

std::optional<DType> dtypeOf(Type elementType) {
  if (elementType.isF32())
    return DType::F32;
  if (elementType.isInteger(8))
    return DType::I8;
  if (elementType.isInteger(16))
    return DType::I16;
  if (elementType.isInteger(32))
    return DType::I32;
  return std::nullopt;
}

func::FuncOp findEntryFunction(ModuleOp module, StringRef name) {
  if (!name.empty()) {
    if (auto f = module.lookupSymbol<func::FuncOp>(name))
      return f;
    module.emitError("no function named '") << name << "'";
    return nullptr;
  }
  func::FuncOp found;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isPrivate() || f.isExternal())
      continue;
    if (found) {
      module.emitError("several public functions; name one with "
                       "--function");
      return nullptr;
    }
    found = f;
  }
  if (!found)
    module.emitError("module has no public function to evaluate");
  return found;
}

FailureOr<const Tensor *> FunctionEvaluator::param(ParamOp op) {
  auto it = params.find(op);
  if (it != params.end())
    return &it->second;
  auto type = llvm::cast<RankedTensorType>(op.getType());
  auto dtype = dtypeOf(type.getElementType());
  if (!dtype)
    return op.emitError("unsupported parameter element type ")
           << type.getElementType();
  Tensor t;
  t.dtype = *dtype;
  t.shape.assign(type.getShape().begin(), type.getShape().end());
  if (*dtype == DType::F32) {
    auto values = op.getValue().tryGetValues<float>();
    if (!values)
      return op.emitError("cannot read f32 data of parameter ") << op.getName();
    t.f.assign(values->begin(), values->end());
  } else {
    auto values = op.getValue().tryGetValues<APInt>();
    if (!values)
      return op.emitError("cannot read integer data of parameter ")
             << op.getName();
    t.i.reserve(type.getNumElements());
    for (const APInt &v : *values)
      t.i.push_back((int32_t)v.getSExtValue());
  }
  if (t.numel() != type.getNumElements())
    return op.emitError("parameter data does not fill its type");
  return &params.try_emplace(op, std::move(t)).first->second;
}

FailureOr<std::vector<Tensor>>
FunctionEvaluator::run(const std::vector<Tensor> &inputs,
                       const EvalOptions &options) {
  if (inputs.size() != func.getNumArguments())
    return func.emitError("expects ")
           << func.getNumArguments() << " inputs, got " << inputs.size();
  llvm::DenseMap<Value, Tensor> env;
  for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
    auto type = llvm::cast<RankedTensorType>(arg.getType());
    const Tensor &in = inputs[i];
    if (ArrayRef<int64_t>(in.shape) != type.getShape() ||
        dtypeOf(type.getElementType()) != in.dtype)
      return func.emitError("input #")
             << i << " is " << dtypeName(in.dtype) << " " << shapeStr(in.shape)
             << ", the function expects " << type
             << " (hat-opt --hat-infer-shapes=batch-size=N changes the batch)";
    env[arg] = in;
  }

  for (Operation &opRef : func.getBody().front()) {
    Operation *op = &opRef;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<Tensor> results;
      for (Value v : ret.getOperands())
        results.push_back(env.lookup(v));
      return results;
    }
    auto get = [&](unsigned i) -> const Tensor & {
      return env.find(op->getOperand(i))->second;
    };
    auto optional = [&](Value v) -> const Tensor * {
      return v ? &env.find(v)->second : nullptr;
    };
    if (auto p = dyn_cast<ParamOp>(op)) {
      auto t = param(p);
      if (failed(t))
        return failure();
      env[p.getResult()] = **t;
      continue;
    }
    std::optional<Tensor> out =
        llvm::TypeSwitch<Operation *, std::optional<Tensor>>(op)
            .Case([&](Conv2dOp c) {
              return conv2d(get(0), get(1), optional(c.getBias()),
                            pair(c.getStride()), quad(c.getPadding()),
                            pair(c.getDilation()), c.getGroups());
            })
            .Case([&](LinearOp l) {
              return linear(get(0), get(1), optional(l.getBias()));
            })
            .Case([&](BatchNormOp) {
              return batchNorm(get(0), get(1), get(2), get(3), get(4),
                               cast<BatchNormOp>(op).getEps().convertToFloat());
            })
            .Case([&](LayerNormOp l) {
              return layerNorm(get(0), get(1), get(2),
                               l.getEps().convertToFloat());
            })
            .Case([&](ReluOp) { return unary(get(0), Unary::Relu); })
            .Case([&](Relu6Op) { return unary(get(0), Unary::Relu6); })
            .Case([&](SigmoidOp) { return unary(get(0), Unary::Sigmoid); })
            .Case([&](SiluOp) { return unary(get(0), Unary::Silu); })
            .Case([&](HardswishOp) { return unary(get(0), Unary::Hardswish); })
            .Case([&](AddOp) { return add(get(0), get(1)); })
            .Case([&](MulOp) { return mul(get(0), get(1)); })
            .Case([&](MatmulOp) { return matmul(get(0), get(1)); })
            .Case<ConcatOp, QConcatOp>([&](auto c) -> std::optional<Tensor> {
              std::vector<const Tensor *> ins;
              for (Value v : c.getInputs())
                ins.push_back(&env.find(v)->second);
              if constexpr (std::is_same_v<decltype(c), ConcatOp>)
                return concat(ins, c.getAxis());
              else
                return qconcat(ins, c.getAxis(), vec(c.getMultiplier()),
                               vec(c.getShift()), resultDType(op));
            })
            .Case([&](WeightedSumOp w) {
              std::vector<const Tensor *> ins;
              for (Value v : w.getInputs())
                ins.push_back(&env.find(v)->second);
              return weightedSum(ins, env.find(w.getWeights())->second,
                                 w.getEps().convertToFloat());
            })
            .Case([&](MaxPool2dOp p) {
              return maxPool2d(get(0), pair(p.getKernel()), pair(p.getStride()),
                               quad(p.getPadding()));
            })
            .Case([&](AvgPool2dOp p) {
              return avgPool2d(get(0), pair(p.getKernel()), pair(p.getStride()),
                               quad(p.getPadding()));
            })
            .Case([&](GlobalAvgPoolOp) { return globalAvgPool(get(0)); })
            .Case([&](ResizeOp r) {
              return resize(get(0), resizeMode(r.getMode()), r.getSize()[0],
                            r.getSize()[1], r.getAlignCorners());
            })
            .Case([&](ReshapeOp) {
              auto t = llvm::cast<RankedTensorType>(op->getResult(0).getType());
              return reshape(get(0),
                             {t.getShape().begin(), t.getShape().end()});
            })
            .Case([&](FlattenOp) {
              auto t = llvm::cast<RankedTensorType>(op->getResult(0).getType());
              return reshape(get(0),
                             {t.getShape().begin(), t.getShape().end()});
            })
            .Case([&](TransposeOp t) {
              return transpose(get(0),
                               {t.getPerm().begin(), t.getPerm().end()});
            })
            .Case([&](SoftmaxOp s) { return softmax(get(0), s.getAxis()); })
            .Case([&](MsDeformAttnOp a) {
              ArrayRef<int64_t> shapes = a.getSpatialShapes();
              return msDeformAttn(get(0), get(1), get(2),
                                  {shapes.begin(), shapes.end()});
            })
            .Case([&](QMsDeformAttnOp a) {
              ArrayRef<int64_t> shapes = a.getSpatialShapes();
              return qmsDeformAttn(
                  get(0), get(1), get(2), {shapes.begin(), shapes.end()},
                  vec(a.getLocMultiplier()), vec(a.getLocShift()),
                  int32_t(a.getMultiplier()), int32_t(a.getShift()),
                  resultDType(op));
            })
            .Case([&](FakeQuantOp fq) -> std::optional<Tensor> {
              if (options.onFakeQuantInput)
                options.onFakeQuantInput(fq, get(0));
              if (options.bypassFakeQuant)
                return get(0);
              if (!fq.isCalibrated()) {
                fq.emitError("fake_quant has no scale: calibrate first "
                             "(hat-calibrate) or evaluate in float");
                return std::nullopt;
              }
              ArrayRef<float> s = *fq.getScale();
              return fakeQuant(get(0), getQDTypeBits(fq.getDtype()),
                               fq.getAxis() ? (int64_t)*fq.getAxis() : -1,
                               {s.begin(), s.end()});
            })
            .Case([&](QuantizeOp q) {
              return quantize(get(0), q.getScale().convertToFloat(),
                              resultDType(op));
            })
            .Case([&](DequantizeOp d) {
              ArrayRef<float> s = d.getScale();
              return dequantize(get(0), {s.begin(), s.end()},
                                d.getAxis() ? (int64_t)*d.getAxis() : -1);
            })
            .Case([&](QConv2dOp c) {
              return qconv2d(get(0), get(1), optional(c.getBias()),
                             pair(c.getStride()), quad(c.getPadding()),
                             pair(c.getDilation()), c.getGroups(),
                             requantization(c.getMultiplier(), c.getShift(),
                                            c.getRelu(), resultDType(op)));
            })
            .Case([&](QLinearOp l) {
              return qlinear(get(0), get(1), optional(l.getBias()),
                             requantization(l.getMultiplier(), l.getShift(),
                                            l.getRelu(), resultDType(op)));
            })
            .Case([&](QAddOp a) {
              return qadd(get(0), get(1), a.getLhsMultiplier(),
                          a.getRhsMultiplier(), a.getShift(), a.getRelu(),
                          resultDType(op));
            })
            .Case([&](QMatmulOp m) {
              return qmatmul(get(0), get(1), int32_t(m.getMultiplier()),
                             int32_t(m.getShift()), resultDType(op));
            })
            .Case([&](QLayerNormOp l) {
              return qlayerNorm(get(0), get(1), int64_t(l.getEpsQ()),
                                vec(l.getMultiplier()), vec(l.getShift()),
                                resultDType(op));
            })
            .Case([&](QMulOp m) {
              return qmul(get(0), get(1), m.getMultiplier(), m.getShift(),
                          resultDType(op));
            })
            .Case([&](QAvgPool2dOp p) {
              return qavgPool2d(get(0), pair(p.getKernel()),
                                pair(p.getStride()), quad(p.getPadding()),
                                p.getMultiplier(), p.getShift(),
                                resultDType(op));
            })
            .Case([&](QGlobalAvgPoolOp p) {
              return qglobalAvgPool(get(0), p.getMultiplier(), p.getShift(),
                                    resultDType(op));
            })
            .Case([&](QResizeOp r) {
              return qresize(get(0), resizeMode(r.getMode()), r.getSize()[0],
                             r.getSize()[1], r.getAlignCorners(),
                             r.getMultiplier().value_or(0),
                             r.getShift().value_or(0), resultDType(op));
            })
            .Case([&](RequantizeOp r) {
              return requantize(get(0),
                                requantization(r.getMultiplier(), r.getShift(),
                                               r.getRelu(), resultDType(op)));
            })
            .Case([&](QLutOp l) {
              return qlut(get(0), vec(l.getTable()), resultDType(op));
            })
            .Default([&](Operation *other) -> std::optional<Tensor> {
              other->emitError("the reference evaluator cannot run this op");
              return std::nullopt;
            });
    if (!out)
      return failure();
    env[op->getResult(0)] = std::move(*out);
  }
  return func.emitError("function body has no return");
}

} // namespace hat::eval
