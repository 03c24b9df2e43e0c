//===- SyncBatchNorm.cpp - BN statistics over all ranks -------------------===//
//
// Forward: each rank's per-channel (count, mean, M2) go through an autograd
// function that gathers them from every rank; the global mean and variance
// are combined from those rows with differentiable tensor ops, and the
// normalisation is ordinary autograd too. Backward of the gather sums the
// gradient rows of all ranks (each rank's loss depends on every rank's
// statistics) and hands each rank its own row. So the input, weight and
// bias gradients are those of BN on the concatenated batch, with no
// hand-written backward formula to get wrong.
//
//===----------------------------------------------------------------------===//

#include "hat/Distributed/Distributed.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace hat::dist {

namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// [K] on every rank -> [world, K], row r from rank r.
struct GatherRows : public torch::autograd::Function<GatherRows> {
  static at::Tensor forward(AutogradContext *ctx, const at::Tensor &row,
                            int64_t contextAddress) {
    ctx->saved_data["context"] = contextAddress;
    Context &context = *reinterpret_cast<Context *>(contextAddress);
    at::Tensor rows =
        at::zeros({context.worldSize(), row.numel()}, row.options());
    rows[context.rank()].copy_(row.detach());
    context.allReduceSum(rows);
    return rows;
  }
  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    Context &context =
        *reinterpret_cast<Context *>(ctx->saved_data["context"].toInt());
    at::Tensor sum = grads[0].contiguous().clone();
    context.allReduceSum(sum);
    return {sum[context.rank()], at::Tensor()};
  }
};
} // namespace

at::Tensor syncBatchNorm(Context &context, const at::Tensor &input,
                         const at::Tensor &weight, const at::Tensor &bias,
                         const at::Tensor &runningMean,
                         const at::Tensor &runningVar, bool training,
                         double momentum, double eps) {
  if (!training)
    return at::batch_norm(input, weight, bias, runningMean, runningVar, false,
                          momentum, eps, false);
  const int64_t channels = input.size(1);
  std::vector<int64_t> reduceDims{0};
  for (int64_t d = 2; d < input.dim(); ++d)
    reduceDims.push_back(d);
  std::vector<int64_t> shape(input.dim(), 1);
  shape[1] = channels;
  const double count = (double)(input.numel() / std::max<int64_t>(1, channels));

  // Local statistics, two-pass for accuracy.
  at::Tensor mean = input.mean(reduceDims);
  at::Tensor m2 = (input - mean.view(shape)).pow(2).sum(reduceDims);
  at::Tensor row = at::cat({at::full({1}, count, input.options()), mean, m2});
  at::Tensor rows = GatherRows::apply(
      row, (int64_t) reinterpret_cast<intptr_t>(&context)); // [world, 1 + 2C]

  // Chan et al.: combine (n_r, mean_r, M2_r) into the global mean and M2.
  at::Tensor n = rows.select(1, 0).unsqueeze(1);  // [W, 1]
  at::Tensor means = rows.narrow(1, 1, channels); // [W, C]
  at::Tensor m2s = rows.narrow(1, 1 + channels, channels);
  at::Tensor total = n.sum();
  at::Tensor globalMean = (means * n).sum(0) / total;
  at::Tensor globalM2 = m2s.sum(0) + ((means - globalMean).pow(2) * n).sum(0);
  at::Tensor var = globalM2 / total; // biased, as BN normalises with

  if (runningMean.defined() && runningVar.defined()) {
    at::NoGradGuard noGrad;
    double samples = total.item<double>();
    runningMean.mul_(1 - momentum).add_(globalMean.detach(), momentum);
    runningVar.mul_(1 - momentum)
        .add_(var.detach() * (samples / std::max(1.0, samples - 1)), momentum);
  }
  at::Tensor out =
      (input - globalMean.view(shape)) * at::rsqrt(var + eps).view(shape);
  if (weight.defined())
    out = out * weight.view(shape);
  if (bias.defined())
    out = out + bias.view(shape);
  return out;
}

} // namespace hat::dist
