//===- QAT2Quantize.cpp - Fake-quant model to integer model ---------------===//
//
// Walks the function in program order, keeping for every float activation
// that has been quantized its integer value, scale and width. Each layer
// unit (layer [+ fused relu] + output fake_quant) becomes one integer op
// whose multiplier/shift encode input_scale * weight_scale / output_scale as
// docs/quantization.md specifies. Function inputs are quantized and results
// dequantized, so the integer function keeps the float signature.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/ResultAttributes.h"
#include "hat/Eval/Kernels.h"
#include "hat/Quant/FixedPoint.h"
#include "hat/Transforms/ParamUtils.h"
#include "hat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

namespace hat {
#define GEN_PASS_DEF_HATQAT2QUANTIZE
#include "hat/Dialect/HatPasses.h.inc"
} // namespace hat

using namespace mlir;
using namespace hat;

namespace {

/// An activation in the integer model.
struct QValue {
  Value value;
  double scale;
  unsigned bits;
};

class Quantizer {
public:
  Quantizer(func::FuncOp func) : func(func), builder(func.getContext()) {}

  LogicalResult run();

private:
  LogicalResult convert(Operation *op);
  FailureOr<QValue> lookup(Operation *user, Value floatValue, unsigned index);
  /// The fake_quant ending the unit that starts at `op` (through a fused
  /// relu/relu6 when `allowRelu`), and that relu if any.
  FailureOr<FakeQuantOp> outputFakeQuant(Operation *op, bool allowRelu,
                                         Operation *&relu);
  FailureOr<quant::Requant> requant(Operation *op, double ratio);
  Type intTensor(Type like, unsigned bits) {
    auto t = llvm::cast<RankedTensorType>(like);
    return RankedTensorType::get(t.getShape(), builder.getIntegerType(bits));
  }
  void define(Value floatValue, Value intValue, double scale, unsigned bits) {
    mapping[floatValue] = QValue{intValue, scale, bits};
  }
  LogicalResult convertWeightedLayer(Operation *op);
  LogicalResult convertElementwise(Operation *op);
  FailureOr<Value> convertWeightedSum(WeightedSumOp op, double outScale,
                                      Type resultType, bool relu);
  FailureOr<Value> convertLayerNorm(LayerNormOp op, double outScale,
                                    Type resultType);
  FailureOr<Value> convertMsDeformAttn(MsDeformAttnOp op, double outScale,
                                       Type resultType);

  func::FuncOp func;
  OpBuilder builder;
  llvm::DenseMap<Value, QValue> mapping;
  /// Float ops already absorbed into an integer op (fused relu, output
  /// fake_quant); skipped by the walk, erased at the end.
  llvm::SmallPtrSet<Operation *, 16> consumed;
  /// Integer weight of each weight fake_quant, created once.
  llvm::DenseMap<Value, ParamOp> intWeights;
  llvm::StringSet<> biasNames;
  /// `name`, or `name.1`, `name.2`, ... when taken by an earlier layer.
  std::string uniqueName(const std::string &name) {
    std::string unique = name;
    for (int k = 1; !biasNames.insert(unique).second; ++k)
      unique = name + "." + std::to_string(k);
    return unique;
  }
};

FailureOr<quant::Requant> Quantizer::requant(Operation *op, double ratio) {
  auto rq = quant::computeRequant(ratio);
  if (!rq)
    return op->emitError("requantization ratio ")
           << ratio << " cannot be represented as multiplier * 2^-shift";
  return *rq;
}

FailureOr<QValue> Quantizer::lookup(Operation *user, Value floatValue,
                                    unsigned index) {
  auto it = mapping.find(floatValue);
  if (it != mapping.end())
    return it->second;
  return user->emitError("operand #")
         << index << " is not quantized: float2qat/calibration must place a "
         << "fake_quant before this op";
}

FailureOr<FakeQuantOp> Quantizer::outputFakeQuant(Operation *op, bool allowRelu,
                                                  Operation *&relu) {
  relu = nullptr;
  Value out = op->getResult(0);
  if (allowRelu && out.hasOneUse() &&
      isa<ReluOp, Relu6Op>(*out.getUsers().begin())) {
    relu = *out.getUsers().begin();
    out = relu->getResult(0);
  }
  if (!out.hasOneUse() || !isa<FakeQuantOp>(*out.getUsers().begin()))
    return op->emitError("output is not followed by a single fake_quant: "
                         "run hat-float2qat first");
  auto fq = cast<FakeQuantOp>(*out.getUsers().begin());
  if (fq.getAxis())
    return fq.emitError("activation fake_quant must be per-tensor");
  if (!fq.isCalibrated())
    return fq.emitOpError("has no scale: calibrate the model "
                          "(hat-calibrate) before hat-qat2quantize");
  return fq;
}

LogicalResult Quantizer::convertWeightedLayer(Operation *op) {
  auto in = lookup(op, op->getOperand(0), 0);
  if (failed(in))
    return failure();
  auto weightFQ = op->getOperand(1).getDefiningOp<FakeQuantOp>();
  if (!weightFQ || !weightFQ.getAxis() || *weightFQ.getAxis() != 0)
    return op->emitError("weight must come through a per-channel (axis 0) "
                         "fake_quant");
  if (!weightFQ.isCalibrated())
    return weightFQ.emitError("weight fake_quant has no scale: calibrate "
                              "the model before hat-qat2quantize");
  ParamOp weightParam = getParamDefiningOp(weightFQ.getInput());
  auto weight = readFloatParam(weightParam);
  if (!weight)
    return weightFQ.emitError("weight is not hat.param f32 data");
  std::optional<std::vector<float>> bias;
  ParamOp biasParam;
  if (op->getNumOperands() > 2) {
    biasParam = getParamDefiningOp(op->getOperand(2));
    bias = readFloatParam(biasParam);
    if (!bias)
      return op->emitError("bias is not hat.param f32 data");
  }
  Operation *relu;
  auto outFQ = outputFakeQuant(op, /*allowRelu=*/true, relu);
  if (failed(outFQ))
    return failure();
  double outScale = (*outFQ.value().getScale())[0];
  unsigned outBits = getQDTypeBits(outFQ->getDtype());
  if (relu && isa<Relu6Op>(relu)) {
    // The integer op clamps at 0 only; relu6's cap must not bind before
    // saturation, which holds whenever the scale came from observing it.
    if (6.0 / outScale < (double)quant::qmax(outBits))
      return relu->emitError("relu6 output scale ")
             << outScale << " makes its cap (6/scale = " << 6.0 / outScale
             << ") bind below the integer maximum; integer layers fuse relu "
                "only";
  }

  ArrayRef<float> wScales = *weightFQ.getScale();
  auto weightType = llvm::cast<RankedTensorType>(weightFQ.getType());
  int64_t channels = weightType.getDimSize(0);
  int64_t perChannel = weightType.getNumElements() / channels;
  std::vector<int32_t> qWeight(weight->size()), qBias(channels);
  SmallVector<int32_t> multipliers, shifts;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t k = 0; k < perChannel; ++k)
      qWeight[c * perChannel + k] = (int32_t)quant::quantizeValue(
          (*weight)[c * perChannel + k], wScales[c], 8);
    double accScale = in->scale * (double)wScales[c];
    qBias[c] = bias ? quant::quantizeBias((*bias)[c], accScale) : 0;
    auto rq = requant(op, accScale / outScale);
    if (failed(rq))
      return failure();
    multipliers.push_back(rq->multiplier);
    shifts.push_back(rq->shift);
  }

  builder.setInsertionPoint(op);
  Location loc = op->getLoc();
  // A weight shared by several layers (FCOS's head predictors) becomes one
  // int8 weight; each layer keeps its own int32 bias (it depends on the
  // layer's input scale), uniquely named.
  ParamOp &qWeightParam = intWeights[weightFQ.getResult()];
  if (!qWeightParam)
    qWeightParam =
        createIntParam(builder, weightParam.getLoc(), weightParam.getName(),
                       weightType.getShape(), 8, qWeight);
  ParamOp qBiasParam =
      createIntParam(builder, loc,
                     uniqueName(biasParam ? biasParam.getName().str()
                                          : biasNameFor(weightParam.getName())),
                     {channels}, 32, qBias);
  Type resultType = intTensor(op->getResult(0).getType(), outBits);
  Value result;
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    result = builder.create<QConv2dOp>(
        loc, resultType, in->value, qWeightParam, qBiasParam,
        conv.getStrideAttr(), conv.getPaddingAttr(), conv.getDilationAttr(),
        conv.getGroupsAttr(), builder.getDenseI32ArrayAttr(multipliers),
        builder.getDenseI32ArrayAttr(shifts),
        relu ? builder.getUnitAttr() : UnitAttr());
  } else {
    result = builder.create<QLinearOp>(
        loc, resultType, in->value, qWeightParam, qBiasParam,
        builder.getDenseI32ArrayAttr(multipliers),
        builder.getDenseI32ArrayAttr(shifts),
        relu ? builder.getUnitAttr() : UnitAttr());
  }
  if (relu)
    consumed.insert(relu);
  consumed.insert(*outFQ);
  define(outFQ->getResult(), result, outScale, outBits);
  return success();
}

LogicalResult Quantizer::convertElementwise(Operation *op) {
  Location loc = op->getLoc();
  builder.setInsertionPoint(op);

  // Scale-preserving ops: the same op on integers, same scale.
  if (isa<MaxPool2dOp, ReshapeOp, FlattenOp, TransposeOp>(op) ||
      (isa<ResizeOp>(op) &&
       cast<ResizeOp>(op).getMode() == ResizeMode::nearest)) {
    auto in = lookup(op, op->getOperand(0), 0);
    if (failed(in))
      return failure();
    Operation *clone = builder.clone(*op);
    clone->setOperand(0, in->value);
    Value result = clone->getResult(0);
    result.setType(intTensor(op->getResult(0).getType(), in->bits));
    if (auto resize = dyn_cast<ResizeOp>(op)) {
      auto qresize = builder.create<QResizeOp>(
          loc, result.getType(), in->value, resize.getModeAttr(),
          resize.getSizeAttr(), resize.getAlignCornersAttr(), IntegerAttr(),
          IntegerAttr());
      if (Attribute name = op->getAttr("hat.layer_name"))
        qresize->setAttr("hat.layer_name", name);
      result = qresize;
      clone->erase();
    }
    define(op->getResult(0), result, in->scale, in->bits);
    return success();
  }

  // Multiplying by a positive scalar constant (FCOSHead's upscale_bbox_pred
  // stride) keeps the integers and multiplies their scale: exact.
  if (auto mul = dyn_cast<MulOp>(op)) {
    for (unsigned k = 0; k < 2; ++k) {
      auto c = readFloatParam(getParamDefiningOp(mul->getOperand(k)));
      if (!c || c->size() != 1)
        continue;
      if (!((*c)[0] > 0.f))
        return op->emitError("multiplying by the constant ")
               << (*c)[0] << " has no integer form (only positive scalars "
               << "fold into the scale)";
      auto in = lookup(op, op->getOperand(1 - k), 1 - k);
      if (failed(in))
        return failure();
      define(op->getResult(0), in->value, in->scale * (double)(*c)[0],
             in->bits);
      return success();
    }
  }

  // Everything else ends in its own output fake_quant.
  Operation *relu = nullptr;
  auto outFQ =
      outputFakeQuant(op, /*allowRelu=*/isa<AddOp, WeightedSumOp>(op), relu);
  if (failed(outFQ))
    return failure();
  double outScale = (*outFQ->getScale())[0];
  unsigned outBits = getQDTypeBits(outFQ->getDtype());
  Type resultType = intTensor(outFQ->getType(), outBits);
  Value result;

  if (isa<AddOp, MulOp, MatmulOp>(op)) {
    auto lhs = lookup(op, op->getOperand(0), 0);
    auto rhs = lookup(op, op->getOperand(1), 1);
    if (failed(lhs) || failed(rhs))
      return failure();
    if (isa<AddOp>(op)) {
      auto shared = quant::computeSharedRequant(
          {lhs->scale / outScale, rhs->scale / outScale});
      if (!shared)
        return op->emitError("add rescale ratios cannot be represented");
      result = builder.create<QAddOp>(
          loc, resultType, lhs->value, rhs->value,
          builder.getI32IntegerAttr(shared->multipliers[0]),
          builder.getI32IntegerAttr(shared->multipliers[1]),
          builder.getI32IntegerAttr(shared->shift),
          relu ? builder.getUnitAttr() : UnitAttr());
    } else {
      // A product of two activations (elementwise or matrix): the scales
      // multiply, one requantization to the output.
      auto rq = requant(op, lhs->scale * rhs->scale / outScale);
      if (failed(rq))
        return failure();
      if (isa<MulOp>(op))
        result =
            builder.create<QMulOp>(loc, resultType, lhs->value, rhs->value,
                                   builder.getI32IntegerAttr(rq->multiplier),
                                   builder.getI32IntegerAttr(rq->shift));
      else {
        auto qmatmul =
            builder.create<QMatmulOp>(loc, resultType, lhs->value, rhs->value,
                                      builder.getI32IntegerAttr(rq->multiplier),
                                      builder.getI32IntegerAttr(rq->shift));
        // A matrix product has no weight to be named after: keep the name
        // the model builder gave it ("neck.attn.0.energy").
        if (Attribute name = op->getAttr("hat.layer_name"))
          qmatmul->setAttr("hat.layer_name", name);
        result = qmatmul;
      }
    }
  } else if (auto ws = dyn_cast<WeightedSumOp>(op)) {
    auto fused = convertWeightedSum(ws, outScale, resultType, relu != nullptr);
    if (failed(fused))
      return failure();
    result = *fused;
  } else if (auto concat = dyn_cast<ConcatOp>(op)) {
    SmallVector<Value> inputs;
    SmallVector<int32_t> multipliers, shifts;
    for (auto [i, v] : llvm::enumerate(concat.getInputs())) {
      auto in = lookup(op, v, i);
      if (failed(in))
        return failure();
      auto rq = requant(op, in->scale / outScale);
      if (failed(rq))
        return failure();
      inputs.push_back(in->value);
      multipliers.push_back(rq->multiplier);
      shifts.push_back(rq->shift);
    }
    result =
        builder.create<QConcatOp>(loc, resultType, inputs, concat.getAxisAttr(),
                                  builder.getDenseI32ArrayAttr(multipliers),
                                  builder.getDenseI32ArrayAttr(shifts));
  } else if (isa<AvgPool2dOp, GlobalAvgPoolOp, ResizeOp>(op)) {
    auto in = lookup(op, op->getOperand(0), 0);
    if (failed(in))
      return failure();
    auto inType = llvm::cast<RankedTensorType>(op->getOperand(0).getType());
    double divisor;
    if (auto pool = dyn_cast<AvgPool2dOp>(op))
      divisor = (double)pool.getKernel()[0] * pool.getKernel()[1];
    else if (isa<GlobalAvgPoolOp>(op))
      divisor = (double)inType.getDimSize(2) * inType.getDimSize(3);
    else
      divisor = 1024.0 * 1024.0; // Q10 x Q10 bilinear weights
    auto rq = requant(op, in->scale / (outScale * divisor));
    if (failed(rq))
      return failure();
    auto m = builder.getI32IntegerAttr(rq->multiplier);
    auto s = builder.getI32IntegerAttr(rq->shift);
    if (auto pool = dyn_cast<AvgPool2dOp>(op))
      result = builder.create<QAvgPool2dOp>(
          loc, resultType, in->value, pool.getKernelAttr(),
          pool.getStrideAttr(), pool.getPaddingAttr(), m, s);
    else if (isa<GlobalAvgPoolOp>(op))
      result =
          builder.create<QGlobalAvgPoolOp>(loc, resultType, in->value, m, s);
    else {
      auto resize = cast<ResizeOp>(op);
      result = builder.create<QResizeOp>(
          loc, resultType, in->value, resize.getModeAttr(),
          resize.getSizeAttr(), resize.getAlignCornersAttr(), m, s);
    }
  } else if (isa<ReluOp, Relu6Op, SigmoidOp, SiluOp, HardswishOp>(op)) {
    // A standalone activation is a lookup table over every input code.
    auto in = lookup(op, op->getOperand(0), 0);
    if (failed(in))
      return failure();
    int64_t lo = quant::qmin(in->bits), hi = quant::qmax(in->bits);
    SmallVector<int32_t> table;
    table.reserve(hi - lo + 1);
    for (int64_t q = lo; q <= hi; ++q) {
      double x = (double)q * in->scale, y;
      if (isa<ReluOp>(op))
        y = std::max(x, 0.0);
      else if (isa<Relu6Op>(op))
        y = std::min(std::max(x, 0.0), 6.0);
      else if (isa<SigmoidOp>(op))
        y = 1.0 / (1.0 + std::exp(-x));
      else if (isa<SiluOp>(op))
        y = x / (1.0 + std::exp(-x));
      else
        y = x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
      table.push_back(
          (int32_t)quant::quantizeValue((float)y, (float)outScale, outBits));
    }
    result = builder.create<QLutOp>(loc, resultType, in->value,
                                    builder.getDenseI32ArrayAttr(table));
  } else if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
    // No integer softmax: run it in float between dequantize and quantize.
    auto in = lookup(op, op->getOperand(0), 0);
    if (failed(in))
      return failure();
    Value deq = builder.create<DequantizeOp>(
        loc, op->getOperand(0).getType(), in->value,
        builder.getDenseF32ArrayAttr({(float)in->scale}), IntegerAttr());
    Value sm = builder.create<SoftmaxOp>(loc, deq, softmax.getAxisAttr());
    result = builder.create<QuantizeOp>(loc, resultType, sm,
                                        builder.getF32FloatAttr(outScale));
  } else if (auto attn = dyn_cast<MsDeformAttnOp>(op)) {
    auto qattn = convertMsDeformAttn(attn, outScale, resultType);
    if (failed(qattn))
      return failure();
    result = *qattn;
  } else if (auto ln = dyn_cast<LayerNormOp>(op)) {
    auto qln = convertLayerNorm(ln, outScale, resultType);
    if (failed(qln))
      return failure();
    result = *qln;
  } else {
    return op->emitError("has no integer lowering");
  }
  if (relu)
    consumed.insert(relu);
  consumed.insert(*outFQ);
  define(outFQ->getResult(), result, outScale, outBits);
  return success();
}

/// Locations become positions in 1/256 pixel (ratios s_loc * W_l * 256 and
/// s_loc * H_l * 256 per level); the weighted bilinear sums, whose
/// bilinear weights total 65536, requantize by s_value * s_weight /
/// (65536 * s_out).
FailureOr<Value> Quantizer::convertMsDeformAttn(MsDeformAttnOp op,
                                                double outScale,
                                                Type resultType) {
  auto value = lookup(op, op.getValue(), 0);
  auto loc = lookup(op, op.getLocations(), 1);
  auto weights = lookup(op, op.getWeights(), 2);
  if (failed(value) || failed(loc) || failed(weights))
    return failure();
  ArrayRef<int64_t> shapes = op.getSpatialShapes();
  std::vector<int32_t> locMultiplier, locShift;
  for (size_t l = 0; l < shapes.size(); l += 2)
    for (int64_t size : {shapes[l + 1], shapes[l]}) { // x scales by W
      auto rq = requant(op, loc->scale * double(size) * 256.0);
      if (failed(rq))
        return failure();
      locMultiplier.push_back(rq->multiplier);
      locShift.push_back(rq->shift);
    }
  auto rq = requant(op, value->scale * weights->scale / (65536.0 * outScale));
  if (failed(rq))
    return failure();
  auto qattn = builder.create<QMsDeformAttnOp>(
      op.getLoc(), resultType, value->value, loc->value, weights->value,
      op.getSpatialShapesAttr(), builder.getDenseI32ArrayAttr(locMultiplier),
      builder.getDenseI32ArrayAttr(locShift),
      builder.getI32IntegerAttr(rq->multiplier),
      builder.getI32IntegerAttr(rq->shift));
  if (Attribute name = op->getAttr("hat.layer_name"))
    qattn->setAttr("hat.layer_name", name);
  return qattn.getResult();
}

/// gamma / s_out becomes a signed per-channel multiplier/shift, beta an
/// int32 bias in 1/256 output steps, eps the integer eps_q of the input's
/// scale (hat::quant::layerNormRow has the arithmetic).
FailureOr<Value> Quantizer::convertLayerNorm(LayerNormOp op, double outScale,
                                             Type resultType) {
  auto in = lookup(op, op.getInput(), 0);
  if (failed(in))
    return failure();
  ParamOp gammaParam = getParamDefiningOp(op.getWeight());
  ParamOp betaParam = getParamDefiningOp(op.getBias());
  auto gamma = readFloatParam(gammaParam), beta = readFloatParam(betaParam);
  if (!gamma || !beta)
    return op->emitError("layer_norm weight and bias must be float "
                         "parameters to be quantized");
  const int64_t channels = int64_t(gamma->size());
  if (channels > quant::kMaxLayerNormChannels)
    return op->emitError("layer_norm over ")
           << channels << " channels has no integer form (at most "
           << quant::kMaxLayerNormChannels << ")";
  std::vector<int32_t> multipliers, shifts, bias;
  for (int64_t c = 0; c < channels; ++c) {
    const double g = (*gamma)[size_t(c)];
    if (g == 0.0) {
      multipliers.push_back(0);
      shifts.push_back(0);
    } else {
      auto rq = requant(op, std::fabs(g) / outScale);
      if (failed(rq))
        return failure();
      multipliers.push_back(g < 0 ? -rq->multiplier : rq->multiplier);
      shifts.push_back(rq->shift);
    }
    bias.push_back(quant::layerNormBias((*beta)[size_t(c)], outScale));
  }
  const float eps = op.getEps().convertToFloat();
  ParamOp biasInt = createIntParam(builder, op.getLoc(),
                                   uniqueName(betaParam.getName().str()),
                                   {channels}, 32, bias);
  auto qln = builder.create<QLayerNormOp>(
      op.getLoc(), resultType, in->value, biasInt,
      builder.getI64IntegerAttr(quant::layerNormEps(eps, in->scale, channels)),
      builder.getDenseI32ArrayAttr(multipliers),
      builder.getDenseI32ArrayAttr(shifts));
  if (Attribute name = op->getAttr("hat.layer_name"))
    qln->setAttr("hat.layer_name", name);
  return qln.getResult();
}

FailureOr<Value> Quantizer::convertWeightedSum(WeightedSumOp op,
                                               double outScale, Type resultType,
                                               bool relu) {
  // The fusion weights are constants of the trained model: each folds into
  // its input's rescale ratio w_i * s_i / s_out, so the fusion costs no
  // extra rounding. The BPU adds two tensors at a time, so N inputs become a
  // chain of N - 1 qadds whose partial sums are i16 at a scale that holds
  // the largest possible partial sum (about 2^8 finer than the i8 inputs:
  // the partial sums lose nothing measurable); only the last qadd rounds to
  // the output scale and applies the fused ReLU.
  auto raw = readFloatParam(getParamDefiningOp(op.getWeights()));
  if (!raw)
    return op.emitError("fusion weights are not hat.param f32 data");
  std::vector<double> w =
      eval::fusionWeights(*raw, op.getEps().convertToFloat());
  struct Term {
    QValue in;
    double weight;
  };
  SmallVector<Term> terms;
  for (auto [i, v] : llvm::enumerate(op.getInputs())) {
    auto in = lookup(op, v, i);
    if (failed(in))
      return failure();
    // relu(w_i) == 0: the input does not contribute.
    if (w[i] > 0.0)
      terms.push_back({*in, w[i]});
  }
  Location loc = op.getLoc();
  if (terms.empty())
    return op.emitError("every fusion weight is <= 0, the output would be "
                        "constant zero: check the trained weights");
  if (terms.size() == 1) {
    auto rq = requant(op, terms[0].weight * terms[0].in.scale / outScale);
    if (failed(rq))
      return failure();
    auto single = builder.create<RequantizeOp>(
        loc, resultType, terms[0].in.value,
        builder.getDenseI32ArrayAttr({rq->multiplier}),
        builder.getDenseI32ArrayAttr({rq->shift}),
        relu ? builder.getUnitAttr() : UnitAttr());
    StringRef name = getParamDefiningOp(op.getWeights()).getName();
    name.consume_back(".weight");
    single->setAttr("hat.layer_name", builder.getStringAttr(name));
    return single.getResult();
  }
  // The qadds carry the fusion's name into the BPU layers and the perf
  // report ("neck.stack.0.td.s64.fusion", its partial sums ".partial<k>").
  StringRef fusionName = getParamDefiningOp(op.getWeights()).getName();
  fusionName.consume_back(".weight");
  Value acc = terms[0].in.value;
  // Real value of one code of `acc`.
  double accScale = terms[0].weight * terms[0].in.scale;
  double bound = terms[0].weight * terms[0].in.scale *
                 (double)quant::qmax(terms[0].in.bits);
  for (size_t i = 1; i < terms.size(); ++i) {
    const Term &t = terms[i];
    bool last = i + 1 == terms.size();
    bound += t.weight * t.in.scale * (double)quant::qmax(t.in.bits);
    double target = last ? outScale : bound / (double)quant::qmax(16);
    auto shared = quant::computeSharedRequant(
        {accScale / target, t.weight * t.in.scale / target});
    if (!shared)
      return op.emitError("weighted_sum rescale ratios cannot be represented");
    Type type = last ? resultType : intTensor(op.getType(), 16);
    acc = builder.create<QAddOp>(
        loc, type, acc, t.in.value,
        builder.getI32IntegerAttr(shared->multipliers[0]),
        builder.getI32IntegerAttr(shared->multipliers[1]),
        builder.getI32IntegerAttr(shared->shift),
        last && relu ? builder.getUnitAttr() : UnitAttr());
    acc.getDefiningOp()->setAttr(
        "hat.layer_name",
        builder.getStringAttr(
            last ? fusionName.str()
                 : (fusionName + ".partial" + std::to_string(i)).str()));
    accScale = target;
  }
  return acc;
}

LogicalResult Quantizer::convert(Operation *op) {
  if (isa<ParamOp>(op) || consumed.contains(op))
    return success();
  if (auto fq = dyn_cast<FakeQuantOp>(op)) {
    if (fq.getAxis())
      return success(); // weight fake_quant, consumed by its layer
    if (!fq.isCalibrated())
      return fq.emitOpError("has no scale: calibrate the model "
                            "(hat-calibrate) before hat-qat2quantize");
    double scale = (*fq.getScale())[0];
    unsigned bits = getQDTypeBits(fq.getDtype());
    Type type = intTensor(fq.getType(), bits);
    // A quantized float constant (a position embedding, a trained scalar)
    // becomes an integer constant: quantizeValue, the arithmetic of
    // hat.quantize, applied once here instead of on every run.
    if (ParamOp param = getParamDefiningOp(fq.getInput())) {
      auto data = readFloatParam(param);
      if (!data)
        return fq.emitOpError("quantizes a parameter without float data");
      std::vector<int32_t> q;
      q.reserve(data->size());
      for (float v : *data)
        q.push_back(int32_t(quant::quantizeValue(v, float(scale), int(bits))));
      builder.setInsertionPoint(fq);
      ParamOp intParam = createIntParam(
          builder, param.getLoc(), param.getName(),
          cast<RankedTensorType>(fq.getType()).getShape(), bits, q);
      define(fq.getResult(), intParam.getResult(), scale, bits);
      return success();
    }
    builder.setInsertionPoint(op);
    auto it = mapping.find(fq.getInput());
    if (it == mapping.end()) {
      // A float value (function input, float-only op) enters the model.
      Value q = builder.create<QuantizeOp>(fq.getLoc(), type, fq.getInput(),
                                           builder.getF32FloatAttr(scale));
      define(fq.getResult(), q, scale, bits);
      return success();
    }
    QValue in = it->second;
    if (in.bits == bits && (float)in.scale == (float)scale) {
      define(fq.getResult(), in.value, scale, bits);
      return success();
    }
    auto rq = requant(op, in.scale / scale);
    if (failed(rq))
      return failure();
    Value r = builder.create<RequantizeOp>(
        fq.getLoc(), type, in.value,
        builder.getDenseI32ArrayAttr({rq->multiplier}),
        builder.getDenseI32ArrayAttr({rq->shift}), UnitAttr());
    define(fq.getResult(), r, scale, bits);
    return success();
  }
  if (isa<Conv2dOp, LinearOp>(op))
    return convertWeightedLayer(op);
  if (isa<BatchNormOp>(op))
    return op->emitError("batch_norm has no integer form: fold it first "
                         "(hat-fuse-bn)");
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    builder.setInsertionPoint(op);
    for (OpOperand &operand : ret->getOpOperands()) {
      auto it = mapping.find(operand.get());
      if (it == mapping.end())
        continue;
      const unsigned result = operand.getOperandNumber();
      if (func.getResultAttr(result, kKeepQuantizedAttr)) {
        // The caller dequantizes (FCOSHead's dequant_output=False): return
        // the integers and record their scale, which is what a dequantize
        // layer would have multiplied by, so the CPU's float(q) * scale
        // equals the in-model dequantize bit for bit.
        operand.set(it->second.value);
        func.setResultAttr(
            result, kResultScaleAttr,
            builder.getDenseF32ArrayAttr({(float)it->second.scale}));
        continue;
      }
      auto deq = builder.create<DequantizeOp>(
          ret.getLoc(), operand.get().getType(), it->second.value,
          builder.getDenseF32ArrayAttr({(float)it->second.scale}),
          IntegerAttr());
      // A named result names its dequantize layer ("cls_s8.dequantize").
      if (auto name = func.getResultAttrOfType<StringAttr>(result, "hat.name"))
        deq->setAttr("hat.layer_name",
                     builder.getStringAttr(name.str() + ".dequantize"));
      operand.set(deq);
    }
    func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                   ret.getOperandTypes()));
    return success();
  }
  if (isa<HatDialect>(op->getDialect()))
    return convertElementwise(op);
  return success();
}

LogicalResult Quantizer::run() {
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front())
    ops.push_back(&op);
  for (Operation *op : ops)
    if (failed(convert(op)))
      return failure();
  // Everything of the float model is now unused; erase it bottom-up.
  for (Operation *op : llvm::reverse(ops)) {
    if (isa<func::ReturnOp>(op) || !isa<HatDialect>(op->getDialect()))
      continue;
    if (op->use_empty())
      op->erase();
  }
  eraseDeadParams(func);
  return success();
}

struct QAT2QuantizePass : hat::impl::HatQAT2QuantizeBase<QAT2QuantizePass> {
  void runOnOperation() override {
    Quantizer quantizer(getOperation());
    if (failed(quantizer.run()))
      signalPassFailure();
  }
};
} // namespace
