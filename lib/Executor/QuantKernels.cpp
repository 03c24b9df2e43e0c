//===- QuantKernels.cpp - Fake quantization and quantization on ATen ------===//
//
// The fused CPU kernels evaluate hat::quant::quantizeValue's arithmetic in
// line: invScale = 1.0f / scale and x * invScale in float32, round half to
// even, saturation, NaN -> 0. Rounding uses the 1.5 * 2^23 trick on a value
// first clamped to [qmin - 1, qmax + 1], which is exact there (|v| < 2^22)
// and lets GCC vectorise the loop (std::nearbyint is a libm call on plain
// x86-64). Clamping before rounding cannot change the result: anything above
// qmax + 1 saturates either way.
//
//===----------------------------------------------------------------------===//

#include "hat/Executor/QuantKernels.h"

#include "hat/Quant/FixedPoint.h"
#include "hat/Quant/Observer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace hat::exec {

namespace {

/// Element count a parallel chunk should at least have.
constexpr int64_t kGrain = 16384;

/// Round half to even of |v| < 2^22 in the default rounding mode.
inline float roundHalfEven(float v) {
  constexpr float magic = 12582912.0f; // 1.5 * 2^23
  return (v + magic) - magic;
}

/// One contiguous run sharing one scale. `out` receives float values (fake
/// quantization) or integers of type T; `mask` may be null.
template <typename T>
void quantizeRun(const float *x, T *out, bool *mask, int64_t n, float scale,
                 int bits, bool fake) {
  const float invScale = 1.0f / scale;
  const float lo = float(quant::qmin(bits)), hi = float(quant::qmax(bits));
  const float loClip = lo - 1.0f, hiClip = hi + 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float p = x[i] * invScale;
    // NaN fails every comparison and stays NaN until the last select.
    const float clipped = p < loClip ? loClip : (p > hiClip ? hiClip : p);
    const float r = roundHalfEven(clipped);
    float q = r < lo ? lo : (r > hi ? hi : r);
    q = q == q ? q : 0.0f;
    if (fake)
      out[i] = T(q * scale);
    else
      out[i] = T(q);
    if (mask)
      mask[i] = (r >= lo) & (r <= hi);
  }
}

/// Splits x (contiguous, float) into runs of equal scale and processes them
/// in parallel.
template <typename T>
void quantizeCpu(const at::Tensor &x, const float *scales, int64_t axis,
                 int bits, bool fake, T *out, bool *mask) {
  const float *in = x.data_ptr<float>();
  const int64_t n = x.numel();
  if (axis < 0) {
    const float s = scales[0];
    at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
      quantizeRun<T>(in + begin, out + begin, mask ? mask + begin : nullptr,
                     end - begin, s, bits, fake);
    });
    return;
  }
  const int64_t channels = x.size(axis);
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < x.dim(); ++d)
    inner *= x.size(d);
  const int64_t rows = inner ? n / inner : 0;
  const int64_t grain =
      std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      quantizeRun<T>(in + r * inner, out + r * inner,
                     mask ? mask + r * inner : nullptr, inner,
                     scales[r % channels], bits, fake);
  });
}

/// `scales` reshaped to broadcast along `axis` of a rank-`rank` tensor.
at::Tensor broadcastScales(const at::Tensor &scales, int64_t axis,
                           int64_t rank) {
  if (axis < 0)
    return scales.reshape({});
  std::vector<int64_t> shape(size_t(rank), 1);
  shape[size_t(axis)] = scales.numel();
  return scales.reshape(shape);
}

/// The ATen-op form: same values as the fused kernel (round is half-even,
/// nan_to_num maps NaN to 0 and +-inf to the bounds before the clamp).
at::Tensor composedQuantize(const at::Tensor &x, const at::Tensor &scales,
                            int64_t axis, int bits, at::Tensor *mask) {
  const double lo = double(quant::qmin(bits)), hi = double(quant::qmax(bits));
  at::Tensor s = broadcastScales(scales, axis, x.dim());
  at::Tensor r = at::round(x * at::reciprocal(s));
  if (mask)
    *mask = at::logical_and(r >= lo, r <= hi);
  // + 0 turns round's -0 (from small negatives) into the contract's +0.
  return at::nan_to_num(r, 0.0, hi, lo).clamp_(lo, hi).add_(0.0);
}

void checkScales(const at::Tensor &x, const at::Tensor &scales, int64_t axis) {
  if (scales.scalar_type() != at::kFloat)
    throw std::invalid_argument("fake quantization scales must be float32");
  const int64_t expected = axis < 0 ? 1 : x.size(axis);
  if (scales.numel() != expected)
    throw std::invalid_argument("fake quantization needs " +
                                std::to_string(expected) + " scale(s), got " +
                                std::to_string(scales.numel()));
}

/// Straight-through estimator: the mask saved in forward gates the gradient.
struct FakeQuantizeSTE : torch::autograd::Function<FakeQuantizeSTE> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx,
                            const at::Tensor &x, const at::Tensor &scales,
                            int64_t axis, int64_t bits) {
    at::Tensor mask;
    at::Tensor y = fakeQuantizeForward(x, scales, axis, int(bits), &mask);
    ctx->save_for_backward({mask});
    return y;
  }
  static torch::autograd::variable_list
  backward(torch::autograd::AutogradContext *ctx,
           torch::autograd::variable_list grads) {
    const at::Tensor mask = ctx->get_saved_variables()[0];
    return {grads[0] * mask, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

} // namespace

at::Tensor fakeQuantizeForward(const at::Tensor &x, const at::Tensor &scales,
                               int64_t axis, int bits, at::Tensor *mask,
                               bool composed) {
  if (x.scalar_type() != at::kFloat)
    throw std::invalid_argument("fake quantization expects a float32 tensor");
  checkScales(x, scales, axis);
  if (composed || !x.is_cpu()) {
    at::Tensor q = composedQuantize(x, scales, axis, bits, mask);
    return q.mul_(broadcastScales(scales, axis, x.dim()));
  }
  const at::Tensor in = x.contiguous();
  const at::Tensor s = scales.contiguous();
  at::Tensor out = at::empty_like(in);
  bool *maskData = nullptr;
  if (mask) {
    *mask = at::empty(in.sizes(), in.options().dtype(at::kBool));
    maskData = mask->data_ptr<bool>();
  }
  quantizeCpu<float>(in, s.data_ptr<float>(), axis, bits, /*fake=*/true,
                     out.data_ptr<float>(), maskData);
  return out;
}

at::Tensor fakeQuantize(const at::Tensor &x, const at::Tensor &scales,
                        int64_t axis, int bits) {
  if (x.requires_grad() && at::GradMode::is_enabled())
    return FakeQuantizeSTE::apply(x, scales, axis, int64_t(bits));
  return fakeQuantizeForward(x, scales, axis, bits, nullptr);
}

at::Tensor quantizeTensor(const at::Tensor &x, float scale, int bits,
                          bool composed) {
  if (x.scalar_type() != at::kFloat)
    throw std::invalid_argument("quantize expects a float32 tensor");
  const at::ScalarType outType = bits == 8 ? at::kChar : at::kShort;
  if (composed || !x.is_cpu()) {
    at::Tensor s = at::full({1}, scale, x.options().dtype(at::kFloat));
    return composedQuantize(x.detach(), s, -1, bits, nullptr).to(outType);
  }
  const at::Tensor in = x.detach().contiguous();
  at::Tensor out = at::empty(in.sizes(), in.options().dtype(outType));
  if (bits == 8)
    quantizeCpu<int8_t>(in, &scale, -1, bits, false, out.data_ptr<int8_t>(),
                        nullptr);
  else
    quantizeCpu<int16_t>(in, &scale, -1, bits, false, out.data_ptr<int16_t>(),
                         nullptr);
  return out;
}

ChannelStats weightChannelStats(const at::Tensor &weight, int64_t axis,
                                int bits) {
  const at::Tensor w = weight.detach().to(at::kCPU, at::kFloat).contiguous();
  std::vector<int64_t> shape(w.sizes().begin(), w.sizes().end());
  ChannelStats stats;
  stats.scales = quant::perChannelWeightScales(w.data_ptr<float>(), shape,
                                               int(axis), bits);
  const int64_t channels = w.size(axis);
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < w.dim(); ++d)
    inner *= w.size(d);
  // Same loop as hat-calibrate's weight pass (std::min/max skip NaN there).
  stats.mins.assign(size_t(channels), std::numeric_limits<float>::infinity());
  stats.maxs.assign(size_t(channels), -std::numeric_limits<float>::infinity());
  const float *data = w.data_ptr<float>();
  for (int64_t idx = 0; idx < w.numel(); ++idx) {
    const int64_t c = (idx / inner) % channels;
    stats.mins[c] = std::min(stats.mins[c], data[idx]);
    stats.maxs[c] = std::max(stats.maxs[c], data[idx]);
  }
  return stats;
}

} // namespace hat::exec
