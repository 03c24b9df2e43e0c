//===- Model.h - An HBM file in memory --------------------------*- C++ -*-===//
//
// The plain C++ form of include/hat/HBM/Hbm.fbs that hat-compile fills in and
// the runtime executes. MLIR-free: the runtime and the board-side loader link
// only this, the flatbuffers reader and the reference kernels.
//
// Loading is defensive: readFile/deserialize run the flatbuffers Verifier and
// then validate(), which checks every index, size, shape and parameter the
// runtime relies on, so a truncated, corrupted or hostile file is an error
// message, never a crash or an out-of-bounds access.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_HBM_MODEL_H
#define HAT_HBM_MODEL_H

#include "hat/Eval/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace hat::hbm {

/// The schema version this code writes and the only one it reads. Version 2
/// added the checksum trailer (see serialize); version 1 files carry none
/// and are refused with a request to recompile.
constexpr uint32_t kVersion = 2;

/// The file ends with a 16-byte trailer after the flatbuffer payload, all
/// little-endian: uint64 payload size, uint32 CRC-32 of the payload, and the
/// magic "HBMS". Loading checks it before reading a single field.
constexpr size_t kTrailerBytes = 16;

using eval::DType;

enum class LayerKind : uint8_t {
  Quantize,
  Dequantize,
  Conv,
  Linear,
  Add,
  Mul,
  MaxPool,
  AvgPool,
  GlobalAvgPool,
  Concat,
  Resize,
  Requantize,
  Lut,
  Reshape,
  Transpose,
  Softmax,
  MatMul,
  LayerNorm,
  MsDeformAttn
};
constexpr int kNumLayerKinds = 19;
const char *layerKindName(LayerKind kind);

/// Bytes of one element.
int64_t dtypeBytes(DType dtype);

struct TensorDesc {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::I8;
  std::vector<float> scale;
  /// -1 for model inputs (caller's buffer), else the byte offset in the arena.
  int64_t arenaOffset = -1;
  /// A constant activation: the index of its data in `constants` (layout
  /// "plain", this dtype); it lives outside the arena. -1 otherwise.
  int32_t constant = -1;

  int64_t numel() const { return eval::numelOf(shape); }
  int64_t bytes() const { return numel() * dtypeBytes(dtype); }
};

struct Constant {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::I8;
  std::string layout; // "o16k2" or "plain"
  int64_t groups = 1;
  std::vector<uint8_t> data;
};

struct Tile {
  int64_t rows = 0, outChannels = 0, tiles = 0, sramBytes = 0;
};

struct Layer {
  std::string name;
  LayerKind kind = LayerKind::Conv;
  std::vector<int32_t> inputs;
  int32_t output = -1;
  int32_t weight = -1, bias = -1;
  std::vector<int64_t> kernel, stride, padding, dilation;
  int64_t groups = 1, axis = 0;
  std::vector<int32_t> multiplier, shift;
  bool relu = false;
  bool residual = false;
  DType convDType = DType::I8;
  int32_t addConvMultiplier = 0, addResidualMultiplier = 0, addShift = 0;
  bool addRelu = false;
  std::vector<int32_t> table;
  int32_t resizeMode = 0; // 0 nearest, 1 bilinear
  std::vector<int64_t> size;
  bool alignCorners = false;
  std::vector<int64_t> perm;
  std::vector<float> scale;
  bool hasAxis = false;
  Tile tile;
  int64_t normEps = 0; // LayerNorm's eps_q
};

struct LayerPerf {
  std::string name, op;
  int64_t macs = 0;
  double computeUs = 0;
  int64_t loadBytes = 0, storeBytes = 0;
  double memoryUs = 0, totalUs = 0, share = 0;
  int64_t sramBytes = 0;
  double macUtilisation = 0;
};

struct PerfSummary {
  double latencyUs = 0, fps = 0;
  int64_t ddrBytesPerFrame = 0, macs = 0;
  double macUtilisation = 0;
  int64_t batch = 1;
  /// DDR footprint: constants (weights, biases, requantization), the DDR
  /// homes of the intermediate activations (reserved even where the BPU
  /// keeps a tensor in SRAM; docs/bpu.md, "Peak DDR"), the caller's input
  /// buffers (as the input source delivers them) and output buffers, and
  /// what the runtime holds per loaded model (instructions, descriptors; the
  /// march table's fitted runtimeDdrBytes); peak = their sum (the model
  /// cards' "memory" column).
  int64_t weightBytes = 0, ddrActivationBytes = 0, ioBytes = 0;
  int64_t peakDdrBytes = 0;
  int64_t runtimeBytes = 0;
};

struct Model {
  uint32_t version = kVersion;
  std::string march;
  int32_t optLevel = 0;
  std::string inputSource = "ddr";
  std::string producer;
  std::vector<int32_t> inputs, outputs;
  std::vector<TensorDesc> tensors;
  std::vector<Constant> constants;
  std::vector<Layer> layers;
  int64_t arenaBytes = 0;
  std::vector<LayerPerf> layerPerf;
  PerfSummary perf;
  /// Multi-output fields: one name per output (or none), and the CPU
  /// post-processing description (JSON, docs/detection.md).
  std::vector<std::string> outputNames;
  std::string postProcess;
};

/// The file bytes of `model`: the flatbuffer (file identifier "HBM1")
/// followed by the checksum trailer.
std::vector<uint8_t> serialize(const Model &model);

/// Appends the checksum trailer to a flatbuffer payload.
std::vector<uint8_t> sealPayload(std::vector<uint8_t> payload);

/// Checks the trailer and the checksum, then deserializePayload(). On failure
/// returns false with `error` saying what is wrong.
bool deserialize(const uint8_t *data, size_t size, Model &model,
                 std::string &error);

/// The flatbuffer alone, without the trailer: verifies it, converts it and
/// runs validate(). The layer beneath the checksum, for the fuzzer and for
/// tests that mutate the payload and reseal it.
bool deserializePayload(const uint8_t *data, size_t size, Model &model,
                        std::string &error);

/// Semantic checks: every index in range, every tensor in the arena, every
/// layer's shapes, parameter counts and constants consistent with what its
/// kernel computes, every input written before it is read.
bool validate(const Model &model, std::string &error);

/// File wrappers; errors read "<path>: <reason>".
bool readFile(const std::string &path, Model &model, std::string &error);
bool writeFile(const std::string &path, const Model &model, std::string &error);
/// Writes `size` bytes to `path` through a synced temporary file and a
/// rename. An existing `path` must be a regular file or a symbolic link to
/// one (the file it names is replaced, the link kept); a FIFO, device,
/// socket, directory or dangling link is refused with an error.
/// Where writeFileAtomically would write `path` (`target`), or false with
/// `error` when it would refuse.
bool resolveOutputPath(const std::string &path, std::string &target,
                       std::string &error);
bool writeFileAtomically(const std::string &path, const void *data, size_t size,
                         std::string &error);

//===----------------------------------------------------------------------===//
// Weight layout
//===----------------------------------------------------------------------===//

/// Bytes of the o16k2 form of an [O, K] (per group O/groups rows) weight.
int64_t packedWeightSize(int64_t outChannels, int64_t k, int64_t groups);
/// OIHW / [M, K] row-major int8 -> o16k2: per group, blocks of 16 output
/// channels by pairs of K, data[g][ob][k/2][o%16][k%2], zero padded.
std::vector<int8_t> packWeightsO16K2(const std::vector<int8_t> &rowMajor,
                                     int64_t outChannels, int64_t k,
                                     int64_t groups);

} // namespace hat::hbm

#endif // HAT_HBM_MODEL_H
