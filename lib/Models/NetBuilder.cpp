//===- NetBuilder.cpp - Emitting hat IR layer by layer --------------------===//

#include "hat/Models/NetBuilder.h"

#include "hat/Dialect/HatOps.h"
#include "hat/Transforms/ParamUtils.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;

namespace hat::models {

std::optional<Activation> parseActivation(const std::string &name) {
  std::string n = llvm::StringRef(name).lower();
  if (n == "relu")
    return Activation::Relu;
  if (n == "relu6")
    return Activation::Relu6;
  if (n == "sigmoid")
    return Activation::Sigmoid;
  if (n == "silu" || n == "swish")
    return Activation::Silu;
  if (n == "hardswish" || n == "hswish")
    return Activation::Hardswish;
  if (n == "none" || n == "identity")
    return Activation::None;
  return std::nullopt;
}

NetBuilder::NetBuilder(OpBuilder &builder, Location loc, uint64_t seed)
    : builder(builder), loc(loc), rng(seed) {}

int64_t NetBuilder::channels(Value x) {
  return llvm::cast<RankedTensorType>(x.getType()).getDimSize(1);
}

ArrayRef<int64_t> NetBuilder::shape(Value x) {
  return llvm::cast<RankedTensorType>(x.getType()).getShape();
}

void NetBuilder::fail(const std::string &leaf, const std::string &message) {
  if (error.empty())
    error = "at " + scopedName(leaf) + ": " + message;
}

/// Output extent of a window, or <= 0 when it does not fit.
static int64_t windowExtent(int64_t in, int64_t kernel, int64_t stride,
                            int64_t pad, int64_t dilation = 1) {
  int64_t span = dilation * (kernel - 1) + 1;
  if (in + 2 * pad < span)
    return 0;
  return (in + 2 * pad - span) / stride + 1;
}

static bool spatialFits(NetBuilder &nb, const std::string &layer, Value x,
                        int64_t kernel, int64_t stride, int64_t pad,
                        int64_t dilation = 1) {
  ArrayRef<int64_t> s = NetBuilder::shape(x);
  if (s.size() != 4) {
    nb.fail(layer,
            "expected an NCHW input, got rank " + std::to_string(s.size()));
    return false;
  }
  if (windowExtent(s[2], kernel, stride, pad, dilation) <= 0 ||
      windowExtent(s[3], kernel, stride, pad, dilation) <= 0) {
    nb.fail(layer, "input " + std::to_string(s[2]) + "x" +
                       std::to_string(s[3]) + " is too small for a " +
                       std::to_string(kernel) + "x" + std::to_string(kernel) +
                       " window (stride " + std::to_string(stride) +
                       ", padding " + std::to_string(pad) +
                       "); use a larger input shape");
    return false;
  }
  return true;
}

static bool broadcasts(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return false;
  }
  return true;
}

std::string NetBuilder::scopedName(const std::string &leaf) const {
  std::string name;
  for (const std::string &s : scopes)
    if (!s.empty())
      name += s + ".";
  return name + leaf;
}

Location NetBuilder::opLoc(const std::string &leaf) {
  // The first op of a name keeps it; later ones get `_1`, `_2`, ... so every
  // layer name is unique in the function.
  std::string name = scopedName(leaf);
  int &count = opNameCounts[name];
  std::string unique = count == 0 ? name : name + "_" + std::to_string(count);
  ++count;
  return NameLoc::get(builder.getStringAttr(unique), loc);
}

std::vector<float> NetBuilder::normal(int64_t n, double stddev) {
  std::normal_distribution<float> dist(0.f, (float)stddev);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

std::vector<float> NetBuilder::uniform(int64_t n, double bound) {
  std::uniform_real_distribution<float> dist(-(float)bound, (float)bound);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

bool NetBuilder::admitParameters(const std::string &leaf,
                                 ArrayRef<int64_t> shape) {
  int64_t count = 1;
  std::string text;
  bool overflow = false;
  for (int64_t d : shape) {
    text += (text.empty() ? "" : "x") + std::to_string(d);
    overflow |= d < 0 || __builtin_mul_overflow(count, d, &count);
  }
  int64_t total = 0;
  overflow |= __builtin_add_overflow(allocatedElements, count, &total);
  if (overflow || total > kMaxModelElements) {
    fail(leaf, "a " + text + " tensor would take the model past " +
                   std::to_string(kMaxModelElements) + " parameter elements (" +
                   std::to_string(kMaxModelElements >> 28) +
                   " GiB as float32); check the channel and class counts");
    return false;
  }
  allocatedElements = total;
  return true;
}

Value NetBuilder::param(const std::string &leaf, ArrayRef<int64_t> shape,
                        std::vector<float> data, bool trainable) {
  if (trainable)
    parameterCount += (int64_t)data.size();
  return createFloatParam(builder, loc, scopedName(leaf), shape, data);
}

Value NetBuilder::conv2d(Value x, int64_t outChannels, int64_t kernel,
                         int64_t stride, int64_t padding, int64_t groups,
                         bool bias, int64_t dilation, const std::string &name) {
  if (padding < 0)
    padding = kernel / 2 * dilation;
  if (failed() ||
      !spatialFits(*this, name, x, kernel, stride, padding, dilation))
    return x;
  int64_t cin = channels(x);
  if (groups < 1 || cin % groups != 0 || outChannels % groups != 0) {
    fail(name, "conv with " + std::to_string(cin) + " input and " +
                   std::to_string(outChannels) +
                   " output channels cannot use " + std::to_string(groups) +
                   " groups");
    return x;
  }
  int64_t perGroup = cin / groups;
  if (!admitParameters(name + ".weight",
                       {outChannels, perGroup, kernel, kernel}) ||
      (bias && !admitParameters(name + ".bias", {outChannels})))
    return x;
  int64_t n = outChannels * perGroup * kernel * kernel;
  // kaiming_normal_(mode="fan_out", nonlinearity="relu"), as torchvision.
  double fanOut = (double)outChannels * kernel * kernel / groups;
  Value w = param(name + ".weight", {outChannels, perGroup, kernel, kernel},
                  normal(n, std::sqrt(2.0 / fanOut)), true);
  Value b;
  if (bias) {
    double fanIn = (double)perGroup * kernel * kernel;
    b = param(name + ".bias", {outChannels},
              uniform(outChannels, 1.0 / std::sqrt(fanIn)), true);
  }
  return builder.create<Conv2dOp>(
      opLoc(name), x, w, b, builder.getDenseI64ArrayAttr({stride, stride}),
      builder.getDenseI64ArrayAttr({padding, padding, padding, padding}),
      builder.getDenseI64ArrayAttr({dilation, dilation}),
      builder.getI64IntegerAttr(groups));
}

NetBuilder::ConvParams
NetBuilder::convParams(int64_t inChannels, int64_t outChannels, int64_t kernel,
                       int64_t groups, bool bias, const std::string &name,
                       double weightStd, float biasFill) {
  ConvParams p;
  p.kernel = kernel;
  p.groups = groups;
  if (failed())
    return p;
  if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0) {
    fail(name, "conv with " + std::to_string(inChannels) + " input and " +
                   std::to_string(outChannels) +
                   " output channels cannot use " + std::to_string(groups) +
                   " groups");
    return p;
  }
  int64_t perGroup = inChannels / groups;
  int64_t n = outChannels * perGroup * kernel * kernel;
  if (weightStd <= 0.0)
    weightStd =
        std::sqrt(2.0 * groups / ((double)outChannels * kernel * kernel));
  p.weight = param(name + ".weight", {outChannels, perGroup, kernel, kernel},
                   normal(n, weightStd), true);
  if (bias)
    p.bias = param(name + ".bias", {outChannels},
                   std::vector<float>(outChannels, biasFill), true);
  return p;
}

Value NetBuilder::conv2d(Value x, const ConvParams &p, int64_t stride,
                         const std::string &name) {
  int64_t padding = p.kernel / 2;
  if (failed() || !p.weight ||
      !spatialFits(*this, name, x, p.kernel, stride, padding))
    return x;
  auto w = llvm::cast<RankedTensorType>(p.weight.getType());
  if (channels(x) != w.getDimSize(1) * p.groups) {
    fail(name, "shared conv expects " +
                   std::to_string(w.getDimSize(1) * p.groups) +
                   " input channels, got " + std::to_string(channels(x)));
    return x;
  }
  return builder.create<Conv2dOp>(
      loc, x, p.weight, p.bias, builder.getDenseI64ArrayAttr({stride, stride}),
      builder.getDenseI64ArrayAttr({padding, padding, padding, padding}),
      builder.getDenseI64ArrayAttr({1, 1}),
      builder.getI64IntegerAttr(p.groups));
}

void NetBuilder::nameLayer(Value v, const std::string &leaf) {
  if (Operation *op = v.getDefiningOp())
    op->setAttr("hat.layer_name", builder.getStringAttr(scopedName(leaf)));
}

Value NetBuilder::weightedSum(ValueRange inputs, float eps,
                              const std::string &name) {
  if (failed())
    return inputs.front();
  for (Value v : inputs)
    if (shape(v) != shape(inputs.front())) {
      fail(name, "fused inputs must have one shape");
      return inputs.front();
    }
  int64_t n = (int64_t)inputs.size();
  Value w = param(name + ".weight", {n}, std::vector<float>(n, 1.f), true);
  return builder.create<WeightedSumOp>(loc, inputs, w,
                                       builder.getF32FloatAttr(eps));
}

Value NetBuilder::scale(Value x, float v, const std::string &name) {
  if (failed())
    return x;
  Value c = param(name, {1}, {v}, false);
  return builder.create<MulOp>(loc, x, c);
}

Value NetBuilder::batchNorm(Value x, const std::string &name) {
  if (failed())
    return x;
  int64_t c = channels(x);
  if (!admitParameters(name, {4, c}))
    return x;
  Value w = param(name + ".weight", {c}, std::vector<float>(c, 1.f), true);
  Value b = param(name + ".bias", {c}, std::vector<float>(c, 0.f), true);
  Value mean =
      param(name + ".running_mean", {c}, std::vector<float>(c, 0.f), false);
  Value var =
      param(name + ".running_var", {c}, std::vector<float>(c, 1.f), false);
  return builder.create<BatchNormOp>(opLoc(name), x, w, b, mean, var,
                                     builder.getF32FloatAttr(bnEps),
                                     builder.getF32FloatAttr(bnMomentum));
}

Value NetBuilder::msDeformAttn(Value value, Value locations, Value weights,
                               ArrayRef<int64_t> shapes,
                               const std::string &name) {
  if (failed())
    return value;
  // The op infers its type: refuse inconsistent operands here, by name,
  // instead of failing inside the builder.
  ArrayRef<int64_t> v = shape(value), l = shape(locations), w = shape(weights);
  int64_t positions = 0;
  for (size_t k = 0; k + 1 < shapes.size(); k += 2)
    positions += shapes[k] * shapes[k + 1];
  if (v.size() != 4 || shapes.empty() || shapes.size() % 2 ||
      v[1] != positions || l.size() != 6 || (l[0] != v[0] && l[0] != 1) ||
      l[2] != v[2] || l[3] != int64_t(shapes.size() / 2) || l[5] != 2 ||
      w != l.drop_back()) {
    fail(name, "deformable attention needs value [N, S, M, D], locations "
               "[N, Lq, M, L, P, 2] and weights [N, Lq, M, L, P] with S the "
               "sum of the levels' H * W");
    return value;
  }
  auto op =
      builder.create<MsDeformAttnOp>(opLoc(name), value, locations, weights,
                                     builder.getDenseI64ArrayAttr(shapes));
  nameLayer(op, name);
  return op;
}

Value NetBuilder::layerNorm(Value x, const std::string &name, float eps) {
  if (failed())
    return x;
  ArrayRef<int64_t> s = shape(x);
  if (s.empty()) {
    fail(name, "layer norm needs an input of rank >= 1");
    return x;
  }
  const int64_t c = s.back();
  if (!admitParameters(name, {2, c}))
    return x;
  Value w = param(name + ".weight", {c}, std::vector<float>(c, 1.f), true);
  Value b = param(name + ".bias", {c}, std::vector<float>(c, 0.f), true);
  Value y = builder.create<LayerNormOp>(opLoc(name), x, w, b,
                                        builder.getF32FloatAttr(eps));
  nameLayer(y, name);
  return y;
}

Value NetBuilder::activation(Value x, Activation act) {
  switch (act) {
  case Activation::None:
    return x;
  case Activation::Relu:
    return builder.create<ReluOp>(opLoc("relu"), x);
  case Activation::Relu6:
    return builder.create<Relu6Op>(opLoc("relu6"), x);
  case Activation::Sigmoid:
    return builder.create<SigmoidOp>(opLoc("sigmoid"), x);
  case Activation::Silu:
    return builder.create<SiluOp>(opLoc("silu"), x);
  case Activation::Hardswish:
    return builder.create<HardswishOp>(opLoc("hardswish"), x);
  }
  llvm_unreachable("unknown activation");
}

Value NetBuilder::convBnAct(Value x, int64_t outChannels, int64_t kernel,
                            int64_t stride, int64_t groups, Activation act,
                            const std::string &convName,
                            const std::string &bnName) {
  Value y =
      conv2d(x, outChannels, kernel, stride, -1, groups, false, 1, convName);
  return activation(batchNorm(y, bnName), act);
}

Value NetBuilder::linear(Value x, int64_t outFeatures, bool bias,
                         const std::string &name) {
  if (failed())
    return x;
  int64_t in = shape(x).back();
  if (!admitParameters(name + ".weight", {outFeatures, in}) ||
      (bias && !admitParameters(name + ".bias", {outFeatures})))
    return x;
  double bound = 1.0 / std::sqrt((double)in);
  Value w = param(name + ".weight", {outFeatures, in},
                  uniform(outFeatures * in, bound), true);
  Value b;
  if (bias)
    b = param(name + ".bias", {outFeatures}, uniform(outFeatures, bound), true);
  return builder.create<LinearOp>(opLoc(name), x, w, b);
}

NetBuilder::LinearParams NetBuilder::linearParams(int64_t inFeatures,
                                                  int64_t outFeatures,
                                                  std::vector<float> weight,
                                                  std::vector<float> bias,
                                                  const std::string &name) {
  LinearParams p;
  if (failed())
    return p;
  if (int64_t(weight.size()) != outFeatures * inFeatures ||
      (!bias.empty() && int64_t(bias.size()) != outFeatures)) {
    fail(name, "initial weight or bias of the wrong size");
    return p;
  }
  if (!admitParameters(name + ".weight", {outFeatures, inFeatures}) ||
      (!bias.empty() && !admitParameters(name + ".bias", {outFeatures})))
    return p;
  p.weight = param(name + ".weight", {outFeatures, inFeatures},
                   std::move(weight), true);
  if (!bias.empty())
    p.bias = param(name + ".bias", {outFeatures}, std::move(bias), true);
  return p;
}

Value NetBuilder::linear(Value x, const LinearParams &p,
                         const std::string &name) {
  if (failed() || !p.weight)
    return x;
  const int64_t in = shape(p.weight)[1];
  if (shape(x).empty() || shape(x).back() != in) {
    fail(name, "the input's last dimension is " +
                   std::to_string(shape(x).empty() ? 0 : shape(x).back()) +
                   ", the linear takes " + std::to_string(in));
    return x;
  }
  return builder.create<LinearOp>(opLoc(name), x, p.weight, p.bias);
}

Value NetBuilder::linearInit(Value x, int64_t outFeatures,
                             std::vector<float> weight, std::vector<float> bias,
                             const std::string &name) {
  if (failed())
    return x;
  LinearParams p = linearParams(shape(x).back(), outFeatures, std::move(weight),
                                std::move(bias), name);
  return linear(x, p, name);
}

Value NetBuilder::embedding(int64_t count, int64_t dim,
                            const std::string &name) {
  if (failed())
    return Value();
  if (count < 1 || dim < 1 || count > (int64_t(1) << 14)) {
    fail(name, "an embedding needs 1 to 16384 entries of width >= 1");
    return Value();
  }
  std::vector<float> identity(size_t(count * count), 0.f);
  for (int64_t i = 0; i < count; ++i)
    identity[size_t(i * count + i)] = 1.f;
  Value index = constant(name + ".index", {1, count, count}, identity);
  if (!index)
    return Value();
  return linearInit(index, dim, normal(dim * count, 1.0), {}, name);
}

Value NetBuilder::add(Value a, Value b) {
  if (failed())
    return a;
  if (!broadcasts(shape(a), shape(b))) {
    fail("add", "cannot add tensors of different shapes");
    return a;
  }
  return builder.create<AddOp>(opLoc("add"), a, b);
}

Value NetBuilder::mul(Value a, Value b) {
  if (failed())
    return a;
  if (!broadcasts(shape(a), shape(b))) {
    fail("mul", "cannot multiply tensors of different shapes");
    return a;
  }
  return builder.create<MulOp>(opLoc("mul"), a, b);
}

Value NetBuilder::concat(ValueRange inputs, int64_t axis) {
  if (failed())
    return inputs.front();
  for (Value v : inputs) {
    ArrayRef<int64_t> a = shape(v), b = shape(inputs.front());
    bool ok = a.size() == b.size();
    for (size_t d = 0; ok && d < a.size(); ++d)
      ok = (int64_t)d == axis || a[d] == b[d];
    if (!ok) {
      fail("concat",
           "cannot concatenate tensors whose shapes differ off axis " +
               std::to_string(axis));
      return inputs.front();
    }
  }
  return builder.create<ConcatOp>(opLoc("concat"), inputs,
                                  builder.getI64IntegerAttr(axis));
}

Value NetBuilder::maxPool(Value x, int64_t kernel, int64_t stride,
                          int64_t padding) {
  if (failed() || !spatialFits(*this, "pool", x, kernel, stride, padding))
    return x;
  return builder.create<MaxPool2dOp>(
      opLoc("maxpool"), x, builder.getDenseI64ArrayAttr({kernel, kernel}),
      builder.getDenseI64ArrayAttr({stride, stride}),
      builder.getDenseI64ArrayAttr({padding, padding, padding, padding}));
}

Value NetBuilder::avgPool(Value x, int64_t kernel, int64_t stride,
                          int64_t padding) {
  if (failed() || !spatialFits(*this, "pool", x, kernel, stride, padding))
    return x;
  return builder.create<AvgPool2dOp>(
      opLoc("avgpool"), x, builder.getDenseI64ArrayAttr({kernel, kernel}),
      builder.getDenseI64ArrayAttr({stride, stride}),
      builder.getDenseI64ArrayAttr({padding, padding, padding, padding}));
}

Value NetBuilder::globalAvgPool(Value x) {
  if (failed() || shape(x).size() != 4) {
    fail("pool", "global average pooling needs an NCHW input");
    return x;
  }
  return builder.create<GlobalAvgPoolOp>(opLoc("global_pool"), x);
}

Value NetBuilder::flatten(Value x, int64_t startDim) {
  return builder.create<FlattenOp>(opLoc("flatten"), x,
                                   builder.getI64IntegerAttr(startDim));
}

Value NetBuilder::reshape(Value x, ArrayRef<int64_t> newShape) {
  if (failed())
    return x;
  int64_t n = 1;
  for (int64_t d : newShape)
    n *= d;
  auto type = cast<RankedTensorType>(x.getType());
  if (n != type.getNumElements()) {
    fail("reshape", "cannot reshape " + std::to_string(type.getNumElements()) +
                        " elements into " + std::to_string(n));
    return x;
  }
  return builder.create<ReshapeOp>(opLoc("reshape"), x,
                                   builder.getDenseI64ArrayAttr(newShape));
}

Value NetBuilder::transpose(Value x, ArrayRef<int64_t> perm) {
  if (failed())
    return x;
  return builder.create<TransposeOp>(opLoc("transpose"), x,
                                     builder.getDenseI64ArrayAttr(perm));
}

Value NetBuilder::matmul(Value a, Value b, const std::string &name) {
  if (failed())
    return a;
  ArrayRef<int64_t> sa = shape(a), sb = shape(b);
  if (sa.size() < 2 || sb.size() < 2 || sa.back() != sb[sb.size() - 2] ||
      !broadcasts(sa.drop_back(2), sb.drop_back(2))) {
    fail(name, "cannot multiply matrices of shapes that do not contract");
    return a;
  }
  Value m = builder.create<MatmulOp>(opLoc(name), a, b);
  nameLayer(m, name);
  return m;
}

Value NetBuilder::softmax(Value x, int64_t axis) {
  if (failed())
    return x;
  return builder.create<SoftmaxOp>(opLoc("softmax"), x,
                                   builder.getI64IntegerAttr(axis));
}

Value NetBuilder::constant(const std::string &leaf, ArrayRef<int64_t> shape,
                           std::vector<float> data) {
  if (failed() || !admitParameters(leaf, shape))
    return Value();
  return param(leaf, shape, std::move(data), false);
}

Value NetBuilder::trainableParam(const std::string &leaf,
                                 ArrayRef<int64_t> shape,
                                 std::vector<float> data) {
  if (failed() || !admitParameters(leaf, shape))
    return Value();
  Value p = param(leaf, shape, std::move(data), true);
  p.getDefiningOp()->setAttr("hat.trainable", builder.getUnitAttr());
  return p;
}

Value NetBuilder::resize(Value x, int64_t height, int64_t width, bool bilinear,
                         bool alignCorners) {
  return builder.create<ResizeOp>(
      opLoc("resize"), x,
      ResizeModeAttr::get(builder.getContext(), bilinear ? ResizeMode::bilinear
                                                         : ResizeMode::nearest),
      builder.getDenseI64ArrayAttr({height, width}),
      builder.getBoolAttr(alignCorners));
}

} // namespace hat::models
