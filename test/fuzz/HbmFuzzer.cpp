//===- HbmFuzzer.cpp - libFuzzer target: load and run arbitrary HBM bytes -===//
//
// Any input either fails to load with a message or loads into a model the
// runtime executes to the end (hat-run's path, one thread); ASan and UBSan
// turn any out-of-bounds access or overflow into a finding. The
// deterministic mutation test in test/unit/HBM/HbmTest.cpp covers the same
// property in the ordinary build.
//
//===----------------------------------------------------------------------===//

#include "hat/HBM/Model.h"
#include "hat/Runtime/Runtime.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hat::hbm::Model model;
  std::string error;
  // Beneath the checksum: random bytes would almost never pass it.
  if (!hat::hbm::deserializePayload(data, size, model, error)) {
    if (error.empty())
      std::abort(); // a refusal must say why
    return 0;
  }
  hat::runtime::Options options;
  options.threads = 1;
  auto session = hat::runtime::Session::create(std::move(model), options);
  std::vector<hat::eval::Tensor> inputs, outputs;
  for (int32_t i : session->model().inputs)
    inputs.push_back(
        hat::eval::Tensor::f32(session->model().tensors[size_t(i)].shape, 1.f));
  if (session->run(inputs, outputs, error)) {
    if (outputs.size() != session->model().outputs.size())
      std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
