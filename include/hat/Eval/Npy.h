//===- Npy.h - .npy reading and writing ------------------------*- C++ -*-===//
//
// NumPy .npy v1/v2 (and v3, whose only difference is a UTF-8 header) in C
// order. Read: little-endian <f4 and <f8 (narrowed) -> F32, |i1 -> I8,
// <i2 -> I16, <i4 -> I32, <i8 and |u1 -> I32 when every value is in range.
// Write: F32 -> <f4, I8 -> |i1, I16 -> <i2, I32 -> <i4, always v1 unless the
// header needs v2. Errors name the file and the reason.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_EVAL_NPY_H
#define HAT_EVAL_NPY_H

#include "hat/Eval/Tensor.h"

#include <string>

namespace hat::eval {

bool readNpy(const std::string &path, Tensor &out, std::string &error);

/// Writes to a temporary file next to `path` and renames it over `path`, so
/// readers never see a partial file.
bool writeNpy(const std::string &path, const Tensor &t, std::string &error);

/// In-memory forms used by the file functions; `name` only labels errors.
bool parseNpy(const std::string &bytes, const std::string &name, Tensor &out,
              std::string &error);
bool serializeNpy(const Tensor &t, std::string &bytes, std::string &error);

} // namespace hat::eval

#endif // HAT_EVAL_NPY_H
