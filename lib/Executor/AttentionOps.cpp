//===- AttentionOps.cpp - Transformer ops as ATen compositions ------------===//

#include "AttentionOps.h"

#include "IntegerOps.h"

namespace hat::exec::detail {

at::Tensor msDeformAttn(const at::Tensor &value, const at::Tensor &locations,
                        const at::Tensor &weights,
                        const std::vector<int64_t> &spatialShapes) {
  const int64_t n = value.size(0), m = value.size(2), d = value.size(3);
  const int64_t lq = locations.size(1), levels = locations.size(3),
                points = locations.size(4);
  // Batch 1 locations and weights serve every image.
  const at::Tensor grids = (locations * 2 - 1).expand({n, -1, -1, -1, -1, -1});
  const at::Tensor perImage = weights.expand({n, -1, -1, -1, -1});
  std::vector<at::Tensor> sampled;
  int64_t start = 0;
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t h = spatialShapes[size_t(2 * l)],
                  w = spatialShapes[size_t(2 * l + 1)];
    // [N, HW, M, D] -> [N, M * D, HW] -> [N * M, D, H, W]
    at::Tensor map = value.narrow(1, start, h * w)
                         .flatten(2)
                         .transpose(1, 2)
                         .reshape({n * m, d, h, w});
    // [N, Lq, M, P, 2] -> [N, M, Lq, P, 2] -> [N * M, Lq, P, 2]
    at::Tensor grid = grids.select(3, l).transpose(1, 2).flatten(0, 1);
    // [N * M, D, Lq, P]; interpolation 0 = bilinear, padding 0 = zeros.
    sampled.push_back(at::grid_sampler(map, grid, 0, 0, false));
    start += h * w;
  }
  // [N * M, D, Lq, L, P] -> [N * M, D, Lq, L * P]
  at::Tensor stacked = at::stack(sampled, -2).flatten(-2);
  at::Tensor attention =
      perImage.transpose(1, 2).reshape({n * m, 1, lq, levels * points});
  return (stacked * attention)
      .sum(-1)
      .view({n, m * d, lq})
      .transpose(1, 2)
      .contiguous();
}

eval::Tensor toEvalInts(const at::Tensor &t) {
  const at::Tensor c = t.to(at::kCPU).to(at::kInt).contiguous();
  const eval::DType dtype =
      t.scalar_type() == at::kShort ? eval::DType::I16 : eval::DType::I8;
  eval::Tensor e = eval::Tensor::ints(dtype, c.sizes().vec());
  const int32_t *data = c.data_ptr<int32_t>();
  e.i.assign(data, data + c.numel());
  return e;
}

at::Tensor fromEvalInts(const eval::Tensor &t, int bits) {
  at::Tensor r = at::tensor(t.i, at::TensorOptions(at::kInt)).reshape(t.shape);
  return r.to(intScalarType(bits));
}

} // namespace hat::exec::detail
