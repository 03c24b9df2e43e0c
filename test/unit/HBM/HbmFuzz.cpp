//===- HbmFuzz.cpp - libFuzzer target: load and run arbitrary HBM bytes ---===//
//
// Any input either fails to load with a message or loads into a model the
// runtime executes; ASan and UBSan turn any out-of-bounds access into a
// finding. Built with clang++-19 -fsanitize=fuzzer when the toolchain has
// compiler-rt (see CMakeLists.txt); the deterministic mutation test in
// HbmTest.cpp covers the same property everywhere else.
//
//===----------------------------------------------------------------------===//

#include "hat/HBM/Model.h"
#include "hat/Runtime/Runtime.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hat::hbm::Model model;
  std::string error;
  // Beneath the checksum: random bytes would almost never pass it.
  if (!hat::hbm::deserializePayload(data, size, model, error))
    return 0;
  hat::runtime::Options options;
  options.threads = 1;
  auto session = hat::runtime::Session::create(std::move(model), options);
  std::vector<hat::eval::Tensor> inputs, outputs;
  for (int32_t i : session->model().inputs)
    inputs.push_back(
        hat::eval::Tensor::f32(session->model().tensors[size_t(i)].shape, 1.f));
  session->run(inputs, outputs, error);
  return 0;
}
