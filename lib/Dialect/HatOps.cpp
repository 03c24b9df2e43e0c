//===- HatOps.cpp - Shape inference and verifiers of hat ops --------------===//
//
// Every op's result type follows from its operands and attributes. The same
// shape rules serve type inference (builders need no result types) and the
// verifiers of the integer ops, whose result element type is a choice
// (i8 or i16) and so cannot be inferred.
//
//===----------------------------------------------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Quant/FixedPoint.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

#include <cmath>

using namespace mlir;
using namespace hat;

namespace {
/// Emits an error (from a verifier or from type inference) and fails.
using ErrorFn = llvm::function_ref<InFlightDiagnostic()>;

RankedTensorType rankedType(Value v) {
  return llvm::cast<RankedTensorType>(v.getType());
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + std::to_string(d);
  return s + "]";
}

LogicalResult checkRank(ErrorFn err, StringRef what, RankedTensorType t,
                        int64_t rank) {
  if (t.getRank() != rank)
    return err() << what << " must have rank " << rank << ", got "
                 << t.getRank() << " (" << shapeStr(t.getShape()) << ")";
  return success();
}

LogicalResult checkArraySize(ErrorFn err, StringRef name, ArrayRef<int64_t> a,
                             size_t size, int64_t minValue) {
  if (a.size() != size)
    return err() << "'" << name << "' must have " << size << " entries, got "
                 << a.size();
  for (int64_t v : a)
    if (v < minValue)
      return err() << "'" << name << "' entries must be >= " << minValue
                   << ", got " << shapeStr(a);
  return success();
}

/// Output extent of a sliding window (floor mode, as PyTorch).
FailureOr<int64_t> windowOut(ErrorFn err, StringRef axis, int64_t in,
                             int64_t kernel, int64_t stride, int64_t padBefore,
                             int64_t padAfter, int64_t dilation) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + padBefore + padAfter;
  if (padded < span) {
    err() << "window of extent " << span << " does not fit the padded " << axis
          << " extent " << padded;
    return failure();
  }
  return (padded - span) / stride + 1;
}

/// Shape of a 2-D window op ([N, C, H, W] -> [N, C', H', W']).
FailureOr<SmallVector<int64_t>>
window2dShape(ErrorFn err, RankedTensorType input, int64_t outChannels,
              ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
              ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation) {
  if (failed(checkRank(err, "input", input, 4)) ||
      failed(checkArraySize(err, "kernel", kernel, 2, 1)) ||
      failed(checkArraySize(err, "stride", stride, 2, 1)) ||
      failed(checkArraySize(err, "padding", padding, 4, 0)) ||
      failed(checkArraySize(err, "dilation", dilation, 2, 1)))
    return failure();
  auto h = windowOut(err, "height", input.getDimSize(2), kernel[0], stride[0],
                     padding[0], padding[2], dilation[0]);
  if (failed(h))
    return failure();
  auto w = windowOut(err, "width", input.getDimSize(3), kernel[1], stride[1],
                     padding[1], padding[3], dilation[1]);
  if (failed(w))
    return failure();
  return SmallVector<int64_t>{input.getDimSize(0), outChannels, *h, *w};
}

/// Shape of a convolution, checking channel and group consistency.
FailureOr<SmallVector<int64_t>>
conv2dShape(ErrorFn err, RankedTensorType input, RankedTensorType weight,
            std::optional<RankedTensorType> bias, ArrayRef<int64_t> stride,
            ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation,
            int64_t groups) {
  if (failed(checkRank(err, "input", input, 4)) ||
      failed(checkRank(err, "weight", weight, 4)))
    return failure();
  if (groups < 1)
    return err() << "'groups' must be >= 1, got " << groups;
  int64_t cin = input.getDimSize(1), cout = weight.getDimSize(0);
  if (cin % groups != 0 || cout % groups != 0)
    return err() << "input channels (" << cin << ") and output channels ("
                 << cout << ") must be divisible by groups (" << groups << ")";
  if (weight.getDimSize(1) * groups != cin)
    return err() << "weight expects " << weight.getDimSize(1) * groups
                 << " input channels (" << weight.getDimSize(1) << " x "
                 << groups << " groups), input has " << cin;
  if (bias) {
    if (failed(checkRank(err, "bias", *bias, 1)))
      return failure();
    if (bias->getDimSize(0) != cout)
      return err() << "bias has " << bias->getDimSize(0)
                   << " entries, weight has " << cout << " output channels";
  }
  SmallVector<int64_t> kernel{weight.getDimSize(2), weight.getDimSize(3)};
  return window2dShape(err, input, cout, kernel, stride, padding, dilation);
}

FailureOr<SmallVector<int64_t>>
linearShape(ErrorFn err, RankedTensorType input, RankedTensorType weight,
            std::optional<RankedTensorType> bias) {
  if (input.getRank() < 1)
    return err() << "input must have rank >= 1";
  if (failed(checkRank(err, "weight", weight, 2)))
    return failure();
  int64_t k = input.getShape().back();
  if (weight.getDimSize(1) != k)
    return err() << "weight expects " << weight.getDimSize(1)
                 << " input features, input has " << k;
  if (bias) {
    if (failed(checkRank(err, "bias", *bias, 1)))
      return failure();
    if (bias->getDimSize(0) != weight.getDimSize(0))
      return err() << "bias has " << bias->getDimSize(0)
                   << " entries, weight has " << weight.getDimSize(0)
                   << " output features";
  }
  SmallVector<int64_t> shape(input.getShape());
  shape.back() = weight.getDimSize(0);
  return shape;
}

FailureOr<SmallVector<int64_t>> broadcastShape(ErrorFn err, ArrayRef<int64_t> a,
                                               ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return err() << "operand shapes " << shapeStr(a) << " and " << shapeStr(b)
                   << " do not broadcast";
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// torch.matmul for operands of rank >= 2: [..., M, K] x [..., K, N] ->
/// [broadcast(...), M, N].
FailureOr<SmallVector<int64_t>> matmulShape(ErrorFn err, ArrayRef<int64_t> a,
                                            ArrayRef<int64_t> b) {
  if (a.size() < 2 || b.size() < 2)
    return err() << "operands must have rank >= 2, got " << shapeStr(a)
                 << " and " << shapeStr(b);
  if (a.back() != b[b.size() - 2])
    return err() << "contraction dimensions differ: " << shapeStr(a) << " x "
                 << shapeStr(b) << " (lhs K = " << a.back()
                 << ", rhs K = " << b[b.size() - 2] << ")";
  auto batch = broadcastShape(err, a.drop_back(2), b.drop_back(2));
  if (failed(batch))
    return failure();
  SmallVector<int64_t> out(*batch);
  out.push_back(a[a.size() - 2]);
  out.push_back(b.back());
  return out;
}

/// hat.ms_deform_attn: value [N, S, M, D], locations [N, Lq, M, L, P, 2],
/// weights [N, Lq, M, L, P], S = sum of the levels' H * W -> [N, Lq, M * D].
FailureOr<SmallVector<int64_t>>
msDeformAttnShape(ErrorFn err, ArrayRef<int64_t> value, ArrayRef<int64_t> loc,
                  ArrayRef<int64_t> weights, ArrayRef<int64_t> shapes) {
  if (value.size() != 4)
    return err() << "'value' must be [N, S, M, D], got " << shapeStr(value);
  if (shapes.empty() || shapes.size() % 2)
    return err() << "'spatial_shapes' must hold H, W per level, got "
                 << shapes.size() << " entries";
  const int64_t levels = int64_t(shapes.size() / 2);
  int64_t positions = 0;
  for (int64_t l = 0; l < levels; ++l) {
    int64_t hw = 0;
    if (shapes[2 * l] < 1 || shapes[2 * l + 1] < 1 ||
        __builtin_mul_overflow(shapes[2 * l], shapes[2 * l + 1], &hw) ||
        __builtin_add_overflow(positions, hw, &positions))
      return err() << "'spatial_shapes' " << shapeStr(shapes)
                   << " must be positive H, W pairs";
  }
  if (value[1] != positions)
    return err() << "'value' has " << value[1] << " positions but the "
                 << levels << " level(s) of 'spatial_shapes' "
                 << shapeStr(shapes) << " hold " << positions;
  const int64_t n = value[0], m = value[2], d = value[3];
  // Batch 1 locations and weights serve every image (the decoder's first
  // layer, whose learned queries do not depend on the image).
  if (loc.size() != 6 || (loc[0] != n && loc[0] != 1) || loc[2] != m ||
      loc[3] != levels || loc[5] != 2)
    return err() << "'locations' must be [N, Lq, M, L, P, 2] = [" << n
                 << (n != 1 ? " or 1" : "") << ", Lq, " << m << ", " << levels
                 << ", P, 2], got " << shapeStr(loc);
  if (weights != loc.drop_back())
    return err() << "'weights' must be [N, Lq, M, L, P] = "
                 << shapeStr(loc.drop_back()) << ", got " << shapeStr(weights);
  return SmallVector<int64_t>{n, loc[1], m * d};
}

/// `sameElementType` is false for qconcat, whose inputs may mix int8 and
/// int16 (each is rescaled to the output).
FailureOr<SmallVector<int64_t>> concatShape(ErrorFn err, ValueRange inputs,
                                            int64_t axis,
                                            bool sameElementType = true) {
  if (inputs.empty())
    return err() << "needs at least one input";
  auto first = rankedType(inputs.front());
  int64_t rank = first.getRank();
  if (axis < 0 || axis >= rank)
    return err() << "'axis' " << axis << " is out of range for rank " << rank;
  SmallVector<int64_t> shape(first.getShape());
  shape[axis] = 0;
  for (auto [i, v] : llvm::enumerate(inputs)) {
    auto t = rankedType(v);
    if (sameElementType && t.getElementType() != first.getElementType())
      return err() << "input #" << i << " has element type "
                   << t.getElementType() << ", input #0 has "
                   << first.getElementType();
    if (t.getRank() != rank)
      return err() << "input #" << i << " has rank " << t.getRank()
                   << ", input #0 has rank " << rank;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && t.getDimSize(d) != first.getDimSize(d))
        return err() << "input #" << i << " has shape "
                     << shapeStr(t.getShape()) << ", incompatible with "
                     << shapeStr(first.getShape()) << " outside axis " << axis;
    shape[axis] += t.getDimSize(axis);
  }
  return shape;
}

FailureOr<SmallVector<int64_t>> resizeShape(ErrorFn err, RankedTensorType input,
                                            ArrayRef<int64_t> size) {
  if (failed(checkRank(err, "input", input, 4)) ||
      failed(checkArraySize(err, "size", size, 2, 1)))
    return failure();
  return SmallVector<int64_t>{input.getDimSize(0), input.getDimSize(1), size[0],
                              size[1]};
}

/// Pools pad at most half the kernel (PyTorch's rule), so no window lies
/// wholly in the padding and every output has a defined value.
LogicalResult checkPoolPadding(ErrorFn err, ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> padding) {
  if (kernel.size() != 2 || padding.size() != 4)
    return success(); // reported by window2dShape
  for (int i = 0; i < 4; ++i)
    if (padding[i] > kernel[i % 2] / 2)
      return err() << "pool padding " << shapeStr(padding)
                   << " exceeds half the kernel " << shapeStr(kernel);
  return success();
}

/// Checks a fixed-point requantization: matching multiplier/shift lists of
/// 1 or `channels` entries, multipliers >= 0, shifts in [0, 62].
LogicalResult checkRequant(ErrorFn err, ArrayRef<int32_t> multiplier,
                           ArrayRef<int32_t> shift, int64_t channels) {
  if (multiplier.size() != shift.size())
    return err() << "'multiplier' has " << multiplier.size()
                 << " entries but 'shift' has " << shift.size();
  if (multiplier.size() != 1 && (int64_t)multiplier.size() != channels)
    return err() << "'multiplier' must have 1 or " << channels
                 << " entries (one per output channel), got "
                 << multiplier.size();
  for (int32_t m : multiplier)
    if (m < 0)
      return err() << "'multiplier' entries must be >= 0, got " << m;
  for (int32_t s : shift)
    if (s < 0 || s > 62)
      return err() << "'shift' entries must be in [0, 62], got " << s;
  return success();
}

LogicalResult checkScalarRequant(ErrorFn err, int32_t multiplier,
                                 int32_t shift) {
  return checkRequant(err, {multiplier}, {shift}, 1);
}

/// Checks that an integer op's result has the inferred shape.
LogicalResult checkResultShape(ErrorFn err, Value result,
                               ArrayRef<int64_t> expected) {
  auto t = rankedType(result);
  if (t.getShape() != expected)
    return err() << "result shape " << shapeStr(t.getShape())
                 << " does not match the inferred shape " << shapeStr(expected);
  return success();
}

/// Starts a diagnostic from type inference, worded like a verifier's.
InFlightDiagnostic inferError(MLIRContext *ctx, std::optional<Location> loc,
                              StringRef opName) {
  return mlir::emitError(loc ? *loc : UnknownLoc::get(ctx))
         << "'" << opName << "' op ";
}

Type tensorLike(ArrayRef<int64_t> shape, Type elementType) {
  return RankedTensorType::get(shape, elementType);
}
} // namespace

unsigned hat::getIntBits(Type elementType) {
  return elementType.getIntOrFloatBitWidth();
}

unsigned hat::getQDTypeBits(QDType dtype) {
  return dtype == QDType::qint16 ? 16 : 8;
}

//===----------------------------------------------------------------------===//
// Float ops
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty parameter name");
  return success();
}

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, Conv2dOp::getOperationName()); };
  std::optional<RankedTensorType> bias;
  if (adaptor.getBias())
    bias = rankedType(adaptor.getBias());
  auto input = rankedType(adaptor.getInput());
  auto shape = conv2dShape(err, input, rankedType(adaptor.getWeight()), bias,
                           adaptor.getStride(), adaptor.getPadding(),
                           adaptor.getDilation(), adaptor.getGroups());
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, input.getElementType()));
  return success();
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, LinearOp::getOperationName()); };
  std::optional<RankedTensorType> bias;
  if (adaptor.getBias())
    bias = rankedType(adaptor.getBias());
  auto input = rankedType(adaptor.getInput());
  auto shape = linearShape(err, input, rankedType(adaptor.getWeight()), bias);
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, input.getElementType()));
  return success();
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, BatchNormOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  if (input.getRank() < 2)
    return err() << "input must have rank >= 2 (channels on axis 1)";
  int64_t c = input.getDimSize(1);
  Value params[] = {adaptor.getWeight(), adaptor.getBias(), adaptor.getMean(),
                    adaptor.getVar()};
  const char *names[] = {"weight", "bias", "mean", "var"};
  for (auto [v, name] : llvm::zip(params, names)) {
    auto t = rankedType(v);
    if (t.getRank() != 1 || t.getDimSize(0) != c)
      return err() << "'" << name << "' must be [" << c << "] to match the "
                   << c << " input channels, got " << shapeStr(t.getShape());
  }
  if (!(adaptor.getEps().convertToFloat() > 0.f))
    return err() << "'eps' must be > 0";
  types.push_back(input);
  return success();
}

LogicalResult MsDeformAttnOp::inferReturnTypes(MLIRContext *ctx,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, MsDeformAttnOp::getOperationName());
  };
  auto value = rankedType(adaptor.getValue());
  auto shape = msDeformAttnShape(
      err, value.getShape(), rankedType(adaptor.getLocations()).getShape(),
      rankedType(adaptor.getWeights()).getShape(), adaptor.getSpatialShapes());
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, value.getElementType()));
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, LayerNormOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  if (input.getRank() < 1)
    return err() << "input must have rank >= 1 (normalised over the last "
                    "axis)";
  const int64_t c = input.getShape().back();
  Value params[] = {adaptor.getWeight(), adaptor.getBias()};
  const char *names[] = {"weight", "bias"};
  for (auto [v, name] : llvm::zip(params, names)) {
    auto t = rankedType(v);
    if (t.getRank() != 1 || t.getDimSize(0) != c)
      return err() << "'" << name << "' must be [" << c
                   << "] to match the last axis of "
                   << shapeStr(input.getShape()) << ", got "
                   << shapeStr(t.getShape());
  }
  if (!(adaptor.getEps().convertToFloat() >= 0.f))
    return err() << "'eps' must be >= 0";
  types.push_back(input);
  return success();
}

template <typename AdaptorT>
static LogicalResult inferBinary(MLIRContext *ctx, std::optional<Location> loc,
                                 StringRef opName, AdaptorT adaptor,
                                 SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, opName); };
  auto lhs = rankedType(adaptor.getLhs());
  auto shape = broadcastShape(err, lhs.getShape(),
                              rankedType(adaptor.getRhs()).getShape());
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, lhs.getElementType()));
  return success();
}

LogicalResult AddOp::inferReturnTypes(MLIRContext *ctx,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &types) {
  return inferBinary(ctx, loc, getOperationName(), adaptor, types);
}

LogicalResult MulOp::inferReturnTypes(MLIRContext *ctx,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &types) {
  return inferBinary(ctx, loc, getOperationName(), adaptor, types);
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, ConcatOp::getOperationName()); };
  auto shape = concatShape(err, adaptor.getInputs(), adaptor.getAxis());
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(
      *shape, rankedType(adaptor.getInputs().front()).getElementType()));
  return success();
}

LogicalResult WeightedSumOp::inferReturnTypes(MLIRContext *ctx,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, WeightedSumOp::getOperationName());
  };
  ValueRange inputs = adaptor.getInputs();
  if (inputs.size() < 2)
    return err() << "needs at least 2 inputs, got " << inputs.size();
  auto first = rankedType(inputs.front());
  for (auto [i, v] : llvm::enumerate(inputs))
    if (rankedType(v).getShape() != first.getShape())
      return err() << "input #" << i << " is "
                   << shapeStr(rankedType(v).getShape()) << ", but input #0 is "
                   << shapeStr(first.getShape())
                   << " (fused inputs must have the same shape)";
  auto weights = rankedType(adaptor.getWeights());
  if (weights.getRank() != 1 || weights.getDimSize(0) != (int64_t)inputs.size())
    return err() << "'weights' must be [" << inputs.size()
                 << "], one per input, got " << shapeStr(weights.getShape());
  if (!(adaptor.getEps().convertToFloat() > 0.f))
    return err() << "'eps' must be > 0";
  types.push_back(first);
  return success();
}

template <typename AdaptorT>
static LogicalResult inferPool(MLIRContext *ctx, std::optional<Location> loc,
                               StringRef opName, AdaptorT adaptor,
                               SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, opName); };
  auto input = rankedType(adaptor.getInput());
  if (failed(checkRank(err, "input", input, 4)) ||
      failed(checkPoolPadding(err, adaptor.getKernel(), adaptor.getPadding())))
    return failure();
  auto shape =
      window2dShape(err, input, input.getDimSize(1), adaptor.getKernel(),
                    adaptor.getStride(), adaptor.getPadding(), {1, 1});
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, input.getElementType()));
  return success();
}

LogicalResult MaxPool2dOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  return inferPool(ctx, loc, getOperationName(), adaptor, types);
}

LogicalResult AvgPool2dOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  return inferPool(ctx, loc, getOperationName(), adaptor, types);
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(MLIRContext *ctx,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, GlobalAvgPoolOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  if (failed(checkRank(err, "input", input, 4)))
    return failure();
  types.push_back(tensorLike({input.getDimSize(0), input.getDimSize(1), 1, 1},
                             input.getElementType()));
  return success();
}

LogicalResult ResizeOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, ResizeOp::getOperationName()); };
  auto input = rankedType(adaptor.getInput());
  auto shape = resizeShape(err, input, adaptor.getSize());
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, input.getElementType()));
  return success();
}

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, ReshapeOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  SmallVector<int64_t> shape(adaptor.getShape());
  int64_t known = 1, inferred = -1;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (d == -1) {
      if (inferred >= 0)
        return err() << "'shape' " << shapeStr(shape)
                     << " has more than one -1";
      inferred = i;
    } else if (d <= 0) {
      return err() << "'shape' " << shapeStr(shape)
                   << " has a non-positive extent";
    } else {
      known *= d;
    }
  }
  int64_t numel = input.getNumElements();
  if (inferred >= 0) {
    if (numel % known != 0)
      return err() << "cannot reshape " << shapeStr(input.getShape())
                   << " into " << shapeStr(shape);
    shape[inferred] = numel / known;
  } else if (known != numel) {
    return err() << "cannot reshape " << shapeStr(input.getShape()) << " ("
                 << numel << " elements) into " << shapeStr(shape) << " ("
                 << known << " elements)";
  }
  types.push_back(tensorLike(shape, input.getElementType()));
  return success();
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, FlattenOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  int64_t start = adaptor.getStartDim();
  if (start < 0 || start >= input.getRank())
    return err() << "'start_dim' " << start << " is out of range for rank "
                 << input.getRank();
  SmallVector<int64_t> shape(input.getShape().take_front(start));
  int64_t rest = 1;
  for (int64_t d : input.getShape().drop_front(start))
    rest *= d;
  shape.push_back(rest);
  types.push_back(tensorLike(shape, input.getElementType()));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, TransposeOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if ((int64_t)perm.size() != input.getRank())
    return err() << "'perm' has " << perm.size() << " entries for rank "
                 << input.getRank();
  llvm::SmallSet<int64_t, 8> seen;
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || !seen.insert(p).second)
      return err() << "'perm' " << shapeStr(perm) << " is not a permutation";
    shape.push_back(input.getDimSize(p));
  }
  types.push_back(tensorLike(shape, input.getElementType()));
  return success();
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto err = [&] {
    return inferError(ctx, loc, SoftmaxOp::getOperationName());
  };
  auto input = rankedType(adaptor.getInput());
  // I64Attr reads back as uint64_t: sign-convert so that axis = -1 is
  // reported as -1, not 18446744073709551615.
  const int64_t axis = static_cast<int64_t>(adaptor.getAxis());
  if (axis < 0 || axis >= input.getRank())
    return err() << "'axis' " << axis << " is out of range for rank "
                 << input.getRank() << " (expected 0.." << input.getRank() - 1
                 << "; negative axes are not accepted)";
  types.push_back(input);
  return success();
}

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  auto err = [&] { return inferError(ctx, loc, MatmulOp::getOperationName()); };
  auto lhs = rankedType(adaptor.getLhs());
  auto shape =
      matmulShape(err, lhs.getShape(), rankedType(adaptor.getRhs()).getShape());
  if (failed(shape))
    return failure();
  types.push_back(tensorLike(*shape, lhs.getElementType()));
  return success();
}

// A shape op whose result type equals its input type is the identity.
OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  return getInput().getType() == getType() ? getInput() : Value();
}

OpFoldResult FlattenOp::fold(FoldAdaptor) {
  return getInput().getType() == getType() ? getInput() : Value();
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  for (auto [i, p] : llvm::enumerate(getPerm()))
    if ((int64_t)i != p)
      return {};
  return getInput();
}

//===----------------------------------------------------------------------===//
// Quantization boundary ops
//===----------------------------------------------------------------------===//

int64_t FakeQuantOp::getNumChannels() {
  if (auto axis = getAxis())
    return getInput().getType().getDimSize(*axis);
  return 1;
}

static LogicalResult checkScales(ErrorFn err, StringRef name,
                                 ArrayRef<float> values, int64_t expected,
                                 bool positive) {
  if ((int64_t)values.size() != expected)
    return err() << "'" << name << "' has " << values.size()
                 << " entries, expected " << expected;
  for (float v : values)
    if (!std::isfinite(v) || (positive && !(v > 0.f)))
      return err() << "'" << name << "' entries must be finite"
                   << (positive ? " and > 0" : "") << ", got " << v;
  return success();
}

LogicalResult FakeQuantOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto type = getInput().getType();
  if (auto axis = getAxis())
    if (*axis < 0 || *axis >= type.getRank())
      return emitOpError("'axis' ")
             << *axis << " is out of range for rank " << type.getRank();
  int64_t channels = getNumChannels();
  if (auto scale = getScale())
    if (failed(checkScales(err, "scale", *scale, channels, true)))
      return failure();
  if (getMin().has_value() != getMax().has_value())
    return emitOpError("observer state needs both 'min' and 'max'");
  if (auto mn = getMin())
    if (failed(checkScales(err, "min", *mn, channels, false)) ||
        failed(checkScales(err, "max", *getMax(), channels, false)))
      return failure();
  return success();
}

LogicalResult QuantizeOp::verify() {
  float scale = getScale().convertToFloat();
  if (!std::isfinite(scale) || !(scale > 0.f))
    return emitOpError("'scale' must be finite and > 0, got ") << scale;
  if (getInput().getType().getShape() != getResult().getType().getShape())
    return emitOpError("result shape must equal the input shape");
  return success();
}

LogicalResult DequantizeOp::verify() {
  auto type = getInput().getType();
  int64_t channels = 1;
  if (auto axis = getAxis()) {
    if (*axis < 0 || *axis >= type.getRank())
      return emitOpError("'axis' ")
             << *axis << " is out of range for rank " << type.getRank();
    channels = type.getDimSize(*axis);
  }
  if (failed(checkScales([&] { return emitOpError(); }, "scale", getScale(),
                         channels, true)))
    return failure();
  if (type.getShape() != getResult().getType().getShape())
    return emitOpError("result shape must equal the input shape");
  return success();
}

//===----------------------------------------------------------------------===//
// Integer ops
//===----------------------------------------------------------------------===//

LogicalResult QConv2dOp::verify() {
  auto err = [&] { return emitOpError(); };
  std::optional<RankedTensorType> bias;
  if (getBias())
    bias = rankedType(getBias());
  auto shape =
      conv2dShape(err, rankedType(getInput()), rankedType(getWeight()), bias,
                  getStride(), getPadding(), getDilation(), getGroups());
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  return checkRequant(err, getMultiplier(), getShift(), (*shape)[1]);
}

LogicalResult QLinearOp::verify() {
  auto err = [&] { return emitOpError(); };
  std::optional<RankedTensorType> bias;
  if (getBias())
    bias = rankedType(getBias());
  auto shape =
      linearShape(err, rankedType(getInput()), rankedType(getWeight()), bias);
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  return checkRequant(err, getMultiplier(), getShift(), shape->back());
}

LogicalResult QMsDeformAttnOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto shape = msDeformAttnShape(err, rankedType(getValue()).getShape(),
                                 rankedType(getLocations()).getShape(),
                                 rankedType(getWeights()).getShape(),
                                 getSpatialShapes());
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  const size_t entries = getSpatialShapes().size();
  if (getLocMultiplier().size() != entries || getLocShift().size() != entries)
    return err() << "'loc_multiplier' and 'loc_shift' must have " << entries
                 << " entries (x and y of each level), got "
                 << getLocMultiplier().size() << " and "
                 << getLocShift().size();
  if (failed(checkRequant(err, getLocMultiplier(), getLocShift(),
                          int64_t(entries))))
    return failure();
  return checkScalarRequant(err, static_cast<int32_t>(getMultiplier()),
                            static_cast<int32_t>(getShift()));
}

LogicalResult QLayerNormOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto input = rankedType(getInput());
  if (input.getRank() < 1)
    return err() << "input must have rank >= 1";
  if (failed(checkResultShape(err, getResult(), input.getShape())))
    return failure();
  const int64_t c = input.getShape().back();
  if (c < 1 || c > quant::kMaxLayerNormChannels)
    return err() << "normalises rows of " << c << " values; 1.."
                 << quant::kMaxLayerNormChannels << " are supported";
  auto bias = rankedType(getBias());
  if (bias.getRank() != 1 || bias.getDimSize(0) != c)
    return err() << "'bias' must be [" << c << "], got "
                 << shapeStr(bias.getShape());
  if (static_cast<int64_t>(getEpsQ()) < 0)
    return err() << "'eps_q' must be >= 0";
  ArrayRef<int32_t> multiplier = getMultiplier(), shift = getShift();
  if (int64_t(multiplier.size()) != c || int64_t(shift.size()) != c)
    return err() << "'multiplier' and 'shift' must have " << c
                 << " entries (one per channel), got " << multiplier.size()
                 << " and " << shift.size();
  // The multiplier is signed here (gamma's sign); the shift is checked as
  // for every other requantization.
  for (int32_t s : shift)
    if (s < 0 || s > quant::kMaxShift)
      return err() << "'shift' entries must be in [0, " << quant::kMaxShift
                   << "], got " << s;
  return success();
}

LogicalResult QAddOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto shape = broadcastShape(err, rankedType(getLhs()).getShape(),
                              rankedType(getRhs()).getShape());
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  // The i32 attributes come back as uint32_t; as int32_t a value >= 2^31
  // is negative and refused (clang rejects the implicit narrowing).
  const int32_t lhs = static_cast<int32_t>(getLhsMultiplier());
  const int32_t rhs = static_cast<int32_t>(getRhsMultiplier());
  const int32_t shift = static_cast<int32_t>(getShift());
  return checkRequant(err, {lhs, rhs}, {shift, shift}, 2);
}

LogicalResult QMulOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto shape = broadcastShape(err, rankedType(getLhs()).getShape(),
                              rankedType(getRhs()).getShape());
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  return checkScalarRequant(err, getMultiplier(), getShift());
}

LogicalResult QMatmulOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto shape = matmulShape(err, rankedType(getLhs()).getShape(),
                           rankedType(getRhs()).getShape());
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  return checkScalarRequant(err, getMultiplier(), getShift());
}

LogicalResult QConcatOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto shape = concatShape(err, getInputs(), getAxis(),
                           /*sameElementType=*/false);
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  int64_t n = getInputs().size();
  if ((int64_t)getMultiplier().size() != n || (int64_t)getShift().size() != n)
    return emitOpError("needs one 'multiplier' and one 'shift' per input (")
           << n << "), got " << getMultiplier().size() << " and "
           << getShift().size();
  return checkRequant(err, getMultiplier(), getShift(), n);
}

LogicalResult QAvgPool2dOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto input = rankedType(getInput());
  if (failed(checkRank(err, "input", input, 4)))
    return failure();
  if (failed(checkPoolPadding(err, getKernel(), getPadding())))
    return failure();
  auto shape = window2dShape(err, input, input.getDimSize(1), getKernel(),
                             getStride(), getPadding(), {1, 1});
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  return checkScalarRequant(err, getMultiplier(), getShift());
}

LogicalResult QGlobalAvgPoolOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto input = rankedType(getInput());
  if (failed(checkRank(err, "input", input, 4)) ||
      failed(checkResultShape(
          err, getResult(), {input.getDimSize(0), input.getDimSize(1), 1, 1})))
    return failure();
  return checkScalarRequant(err, getMultiplier(), getShift());
}

LogicalResult QResizeOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto input = rankedType(getInput());
  auto shape = resizeShape(err, input, getSize());
  if (failed(shape) || failed(checkResultShape(err, getResult(), *shape)))
    return failure();
  bool hasRequant = getMultiplier().has_value() || getShift().has_value();
  if (getMode() == ResizeMode::nearest) {
    if (hasRequant)
      return emitOpError("nearest resize copies values and takes no "
                         "'multiplier'/'shift'");
    if (getResult().getType().getElementType() != input.getElementType())
      return emitOpError("nearest resize keeps the input element type");
    return success();
  }
  if (!getMultiplier() || !getShift())
    return emitOpError("bilinear resize needs 'multiplier' and 'shift'");
  return checkScalarRequant(err, *getMultiplier(), *getShift());
}

LogicalResult RequantizeOp::verify() {
  auto err = [&] { return emitOpError(); };
  auto input = rankedType(getInput());
  if (failed(checkResultShape(err, getResult(), input.getShape())))
    return failure();
  int64_t channels = input.getRank() >= 2 ? input.getDimSize(1) : 1;
  return checkRequant(err, getMultiplier(), getShift(), channels);
}

LogicalResult QLutOp::verify() {
  auto input = rankedType(getInput());
  if (failed(checkResultShape([&] { return emitOpError(); }, getResult(),
                              input.getShape())))
    return failure();
  unsigned inBits = getIntBits(input.getElementType());
  unsigned outBits = getIntBits(getResult().getType().getElementType());
  int64_t expected = int64_t(1) << inBits;
  if ((int64_t)getTable().size() != expected)
    return emitOpError("'table' must have ")
           << expected << " entries for an i" << inBits << " input, got "
           << getTable().size();
  int64_t lo = -(int64_t(1) << (outBits - 1)), hi = -lo - 1;
  for (int32_t v : getTable())
    if (v < lo || v > hi)
      return emitOpError("'table' entry ")
             << v << " is outside the i" << outBits << " range";
  return success();
}

#define GET_OP_CLASSES
#include "hat/Dialect/HatOps.cpp.inc"
