//===- Tensor.h - Plain tensors for the reference kernels ------*- C++ -*-===//
//
// The simplest possible host tensor: a dtype, a shape and row-major data in
// one of two vectors. Integer dtypes all store int32 so kernels need no
// templates; the dtype only bounds the values.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EVAL_TENSOR_H
#define HAT_EVAL_TENSOR_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hat::eval {

enum class DType { F32, I8, I16, I32 };

/// "f32", "i8", "i16", "i32".
const char *dtypeName(DType dtype);
/// 32, 8, 16, 32.
int dtypeBits(DType dtype);
inline bool isInteger(DType dtype) { return dtype != DType::F32; }

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> f;   // data when dtype == F32 (row-major)
  std::vector<int32_t> i; // data when dtype is I8/I16/I32 (within range)

  /// Product of the dims (1 for rank 0).
  int64_t numel() const;
  int64_t rank() const { return int64_t(shape.size()); }

  static Tensor f32(std::vector<int64_t> shape, float fill = 0.f);
  static Tensor ints(DType dtype, std::vector<int64_t> shape, int32_t fill = 0);
};

/// Product of `shape`'s dims.
int64_t numelOf(const std::vector<int64_t> &shape);

} // namespace hat::eval

#endif // HAT_EVAL_TENSOR_H
