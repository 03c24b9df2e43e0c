//===- IntegerOps.cpp - docs/quantization.md on ATen tensors --------------===//

#include "IntegerOps.h"

#include "hat/Eval/Kernels.h"
#include "hat/Executor/ModuleExecutor.h"
#include "hat/Quant/FixedPoint.h"

#include <ATen/Parallel.h>
#include <cmath>

#include <limits>
#include <stdexcept>

namespace hat::exec::detail {

at::ScalarType intScalarType(int bits) {
  switch (bits) {
  case 8:
    return at::kChar;
  case 16:
    return at::kShort;
  case 32:
    return at::kInt;
  }
  throw std::invalid_argument("no integer type of " + std::to_string(bits) +
                              " bits");
}

at::Tensor padNCHW(const at::Tensor &x, const Quad &pad, double value) {
  return at::constant_pad_nd(x, {pad[1], pad[3], pad[0], pad[2]}, value);
}

Requantizer::Requantizer(const std::vector<int32_t> &multipliers,
                         const std::vector<int32_t> &shifts, bool relu,
                         int outBits, int64_t axis, int64_t rank,
                         at::Device device)
    : relu(relu), outType(intScalarType(outBits)) {
  lo = quant::qmin(outBits);
  hi = quant::qmax(outBits);
  if (relu)
    lo = 0; // ReLU before saturation == clamping at max(0, qmin)
  perChannel = multipliers.size() > 1;
  auto roundOf = [](int64_t s) { return s > 0 ? int64_t(1) << (s - 1) : 0; };
  if (!perChannel) {
    multiplier0 = multipliers.at(0);
    shift0 = shifts.at(0);
    round0 = roundOf(shift0);
    return;
  }
  const int64_t channels = int64_t(multipliers.size());
  std::vector<int64_t> m(multipliers.begin(), multipliers.end());
  std::vector<int64_t> s(shifts.begin(), shifts.end());
  std::vector<int64_t> r(s.size());
  for (int64_t c = 0; c < channels; ++c)
    r[c] = roundOf(s[c]);
  std::vector<int64_t> shape(size_t(rank), 1);
  shape[size_t(axis)] = channels;
  auto make = [&](const std::vector<int64_t> &v) {
    return at::tensor(v, at::TensorOptions(at::kLong))
        .reshape(shape)
        .to(device);
  };
  multiplier = make(m);
  shift = make(s);
  round = make(r);
}

at::Tensor Requantizer::applyInt64(at::Tensor acc) const {
  // |acc| <= 2^31 (or |q| <= 2^31 for requantize), multiplier < 2^31: the
  // int64 sum stays below 2^63 (section 6).
  if (perChannel) {
    acc = acc * multiplier;
    acc.add_(round).__irshift__(shift);
  } else {
    acc.mul_(multiplier0).add_(round0).__irshift__(shift0);
  }
  return acc.clamp_(lo, hi);
}

at::Tensor Requantizer::operator()(at::Tensor acc) const {
  return applyInt64(std::move(acc)).to(outType);
}

at::Tensor &clampToInt32(at::Tensor &acc) {
  return acc.clamp_(int64_t(std::numeric_limits<int32_t>::min()),
                    int64_t(std::numeric_limits<int32_t>::max()));
}

at::Tensor
integerConvAccumulate(const at::Tensor &input, const at::Tensor &weightF64,
                      const std::vector<int64_t> &stride, const Quad &pad,
                      const std::vector<int64_t> &dilation, int64_t groups) {
  at::Tensor x = input.to(at::kDouble);
  std::vector<int64_t> padding{pad[0], pad[1]};
  if (!isSymmetric(pad)) {
    x = padNCHW(x, pad, 0.0);
    padding = {0, 0};
  }
  // cuDNN is off so no FFT/Winograd algorithm can round: the native path is
  // im2col + GEMM, exact on integers below 2^53.
  at::Tensor acc = at::_convolution(
      x, weightF64, c10::nullopt, stride, padding, dilation,
      /*transposed=*/false, /*output_padding=*/{0, 0}, groups,
      /*benchmark=*/false, /*deterministic=*/true, /*cudnn_enabled=*/false,
      /*allow_tf32=*/false);
  return acc.to(at::kLong);
}

at::Tensor integerLinearAccumulate(const at::Tensor &input,
                                   const at::Tensor &weightF64) {
  return at::linear(input.to(at::kDouble), weightF64).to(at::kLong);
}

void atenParallelFor(int64_t tasks, const std::function<void(int64_t)> &body) {
  at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      body(t);
  });
}

namespace {

std::string shapeText(at::IntArrayRef sizes) {
  std::string text = "[";
  for (size_t i = 0; i < sizes.size(); ++i)
    text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

} // namespace

std::shared_ptr<const IntegerKernelLayer>
IntegerKernelLayer::create(const runtime::ConvShape &shape, int inBits,
                           const at::Tensor &weight, const at::Tensor &bias,
                           const std::vector<int32_t> &multiplier,
                           const std::vector<int32_t> &shift, bool relu,
                           int outBits, std::string &why) {
  runtime::OutputRequant requant{multiplier, shift, relu, outBits};
  why = runtime::IntegerConv::unsupported(shape, inBits, requant);
  if (!why.empty())
    return nullptr;
  const int64_t k =
      shape.channels / shape.groups * shape.kernelH * shape.kernelW;
  if (!weight.defined() || weight.scalar_type() != at::kChar ||
      weight.numel() != shape.outChannels * k) {
    why = "weights that are not int8 of " +
          std::to_string(shape.outChannels * k) + " values";
    return nullptr;
  }
  if (bias.defined() &&
      (bias.scalar_type() != at::kInt || bias.numel() != shape.outChannels)) {
    why = "a bias that is not int32 of " + std::to_string(shape.outChannels) +
          " values";
    return nullptr;
  }
  const at::Tensor w = weight.to(at::kCPU).contiguous();
  const at::Tensor b = bias.defined() ? bias.to(at::kCPU).contiguous() : bias;
  auto layer = std::make_shared<IntegerKernelLayer>();
  layer->kernel = runtime::IntegerConv::create(
      shape, inBits, w.data_ptr<int8_t>(),
      b.defined() ? b.data_ptr<int32_t>() : nullptr, requant);
  layer->shape = shape;
  layer->inBits = inBits;
  layer->outType = intScalarType(outBits);
  return layer;
}

at::Tensor IntegerKernelLayer::conv(const at::Tensor &input) const {
  const at::ScalarType inType = intScalarType(inBits);
  if (input.dim() != 4 || input.scalar_type() != inType ||
      input.size(1) != shape.channels || input.size(2) != shape.height ||
      input.size(3) != shape.width)
    throw ExecutorError(
        "qconv2d input is " + std::string(c10::toString(input.scalar_type())) +
        " " + shapeText(input.sizes()) + ", the op expects " +
        c10::toString(inType) + " [N, " + std::to_string(shape.channels) +
        ", " + std::to_string(shape.height) + ", " +
        std::to_string(shape.width) + "]");
  const at::Tensor x = input.contiguous();
  at::Tensor out = at::empty(
      {x.size(0), shape.outChannels, shape.outHeight(), shape.outWidth()},
      at::TensorOptions(outType));
  kernel->run(x.data_ptr(), x.size(0), out.data_ptr(), atenParallelFor);
  return out;
}

at::Tensor IntegerKernelLayer::linear(const at::Tensor &input) const {
  const at::ScalarType inType = intScalarType(inBits);
  if (input.dim() < 1 || input.scalar_type() != inType ||
      input.size(-1) != shape.channels)
    throw ExecutorError("qlinear input is " +
                        std::string(c10::toString(input.scalar_type())) + " " +
                        shapeText(input.sizes()) + ", the op expects " +
                        c10::toString(inType) + " [..., " +
                        std::to_string(shape.channels) + "]");
  const at::Tensor x = input.contiguous();
  std::vector<int64_t> outShape = x.sizes().vec();
  outShape.back() = shape.outChannels;
  at::Tensor out = at::empty(outShape, at::TensorOptions(outType));
  kernel->run(x.data_ptr(), x.numel() / shape.channels, out.data_ptr(),
              atenParallelFor);
  return out;
}

std::string IntegerKernelLayer::what() const {
  return std::string(kernel->method()) + ", " + runtime::isaName(kernel->isa());
}

at::Tensor integerWindowSum(const at::Tensor &input,
                            const std::vector<int64_t> &kernel,
                            const std::vector<int64_t> &stride,
                            const Quad &pad) {
  at::Tensor x = input.to(at::kDouble);
  std::vector<int64_t> padding{pad[0], pad[1]};
  if (!isSymmetric(pad) || 2 * pad[0] > kernel[0] || 2 * pad[1] > kernel[1]) {
    x = padNCHW(x, pad, 0.0);
    padding = {0, 0};
  }
  // divisor_override = 1 turns the average into the exact window sum.
  return at::avg_pool2d(x, kernel, stride, padding, /*ceil_mode=*/false,
                        /*count_include_pad=*/true, /*divisor_override=*/1)
      .to(at::kLong);
}

BilinearResizer::BilinearResizer(int64_t inH, int64_t inW, int64_t outH,
                                 int64_t outW, bool alignCorners,
                                 at::Device device) {
  auto build = [&](int64_t in, int64_t out, at::Tensor &i0, at::Tensor &i1,
                   at::Tensor &w0, at::Tensor &w1, bool rows) {
    std::vector<eval::LinearTap> taps =
        eval::bilinearTaps(in, out, alignCorners);
    std::vector<int64_t> a, b, wa, wb;
    for (const eval::LinearTap &t : taps) {
      a.push_back(t.i0);
      b.push_back(t.i1);
      wa.push_back(1024 - t.w1);
      wb.push_back(t.w1);
    }
    const at::TensorOptions opts(at::kLong);
    std::vector<int64_t> shape = rows ? std::vector<int64_t>{1, 1, out, 1}
                                      : std::vector<int64_t>{1, 1, 1, out};
    i0 = at::tensor(a, opts).to(device);
    i1 = at::tensor(b, opts).to(device);
    w0 = at::tensor(wa, opts).reshape(shape).to(device);
    w1 = at::tensor(wb, opts).reshape(shape).to(device);
  };
  build(inH, outH, y0, y1, wy0, wy1, true);
  build(inW, outW, x0, x1, wx0, wx1, false);
}

at::Tensor BilinearResizer::accumulate(const at::Tensor &input) const {
  const at::Tensor q = input.to(at::kLong);
  const at::Tensor r0 = q.index_select(2, y0), r1 = q.index_select(2, y1);
  // wy0 * (wx0 * q00 + wx1 * q01) + wy1 * (wx0 * q10 + wx1 * q11), the order
  // of section 8.8 (all exact in int64: |acc| <= 2^35).
  at::Tensor top = r0.index_select(3, x0) * wx0 + r0.index_select(3, x1) * wx1;
  at::Tensor bottom =
      r1.index_select(3, x0) * wx0 + r1.index_select(3, x1) * wx1;
  return top * wy0 + bottom * wy1;
}

at::Tensor requantWide(const at::Tensor &acc, int32_t multiplier, int32_t shift,
                       int outBits) {
  const int64_t lo = quant::qmin(outBits), hi = quant::qmax(outBits);
  const at::ScalarType outType = intScalarType(outBits);
  if (shift >= 16) {
    // acc = high * 2^16 + low with 0 <= low < 2^16 (section 6):
    // (high * m + ((low * m + 2^(shift-1)) >> 16)) >> (shift - 16).
    const at::Tensor high = acc.__rshift__(16);
    const at::Tensor low = acc.bitwise_and(0xFFFF);
    at::Tensor part = low * int64_t(multiplier);
    part.add_(int64_t(1) << (shift - 1)).__irshift__(16);
    at::Tensor r = high * int64_t(multiplier);
    r.add_(part).__irshift__(shift - 16);
    return r.clamp_(lo, hi).to(outType);
  }
  // Shifts below 16 mean a ratio >= 2^-16 * 2^20: never produced by the
  // compiler for resize, but defined, so evaluate it with 128-bit products.
  at::Tensor a = acc.to(at::kCPU).contiguous();
  at::Tensor out = at::empty_like(a);
  const int64_t *src = a.data_ptr<int64_t>();
  int64_t *dst = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < a.numel(); ++i)
    dst[i] = quant::saturate(quant::applyRequantWide(src[i], multiplier, shift),
                             outBits);
  return out.to(acc.device()).to(outType);
}

at::Tensor nearestResize(const at::Tensor &input, const at::Tensor &rows,
                         const at::Tensor &cols) {
  return input.index_select(2, rows).index_select(3, cols);
}

std::vector<int64_t> torchNearestIndices(int64_t in, int64_t out) {
  std::vector<int64_t> idx(size_t(std::max<int64_t>(out, 0)));
  const float scale = float(in) / float(out);
  for (int64_t d = 0; d < out; ++d) {
    if (out == in)
      idx[d] = d;
    else if (out == 2 * in)
      idx[d] = d >> 1;
    else
      idx[d] = std::min(int64_t(std::floor(float(d) * scale)), in - 1);
  }
  return idx;
}

} // namespace hat::exec::detail
