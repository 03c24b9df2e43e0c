//===- Runtime.h - Executes an HBM on the CPU, bit-exactly ------*- C++ -*-===//
//
// Runs a validated hbm::Model the way the board does: one activation arena
// laid out by the compiler's plan, layers in order, integer arithmetic
// exactly per docs/quantization.md. conv / linear (int8 and small-K int16),
// fused residual epilogues and same-shape adds have fast paths (im2col +
// an int16 multiply-add GEMM on the o16k2 weights, AVX-512 VNNI / AVX2 /
// scalar picked at run time, threads over pixel blocks); every other layer
// calls the reference kernel of hat::eval, so outputs equal the reference
// evaluator's bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_RUNTIME_RUNTIME_H
#define HAT_RUNTIME_RUNTIME_H

#include "hat/Eval/Tensor.h"
#include "hat/HBM/Model.h"

#include <memory>
#include <string>
#include <vector>

namespace hat::runtime {

enum class Isa { Auto, Scalar, Avx2, Avx512Vnni };
/// "scalar", "avx2", "avx512-vnni".
const char *isaName(Isa isa);
/// The best instruction set this CPU supports (HAT_RUNTIME_ISA=scalar|avx2|
/// avx512-vnni in the environment lowers it, for testing every path).
Isa detectIsa();

/// The most worker threads a session starts.
constexpr int kMaxThreads = 1024;

struct Options {
  /// Worker threads including the caller; 0 = hardware concurrency.
  /// Clamped to kMaxThreads.
  int threads = 0;
  Isa isa = Isa::Auto;
  /// Time every layer (steady clock around each); read with layerSeconds().
  bool profile = false;
};

class Session {
public:
  /// Prepares `model` (which must have passed hbm::validate, as every loaded
  /// model has): widens the packed weights once and allocates the arena.
  static std::unique_ptr<Session> create(hbm::Model model,
                                         const Options &options = {});
  ~Session();

  /// Runs the model. Each input must have the model input's shape, or a
  /// leading dimension that is a multiple of it: the stacked model batches
  /// then run as one pass (conv / linear over the whole stack, other layers
  /// slice by slice) and the outputs are concatenated along dimension 0,
  /// equal to running each slice alone.
  /// With several threads and several stacked model batches, each thread
  /// runs a contiguous share of the batches through the whole model on a
  /// single-threaded session of its own (an image stream); one batch runs
  /// with the threads splitting each layer.
  bool run(const std::vector<eval::Tensor> &inputs,
           std::vector<eval::Tensor> &outputs, std::string &error);
  /// The image streams the last run() used (1: the layers were split).
  int lastRunStreams() const;

  const hbm::Model &model() const;
  Isa isa() const;
  int threads() const;
  /// The CPU kernel layer `layer` runs on: "gemm" (conv / linear over the
  /// int16 multiply-add micro-kernels), "depthwise" (the direct depthwise
  /// kernel), "quantize", "add", "view" (a reshape sharing its bytes),
  /// "copy", or "reference" (the reference evaluator's kernel).
  const char *layerKernel(size_t layer) const;
  /// Whether tensor `tensor` is kept channels-innermost (NHWC) in the
  /// arena: a conv output read only by conv kernels, so no kernel
  /// transposes it. Model outputs and everything a reference kernel reads
  /// stay NCHW.
  bool tensorNhwc(size_t tensor) const;
  /// With Options::profile: each layer's wall seconds summed over the
  /// passes since the session started (a run of stacked batches may take
  /// several passes), and the number of run() calls they cover.
  const std::vector<double> &layerSeconds() const;
  int64_t profiledRuns() const;
  /// Starts the profile afresh (after a warm-up run, say).
  void resetProfile();

private:
  Session();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// The profile as a table: every layer in program order (name, kind, CPU
/// kernel, microseconds per run, share), then the time per CPU kernel.
/// Empty when the session was not created with Options::profile or has not
/// run.
std::string layerProfileText(const Session &session);

} // namespace hat::runtime

#endif // HAT_RUNTIME_RUNTIME_H
