//===- NetBuilder.h - Emitting hat IR layer by layer ------------*- C++ -*-===//
//
// Model builders describe networks the way PyTorch modules do (conv, bn,
// activation, blocks) and NetBuilder turns each call into hat ops with named,
// initialised parameters. Names follow the PyTorch module path
// (`layer1.0.conv1.weight`), kept with a scope stack, so checkpoints and
// per-layer reports read like the user's model.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_MODELS_NETBUILDER_H
#define HAT_MODELS_NETBUILDER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

#include <map>
#include <random>
#include <string>
#include <vector>

namespace hat::models {

enum class Activation { None, Relu, Relu6, Sigmoid, Silu, Hardswish };

/// "relu", "relu6", "sigmoid", "silu"/"swish", "hardswish"/"hswish",
/// "none"/"identity" (case-insensitive); nullopt otherwise.
std::optional<Activation> parseActivation(const std::string &name);

class NetBuilder {
public:
  NetBuilder(mlir::OpBuilder &builder, mlir::Location loc, uint64_t seed = 0);

  /// Pushes `name` onto the parameter-name scope until the guard dies.
  class Scope {
  public:
    Scope(NetBuilder &nb, const std::string &name) : nb(nb) {
      nb.scopes.push_back(name);
    }
    ~Scope() { nb.scopes.pop_back(); }

  private:
    NetBuilder &nb;
  };

  /// Conv with kaiming-normal (fan_out, ReLU gain) weights; `padding` < 0
  /// means "same" for odd kernels (k / 2 * dilation).
  mlir::Value conv2d(mlir::Value x, int64_t outChannels, int64_t kernel,
                     int64_t stride = 1, int64_t padding = -1,
                     int64_t groups = 1, bool bias = false,
                     int64_t dilation = 1, const std::string &name = "conv");
  /// Parameters of a convolution created once and applied several times
  /// (FCOS shares its head convolutions across pyramid levels).
  struct ConvParams {
    mlir::Value weight, bias;
    int64_t kernel = 1, groups = 1;
  };
  /// Weights normal(0, `weightStd`) (kaiming fan_out when `weightStd` <= 0),
  /// bias filled with `biasFill` when `bias` is set.
  ConvParams convParams(int64_t inChannels, int64_t outChannels, int64_t kernel,
                        int64_t groups, bool bias, const std::string &name,
                        double weightStd = -1.0, float biasFill = 0.f);
  /// Applies shared parameters ("same" padding for odd kernels).
  mlir::Value conv2d(mlir::Value x, const ConvParams &p, int64_t stride = 1,
                     const std::string &name = "conv");
  /// BiFPN fast normalised fusion of same-shaped inputs with a learnable
  /// `<name>.weight` of N ones.
  mlir::Value weightedSum(mlir::ValueRange inputs, float eps = 1e-4f,
                          const std::string &name = "fusion");
  /// Multiplies by a constant (not trained) scalar `<name>` of value `v`.
  mlir::Value scale(mlir::Value x, float v, const std::string &name);
  /// BN with weight 1, bias 0, running mean 0, running var 1, and the
  /// eps/momentum set by setBatchNormKwargs (PyTorch's defaults otherwise).
  mlir::Value batchNorm(mlir::Value x, const std::string &name = "bn");
  void setBatchNormKwargs(float eps, float momentum) {
    bnEps = eps;
    bnMomentum = momentum;
  }
  mlir::Value activation(mlir::Value x, Activation act);
  /// conv (no bias) + bn + activation, with PyTorch-style child names
  /// `<name>.0` (conv) and `<name>.1` (bn) when `name` is given, or
  /// `conv`/`bn` inside the current scope otherwise.
  mlir::Value convBnAct(mlir::Value x, int64_t outChannels, int64_t kernel,
                        int64_t stride, int64_t groups, Activation act,
                        const std::string &convName = "conv",
                        const std::string &bnName = "bn");
  /// Linear with weights and bias uniform in +-1/sqrt(fan_in) (PyTorch).
  mlir::Value linear(mlir::Value x, int64_t outFeatures, bool bias = true,
                     const std::string &name = "fc");
  /// Linear with the given initial weight [out, in] (row-major) and bias
  /// ([out], or empty for none); `outFeatures` rows.
  mlir::Value linearInit(mlir::Value x, int64_t outFeatures,
                         std::vector<float> weight, std::vector<float> bias,
                         const std::string &name);
  /// Parameters of a linear created once and applied several times (Deformable
  /// DETR's class and box heads, shared by every decoder layer).
  struct LinearParams {
    mlir::Value weight, bias;
  };
  /// `<name>.weight` [out, in] and `<name>.bias` [out] (none when `bias` is
  /// empty) with the given initial values.
  LinearParams linearParams(int64_t inFeatures, int64_t outFeatures,
                            std::vector<float> weight, std::vector<float> bias,
                            const std::string &name);
  /// Applies shared parameters; the op is named `name`.
  mlir::Value linear(mlir::Value x, const LinearParams &p,
                     const std::string &name);
  /// torch.nn.Embedding(count, dim)'s table as a [1, count, dim] value: a
  /// linear without bias (`<name>.weight` [dim, count], normal(0, 1) as
  /// nn.Embedding draws it) applied to the constant identity
  /// `<name>.index`. Every use of the table is then an activation, which
  /// adds, matmuls and the BPU take like any other, instead of a parameter
  /// that only a conv or linear may read.
  mlir::Value embedding(int64_t count, int64_t dim, const std::string &name);
  mlir::Value add(mlir::Value a, mlir::Value b);
  mlir::Value mul(mlir::Value a, mlir::Value b);
  mlir::Value concat(mlir::ValueRange inputs, int64_t axis = 1);
  mlir::Value maxPool(mlir::Value x, int64_t kernel, int64_t stride,
                      int64_t padding);
  mlir::Value avgPool(mlir::Value x, int64_t kernel, int64_t stride,
                      int64_t padding);
  mlir::Value globalAvgPool(mlir::Value x);
  mlir::Value flatten(mlir::Value x, int64_t startDim = 1);
  mlir::Value resize(mlir::Value x, int64_t height, int64_t width,
                     bool bilinear, bool alignCorners = false);
  /// Any element count-preserving shape (no -1 entries).
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> perm);
  /// torch.matmul of two activations (ranks >= 2, broadcast batch dims).
  mlir::Value matmul(mlir::Value a, mlir::Value b,
                     const std::string &name = "matmul");
  mlir::Value softmax(mlir::Value x, int64_t axis);
  /// Deformable DETR's multi-scale sampling: value [N, S, M, D], locations
  /// [N, Lq, M, L, P, 2] in [0, 1], weights [N, Lq, M, L, P]; `shapes` the
  /// levels' H, W pairs -> [N, Lq, M * D], the layer named `name`.
  mlir::Value msDeformAttn(mlir::Value value, mlir::Value locations,
                           mlir::Value weights, llvm::ArrayRef<int64_t> shapes,
                           const std::string &name);
  /// torch.nn.LayerNorm(C) over the last axis: `<name>.weight` (ones) and
  /// `<name>.bias` (zeros), the layer named `<name>`.
  mlir::Value layerNorm(mlir::Value x, const std::string &name,
                        float eps = 1e-5f);
  /// A float constant `<leaf>` that is not trained (a position embedding).
  mlir::Value constant(const std::string &leaf, llvm::ArrayRef<int64_t> shape,
                       std::vector<float> data);
  /// A trained parameter that is no conv / linear / BN weight (the executor
  /// takes those roles from their uses): marked `hat.trainable`, e.g. the
  /// attention's scalar `gamma`.
  mlir::Value trainableParam(const std::string &leaf,
                             llvm::ArrayRef<int64_t> shape,
                             std::vector<float> data);

  /// Names the layer producing `v` (`hat.layer_name` = the scoped `leaf`),
  /// for layers without a weight to take a name from (pools, resizes): the
  /// BPU layers and perf report use it.
  void nameLayer(mlir::Value v, const std::string &leaf);

  /// Channels (dim 1) and spatial extent of an NCHW value.
  static int64_t channels(mlir::Value x);
  static llvm::ArrayRef<int64_t> shape(mlir::Value x);

  /// `n` draws from the builder's seeded generator (custom initialisers).
  std::vector<float> normal(int64_t n, double stddev);
  std::vector<float> uniform(int64_t n, double bound);

  /// Number of parameter elements created (trainable weights and biases;
  /// BN running statistics are buffers and are not counted, as PyTorch's
  /// `sum(p.numel() for p in model.parameters())`).
  int64_t numParameters() const { return parameterCount; }

  /// Shape errors (an input too small for a window, channels that do not
  /// match) are recorded instead of creating an op that cannot be typed;
  /// the first one is kept and later calls pass their input through.
  bool failed() const { return !error.empty(); }
  const std::string &getError() const { return error; }
  /// Records `message` about layer `leaf` of the current scope.
  void fail(const std::string &leaf, const std::string &message);
  /// `leaf` prefixed with the current scope (`layer1.0.conv1`).
  std::string scopedName(const std::string &leaf) const;

  /// The location of a new op: a NameLoc with the scoped, unique layer name
  /// (`layer1.0.conv1`, a second `add` in one scope `add_1`). Passes keep
  /// op locations, so float, fake-quant and integer IR name layers alike
  /// (the quantization analysis matches layers by it).
  mlir::Location opLoc(const std::string &leaf);

  mlir::OpBuilder &getBuilder() { return builder; }
  mlir::Location getLoc() { return loc; }

  /// Parameter and buffer elements one model may hold: 2^30 float32 values
  /// are 4 GiB, held twice while lowering (the vector and the attribute).
  static constexpr int64_t kMaxModelElements = int64_t(1) << 30;

private:
  /// Counts a tensor of `shape` against kMaxModelElements before its data
  /// is allocated; records an error naming the layer and returns false when
  /// it does not fit (or its element count overflows).
  bool admitParameters(const std::string &leaf, llvm::ArrayRef<int64_t> shape);
  mlir::Value param(const std::string &leaf, llvm::ArrayRef<int64_t> shape,
                    std::vector<float> data, bool trainable);

  mlir::OpBuilder &builder;
  mlir::Location loc;
  std::mt19937_64 rng;
  std::vector<std::string> scopes;
  int64_t parameterCount = 0;
  int64_t allocatedElements = 0;
  std::string error;
  std::map<std::string, int> opNameCounts;
  float bnEps = 1e-5f, bnMomentum = 0.1f;
};

} // namespace hat::models

#endif // HAT_MODELS_NETBUILDER_H
