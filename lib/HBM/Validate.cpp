//===- Validate.cpp - Semantic checks of a loaded HBM ---------------------===//
//
// The runtime trusts a model that passes this: every check here stands
// between a corrupted file and an out-of-bounds access or an abort in a
// reference kernel, so each kernel precondition appears below.
//
//===----------------------------------------------------------------------===//

#include "hat/HBM/Model.h"
#include "hat/Quant/FixedPoint.h"

#include <set>

#include <cmath>
#include <sstream>

namespace hat::hbm {

const char *layerKindName(LayerKind kind) {
  static const char *names[kNumLayerKinds] = {
      "quantize", "dequantize", "conv",       "linear",          "add",
      "mul",      "max_pool",   "avg_pool",   "global_avg_pool", "concat",
      "resize",   "requantize", "lut",        "reshape",         "transpose",
      "softmax",  "matmul",     "layer_norm", "ms_deform_attn"};
  const unsigned k = unsigned(kind);
  return k < unsigned(kNumLayerKinds) ? names[k] : "unknown";
}

int64_t dtypeBytes(DType dtype) {
  switch (dtype) {
  case DType::I8:
    return 1;
  case DType::I16:
    return 2;
  default:
    return 4;
  }
}

namespace {

constexpr int64_t kMaxBytes = int64_t(1) << 31; // one tensor / the arena
constexpr int64_t kMaxRank = 8;

struct Checker {
  const Model &m;
  std::ostringstream err;
  std::vector<bool> written;

  bool fail() { return false; }

  bool shapeOk(const std::vector<int64_t> &shape, int64_t elemBytes,
               const std::string &what) {
    if (int64_t(shape.size()) > kMaxRank) {
      err << what << " has rank " << shape.size() << " (> " << kMaxRank << ")";
      return false;
    }
    int64_t bytes = elemBytes;
    for (int64_t d : shape) {
      if (d < 1 || d > kMaxBytes || bytes > kMaxBytes / d) {
        err << what << " has an invalid or too large shape";
        return false;
      }
      bytes *= d;
    }
    return true;
  }

  const TensorDesc *tensor(int32_t index, const std::string &layer) {
    if (index < 0 || size_t(index) >= m.tensors.size()) {
      err << "layer '" << layer << "' refers to tensor #" << index << " of "
          << m.tensors.size();
      return nullptr;
    }
    return &m.tensors[size_t(index)];
  }

  const Constant *constant(int32_t index, const std::string &layer) {
    if (index < 0 || size_t(index) >= m.constants.size()) {
      err << "layer '" << layer << "' refers to constant #" << index << " of "
          << m.constants.size();
      return nullptr;
    }
    return &m.constants[size_t(index)];
  }

  static bool isAct(DType d) { return d == DType::I8 || d == DType::I16; }

  bool requant(const Layer &l, size_t channels) {
    if (l.multiplier.size() != l.shift.size() ||
        (l.multiplier.size() != 1 && l.multiplier.size() != channels)) {
      err << "layer '" << l.name
          << "' needs one multiplier/shift or one per channel";
      return false;
    }
    return shiftsOk(l, l.shift) && multipliersOk(l, l.multiplier);
  }
  bool shiftsOk(const Layer &l, const std::vector<int32_t> &shifts) {
    for (int32_t s : shifts)
      if (s < 0 || s > 62) {
        err << "layer '" << l.name << "' has shift " << s << " outside [0, 62]";
        return false;
      }
    return true;
  }
  // applyRequant needs 0 <= multiplier < 2^31 for its int64 bound.
  bool multipliersOk(const Layer &l, const std::vector<int32_t> &ms) {
    for (int32_t v : ms)
      if (v < 0) {
        err << "layer '" << l.name << "' has a negative multiplier";
        return false;
      }
    return true;
  }
  bool single(const Layer &l) {
    if (l.multiplier.size() != 1 || l.shift.size() != 1) {
      err << "layer '" << l.name << "' needs exactly one multiplier/shift";
      return false;
    }
    return shiftsOk(l, l.shift) && multipliersOk(l, l.multiplier);
  }

  bool window(const Layer &l, bool needDilation) {
    if (l.kernel.size() != 2 || l.stride.size() != 2 || l.padding.size() != 4 ||
        (needDilation && l.dilation.size() != 2)) {
      err << "layer '" << l.name << "' needs kernel[2], stride[2], padding[4]"
          << (needDilation ? ", dilation[2]" : "");
      return false;
    }
    for (int d = 0; d < 2; ++d)
      if (l.kernel[d] < 1 || l.stride[d] < 1 || l.kernel[d] > 4096 ||
          l.stride[d] > 4096 ||
          (needDilation && (l.dilation[d] < 1 || l.dilation[d] > 4096))) {
        err << "layer '" << l.name << "' has an invalid window";
        return false;
      }
    for (int64_t p : l.padding)
      if (p < 0 || p > 4096) {
        err << "layer '" << l.name << "' has invalid padding";
        return false;
      }
    return true;
  }

  /// Output extent of a window op, or -1.
  static int64_t extent(int64_t in, int64_t k, int64_t s, int64_t p0,
                        int64_t p1, int64_t d) {
    const int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    return span < 0 ? -1 : span / s + 1;
  }

  bool expectShape(const Layer &l, const TensorDesc &out,
                   const std::vector<int64_t> &shape) {
    if (out.shape != shape) {
      err << "layer '" << l.name << "' output '" << out.name
          << "' has the wrong shape";
      return false;
    }
    return true;
  }

  bool conv(const Layer &l, const std::vector<const TensorDesc *> &in,
            const TensorDesc &out) {
    if (in.size() != (l.residual ? 2u : 1u) || !window(l, true))
      return err << "layer '" << l.name << "' needs " << (l.residual ? 2 : 1)
                 << " input(s) and a valid window",
             false;
    const TensorDesc &x = *in[0];
    if (!isAct(x.dtype) || !isAct(out.dtype) || x.shape.size() != 4 ||
        out.shape.size() != 4)
      return err << "layer '" << l.name << "' needs i8/i16 NCHW tensors", false;
    const Constant *w = constant(l.weight, l.name);
    if (!w)
      return false;
    if (l.groups < 1 || x.shape[1] % l.groups || out.shape[1] % l.groups)
      return err << "layer '" << l.name << "' has invalid groups", false;
    const int64_t o = out.shape[1], cg = x.shape[1] / l.groups;
    const std::vector<int64_t> wshape{o, cg, l.kernel[0], l.kernel[1]};
    if (!weightOk(l, *w, wshape, l.groups))
      return false;
    if (!biasOk(l, o) || !requant(l, size_t(o)))
      return false;
    const int64_t oh = extent(x.shape[2], l.kernel[0], l.stride[0],
                              l.padding[0], l.padding[2], l.dilation[0]);
    const int64_t ow = extent(x.shape[3], l.kernel[1], l.stride[1],
                              l.padding[1], l.padding[3], l.dilation[1]);
    if (!expectShape(l, out, {x.shape[0], o, oh, ow}))
      return false;
    if (l.residual) {
      if (!isAct(in[1]->dtype) || in[1]->shape != out.shape ||
          !isAct(l.convDType))
        return err << "layer '" << l.name
                   << "' residual must be i8/i16 with the output's shape",
               false;
      const std::vector<int32_t> s{l.addShift};
      if (!shiftsOk(l, s) ||
          !multipliersOk(l, {l.addConvMultiplier, l.addResidualMultiplier}))
        return false;
    }
    return true;
  }

  bool weightOk(const Layer &l, const Constant &w,
                const std::vector<int64_t> &shape, int64_t groups) {
    if (w.dtype != DType::I8 || w.shape != shape || w.groups != groups)
      return err << "layer '" << l.name << "' weight '" << w.name
                 << "' has the wrong dtype, shape or groups",
             false;
    const int64_t k = eval::numelOf(shape) / shape[0];
    const int64_t bytes = w.layout == "o16k2"
                              ? packedWeightSize(shape[0], k, groups)
                          : w.layout == "plain" ? eval::numelOf(shape)
                                                : -1;
    if (bytes != int64_t(w.data.size()))
      return err << "layer '" << l.name << "' weight '" << w.name << "' has "
                 << w.data.size() << " bytes for layout '" << w.layout << "'",
             false;
    return true;
  }

  bool biasOk(const Layer &l, int64_t channels) {
    if (l.bias < 0)
      return true;
    const Constant *b = constant(l.bias, l.name);
    if (!b)
      return false;
    if (b->dtype != DType::I32 || b->shape != std::vector<int64_t>{channels} ||
        int64_t(b->data.size()) != channels * 4)
      return err << "layer '" << l.name << "' bias '" << b->name
                 << "' must be i32 [" << channels << "]",
             false;
    return true;
  }

  bool broadcastShape(const std::vector<int64_t> &a,
                      const std::vector<int64_t> &b,
                      std::vector<int64_t> &out) {
    const size_t r = std::max(a.size(), b.size());
    out.assign(r, 1);
    for (size_t d = 0; d < r; ++d) {
      const int64_t x = d + a.size() >= r ? a[d + a.size() - r] : 1;
      const int64_t y = d + b.size() >= r ? b[d + b.size() - r] : 1;
      if (x != y && x != 1 && y != 1)
        return false;
      out[d] = std::max(x, y);
    }
    return true;
  }

  bool layer(const Layer &l) {
    std::vector<const TensorDesc *> in;
    for (int32_t i : l.inputs) {
      const TensorDesc *t = tensor(i, l.name);
      if (!t)
        return false;
      if (!written[size_t(i)])
        return err << "layer '" << l.name << "' reads tensor '" << t->name
                   << "' before any layer writes it",
               false;
      // Constant activations feed only layers that read their inputs
      // through the reference kernels (the runtime's fast paths address
      // the arena; a conv or linear with a constant input runs on the
      // reference kernel).
      if (t->constant >= 0 && l.kind != LayerKind::Add &&
          l.kind != LayerKind::Mul && l.kind != LayerKind::MatMul &&
          l.kind != LayerKind::Concat && l.kind != LayerKind::Conv &&
          l.kind != LayerKind::Linear)
        return err << "layer '" << l.name << "' (" << layerKindName(l.kind)
                   << ") cannot read the constant "
                   << "tensor '" << t->name
                   << "' (only add, mul, matmul, concat, conv and linear can)",
               false;
      in.push_back(t);
    }
    const TensorDesc *outp = tensor(l.output, l.name);
    if (!outp)
      return false;
    const TensorDesc &out = *outp;
    if (out.arenaOffset < 0)
      return err << "layer '" << l.name << "' writes a model input", false;
    auto need = [&](size_t n) {
      if (in.size() != n)
        return err << "layer '" << l.name << "' (" << layerKindName(l.kind)
                   << ") needs " << n << " input(s), has " << in.size(),
               false;
      return true;
    };
    auto act = [&](const TensorDesc &t) {
      if (!isAct(t.dtype))
        return err << "layer '" << l.name << "' needs i8/i16 tensors", false;
      return true;
    };
    switch (l.kind) {
    case LayerKind::Quantize:
      if (!need(1) || in[0]->dtype != DType::F32 || !act(out) ||
          l.scale.size() != 1 || in[0]->shape != out.shape)
        return err << " (quantize: f32 in, i8/i16 out, one scale)", false;
      break;
    case LayerKind::Dequantize: {
      if (!need(1) || in[0]->dtype == DType::F32 || out.dtype != DType::F32 ||
          in[0]->shape != out.shape)
        return err << "layer '" << l.name << "' (dequantize) types", false;
      const size_t want =
          l.hasAxis && l.axis >= 0 && l.axis < int64_t(out.shape.size())
              ? size_t(out.shape[size_t(l.axis)])
              : 1;
      if ((l.hasAxis && (l.axis < 0 || l.axis >= int64_t(out.shape.size()))) ||
          l.scale.size() != want)
        return err << "layer '" << l.name << "' dequantize scales/axis", false;
      break;
    }
    case LayerKind::Conv:
      if (!conv(l, in, out))
        return false;
      break;
    case LayerKind::Linear: {
      if (!need(1) || !act(*in[0]) || !act(out) || in[0]->shape.empty())
        return false;
      const Constant *w = constant(l.weight, l.name);
      if (!w)
        return false;
      const int64_t k = in[0]->shape.back(),
                    mm = out.shape.empty() ? 0 : out.shape.back();
      if (!weightOk(l, *w, {mm, k}, 1) || !biasOk(l, mm) ||
          !requant(l, size_t(mm)))
        return false;
      std::vector<int64_t> shape = in[0]->shape;
      shape.back() = mm;
      if (!expectShape(l, out, shape))
        return false;
      break;
    }
    case LayerKind::Add:
    case LayerKind::Mul: {
      if (!need(2) || !act(*in[0]) || !act(*in[1]) || !act(out))
        return false;
      std::vector<int64_t> shape;
      if (!broadcastShape(in[0]->shape, in[1]->shape, shape))
        return err << "layer '" << l.name << "' operands do not broadcast",
               false;
      if (!expectShape(l, out, shape))
        return false;
      if (l.kind == LayerKind::Mul
              ? !single(l)
              : (l.multiplier.size() != 2 || l.shift.size() != 1 ||
                 !shiftsOk(l, l.shift) || !multipliersOk(l, l.multiplier)))
        return err << " (add: two multipliers, one shift)", false;
      break;
    }
    case LayerKind::MatMul: {
      if (!need(2) || !act(*in[0]) || !act(*in[1]) || !act(out))
        return false;
      const auto &a = in[0]->shape, &b = in[1]->shape;
      std::vector<int64_t> shape;
      if (a.size() < 2 || b.size() < 2 || a.back() != b[b.size() - 2] ||
          !broadcastShape({a.begin(), a.end() - 2}, {b.begin(), b.end() - 2},
                          shape))
        return err << "layer '" << l.name
                   << "' operands are not [..., M, K] x [..., K, N] with "
                      "broadcastable batch dimensions",
               false;
      shape.push_back(a[a.size() - 2]);
      shape.push_back(b.back());
      if (!expectShape(l, out, shape) || !single(l))
        return false;
      break;
    }
    case LayerKind::MaxPool:
    case LayerKind::AvgPool: {
      if (!need(1) || !act(*in[0]) || !act(out) || in[0]->shape.size() != 4 ||
          !window(l, false))
        return false;
      if (l.kind == LayerKind::MaxPool && out.dtype != in[0]->dtype)
        return err << "layer '" << l.name << "' max pool changes dtype", false;
      if (l.kind == LayerKind::AvgPool && !single(l))
        return false;
      const auto &s = in[0]->shape;
      const int64_t oh =
          extent(s[2], l.kernel[0], l.stride[0], l.padding[0], l.padding[2], 1);
      const int64_t ow =
          extent(s[3], l.kernel[1], l.stride[1], l.padding[1], l.padding[3], 1);
      if (!expectShape(l, out, {s[0], s[1], oh, ow}))
        return false;
      break;
    }
    case LayerKind::GlobalAvgPool: {
      if (!need(1) || !act(*in[0]) || !act(out) || in[0]->shape.size() != 4 ||
          !single(l))
        return false;
      const auto &s = in[0]->shape;
      if (!expectShape(l, out, {s[0], s[1], 1, 1}))
        return false;
      break;
    }
    case LayerKind::Concat: {
      if (in.empty() || !act(out))
        return err << "layer '" << l.name << "' concat needs inputs", false;
      const int64_t rank = int64_t(in[0]->shape.size());
      if (l.axis < 0 || l.axis >= rank)
        return err << "layer '" << l.name << "' concat axis", false;
      std::vector<int64_t> shape = in[0]->shape;
      shape[size_t(l.axis)] = 0;
      for (const TensorDesc *t : in) {
        if (!act(*t) || int64_t(t->shape.size()) != rank)
          return false;
        for (int64_t d = 0; d < rank; ++d)
          if (d != l.axis && t->shape[size_t(d)] != shape[size_t(d)])
            return err << "layer '" << l.name << "' concat shapes", false;
        shape[size_t(l.axis)] += t->shape[size_t(l.axis)];
      }
      if (l.multiplier.empty()) {
        for (const TensorDesc *t : in)
          if (t->dtype != out.dtype)
            return err << "layer '" << l.name << "' concat dtypes", false;
      } else if (l.multiplier.size() != in.size() ||
                 l.shift.size() != in.size() || !shiftsOk(l, l.shift) ||
                 !multipliersOk(l, l.multiplier)) {
        return err << "layer '" << l.name
                   << "' needs one multiplier/shift per input",
               false;
      }
      if (!expectShape(l, out, shape))
        return false;
      break;
    }
    case LayerKind::Resize: {
      if (!need(1) || !act(*in[0]) || !act(out) || in[0]->shape.size() != 4 ||
          l.size.size() != 2 || l.size[0] < 1 || l.size[1] < 1 ||
          (l.resizeMode != 0 && l.resizeMode != 1))
        return err << "layer '" << l.name << "' resize parameters", false;
      if (l.resizeMode == 1 && !single(l))
        return false;
      if (l.resizeMode == 0 && out.dtype != in[0]->dtype)
        return err << "layer '" << l.name << "' nearest resize dtype", false;
      const auto &s = in[0]->shape;
      if (!expectShape(l, out, {s[0], s[1], l.size[0], l.size[1]}))
        return false;
      break;
    }
    case LayerKind::Requantize: {
      if (!need(1) || in[0]->dtype == DType::F32 || !act(out) ||
          in[0]->shape != out.shape)
        return false;
      const size_t channels =
          in[0]->shape.size() >= 2 ? size_t(in[0]->shape[1]) : 1;
      if (!requant(l, channels))
        return false;
      break;
    }
    case LayerKind::Lut: {
      if (!need(1) || !act(*in[0]) || !act(out) || in[0]->shape != out.shape)
        return false;
      const size_t entries = in[0]->dtype == DType::I8 ? 256 : 65536;
      if (l.table.size() != entries)
        return err << "layer '" << l.name << "' lut needs " << entries
                   << " entries",
               false;
      break;
    }
    case LayerKind::Reshape:
      if (!need(1) || in[0]->dtype != out.dtype ||
          in[0]->numel() != out.numel())
        return err << "layer '" << l.name << "' reshape changes size", false;
      break;
    case LayerKind::Transpose: {
      if (!need(1) || in[0]->dtype != out.dtype ||
          l.perm.size() != in[0]->shape.size())
        return err << "layer '" << l.name << "' transpose perm", false;
      std::vector<bool> seen(l.perm.size(), false);
      std::vector<int64_t> shape;
      for (int64_t p : l.perm) {
        if (p < 0 || p >= int64_t(seen.size()) || seen[size_t(p)])
          return err << "layer '" << l.name << "' perm is no permutation",
                 false;
        seen[size_t(p)] = true;
        shape.push_back(in[0]->shape[size_t(p)]);
      }
      if (!expectShape(l, out, shape))
        return false;
      break;
    }
    case LayerKind::MsDeformAttn: {
      if (!need(3) || !act(*in[0]) || !act(*in[1]) || !act(*in[2]) || !act(out))
        return false;
      const auto &value = in[0]->shape, &loc = in[1]->shape,
                 &weights = in[2]->shape;
      const size_t levels = l.size.size() / 2;
      int64_t positions = 0;
      bool sizesOk = !l.size.empty() && l.size.size() % 2 == 0;
      for (size_t k = 0; sizesOk && k < levels; ++k) {
        int64_t hw = 0;
        sizesOk =
            l.size[2 * k] >= 1 && l.size[2 * k + 1] >= 1 &&
            !__builtin_mul_overflow(l.size[2 * k], l.size[2 * k + 1], &hw) &&
            !__builtin_add_overflow(positions, hw, &positions);
      }
      if (!sizesOk || value.size() != 4 || value[1] != positions ||
          loc.size() != 6 || (loc[0] != value[0] && loc[0] != 1) ||
          loc[2] != value[2] || loc[3] != int64_t(levels) || loc[5] != 2 ||
          weights != std::vector<int64_t>(loc.begin(), loc.end() - 1))
        return err << "layer '" << l.name
                   << "' (ms_deform_attn) operands are not value [N, S, M, "
                      "D], locations [N, Lq, M, L, P, 2] and weights [N, Lq, "
                      "M, L, P] with S the sum of its levels' H * W",
               false;
      if (!expectShape(l, out, {value[0], loc[1], value[2] * value[3]}))
        return false;
      if (l.multiplier.size() != 1 + 2 * levels ||
          l.shift.size() != l.multiplier.size())
        return err << "layer '" << l.name << "' needs 1 + 2 x " << levels
                   << " multipliers/shifts (output, then x and y per level)",
               false;
      if (!shiftsOk(l, l.shift) || !multipliersOk(l, l.multiplier))
        return false;
      break;
    }
    case LayerKind::LayerNorm: {
      if (!need(1) || !act(*in[0]) || !act(out) || in[0]->shape.empty() ||
          !expectShape(l, out, in[0]->shape))
        return false;
      const int64_t c = in[0]->shape.back();
      if (c < 1 || c > quant::kMaxLayerNormChannels)
        return err << "layer '" << l.name << "' normalises rows of " << c
                   << " values (1.." << quant::kMaxLayerNormChannels << ")",
               false;
      if (l.bias < 0)
        return err << "layer '" << l.name << "' (layer_norm) has no bias",
               false;
      if (!biasOk(l, c))
        return false;
      // Signed multipliers (gamma's sign): |a| < 2^93 in layerNormRow for
      // any int32 value, so only the shifts are bounded.
      if (int64_t(l.multiplier.size()) != c || int64_t(l.shift.size()) != c)
        return err << "layer '" << l.name << "' needs one multiplier/shift "
                   << "per channel (" << c << ")",
               false;
      if (!shiftsOk(l, l.shift))
        return false;
      if (l.normEps < 0)
        return err << "layer '" << l.name << "' has a negative eps", false;
      break;
    }
    case LayerKind::Softmax:
      if (!need(1) || in[0]->dtype != DType::F32 || out.dtype != DType::F32 ||
          in[0]->shape != out.shape || l.axis < 0 ||
          l.axis >= int64_t(out.shape.size()))
        return err << "layer '" << l.name << "' softmax", false;
      break;
    }
    written[size_t(l.output)] = true;
    return true;
  }

  bool run() {
    if (m.arenaBytes < 0 || m.arenaBytes > kMaxBytes)
      return err << "arena size " << m.arenaBytes << " is invalid", false;
    for (const TensorDesc &t : m.tensors) {
      if (!shapeOk(t.shape, dtypeBytes(t.dtype), "tensor '" + t.name + "'"))
        return false;
      if (t.arenaOffset < -1 ||
          (t.arenaOffset >= 0 && t.arenaOffset + t.bytes() > m.arenaBytes))
        return err << "tensor '" << t.name << "' lies outside the arena", false;
      // The runtime reads and writes arena tensors as arrays of their element
      // type (hat-compile aligns every buffer to 64 bytes); a misaligned
      // offset from a damaged file was found by the HBM fuzzer under UBSan.
      if (t.arenaOffset > 0 && t.arenaOffset % dtypeBytes(t.dtype) != 0)
        return err << "tensor '" << t.name << "' at arena offset "
                   << t.arenaOffset << " is not aligned to its "
                   << dtypeBytes(t.dtype) << "-byte elements",
               false;
    }
    for (const Constant &c : m.constants)
      if (!shapeOk(c.shape, dtypeBytes(c.dtype), "constant '" + c.name + "'") ||
          c.groups < 1 || c.shape.empty() || c.shape[0] % c.groups)
        return err << " (constant '" << c.name << "')", false;
    written.assign(m.tensors.size(), false);
    for (size_t i = 0; i < m.tensors.size(); ++i) {
      const TensorDesc &t = m.tensors[i];
      if (t.constant < 0)
        continue;
      const Constant *c = constant(t.constant, "<tensor " + t.name + ">");
      if (!c)
        return false;
      if (t.arenaOffset != -1 || !isAct(t.dtype) || c->dtype != t.dtype ||
          c->layout != "plain" ||
          int64_t(c->data.size()) != t.numel() * dtypeBytes(t.dtype))
        return err << "constant tensor '" << t.name
                   << "' must be an i8/i16 tensor outside the arena whose "
                      "constant holds its elements in the plain layout",
               false;
      written[i] = true;
    }
    if (m.inputs.empty() || m.outputs.empty())
      return err << "model has no inputs or no outputs", false;
    for (int32_t i : m.inputs) {
      const TensorDesc *t = tensor(i, "<inputs>");
      if (!t)
        return false;
      if (t->arenaOffset != -1 || t->dtype != DType::F32 || written[size_t(i)])
        return err << "model input '" << t->name
                   << "' must be a distinct f32 tensor outside the arena",
               false;
      written[size_t(i)] = true;
    }
    for (const Layer &l : m.layers)
      if (!layer(l))
        return false;
    for (int32_t o : m.outputs) {
      const TensorDesc *t = tensor(o, "<outputs>");
      if (!t)
        return false;
      if (!written[size_t(o)] || t->arenaOffset < 0)
        return err << "model output '" << t->name << "' is never written",
               false;
      // An integer output's scale is how the caller dequantizes it.
      if (t->dtype != DType::F32 && !t->scale.empty() &&
          (t->scale.size() != 1 || !(t->scale[0] > 0) ||
           !std::isfinite(t->scale[0])))
        return err << "model output '" << t->name
                   << "' needs one positive finite scale",
               false;
    }
    if (!m.outputNames.empty()) {
      if (m.outputNames.size() != m.outputs.size())
        return err << "output_names has " << m.outputNames.size()
                   << " names for " << m.outputs.size() << " outputs",
               false;
      std::set<std::string> seen;
      for (const std::string &n : m.outputNames)
        if (n.empty() || !seen.insert(n).second)
          return err << "output name '" << n << "' is empty or repeated", false;
    }
    return true;
  }
};

} // namespace

bool validate(const Model &model, std::string &error) {
  Checker c{model, {}, {}};
  if (c.run())
    return true;
  error = c.err.str();
  if (error.empty())
    error = "invalid model";
  return false;
}

} // namespace hat::hbm
