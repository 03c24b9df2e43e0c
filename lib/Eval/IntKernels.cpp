//===- IntKernels.cpp - Reference integer kernels -------------------------===//
//
// Every kernel here ends in hat::quant::applyRequant (or its 128-bit twin for
// the one accumulator that can exceed 2^31), an optional ReLU at 0 and a
// saturation to the result dtype: docs/quantization.md, section by section.
//
//===----------------------------------------------------------------------===//

#include "KernelUtil.h"

#include "hat/Quant/FixedPoint.h"

#include <limits>

namespace hat::eval {

using namespace detail;
using quant::applyRequant;

namespace {

void checkActivation(const Tensor &t) {
  HAT_KERNEL_CHECK(t.dtype == DType::I8 || t.dtype == DType::I16,
                   "integer activations must be i8 or i16");
  HAT_KERNEL_CHECK(int64_t(t.i.size()) == t.numel(),
                   "integer data size does not match shape");
}

void checkRq(const Requantization &rq, int64_t channels) {
  checkQOut(rq.out);
  HAT_KERNEL_CHECK(rq.multiplier.size() == rq.shift.size(),
                   "multiplier and shift counts differ");
  HAT_KERNEL_CHECK(rq.multiplier.size() == 1 ||
                       int64_t(rq.multiplier.size()) == channels,
                   "need one multiplier/shift or one per channel");
  for (int32_t s : rq.shift)
    HAT_KERNEL_CHECK(s >= 0 && s <= quant::kMaxShift, "shift outside [0, 62]");
}

void checkShift(int32_t shift) {
  HAT_KERNEL_CHECK(shift >= 0 && shift <= quant::kMaxShift,
                   "shift outside [0, 62]");
}

/// Accumulators of conv, linear and the pools are int32 on the NPU: the exact
/// sum saturates there (which also keeps |acc * multiplier| < 2^62).
int64_t clampAcc(int64_t acc) {
  constexpr int64_t lo = std::numeric_limits<int32_t>::min();
  constexpr int64_t hi = std::numeric_limits<int32_t>::max();
  return acc < lo ? lo : (acc > hi ? hi : acc);
}

/// Requantized value -> optional ReLU -> saturation.
int32_t finish(int64_t v, bool relu, DType out) {
  if (relu && v < 0)
    v = 0;
  return saturateTo(v, out);
}

} // namespace

Tensor qconv2d(const Tensor &in, const Tensor &w, const Tensor *bias,
               Pair stride, Quad pad, Pair dilation, int64_t groups,
               const Requantization &rq) {
  checkActivation(in);
  HAT_KERNEL_CHECK(w.dtype == DType::I8 && int64_t(w.i.size()) == w.numel(),
                   "qconv2d weight must be i8");
  if (bias)
    HAT_KERNEL_CHECK(bias->dtype == DType::I32 &&
                         int64_t(bias->i.size()) == bias->numel(),
                     "qconv2d bias must be i32");
  ConvGeometry g = convGeometry(in, w, bias, stride, pad, dilation, groups);
  checkRq(rq, g.o);
  const int64_t plane = g.oh * g.ow;
  std::vector<int64_t> acc(size_t(g.n * g.o * plane), 0);
  if (bias)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t o = 0; o < g.o; ++o)
        std::fill_n(acc.data() + (n * g.o + o) * plane, plane,
                    int64_t(bias->i[o]));
  convAccumulate<int64_t, int32_t, int32_t>(g, in.i.data(), w.i.data(),
                                            acc.data());
  Tensor out = Tensor::ints(rq.out, {g.n, g.o, g.oh, g.ow});
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o) {
      const size_t c = rq.multiplier.size() == 1 ? 0 : size_t(o);
      const int64_t base = (n * g.o + o) * plane;
      for (int64_t k = 0; k < plane; ++k)
        out.i[base + k] = finish(applyRequant(clampAcc(acc[base + k]),
                                              rq.multiplier[c], rq.shift[c]),
                                 rq.relu, rq.out);
    }
  return out;
}

Tensor qlinear(const Tensor &in, const Tensor &w, const Tensor *bias,
               const Requantization &rq) {
  checkActivation(in);
  HAT_KERNEL_CHECK(w.dtype == DType::I8 && w.rank() == 2 &&
                       int64_t(w.i.size()) == w.numel(),
                   "qlinear weight must be 2-d i8");
  const int64_t k = w.shape[1], m = w.shape[0];
  HAT_KERNEL_CHECK(in.rank() >= 1 && in.shape.back() == k,
                   "qlinear: input last dim != K");
  if (bias)
    HAT_KERNEL_CHECK(bias->dtype == DType::I32 && bias->numel() == m &&
                         int64_t(bias->i.size()) == m,
                     "qlinear bias must be i32 [M]");
  checkRq(rq, m);
  std::vector<int64_t> shape = in.shape;
  shape.back() = m;
  Tensor out = Tensor::ints(rq.out, shape);
  const int64_t rows =
      k ? in.numel() / k : out.numel() / std::max<int64_t>(m, 1);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t *x = in.i.data() + r * k;
    for (int64_t j = 0; j < m; ++j) {
      const int32_t *wr = w.i.data() + j * k;
      int64_t acc = bias ? bias->i[j] : 0;
      for (int64_t t = 0; t < k; ++t)
        acc += int64_t(x[t]) * wr[t];
      const size_t c = rq.multiplier.size() == 1 ? 0 : size_t(j);
      out.i[r * m + j] =
          finish(applyRequant(clampAcc(acc), rq.multiplier[c], rq.shift[c]),
                 rq.relu, rq.out);
    }
  }
  return out;
}

Tensor qadd(const Tensor &a, const Tensor &b, int32_t lhsMultiplier,
            int32_t rhsMultiplier, int32_t shift, bool relu, DType out) {
  checkActivation(a);
  checkActivation(b);
  checkQOut(out);
  checkShift(shift);
  Broadcast bc = broadcast(a.shape, b.shape);
  Tensor r = Tensor::ints(out, bc.shape);
  const int64_t round = shift > 0 ? (int64_t(1) << (shift - 1)) : 0;
  for (size_t k = 0; k < r.i.size(); ++k) {
    // |q| <= 2^15 and |multiplier| < 2^31: the sum stays below 2^47.
    const int64_t sum = int64_t(a.i[bc.aIndex[k]]) * lhsMultiplier +
                        int64_t(b.i[bc.bIndex[k]]) * rhsMultiplier;
    r.i[k] = finish((sum + round) >> shift, relu, out);
  }
  return r;
}

Tensor qmul(const Tensor &a, const Tensor &b, int32_t multiplier, int32_t shift,
            DType out) {
  checkActivation(a);
  checkActivation(b);
  checkQOut(out);
  checkShift(shift);
  Broadcast bc = broadcast(a.shape, b.shape);
  Tensor r = Tensor::ints(out, bc.shape);
  for (size_t k = 0; k < r.i.size(); ++k) {
    const int64_t prod = int64_t(a.i[bc.aIndex[k]]) * b.i[bc.bIndex[k]];
    r.i[k] = finish(applyRequant(prod, multiplier, shift), false, out);
  }
  return r;
}

Tensor qmatmul(const Tensor &lhs, const Tensor &rhs, int32_t multiplier,
               int32_t shift, DType out) {
  checkActivation(lhs);
  checkActivation(rhs);
  checkQOut(out);
  checkShift(shift);
  const MatmulGeometry g = matmulGeometry(lhs.shape, rhs.shape);
  Tensor r = Tensor::ints(out, g.shape);
  for (size_t b = 0; b < g.lhsOffset.size(); ++b) {
    const int32_t *a = lhs.i.data() + g.lhsOffset[b];
    const int32_t *w = rhs.i.data() + g.rhsOffset[b];
    int32_t *o = r.i.data() + int64_t(b) * g.m * g.n;
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        int64_t acc = 0;
        for (int64_t t = 0; t < g.k; ++t)
          acc += int64_t(a[i * g.k + t]) * w[t * g.n + j];
        o[i * g.n + j] =
            finish(applyRequant(clampAcc(acc), multiplier, shift), false, out);
      }
  }
  return r;
}

Tensor qmsDeformAttn(const Tensor &value, const Tensor &locations,
                     const Tensor &weights,
                     const std::vector<int64_t> &spatialShapes,
                     const std::vector<int32_t> &locMultiplier,
                     const std::vector<int32_t> &locShift, int32_t multiplier,
                     int32_t shift, DType out) {
  checkActivation(value);
  checkActivation(locations);
  checkActivation(weights);
  checkQOut(out);
  checkShift(shift);
  const MsDeformGeometry g = msDeformGeometry(value.shape, locations.shape,
                                              weights.shape, spatialShapes);
  HAT_KERNEL_CHECK(int64_t(locMultiplier.size()) == 2 * g.levels &&
                       int64_t(locShift.size()) == 2 * g.levels,
                   "qms_deform_attn needs an x and a y requantization per "
                   "level");
  for (size_t k = 0; k < locShift.size(); ++k) {
    checkShift(locShift[k]);
    HAT_KERNEL_CHECK(locMultiplier[k] >= 0,
                     "qms_deform_attn location multipliers must be >= 0");
  }
  HAT_KERNEL_CHECK(multiplier >= 0, "multiplier must be >= 0");
  Tensor r = Tensor::ints(out, {g.n, g.lq, g.m * g.d});
  std::vector<int64_t> acc(size_t(g.d));
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t q = 0; q < g.lq; ++q)
      for (int64_t h = 0; h < g.m; ++h) {
        std::fill(acc.begin(), acc.end(), 0);
        for (int64_t l = 0; l < g.levels; ++l) {
          const int64_t height = g.height[size_t(l)],
                        width = g.width[size_t(l)];
          for (int64_t p = 0; p < g.points; ++p) {
            const int64_t at = g.pointAt(b, q, h, l, p);
            const int64_t a = weights.i[size_t(at)];
            // Positions in 1/256 pixel: loc * size * 256 - 128 (|q| <= 2^15
            // and multiplier < 2^31 keep applyRequant inside int64).
            const int64_t px = applyRequant(locations.i[size_t(2 * at)],
                                            locMultiplier[size_t(2 * l)],
                                            locShift[size_t(2 * l)]) -
                               128;
            const int64_t py = applyRequant(locations.i[size_t(2 * at + 1)],
                                            locMultiplier[size_t(2 * l + 1)],
                                            locShift[size_t(2 * l + 1)]) -
                               128;
            const int64_t x0 = px >> 8, y0 = py >> 8; // floor
            const int64_t fx = px & 255, fy = py & 255;
            const struct {
              int64_t yy, xx, w;
            } corners[4] = {{y0, x0, (256 - fx) * (256 - fy)},
                            {y0, x0 + 1, fx * (256 - fy)},
                            {y0 + 1, x0, (256 - fx) * fy},
                            {y0 + 1, x0 + 1, fx * fy}};
            for (const auto &c : corners) {
              if (c.w == 0 || c.yy < 0 || c.yy >= height || c.xx < 0 ||
                  c.xx >= width)
                continue;
              const int32_t *v =
                  value.i.data() +
                  g.valueAt(b, g.start[size_t(l)] + c.yy * width + c.xx, h);
              // |v * w| <= 2^31, times |a| <= 2^15: 2^46 per term.
              const int64_t k = a * c.w;
              for (int64_t ch = 0; ch < g.d; ++ch)
                acc[size_t(ch)] += k * v[ch];
            }
          }
        }
        int32_t *o = r.i.data() + ((b * g.lq + q) * g.m + h) * g.d;
        for (int64_t ch = 0; ch < g.d; ++ch)
          o[ch] = finish(
              quant::applyRequantWide(acc[size_t(ch)], multiplier, shift),
              false, out);
      }
  return r;
}

Tensor qlayerNorm(const Tensor &in, const Tensor &bias, int64_t epsQ,
                  const std::vector<int32_t> &multiplier,
                  const std::vector<int32_t> &shift, DType out) {
  checkActivation(in);
  checkQOut(out);
  HAT_KERNEL_CHECK(in.rank() >= 1, "qlayerNorm needs rank >= 1");
  const int64_t c = in.shape.back();
  HAT_KERNEL_CHECK(c >= 1 && c <= quant::kMaxLayerNormChannels,
                   "qlayerNorm row length outside [1, 32768]");
  HAT_KERNEL_CHECK(bias.dtype == DType::I32 && bias.numel() == c &&
                       int64_t(bias.i.size()) == c,
                   "qlayerNorm bias must be i32 [C]");
  HAT_KERNEL_CHECK(int64_t(multiplier.size()) == c &&
                       int64_t(shift.size()) == c,
                   "qlayerNorm needs one multiplier/shift per channel");
  for (int32_t s : shift)
    checkShift(s);
  HAT_KERNEL_CHECK(epsQ >= 0, "qlayerNorm eps_q must be >= 0");
  Tensor r = Tensor::ints(out, in.shape);
  const int64_t rows = in.numel() / c;
  for (int64_t row = 0; row < rows; ++row)
    quant::layerNormRow(in.i.data() + row * c, c, epsQ, multiplier.data(),
                        shift.data(), bias.i.data(), dtypeBits(out),
                        r.i.data() + row * c);
  return r;
}

Tensor qconcat(const std::vector<const Tensor *> &ins, int64_t axis,
               const std::vector<int32_t> &multipliers,
               const std::vector<int32_t> &shifts, DType out) {
  HAT_KERNEL_CHECK(!ins.empty(), "qconcat needs inputs");
  HAT_KERNEL_CHECK(multipliers.size() == ins.size() &&
                       shifts.size() == ins.size(),
                   "qconcat needs one multiplier/shift per input");
  checkQOut(out);
  // Rescale each input to the output, then reuse the layout kernel.
  std::vector<Tensor> scaled;
  scaled.reserve(ins.size());
  for (size_t k = 0; k < ins.size(); ++k) {
    checkActivation(*ins[k]);
    checkShift(shifts[k]);
    Tensor t = Tensor::ints(out, ins[k]->shape);
    for (size_t e = 0; e < t.i.size(); ++e)
      t.i[e] = finish(applyRequant(ins[k]->i[e], multipliers[k], shifts[k]),
                      false, out);
    scaled.push_back(std::move(t));
  }
  std::vector<const Tensor *> ptrs;
  for (const Tensor &t : scaled)
    ptrs.push_back(&t);
  return concat(ptrs, axis);
}

Tensor qavgPool2d(const Tensor &in, Pair kernel, Pair stride, Quad pad,
                  int32_t multiplier, int32_t shift, DType out) {
  checkActivation(in);
  checkQOut(out);
  checkShift(shift);
  PoolGeometry g = poolGeometry(in, kernel, stride, pad);
  Tensor r = Tensor::ints(out, {in.shape[0], in.shape[1], g.oh, g.ow});
  for (int64_t p = 0; p < g.planes; ++p) {
    const int32_t *ip = in.i.data() + p * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t y0 = oy * stride[0] - pad[0];
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t x0 = ox * stride[1] - pad[1];
        // Padded positions contribute 0 to the sum (the divisor, folded
        // into the multiplier, is always KH * KW).
        int64_t sum = 0;
        for (int64_t y = std::max<int64_t>(y0, 0);
             y < std::min<int64_t>(y0 + kernel[0], g.h); ++y)
          for (int64_t x = std::max<int64_t>(x0, 0);
               x < std::min<int64_t>(x0 + kernel[1], g.w); ++x)
            sum += ip[y * g.w + x];
        r.i[(p * g.oh + oy) * g.ow + ox] =
            finish(applyRequant(clampAcc(sum), multiplier, shift), false, out);
      }
    }
  }
  return r;
}

Tensor qglobalAvgPool(const Tensor &in, int32_t multiplier, int32_t shift,
                      DType out) {
  checkActivation(in);
  checkQOut(out);
  checkShift(shift);
  HAT_KERNEL_CHECK(in.rank() == 4, "qglobalAvgPool needs NCHW");
  const int64_t hw = in.shape[2] * in.shape[3];
  Tensor r = Tensor::ints(out, {in.shape[0], in.shape[1], 1, 1});
  for (int64_t p = 0; p < in.shape[0] * in.shape[1]; ++p) {
    int64_t sum = 0;
    for (int64_t k = 0; k < hw; ++k)
      sum += in.i[p * hw + k];
    r.i[p] = finish(applyRequant(clampAcc(sum), multiplier, shift), false, out);
  }
  return r;
}

Tensor qresize(const Tensor &in, ResizeMode mode, int64_t outH, int64_t outW,
               bool alignCorners, int32_t multiplier, int32_t shift,
               DType out) {
  checkActivation(in);
  if (mode == ResizeMode::Nearest)
    return resize(in, mode, outH, outW, alignCorners);
  checkQOut(out);
  checkShift(shift);
  HAT_KERNEL_CHECK(in.rank() == 4, "qresize needs NCHW");
  HAT_KERNEL_CHECK(outH >= 1 && outW >= 1 && in.shape[2] >= 1 &&
                       in.shape[3] >= 1,
                   "qresize extents must be non-empty");
  const int64_t planes = in.shape[0] * in.shape[1];
  const int64_t h = in.shape[2], w = in.shape[3];
  const std::vector<LinearTap> ys = bilinearTaps(h, outH, alignCorners);
  const std::vector<LinearTap> xs = bilinearTaps(w, outW, alignCorners);
  Tensor r = Tensor::ints(out, {in.shape[0], in.shape[1], outH, outW});
  for (int64_t p = 0; p < planes; ++p) {
    const int32_t *ip = in.i.data() + p * h * w;
    for (int64_t y = 0; y < outH; ++y) {
      const LinearTap &ty = ys[y];
      const int64_t wy1 = ty.w1, wy0 = 1024 - ty.w1;
      const int32_t *r0 = ip + ty.i0 * w, *r1 = ip + ty.i1 * w;
      for (int64_t x = 0; x < outW; ++x) {
        const LinearTap &tx = xs[x];
        const int64_t wx1 = tx.w1, wx0 = 1024 - tx.w1;
        const int64_t acc = wy0 * (wx0 * r0[tx.i0] + wx1 * r0[tx.i1]) +
                            wy1 * (wx0 * r1[tx.i0] + wx1 * r1[tx.i1]);
        // |acc| reaches 2^35 for int16 input: form the product in 128 bits.
        r.i[(p * outH + y) * outW + x] =
            finish(quant::applyRequantWide(acc, multiplier, shift), false, out);
      }
    }
  }
  return r;
}

Tensor requantize(const Tensor &in, const Requantization &rq) {
  HAT_KERNEL_CHECK(isInteger(in.dtype) && int64_t(in.i.size()) == in.numel(),
                   "requantize input must be integer");
  const int64_t channels = in.rank() >= 2 ? in.shape[1] : 1;
  checkRq(rq, channels);
  Tensor out = Tensor::ints(rq.out, in.shape);
  if (rq.multiplier.size() == 1) {
    for (size_t k = 0; k < out.i.size(); ++k)
      out.i[k] = finish(applyRequant(in.i[k], rq.multiplier[0], rq.shift[0]),
                        rq.relu, rq.out);
    return out;
  }
  HAT_KERNEL_CHECK(in.rank() >= 2, "per-channel requantize needs axis 1");
  int64_t inner = 1;
  for (int64_t d = 2; d < in.rank(); ++d)
    inner *= in.shape[d];
  for (int64_t n = 0; n < in.shape[0]; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (n * channels + c) * inner;
      for (int64_t k = 0; k < inner; ++k)
        out.i[base + k] =
            finish(applyRequant(in.i[base + k], rq.multiplier[c], rq.shift[c]),
                   rq.relu, rq.out);
    }
  return out;
}

Tensor qlut(const Tensor &in, const std::vector<int32_t> &table, DType out) {
  checkActivation(in);
  checkQOut(out);
  const int bits = dtypeBits(in.dtype);
  HAT_KERNEL_CHECK(int64_t(table.size()) == (int64_t(1) << bits),
                   "qlut table needs 2^bits(input) entries");
  const int64_t lo = quant::qmin(bits);
  Tensor r = Tensor::ints(out, in.shape);
  for (size_t k = 0; k < r.i.size(); ++k)
    r.i[k] = saturateTo(table[size_t(in.i[k] - lo)], out);
  return r;
}

} // namespace hat::eval
