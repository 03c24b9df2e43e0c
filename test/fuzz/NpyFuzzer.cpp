//===- NpyFuzzer.cpp - libFuzzer target: the .npy reader ------------------===//
//
// Arbitrary bytes go through parseNpy (the reader of hat-eval, hat-run and
// --hat-calibrate). A refusal must say why; a tensor that loads must write
// back and read again to the same dtype, shape and bits.
//
//===----------------------------------------------------------------------===//

#include "hat/Eval/Npy.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

using hat::eval::DType;
using hat::eval::Tensor;

namespace {
bool sameTensor(const Tensor &a, const Tensor &b) {
  if (a.dtype != b.dtype || a.shape != b.shape || a.i != b.i ||
      a.f.size() != b.f.size())
    return false;
  // Bitwise, so NaNs compare equal to themselves.
  return a.f.empty() ||
         std::memcmp(a.f.data(), b.f.data(), a.f.size() * sizeof(float)) == 0;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string bytes(reinterpret_cast<const char *>(data), size);
  Tensor tensor;
  std::string error;
  if (!hat::eval::parseNpy(bytes, "fuzz.npy", tensor, error)) {
    if (error.rfind("fuzz.npy: ", 0) != 0)
      std::abort(); // every refusal names the file and says why
    return 0;
  }
  if (tensor.numel() !=
      int64_t(tensor.dtype == DType::F32 ? tensor.f.size() : tensor.i.size()))
    std::abort();
  std::string written;
  if (!hat::eval::serializeNpy(tensor, written, error))
    std::abort(); // whatever loads can be written
  Tensor again;
  if (!hat::eval::parseNpy(written, "again.npy", again, error) ||
      !sameTensor(tensor, again))
    std::abort();
  return 0;
}
