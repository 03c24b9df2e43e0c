//===- KernelUtil.h - Shared helpers of the reference kernels ---*- C++ -*-===//

#ifndef HAT_LIB_EVAL_KERNELUTIL_H
#define HAT_LIB_EVAL_KERNELUTIL_H

#include "hat/Eval/Kernels.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

/// Precondition check: the verifiers should have rejected such input, so a
/// violation is a compiler bug; stop loudly instead of reading out of bounds.
#define HAT_KERNEL_CHECK(cond, msg)                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "hat::eval kernel precondition failed in %s: %s\n", \
                   __func__, msg);                                             \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace hat::eval::detail {

/// Output extent of a window op (see Kernels.h).
inline int64_t windowOut(int64_t in, int64_t padBefore, int64_t padAfter,
                         int64_t dilation, int64_t k, int64_t stride) {
  const int64_t span = in + padBefore + padAfter - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

/// NumPy broadcasting of a and b: the output shape and, per output element,
/// the flat indices into a and b.
struct Broadcast {
  std::vector<int64_t> shape;
  std::vector<int64_t> aIndex, bIndex;
};
Broadcast broadcast(const std::vector<int64_t> &a,
                    const std::vector<int64_t> &b);

/// torch.matmul of [..., M, K] and [..., K, N] (ranks >= 2): the batch
/// dimensions broadcast; batch b of the result reads the operands' matrices
/// at lhsOffset[b] and rhsOffset[b] (element offsets).
struct MatmulGeometry {
  std::vector<int64_t> shape; // result [..., M, N]
  int64_t m = 0, k = 0, n = 0;
  std::vector<int64_t> lhsOffset, rhsOffset;
};
MatmulGeometry matmulGeometry(const std::vector<int64_t> &lhs,
                              const std::vector<int64_t> &rhs);

/// Operands of hat.ms_deform_attn (validated: aborts on a mismatch) and the
/// element offsets the kernels index with.
struct MsDeformGeometry {
  int64_t n = 0, s = 0, m = 0, d = 0, lq = 0, levels = 0, points = 0;
  /// Batch of locations and weights: n, or 1 when every image shares them.
  int64_t locBatch = 0;
  std::vector<int64_t> height, width, start; // per level; start in S
  /// Element offset of (n, s, m, 0) in value.
  int64_t valueAt(int64_t batch, int64_t pos, int64_t head) const {
    return ((batch * s + pos) * m + head) * d;
  }
  /// Index of (n, q, m, l, p) in weights (times 2: in locations).
  int64_t pointAt(int64_t batch, int64_t q, int64_t head, int64_t level,
                  int64_t point) const {
    const int64_t b = locBatch == 1 ? 0 : batch;
    return (((b * lq + q) * m + head) * levels + level) * points + point;
  }
};
MsDeformGeometry msDeformGeometry(const std::vector<int64_t> &value,
                                  const std::vector<int64_t> &locations,
                                  const std::vector<int64_t> &weights,
                                  const std::vector<int64_t> &spatialShapes);

/// Normalises a possibly negative axis; aborts when out of range.
int64_t normAxis(int64_t axis, int64_t rank);

/// Saturates to an I8/I16/I32 result dtype.
int32_t saturateTo(int64_t v, DType out);

void checkQOut(DType out);

} // namespace hat::eval::detail

namespace hat::eval::detail {

/// Output positions o in [lo, hi) whose input coordinate o * stride + offset
/// lies inside [0, extent).
inline void validRange(int64_t extent, int64_t offset, int64_t stride,
                       int64_t outExtent, int64_t &lo, int64_t &hi) {
  auto floorDiv = [](int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
  };
  lo = std::max<int64_t>(0, -floorDiv(offset, stride));
  hi = std::min<int64_t>(outExtent, floorDiv(extent - 1 - offset, stride) + 1);
  if (hi < lo)
    hi = lo;
}

struct ConvGeometry {
  int64_t n, c, h, w;     // input
  int64_t o, cg, kh, kw;  // weight
  int64_t oh, ow, groups; // output
  Pair stride, dilation;
  Quad pad;
};

/// Checks conv shapes and fills the geometry.
ConvGeometry convGeometry(const Tensor &in, const Tensor &w, const Tensor *bias,
                          Pair stride, Quad pad, Pair dilation, int64_t groups);

/// out[n, o, :, :] += sum over the group's channels and taps of in * w. `out`
/// must already hold the bias. The innermost loop runs over contiguous output
/// columns with the tap's weight hoisted, and the valid column range is
/// computed once per tap so there are no bounds checks inside it.
template <typename Acc, typename In, typename Wt>
void convAccumulate(const ConvGeometry &g, const In *in, const Wt *w,
                    Acc *out) {
  const int64_t og = g.o / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o) {
      Acc *op = out + (n * g.o + o) * g.oh * g.ow;
      const int64_t group = o / og;
      for (int64_t c = 0; c < g.cg; ++c) {
        const In *ip = in + (n * g.c + group * g.cg + c) * g.h * g.w;
        const Wt *wp = w + (o * g.cg + c) * g.kh * g.kw;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          int64_t ohLo, ohHi;
          const int64_t yOff = ky * g.dilation[0] - g.pad[0];
          validRange(g.h, yOff, g.stride[0], g.oh, ohLo, ohHi);
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const Acc wv = Acc(wp[ky * g.kw + kx]);
            if (wv == Acc(0))
              continue;
            int64_t owLo, owHi;
            const int64_t xOff = kx * g.dilation[1] - g.pad[1];
            validRange(g.w, xOff, g.stride[1], g.ow, owLo, owHi);
            if (owLo >= owHi)
              continue;
            for (int64_t oy = ohLo; oy < ohHi; ++oy) {
              const In *row = ip + (oy * g.stride[0] + yOff) * g.w;
              Acc *orow = op + oy * g.ow;
              if (g.stride[1] == 1) {
                const In *src = row + owLo + xOff; // in bounds: owLo is valid
                for (int64_t ox = 0; ox < owHi - owLo; ++ox)
                  orow[owLo + ox] += wv * Acc(src[ox]);
              } else {
                for (int64_t ox = owLo; ox < owHi; ++ox)
                  orow[ox] += wv * Acc(row[ox * g.stride[1] + xOff]);
              }
            }
          }
        }
      }
    }
}

/// Pool geometry: [N*C planes, H, W] -> [OH, OW].
struct PoolGeometry {
  int64_t planes, h, w, oh, ow;
};
PoolGeometry poolGeometry(const Tensor &in, Pair kernel, Pair stride, Quad pad);

} // namespace hat::eval::detail

#endif // HAT_LIB_EVAL_KERNELUTIL_H
