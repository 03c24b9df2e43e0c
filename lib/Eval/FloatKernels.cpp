//===- FloatKernels.cpp - Reference float and layout kernels --------------===//

#include "KernelUtil.h"

#include "hat/Quant/FixedPoint.h"

#include <cmath>
#include <limits>
#include <numeric>

namespace hat::eval {
namespace detail {

Broadcast broadcast(const std::vector<int64_t> &a,
                    const std::vector<int64_t> &b) {
  Broadcast r;
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> ad(rank, 1), bd(rank, 1);
  std::copy(a.begin(), a.end(), ad.begin() + (rank - a.size()));
  std::copy(b.begin(), b.end(), bd.begin() + (rank - b.size()));
  r.shape.resize(rank);
  for (size_t d = 0; d < rank; ++d) {
    HAT_KERNEL_CHECK(ad[d] == bd[d] || ad[d] == 1 || bd[d] == 1,
                     "shapes do not broadcast");
    r.shape[d] = ad[d] == 1 ? bd[d] : ad[d];
  }
  // Strides that are 0 along broadcast dimensions.
  std::vector<int64_t> as(rank, 0), bs(rank, 0);
  int64_t sa = 1, sb = 1;
  for (size_t d = rank; d-- > 0;) {
    as[d] = ad[d] == 1 ? 0 : sa;
    bs[d] = bd[d] == 1 ? 0 : sb;
    sa *= ad[d];
    sb *= bd[d];
  }
  const int64_t n = numelOf(r.shape);
  r.aIndex.resize(size_t(n));
  r.bIndex.resize(size_t(n));
  std::vector<int64_t> idx(rank, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t k = 0; k < n; ++k) {
    r.aIndex[k] = ia;
    r.bIndex[k] = ib;
    // Odometer increment of the output index.
    for (size_t d = rank; d-- > 0;) {
      ++idx[d];
      ia += as[d];
      ib += bs[d];
      if (idx[d] < r.shape[d])
        break;
      ia -= as[d] * idx[d];
      ib -= bs[d] * idx[d];
      idx[d] = 0;
    }
  }
  return r;
}

MatmulGeometry matmulGeometry(const std::vector<int64_t> &lhs,
                              const std::vector<int64_t> &rhs) {
  HAT_KERNEL_CHECK(lhs.size() >= 2 && rhs.size() >= 2,
                   "matmul operands need rank >= 2");
  MatmulGeometry g;
  g.m = lhs[lhs.size() - 2];
  g.k = lhs.back();
  g.n = rhs.back();
  HAT_KERNEL_CHECK(rhs[rhs.size() - 2] == g.k,
                   "matmul contraction dimensions differ");
  Broadcast batch =
      broadcast({lhs.begin(), lhs.end() - 2}, {rhs.begin(), rhs.end() - 2});
  g.shape = batch.shape;
  g.shape.push_back(g.m);
  g.shape.push_back(g.n);
  for (size_t b = 0; b < batch.aIndex.size(); ++b) {
    g.lhsOffset.push_back(batch.aIndex[b] * g.m * g.k);
    g.rhsOffset.push_back(batch.bIndex[b] * g.k * g.n);
  }
  return g;
}

MsDeformGeometry msDeformGeometry(const std::vector<int64_t> &value,
                                  const std::vector<int64_t> &locations,
                                  const std::vector<int64_t> &weights,
                                  const std::vector<int64_t> &spatialShapes) {
  HAT_KERNEL_CHECK(value.size() == 4, "ms_deform_attn value must be 4-d");
  HAT_KERNEL_CHECK(!spatialShapes.empty() && spatialShapes.size() % 2 == 0,
                   "ms_deform_attn spatial shapes must be H, W pairs");
  MsDeformGeometry g;
  g.n = value[0], g.s = value[1], g.m = value[2], g.d = value[3];
  g.levels = int64_t(spatialShapes.size() / 2);
  int64_t positions = 0;
  for (int64_t l = 0; l < g.levels; ++l) {
    g.height.push_back(spatialShapes[size_t(2 * l)]);
    g.width.push_back(spatialShapes[size_t(2 * l + 1)]);
    HAT_KERNEL_CHECK(g.height.back() >= 1 && g.width.back() >= 1,
                     "ms_deform_attn level sizes must be positive");
    g.start.push_back(positions);
    positions += g.height.back() * g.width.back();
  }
  HAT_KERNEL_CHECK(positions == g.s,
                   "ms_deform_attn value positions != sum of H * W");
  HAT_KERNEL_CHECK(
      locations.size() == 6 && (locations[0] == g.n || locations[0] == 1) &&
          locations[2] == g.m && locations[3] == g.levels && locations[5] == 2,
      "ms_deform_attn locations must be [N, Lq, M, L, P, 2]");
  g.lq = locations[1], g.points = locations[4];
  g.locBatch = locations[0];
  HAT_KERNEL_CHECK(
      weights == std::vector<int64_t>(locations.begin(), locations.end() - 1),
      "ms_deform_attn weights must be [N, Lq, M, L, P]");
  return g;
}

int64_t normAxis(int64_t axis, int64_t rank) {
  if (axis < 0)
    axis += rank;
  HAT_KERNEL_CHECK(axis >= 0 && axis < rank, "axis out of range");
  return axis;
}

int32_t saturateTo(int64_t v, DType out) {
  return int32_t(quant::saturate(v, dtypeBits(out)));
}

void checkQOut(DType out) {
  HAT_KERNEL_CHECK(isInteger(out), "integer result dtype expected");
}

ConvGeometry convGeometry(const Tensor &in, const Tensor &w, const Tensor *bias,
                          Pair stride, Quad pad, Pair dilation,
                          int64_t groups) {
  HAT_KERNEL_CHECK(in.rank() == 4 && w.rank() == 4, "conv needs 4-d tensors");
  HAT_KERNEL_CHECK(groups >= 1, "groups must be >= 1");
  HAT_KERNEL_CHECK(stride[0] >= 1 && stride[1] >= 1 && dilation[0] >= 1 &&
                       dilation[1] >= 1,
                   "stride and dilation must be >= 1");
  for (int64_t p : pad)
    HAT_KERNEL_CHECK(p >= 0, "negative padding");
  ConvGeometry g;
  g.n = in.shape[0], g.c = in.shape[1], g.h = in.shape[2], g.w = in.shape[3];
  g.o = w.shape[0], g.cg = w.shape[1], g.kh = w.shape[2], g.kw = w.shape[3];
  g.groups = groups;
  HAT_KERNEL_CHECK(g.cg * groups == g.c, "weight dim 1 * groups != channels");
  HAT_KERNEL_CHECK(g.o % groups == 0,
                   "output channels not divisible by groups");
  if (bias)
    HAT_KERNEL_CHECK(bias->numel() == g.o, "bias size != output channels");
  g.stride = stride, g.dilation = dilation, g.pad = pad;
  g.oh = windowOut(g.h, pad[0], pad[2], dilation[0], g.kh, stride[0]);
  g.ow = windowOut(g.w, pad[1], pad[3], dilation[1], g.kw, stride[1]);
  return g;
}

PoolGeometry poolGeometry(const Tensor &in, Pair kernel, Pair stride,
                          Quad pad) {
  HAT_KERNEL_CHECK(in.rank() == 4, "pooling needs NCHW");
  HAT_KERNEL_CHECK(kernel[0] >= 1 && kernel[1] >= 1 && stride[0] >= 1 &&
                       stride[1] >= 1,
                   "kernel and stride must be >= 1");
  for (int64_t p : pad)
    HAT_KERNEL_CHECK(p >= 0, "negative padding");
  PoolGeometry g;
  g.planes = in.shape[0] * in.shape[1];
  g.h = in.shape[2];
  g.w = in.shape[3];
  g.oh = windowOut(g.h, pad[0], pad[2], 1, kernel[0], stride[0]);
  g.ow = windowOut(g.w, pad[1], pad[3], 1, kernel[1], stride[1]);
  return g;
}

} // namespace detail

using namespace detail;

namespace {

void checkF32(const Tensor &t, const char *what) {
  HAT_KERNEL_CHECK(t.dtype == DType::F32, what);
  HAT_KERNEL_CHECK(int64_t(t.f.size()) == t.numel(),
                   "f32 data size does not match shape");
}

void checkInts(const Tensor &t) {
  HAT_KERNEL_CHECK(isInteger(t.dtype), "integer tensor expected");
  HAT_KERNEL_CHECK(int64_t(t.i.size()) == t.numel(),
                   "integer data size does not match shape");
}

void checkData(const Tensor &t) {
  if (t.dtype == DType::F32)
    checkF32(t, "f32");
  else
    checkInts(t);
}

/// Allocates a result with `t`'s dtype and the given shape.
Tensor like(const Tensor &t, std::vector<int64_t> shape) {
  return t.dtype == DType::F32 ? Tensor::f32(std::move(shape))
                               : Tensor::ints(t.dtype, std::move(shape));
}

template <typename T> T lowest() { return std::numeric_limits<T>::lowest(); }

template <typename T>
void maxPoolImpl(const T *in, T *out, const PoolGeometry &g, Pair kernel,
                 Pair stride, Quad pad) {
  for (int64_t p = 0; p < g.planes; ++p) {
    const T *ip = in + p * g.h * g.w;
    T *op = out + p * g.oh * g.ow;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t y0 = oy * stride[0] - pad[0];
      const int64_t yLo = std::max<int64_t>(y0, 0);
      const int64_t yHi = std::min<int64_t>(y0 + kernel[0], g.h);
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t x0 = ox * stride[1] - pad[1];
        const int64_t xLo = std::max<int64_t>(x0, 0);
        const int64_t xHi = std::min<int64_t>(x0 + kernel[1], g.w);
        T best = lowest<T>();
        bool any = false;
        for (int64_t y = yLo; y < yHi; ++y)
          for (int64_t x = xLo; x < xHi; ++x) {
            const T v = ip[y * g.w + x];
            // NaN propagates as in torch.
            if (!any || v > best || v != v)
              best = v;
            any = true;
          }
        op[oy * g.ow + ox] = any ? best : T(0);
      }
    }
  }
}

template <typename T>
void concatImpl(const std::vector<const Tensor *> &ins, int64_t axis,
                const std::vector<const std::vector<T> *> &data,
                std::vector<T> &out, const std::vector<int64_t> &outShape) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= outShape[d];
  for (size_t d = size_t(axis) + 1; d < outShape.size(); ++d)
    inner *= outShape[d];
  T *dst = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < ins.size(); ++k) {
      const int64_t chunk = ins[k]->shape[axis] * inner;
      const T *src = data[k]->data() + o * chunk;
      dst = std::copy(src, src + chunk, dst);
    }
}

template <typename T>
void nearestImpl(const T *in, T *out, int64_t planes, int64_t h, int64_t w,
                 int64_t oh, int64_t ow) {
  const std::vector<int64_t> ys = nearestIndices(h, oh);
  const std::vector<int64_t> xs = nearestIndices(w, ow);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x)
        out[(p * oh + y) * ow + x] = in[(p * h + ys[y]) * w + xs[x]];
}

template <typename T>
void transposeImpl(const T *in, T *out, const std::vector<int64_t> &inShape,
                   const std::vector<int64_t> &perm,
                   const std::vector<int64_t> &outShape) {
  const size_t rank = inShape.size();
  // Stride in the input of each output dimension.
  std::vector<int64_t> step(rank);
  for (size_t d = 0; d < rank; ++d) {
    int64_t stride = 1;
    for (size_t e = size_t(perm[d]) + 1; e < rank; ++e)
      stride *= inShape[e];
    step[d] = stride;
  }
  const int64_t n = numelOf(outShape);
  std::vector<int64_t> idx(rank, 0);
  int64_t src = 0;
  for (int64_t k = 0; k < n; ++k) {
    out[k] = in[src];
    for (size_t d = rank; d-- > 0;) {
      ++idx[d];
      src += step[d];
      if (idx[d] < outShape[d])
        break;
      src -= step[d] * idx[d];
      idx[d] = 0;
    }
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Float kernels
//===----------------------------------------------------------------------===//

Tensor conv2d(const Tensor &in, const Tensor &w, const Tensor *bias,
              Pair stride, Quad pad, Pair dilation, int64_t groups) {
  checkF32(in, "conv2d input must be f32");
  checkF32(w, "conv2d weight must be f32");
  if (bias)
    checkF32(*bias, "conv2d bias must be f32");
  ConvGeometry g = convGeometry(in, w, bias, stride, pad, dilation, groups);
  Tensor out = Tensor::f32({g.n, g.o, g.oh, g.ow});
  if (bias)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t o = 0; o < g.o; ++o)
        std::fill_n(out.f.data() + (n * g.o + o) * g.oh * g.ow, g.oh * g.ow,
                    bias->f[o]);
  convAccumulate<float, float, float>(g, in.f.data(), w.f.data(), out.f.data());
  return out;
}

Tensor linear(const Tensor &in, const Tensor &w, const Tensor *bias) {
  checkF32(in, "linear input must be f32");
  checkF32(w, "linear weight must be f32");
  HAT_KERNEL_CHECK(in.rank() >= 1 && w.rank() == 2, "linear shapes");
  const int64_t k = w.shape[1], m = w.shape[0];
  HAT_KERNEL_CHECK(in.shape.back() == k, "linear: input last dim != K");
  if (bias) {
    checkF32(*bias, "linear bias must be f32");
    HAT_KERNEL_CHECK(bias->numel() == m, "linear: bias size != M");
  }
  std::vector<int64_t> shape = in.shape;
  shape.back() = m;
  Tensor out = Tensor::f32(shape);
  const int64_t rows =
      k == 0 ? out.numel() / std::max<int64_t>(m, 1) : in.numel() / k;
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = in.f.data() + r * k;
    for (int64_t j = 0; j < m; ++j) {
      const float *wr = w.f.data() + j * k;
      float acc = 0.0f;
      for (int64_t t = 0; t < k; ++t)
        acc += x[t] * wr[t];
      out.f[r * m + j] = acc + (bias ? bias->f[j] : 0.0f);
    }
  }
  return out;
}

Tensor matmul(const Tensor &lhs, const Tensor &rhs) {
  checkF32(lhs, "matmul lhs must be f32");
  checkF32(rhs, "matmul rhs must be f32");
  const MatmulGeometry g = matmulGeometry(lhs.shape, rhs.shape);
  Tensor out = Tensor::f32(g.shape);
  for (size_t b = 0; b < g.lhsOffset.size(); ++b) {
    const float *a = lhs.f.data() + g.lhsOffset[b];
    const float *w = rhs.f.data() + g.rhsOffset[b];
    float *o = out.f.data() + int64_t(b) * g.m * g.n;
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        float acc = 0.0f;
        for (int64_t t = 0; t < g.k; ++t)
          acc += a[i * g.k + t] * w[t * g.n + j];
        o[i * g.n + j] = acc;
      }
  }
  return out;
}

Tensor batchNorm(const Tensor &in, const Tensor &gamma, const Tensor &beta,
                 const Tensor &mean, const Tensor &var, float eps) {
  checkF32(in, "batchNorm input must be f32");
  HAT_KERNEL_CHECK(in.rank() >= 2, "batchNorm needs [N, C, ...]");
  const int64_t c = in.shape[1];
  for (const Tensor *p : {&gamma, &beta, &mean, &var}) {
    checkF32(*p, "batchNorm parameters must be f32");
    HAT_KERNEL_CHECK(p->numel() == c, "batchNorm parameter size != C");
  }
  const int64_t inner = c ? in.numel() / (in.shape[0] * c) : 0;
  Tensor out = Tensor::f32(in.shape);
  // torch's inference form: y = x * alpha + (beta - mean * alpha).
  for (int64_t ch = 0; ch < c; ++ch) {
    const float alpha = gamma.f[ch] / std::sqrt(var.f[ch] + eps);
    const float shift = beta.f[ch] - mean.f[ch] * alpha;
    for (int64_t n = 0; n < in.shape[0]; ++n) {
      const int64_t base = (n * c + ch) * inner;
      for (int64_t t = 0; t < inner; ++t)
        out.f[base + t] = in.f[base + t] * alpha + shift;
    }
  }
  return out;
}

Tensor msDeformAttn(const Tensor &value, const Tensor &locations,
                    const Tensor &weights,
                    const std::vector<int64_t> &spatialShapes) {
  checkF32(value, "ms_deform_attn value must be f32");
  checkF32(locations, "ms_deform_attn locations must be f32");
  checkF32(weights, "ms_deform_attn weights must be f32");
  const MsDeformGeometry g = msDeformGeometry(value.shape, locations.shape,
                                              weights.shape, spatialShapes);
  Tensor out = Tensor::f32({g.n, g.lq, g.m * g.d});
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t q = 0; q < g.lq; ++q)
      for (int64_t h = 0; h < g.m; ++h) {
        float *o = out.f.data() + ((b * g.lq + q) * g.m + h) * g.d;
        for (int64_t l = 0; l < g.levels; ++l) {
          const int64_t height = g.height[size_t(l)],
                        width = g.width[size_t(l)];
          for (int64_t p = 0; p < g.points; ++p) {
            const int64_t at = g.pointAt(b, q, h, l, p);
            const float a = weights.f[size_t(at)];
            // grid_sample, align_corners=False: pixel = loc * size - 0.5.
            // Clamping first keeps floor() representable; anything beyond
            // one pixel outside samples only zeros either way.
            float x = locations.f[size_t(2 * at)] * float(width) - 0.5f;
            float y = locations.f[size_t(2 * at + 1)] * float(height) - 0.5f;
            if (!std::isfinite(x) || !std::isfinite(y))
              continue;
            x = std::min(std::max(x, -2.f), float(width) + 1.f);
            y = std::min(std::max(y, -2.f), float(height) + 1.f);
            const float fx0 = std::floor(x), fy0 = std::floor(y);
            const float fx = x - fx0, fy = y - fy0;
            const int64_t x0 = int64_t(fx0), y0 = int64_t(fy0);
            const struct {
              int64_t yy, xx;
              float w;
            } corners[4] = {{y0, x0, (1 - fx) * (1 - fy)},
                            {y0, x0 + 1, fx * (1 - fy)},
                            {y0 + 1, x0, (1 - fx) * fy},
                            {y0 + 1, x0 + 1, fx * fy}};
            for (const auto &c : corners) {
              if (c.yy < 0 || c.yy >= height || c.xx < 0 || c.xx >= width)
                continue;
              const float *v =
                  value.f.data() +
                  g.valueAt(b, g.start[size_t(l)] + c.yy * width + c.xx, h);
              const float k = a * c.w;
              for (int64_t ch = 0; ch < g.d; ++ch)
                o[ch] += k * v[ch];
            }
          }
        }
      }
  return out;
}

Tensor layerNorm(const Tensor &in, const Tensor &gamma, const Tensor &beta,
                 float eps) {
  checkF32(in, "layerNorm input must be f32");
  HAT_KERNEL_CHECK(in.rank() >= 1, "layerNorm needs rank >= 1");
  const int64_t c = in.shape.back();
  for (const Tensor *p : {&gamma, &beta}) {
    checkF32(*p, "layerNorm parameters must be f32");
    HAT_KERNEL_CHECK(p->numel() == c, "layerNorm parameter size != C");
  }
  Tensor out = Tensor::f32(in.shape);
  const int64_t rows = c ? in.numel() / c : 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = in.f.data() + r * c;
    float *y = out.f.data() + r * c;
    double sum = 0.0;
    for (int64_t k = 0; k < c; ++k)
      sum += x[k];
    const double mean = sum / double(c);
    double squares = 0.0;
    for (int64_t k = 0; k < c; ++k)
      squares += (x[k] - mean) * (x[k] - mean);
    const double inv = 1.0 / std::sqrt(squares / double(c) + double(eps));
    for (int64_t k = 0; k < c; ++k)
      y[k] = float((x[k] - mean) * inv) * gamma.f[k] + beta.f[k];
  }
  return out;
}

float unaryValue(float x, Unary op) {
  switch (op) {
  case Unary::Relu:
    return x > 0.0f ? x : 0.0f;
  case Unary::Relu6:
    return std::min(std::max(x, 0.0f), 6.0f);
  case Unary::Sigmoid:
    return 1.0f / (1.0f + std::exp(-x));
  case Unary::Silu:
    return x / (1.0f + std::exp(-x));
  case Unary::Hardswish:
    return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  }
  return x;
}

Tensor unary(const Tensor &in, Unary op) {
  checkF32(in, "unary input must be f32");
  Tensor out = Tensor::f32(in.shape);
  for (int64_t k = 0; k < in.numel(); ++k)
    out.f[k] = unaryValue(in.f[k], op);
  return out;
}

Tensor add(const Tensor &a, const Tensor &b) {
  checkF32(a, "add operands must be f32");
  checkF32(b, "add operands must be f32");
  Broadcast bc = broadcast(a.shape, b.shape);
  Tensor out = Tensor::f32(bc.shape);
  for (size_t k = 0; k < out.f.size(); ++k)
    out.f[k] = a.f[bc.aIndex[k]] + b.f[bc.bIndex[k]];
  return out;
}

Tensor mul(const Tensor &a, const Tensor &b) {
  checkF32(a, "mul operands must be f32");
  checkF32(b, "mul operands must be f32");
  Broadcast bc = broadcast(a.shape, b.shape);
  Tensor out = Tensor::f32(bc.shape);
  for (size_t k = 0; k < out.f.size(); ++k)
    out.f[k] = a.f[bc.aIndex[k]] * b.f[bc.bIndex[k]];
  return out;
}

std::vector<double> fusionWeights(const std::vector<float> &raw, float eps) {
  std::vector<double> w(raw.size());
  double sum = 0.0;
  for (size_t i = 0; i < raw.size(); ++i)
    sum += w[i] = raw[i] > 0.0f ? (double)raw[i] : 0.0;
  for (double &v : w)
    v /= sum + (double)eps;
  return w;
}

Tensor weightedSum(const std::vector<const Tensor *> &ins,
                   const Tensor &weights, float eps) {
  HAT_KERNEL_CHECK(ins.size() >= 2, "weighted_sum needs at least 2 inputs");
  checkF32(weights, "weighted_sum weights must be f32");
  HAT_KERNEL_CHECK(weights.numel() == (int64_t)ins.size(),
                   "weighted_sum needs one weight per input");
  std::vector<double> w = fusionWeights(weights.f, eps);
  Tensor out = Tensor::f32(ins[0]->shape);
  for (size_t i = 0; i < ins.size(); ++i) {
    checkF32(*ins[i], "weighted_sum inputs must be f32");
    HAT_KERNEL_CHECK(ins[i]->shape == out.shape,
                     "weighted_sum inputs must have one shape");
    const float wi = (float)w[i];
    for (size_t k = 0; k < out.f.size(); ++k)
      out.f[k] += wi * ins[i]->f[k];
  }
  return out;
}

Tensor concat(const std::vector<const Tensor *> &ins, int64_t axis) {
  HAT_KERNEL_CHECK(!ins.empty(), "concat needs inputs");
  const Tensor &first = *ins[0];
  axis = normAxis(axis, first.rank());
  std::vector<int64_t> shape = first.shape;
  shape[axis] = 0;
  for (const Tensor *t : ins) {
    checkData(*t);
    HAT_KERNEL_CHECK(t->dtype == first.dtype, "concat dtypes differ");
    HAT_KERNEL_CHECK(t->rank() == first.rank(), "concat ranks differ");
    for (int64_t d = 0; d < first.rank(); ++d)
      HAT_KERNEL_CHECK(d == axis || t->shape[d] == first.shape[d],
                       "concat shapes differ off the axis");
    shape[axis] += t->shape[axis];
  }
  Tensor out = like(first, shape);
  if (first.dtype == DType::F32) {
    std::vector<const std::vector<float> *> data;
    for (const Tensor *t : ins)
      data.push_back(&t->f);
    concatImpl(ins, axis, data, out.f, shape);
  } else {
    std::vector<const std::vector<int32_t> *> data;
    for (const Tensor *t : ins)
      data.push_back(&t->i);
    concatImpl(ins, axis, data, out.i, shape);
  }
  return out;
}

Tensor maxPool2d(const Tensor &in, Pair kernel, Pair stride, Quad pad) {
  checkData(in);
  PoolGeometry g = poolGeometry(in, kernel, stride, pad);
  Tensor out = like(in, {in.shape[0], in.shape[1], g.oh, g.ow});
  if (in.dtype == DType::F32)
    maxPoolImpl(in.f.data(), out.f.data(), g, kernel, stride, pad);
  else
    maxPoolImpl(in.i.data(), out.i.data(), g, kernel, stride, pad);
  return out;
}

Tensor avgPool2d(const Tensor &in, Pair kernel, Pair stride, Quad pad) {
  checkF32(in, "avgPool2d input must be f32");
  PoolGeometry g = poolGeometry(in, kernel, stride, pad);
  Tensor out = Tensor::f32({in.shape[0], in.shape[1], g.oh, g.ow});
  const float divisor = float(kernel[0] * kernel[1]);
  for (int64_t p = 0; p < g.planes; ++p) {
    const float *ip = in.f.data() + p * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t y0 = oy * stride[0] - pad[0];
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t x0 = ox * stride[1] - pad[1];
        float sum = 0.0f;
        for (int64_t y = std::max<int64_t>(y0, 0);
             y < std::min<int64_t>(y0 + kernel[0], g.h); ++y)
          for (int64_t x = std::max<int64_t>(x0, 0);
               x < std::min<int64_t>(x0 + kernel[1], g.w); ++x)
            sum += ip[y * g.w + x];
        out.f[(p * g.oh + oy) * g.ow + ox] = sum / divisor;
      }
    }
  }
  return out;
}

Tensor globalAvgPool(const Tensor &in) {
  checkF32(in, "globalAvgPool input must be f32");
  HAT_KERNEL_CHECK(in.rank() == 4, "globalAvgPool needs NCHW");
  const int64_t hw = in.shape[2] * in.shape[3];
  Tensor out = Tensor::f32({in.shape[0], in.shape[1], 1, 1});
  for (int64_t p = 0; p < in.shape[0] * in.shape[1]; ++p) {
    double sum = 0.0;
    for (int64_t k = 0; k < hw; ++k)
      sum += in.f[p * hw + k];
    out.f[p] = hw ? float(sum / double(hw)) : 0.0f;
  }
  return out;
}

std::vector<int64_t> nearestIndices(int64_t in, int64_t out) {
  std::vector<int64_t> idx(size_t(std::max<int64_t>(out, 0)));
  for (int64_t d = 0; d < out; ++d)
    idx[d] = std::min(d * in / out, in - 1);
  return idx;
}

std::vector<LinearTap> bilinearTaps(int64_t in, int64_t out,
                                    bool alignCorners) {
  std::vector<LinearTap> taps(size_t(std::max<int64_t>(out, 0)));
  // Same float arithmetic as torch's area_pixel_compute_scale /
  // area_pixel_compute_source_index for float tensors.
  float scale;
  if (alignCorners)
    scale = out > 1 ? float(in - 1) / float(out - 1) : 0.0f;
  else
    scale = float(in) / float(out);
  for (int64_t d = 0; d < out; ++d) {
    float src;
    if (alignCorners) {
      src = scale * float(d);
    } else {
      // torch forms dst + 0.5 as a double, so this step is in double.
      src = float(double(scale) * (double(d) + 0.5) - 0.5);
      src = src < 0.0f ? 0.0f : src;
    }
    LinearTap &t = taps[d];
    t.i0 = std::min<int64_t>(int64_t(src), in - 1);
    t.i1 = std::min<int64_t>(t.i0 + 1, in - 1);
    // At the last row/column i1 == i0, so lambda1 no longer matters.
    t.lambda1 = std::min(std::max(src - float(t.i0), 0.0f), 1.0f);
    t.w1 = int32_t(std::nearbyint(t.lambda1 * 1024.0f));
  }
  return taps;
}

Tensor resize(const Tensor &in, ResizeMode mode, int64_t outH, int64_t outW,
              bool alignCorners) {
  checkData(in);
  HAT_KERNEL_CHECK(in.rank() == 4, "resize needs NCHW");
  HAT_KERNEL_CHECK(outH >= 1 && outW >= 1, "resize output must be non-empty");
  const int64_t planes = in.shape[0] * in.shape[1];
  const int64_t h = in.shape[2], w = in.shape[3];
  HAT_KERNEL_CHECK(h >= 1 && w >= 1, "resize input must be non-empty");
  Tensor out = like(in, {in.shape[0], in.shape[1], outH, outW});
  if (mode == ResizeMode::Nearest) {
    if (in.dtype == DType::F32)
      nearestImpl(in.f.data(), out.f.data(), planes, h, w, outH, outW);
    else
      nearestImpl(in.i.data(), out.i.data(), planes, h, w, outH, outW);
    return out;
  }
  checkF32(in, "bilinear resize input must be f32");
  const std::vector<LinearTap> ys = bilinearTaps(h, outH, alignCorners);
  const std::vector<LinearTap> xs = bilinearTaps(w, outW, alignCorners);
  for (int64_t p = 0; p < planes; ++p) {
    const float *ip = in.f.data() + p * h * w;
    for (int64_t y = 0; y < outH; ++y) {
      const LinearTap &ty = ys[y];
      const float h1 = ty.lambda1, h0 = 1.0f - h1;
      const float *r0 = ip + ty.i0 * w, *r1 = ip + ty.i1 * w;
      for (int64_t x = 0; x < outW; ++x) {
        const LinearTap &tx = xs[x];
        const float w1 = tx.lambda1, w0 = 1.0f - w1;
        out.f[(p * outH + y) * outW + x] =
            h0 * (w0 * r0[tx.i0] + w1 * r0[tx.i1]) +
            h1 * (w0 * r1[tx.i0] + w1 * r1[tx.i1]);
      }
    }
  }
  return out;
}

Tensor reshape(const Tensor &in, const std::vector<int64_t> &shape) {
  checkData(in);
  for (int64_t d : shape)
    HAT_KERNEL_CHECK(d >= 0, "reshape dims must be known and >= 0");
  HAT_KERNEL_CHECK(numelOf(shape) == in.numel(), "reshape changes numel");
  Tensor out = in;
  out.shape = shape;
  return out;
}

Tensor transpose(const Tensor &in, const std::vector<int64_t> &perm) {
  checkData(in);
  HAT_KERNEL_CHECK(int64_t(perm.size()) == in.rank(), "perm size != rank");
  std::vector<bool> seen(perm.size(), false);
  std::vector<int64_t> shape(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) {
    HAT_KERNEL_CHECK(perm[d] >= 0 && perm[d] < in.rank() && !seen[perm[d]],
                     "perm is not a permutation");
    seen[perm[d]] = true;
    shape[d] = in.shape[perm[d]];
  }
  Tensor out = like(in, shape);
  if (in.dtype == DType::F32)
    transposeImpl(in.f.data(), out.f.data(), in.shape, perm, shape);
  else
    transposeImpl(in.i.data(), out.i.data(), in.shape, perm, shape);
  return out;
}

Tensor softmax(const Tensor &in, int64_t axis) {
  checkF32(in, "softmax input must be f32");
  axis = normAxis(axis, in.rank());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= in.shape[d];
  for (int64_t d = axis + 1; d < in.rank(); ++d)
    inner *= in.shape[d];
  const int64_t len = in.shape[axis];
  Tensor out = Tensor::f32(in.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t r = 0; r < inner; ++r) {
      const int64_t base = o * len * inner + r;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < len; ++k)
        mx = std::max(mx, in.f[base + k * inner]);
      double sum = 0.0;
      for (int64_t k = 0; k < len; ++k) {
        const float e = std::exp(in.f[base + k * inner] - mx);
        out.f[base + k * inner] = e;
        sum += e;
      }
      for (int64_t k = 0; k < len; ++k)
        out.f[base + k * inner] = float(out.f[base + k * inner] / sum);
    }
  return out;
}

//===----------------------------------------------------------------------===//
// Quantization boundaries
//===----------------------------------------------------------------------===//

namespace {

/// Calls fn(flatIndex, channel) for every element, where channel indexes
/// `axis` (always 0 when axis == -1).
template <typename Fn>
void forEachChannel(const Tensor &t, int64_t axis, size_t numScales, Fn fn) {
  if (axis == -1) {
    HAT_KERNEL_CHECK(numScales == 1, "per-tensor needs exactly one scale");
    for (int64_t k = 0; k < t.numel(); ++k)
      fn(k, 0);
    return;
  }
  HAT_KERNEL_CHECK(axis >= 0 && axis < t.rank(), "axis out of range");
  const int64_t channels = t.shape[axis];
  HAT_KERNEL_CHECK(int64_t(numScales) == channels,
                   "one scale per channel expected");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= t.shape[d];
  for (int64_t d = axis + 1; d < t.rank(); ++d)
    inner *= t.shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t r = 0; r < inner; ++r)
        fn((o * channels + c) * inner + r, c);
}

} // namespace

Tensor fakeQuant(const Tensor &in, int bits, int64_t axis,
                 const std::vector<float> &scales) {
  checkF32(in, "fakeQuant input must be f32");
  Tensor out = Tensor::f32(in.shape);
  forEachChannel(in, axis, scales.size(), [&](int64_t k, int64_t c) {
    out.f[k] = quant::fakeQuantValue(in.f[k], scales[c], bits);
  });
  return out;
}

Tensor quantize(const Tensor &in, float scale, DType out) {
  checkF32(in, "quantize input must be f32");
  HAT_KERNEL_CHECK(out == DType::I8 || out == DType::I16,
                   "quantize produces i8 or i16");
  Tensor r = Tensor::ints(out, in.shape);
  const int bits = dtypeBits(out);
  for (int64_t k = 0; k < in.numel(); ++k)
    r.i[k] = int32_t(quant::quantizeValue(in.f[k], scale, bits));
  return r;
}

Tensor dequantize(const Tensor &in, const std::vector<float> &scales,
                  int64_t axis) {
  checkInts(in);
  Tensor out = Tensor::f32(in.shape);
  forEachChannel(in, axis, scales.size(), [&](int64_t k, int64_t c) {
    out.f[k] = float(in.i[k]) * scales[c];
  });
  return out;
}

} // namespace hat::eval
