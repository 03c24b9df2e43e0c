//===- ParamUtils.cpp - Reading and creating hat.param data ---------------===//

#include "hat/Transforms/ParamUtils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/SmallVector.h"

#include <cmath>

using namespace mlir;

namespace hat {

ParamOp getParamDefiningOp(Value v) {
  return v ? v.getDefiningOp<ParamOp>() : ParamOp();
}

std::optional<std::vector<float>> readFloatParam(ParamOp param) {
  if (!param)
    return std::nullopt;
  auto type = llvm::cast<RankedTensorType>(param.getType());
  if (!type.getElementType().isF32())
    return std::nullopt;
  auto values = param.getValue().tryGetValues<float>();
  if (!values)
    return std::nullopt;
  return std::vector<float>(values->begin(), values->end());
}

ParamOp createFloatParam(OpBuilder &builder, Location loc, StringRef name,
                         ArrayRef<int64_t> shape, ArrayRef<float> data) {
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  return builder.create<ParamOp>(loc, type, builder.getStringAttr(name),
                                 DenseElementsAttr::get(type, data));
}

ParamOp createIntParam(OpBuilder &builder, Location loc, StringRef name,
                       ArrayRef<int64_t> shape, unsigned bits,
                       ArrayRef<int32_t> data) {
  auto elementType = builder.getIntegerType(bits);
  auto type = RankedTensorType::get(shape, elementType);
  SmallVector<APInt> values;
  values.reserve(data.size());
  for (int32_t v : data)
    values.emplace_back(bits, (uint64_t)(int64_t)v, /*isSigned=*/true);
  return builder.create<ParamOp>(loc, type, builder.getStringAttr(name),
                                 DenseElementsAttr::get(type, values));
}

std::string biasNameFor(StringRef weightName) {
  if (weightName.ends_with(".weight"))
    return (weightName.drop_back(strlen(".weight")) + ".bias").str();
  return (weightName + ".bias").str();
}

void eraseDeadParams(Operation *root) {
  SmallVector<ParamOp> dead;
  root->walk([&](ParamOp p) {
    if (p->use_empty())
      dead.push_back(p);
  });
  for (ParamOp p : dead)
    p->erase();
}

LogicalResult foldBatchNorm(BatchNormOp bn, std::string &reason) {
  Operation *producer = bn.getInput().getDefiningOp();
  if (!producer || !isa<Conv2dOp, LinearOp>(producer)) {
    reason = "its input is not produced by a conv2d or linear";
    return failure();
  }
  if (!producer->hasOneUse()) {
    reason = "its producer has other users";
    return failure();
  }
  if (isa<LinearOp>(producer) &&
      llvm::cast<RankedTensorType>(producer->getResult(0).getType())
              .getRank() != 2) {
    reason = "a linear output of rank != 2 has no channel axis 1";
    return failure();
  }
  Value weightValue = producer->getOperand(1);
  Value biasValue =
      producer->getNumOperands() > 2 ? producer->getOperand(2) : Value();
  ParamOp weightParam = getParamDefiningOp(weightValue);
  auto weight = readFloatParam(weightParam);
  auto gamma = readFloatParam(getParamDefiningOp(bn.getWeight()));
  auto beta = readFloatParam(getParamDefiningOp(bn.getBias()));
  auto mean = readFloatParam(getParamDefiningOp(bn.getMean()));
  auto var = readFloatParam(getParamDefiningOp(bn.getVar()));
  std::optional<std::vector<float>> bias;
  if (biasValue) {
    bias = readFloatParam(getParamDefiningOp(biasValue));
    if (!bias) {
      reason = "the producer's bias is not hat.param data";
      return failure();
    }
  }
  if (!weight || !gamma || !beta || !mean || !var) {
    reason = "its statistics or the producer's weight are not hat.param data";
    return failure();
  }
  size_t channels = gamma->size();
  size_t perChannel = weight->size() / channels;
  float eps = bn.getEps().convertToFloat();
  std::vector<float> newWeight(weight->size()), newBias(channels);
  for (size_t c = 0; c < channels; ++c) {
    double denom = (double)(*var)[c] + eps;
    if (!(denom > 0)) {
      bn.emitError("cannot fold: var + eps is ")
          << denom << " for channel " << c << ", it must be > 0";
      reason = "invalid variance";
      return failure();
    }
    double factor = (*gamma)[c] / std::sqrt(denom);
    for (size_t k = 0; k < perChannel; ++k)
      newWeight[c * perChannel + k] =
          (float)((*weight)[c * perChannel + k] * factor);
    double b = bias ? (*bias)[c] : 0.0;
    newBias[c] = (float)((b - (*mean)[c]) * factor + (*beta)[c]);
  }

  OpBuilder builder(producer);
  auto weightType = llvm::cast<RankedTensorType>(weightValue.getType());
  std::string weightName = weightParam.getName().str();
  std::string biasName = biasValue
                             ? getParamDefiningOp(biasValue).getName().str()
                             : biasNameFor(weightName);
  // A conv applied at several places with its own BN each (FCOS's shared
  // head towers) folds into one weight per BN: name those after the BN so
  // parameter names stay unique.
  // The last layer of a shared weight to fold sees one use left: the
  // weight's param remembers that it was shared.
  const char *kShared = "hat.shared_by_layers";
  bool sharedWeight = !weightValue.hasOneUse() || weightParam->hasAttr(kShared);
  bool sharedBias =
      biasValue && (!biasValue.hasOneUse() ||
                    getParamDefiningOp(biasValue)->hasAttr(kShared));
  if (sharedWeight)
    weightParam->setAttr(kShared, UnitAttr::get(bn.getContext()));
  if (sharedBias)
    getParamDefiningOp(biasValue)->setAttr(kShared,
                                           UnitAttr::get(bn.getContext()));
  if (sharedWeight || sharedBias) {
    StringRef bnName = getParamDefiningOp(bn.getWeight()).getName();
    bnName.consume_back(".weight");
    weightName = (bnName + ".folded_conv.weight").str();
    biasName = (bnName + ".folded_conv.bias").str();
  }
  ParamOp foldedWeight =
      createFloatParam(builder, weightParam.getLoc(), weightName,
                       weightType.getShape(), newWeight);
  ParamOp foldedBias = createFloatParam(builder, bn.getLoc(), biasName,
                                        {(int64_t)channels}, newBias);
  producer->setOperand(1, foldedWeight);
  if (biasValue)
    producer->setOperand(2, foldedBias);
  else
    producer->insertOperands(2, ValueRange{foldedBias.getResult()});
  bn.getResult().replaceAllUsesWith(producer->getResult(0));
  bn->erase();
  return success();
}

} // namespace hat
