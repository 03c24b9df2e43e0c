//===- Tensor.cpp - Plain tensors for the reference kernels ---------------===//

#include "hat/Eval/Tensor.h"

namespace hat::eval {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::I8:
    return "i8";
  case DType::I16:
    return "i16";
  case DType::I32:
    return "i32";
  }
  return "?";
}

int dtypeBits(DType dtype) {
  switch (dtype) {
  case DType::I8:
    return 8;
  case DType::I16:
    return 16;
  case DType::F32:
  case DType::I32:
    return 32;
  }
  return 32;
}

int64_t numelOf(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t Tensor::numel() const { return numelOf(shape); }

Tensor Tensor::f32(std::vector<int64_t> shape, float fill) {
  Tensor t;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.f.assign(size_t(t.numel()), fill);
  return t;
}

Tensor Tensor::ints(DType dtype, std::vector<int64_t> shape, int32_t fill) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.i.assign(size_t(t.numel()), fill);
  return t;
}

} // namespace hat::eval
