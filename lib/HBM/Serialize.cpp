//===- Serialize.cpp - Model <-> flatbuffer -------------------------------===//

#include "hat/HBM/Hbm_generated.h"
#include "hat/HBM/Model.h"
#include "hat/Support/Checksum.h"
#include "hat/Support/WriteFile.h"

#include <cstring>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>

namespace hat::hbm {

namespace fbs = hat::hbm::fb;

namespace {

fbs::DType toFb(DType d) {
  switch (d) {
  case DType::F32:
    return fbs::DType::F32;
  case DType::I8:
    return fbs::DType::I8;
  case DType::I16:
    return fbs::DType::I16;
  case DType::I32:
    return fbs::DType::I32;
  }
  return fbs::DType::I8;
}

bool fromFb(fbs::DType d, DType &out) {
  switch (d) {
  case fbs::DType::F32:
    out = DType::F32;
    return true;
  case fbs::DType::I8:
    out = DType::I8;
    return true;
  case fbs::DType::I16:
    out = DType::I16;
    return true;
  case fbs::DType::I32:
    out = DType::I32;
    return true;
  }
  return false;
}

template <typename T, typename V>
std::vector<T> vec(const flatbuffers::Vector<V> *v) {
  static_assert(std::is_arithmetic_v<V>, "scalar vectors only");
  if (!v)
    return {};
  // Through memcpy: the Verifier only checks the 4-byte alignment of a
  // vector's length, so a damaged file can place a [long] at a 4-byte
  // boundary, where loading int64_t directly is undefined (found by the
  // HBM fuzzer under UBSan).
  const uint8_t *bytes = v->Data();
  if constexpr (std::is_same_v<T, V> && FLATBUFFERS_LITTLEENDIAN) {
    std::vector<T> out(v->size());
    if (!out.empty())
      std::memcpy(out.data(), bytes, out.size() * sizeof(V));
    return out;
  }
  std::vector<T> out;
  out.reserve(v->size());
  for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
    V value;
    std::memcpy(&value, bytes + size_t(i) * sizeof(V), sizeof(V));
    out.push_back(T(flatbuffers::EndianScalar(value)));
  }
  return out;
}

std::string str(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

} // namespace

std::vector<uint8_t> serialize(const Model &m) {
  flatbuffers::FlatBufferBuilder b(1 << 16);
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors;
  for (const TensorDesc &t : m.tensors)
    tensors.push_back(fbs::CreateTensor(
        b, b.CreateString(t.name), b.CreateVector(t.shape), toFb(t.dtype),
        b.CreateVector(t.scale), t.arenaOffset, t.constant));
  std::vector<flatbuffers::Offset<fbs::Constant>> constants;
  for (const Constant &c : m.constants)
    constants.push_back(fbs::CreateConstant(
        b, b.CreateString(c.name), b.CreateVector(c.shape), toFb(c.dtype),
        b.CreateString(c.layout), c.groups, b.CreateVector(c.data)));
  std::vector<flatbuffers::Offset<fbs::Layer>> layers;
  for (const Layer &l : m.layers) {
    auto name = b.CreateString(l.name);
    auto inputs = b.CreateVector(l.inputs);
    auto kernel = b.CreateVector(l.kernel);
    auto stride = b.CreateVector(l.stride);
    auto padding = b.CreateVector(l.padding);
    auto dilation = b.CreateVector(l.dilation);
    auto multiplier = b.CreateVector(l.multiplier);
    auto shift = b.CreateVector(l.shift);
    auto table = b.CreateVector(l.table);
    auto size = b.CreateVector(l.size);
    auto perm = b.CreateVector(l.perm);
    auto scale = b.CreateVector(l.scale);
    auto tile = fbs::CreateTile(b, l.tile.rows, l.tile.outChannels,
                                l.tile.tiles, l.tile.sramBytes);
    fbs::LayerBuilder lb(b);
    lb.add_name(name);
    lb.add_kind(fbs::LayerKind(uint8_t(l.kind)));
    lb.add_inputs(inputs);
    lb.add_output(l.output);
    lb.add_weight(l.weight);
    lb.add_bias(l.bias);
    lb.add_kernel(kernel);
    lb.add_stride(stride);
    lb.add_padding(padding);
    lb.add_dilation(dilation);
    lb.add_groups(l.groups);
    lb.add_axis(l.axis);
    lb.add_multiplier(multiplier);
    lb.add_shift(shift);
    lb.add_relu(l.relu);
    lb.add_residual(l.residual);
    lb.add_conv_dtype(toFb(l.convDType));
    lb.add_add_conv_multiplier(l.addConvMultiplier);
    lb.add_add_residual_multiplier(l.addResidualMultiplier);
    lb.add_add_shift(l.addShift);
    lb.add_add_relu(l.addRelu);
    lb.add_table(table);
    lb.add_resize_mode(l.resizeMode);
    lb.add_size(size);
    lb.add_align_corners(l.alignCorners);
    lb.add_perm(perm);
    lb.add_scale(scale);
    lb.add_has_axis(l.hasAxis);
    lb.add_tile(tile);
    lb.add_norm_eps(l.normEps);
    layers.push_back(lb.Finish());
  }
  std::vector<flatbuffers::Offset<fbs::LayerPerf>> perf;
  for (const LayerPerf &p : m.layerPerf)
    perf.push_back(fbs::CreateLayerPerf(
        b, b.CreateString(p.name), b.CreateString(p.op), p.macs, p.computeUs,
        p.loadBytes, p.storeBytes, p.memoryUs, p.totalUs, p.share, p.sramBytes,
        p.macUtilisation));
  auto summary = fbs::CreatePerfSummary(
      b, m.perf.latencyUs, m.perf.fps, m.perf.ddrBytesPerFrame, m.perf.macs,
      m.perf.macUtilisation, m.perf.batch, m.perf.weightBytes,
      m.perf.ddrActivationBytes, m.perf.ioBytes, m.perf.peakDdrBytes,
      m.perf.runtimeBytes);
  std::vector<flatbuffers::Offset<flatbuffers::String>> outputNames;
  for (const std::string &n : m.outputNames)
    outputNames.push_back(b.CreateString(n));
  auto root = fbs::CreateModel(
      b, m.version, b.CreateString(m.march), m.optLevel,
      b.CreateString(m.inputSource), b.CreateString(m.producer),
      b.CreateVector(m.inputs), b.CreateVector(m.outputs),
      b.CreateVector(tensors), b.CreateVector(constants),
      b.CreateVector(layers), m.arenaBytes, b.CreateVector(perf), summary,
      b.CreateVector(outputNames), b.CreateString(m.postProcess));
  fbs::FinishModelBuffer(b, root);
  return sealPayload(std::vector<uint8_t>(b.GetBufferPointer(),
                                          b.GetBufferPointer() + b.GetSize()));
}

namespace {
constexpr char kTrailerMagic[4] = {'H', 'B', 'M', 'S'};

void putLE(std::vector<uint8_t> &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(uint8_t(value >> (8 * i)));
}

uint64_t getLE(const uint8_t *p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= uint64_t(p[i]) << (8 * i);
  return value;
}
} // namespace

std::vector<uint8_t> sealPayload(std::vector<uint8_t> payload) {
  const uint64_t size = payload.size();
  const uint32_t crc = hat::crc32(payload.data(), payload.size());
  putLE(payload, size, 8);
  putLE(payload, crc, 4);
  payload.insert(payload.end(), kTrailerMagic, kTrailerMagic + 4);
  return payload;
}

bool deserialize(const uint8_t *data, size_t size, Model &m,
                 std::string &error) {
  m = Model();
  if (size < kTrailerBytes ||
      std::memcmp(data + size - 4, kTrailerMagic, 4) != 0) {
    if (size >= 8 && fbs::ModelBufferHasIdentifier(data))
      error = "no checksum trailer: truncated, or an HBM version 1 file "
              "(written before checksums; recompile it with hat-compile)";
    else
      error = "not an HBM file (no HBM checksum trailer)";
    return false;
  }
  const size_t payloadSize = size - kTrailerBytes;
  const uint64_t recordedSize = getLE(data + payloadSize, 8);
  if (recordedSize != payloadSize) {
    error = "corrupted or truncated HBM: the trailer records " +
            std::to_string(recordedSize) + " payload bytes, the file has " +
            std::to_string(payloadSize);
    return false;
  }
  const uint32_t recorded = uint32_t(getLE(data + payloadSize + 8, 4));
  const uint32_t actual = hat::crc32(data, payloadSize);
  if (recorded != actual) {
    char text[96];
    std::snprintf(text, sizeof text,
                  "corrupted HBM: checksum mismatch (recorded CRC-32 %08x, "
                  "content %08x)",
                  recorded, actual);
    error = text;
    return false;
  }
  return deserializePayload(data, payloadSize, m, error);
}

bool deserializePayload(const uint8_t *data, size_t size, Model &m,
                        std::string &error) {
  m = Model();
  if (size < 8 || !fbs::ModelBufferHasIdentifier(data)) {
    error = "not an HBM file (missing the HBM1 identifier)";
    return false;
  }
  // Depth and table limits well above any real model; they bound the
  // verifier's work on hostile input.
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 16;
  opts.max_tables = 10'000'000;
  flatbuffers::Verifier verifier(data, size, opts);
  if (!fbs::VerifyModelBuffer(verifier)) {
    error = "corrupted or truncated HBM (flatbuffers verification failed)";
    return false;
  }
  const fbs::Model *root = fbs::GetModel(data);
  m.version = root->version();
  if (m.version != kVersion) {
    error = "HBM version " + std::to_string(m.version) +
            " is not supported (this reader knows version " +
            std::to_string(kVersion) + "; recompile the model)";
    return false;
  }
  m.march = str(root->march());
  m.optLevel = root->opt_level();
  m.inputSource = str(root->input_source());
  m.producer = str(root->producer());
  m.inputs = vec<int32_t>(root->inputs());
  m.outputs = vec<int32_t>(root->outputs());
  if (root->output_names())
    for (const flatbuffers::String *n : *root->output_names())
      m.outputNames.push_back(n ? n->str() : std::string());
  m.postProcess = str(root->post_process());
  m.arenaBytes = root->arena_bytes();
  if (root->tensors())
    for (const fbs::Tensor *t : *root->tensors()) {
      TensorDesc d;
      d.name = str(t->name());
      d.shape = vec<int64_t>(t->shape());
      if (!fromFb(t->dtype(), d.dtype)) {
        error = "tensor '" + d.name + "' has an unknown dtype";
        return false;
      }
      d.scale = vec<float>(t->scale());
      d.arenaOffset = t->arena_offset();
      d.constant = t->constant();
      m.tensors.push_back(std::move(d));
    }
  if (root->constants())
    for (const fbs::Constant *c : *root->constants()) {
      Constant k;
      k.name = str(c->name());
      k.shape = vec<int64_t>(c->shape());
      if (!fromFb(c->dtype(), k.dtype)) {
        error = "constant '" + k.name + "' has an unknown dtype";
        return false;
      }
      k.layout = str(c->layout());
      k.groups = c->groups();
      k.data = vec<uint8_t>(c->data());
      m.constants.push_back(std::move(k));
    }
  if (root->layers())
    for (const fbs::Layer *l : *root->layers()) {
      Layer x;
      x.name = str(l->name());
      if (uint8_t(l->kind()) >= kNumLayerKinds) {
        error = "layer '" + x.name + "' has an unknown kind " +
                std::to_string(int(l->kind()));
        return false;
      }
      x.kind = LayerKind(uint8_t(l->kind()));
      x.inputs = vec<int32_t>(l->inputs());
      x.output = l->output();
      x.weight = l->weight();
      x.bias = l->bias();
      x.kernel = vec<int64_t>(l->kernel());
      x.stride = vec<int64_t>(l->stride());
      x.padding = vec<int64_t>(l->padding());
      x.dilation = vec<int64_t>(l->dilation());
      x.groups = l->groups();
      x.axis = l->axis();
      x.multiplier = vec<int32_t>(l->multiplier());
      x.shift = vec<int32_t>(l->shift());
      x.relu = l->relu();
      x.residual = l->residual();
      if (!fromFb(l->conv_dtype(), x.convDType)) {
        error = "layer '" + x.name + "' has an unknown conv dtype";
        return false;
      }
      x.addConvMultiplier = l->add_conv_multiplier();
      x.addResidualMultiplier = l->add_residual_multiplier();
      x.addShift = l->add_shift();
      x.addRelu = l->add_relu();
      x.table = vec<int32_t>(l->table());
      x.resizeMode = l->resize_mode();
      x.size = vec<int64_t>(l->size());
      x.alignCorners = l->align_corners();
      x.perm = vec<int64_t>(l->perm());
      x.scale = vec<float>(l->scale());
      x.hasAxis = l->has_axis();
      x.normEps = l->norm_eps();
      if (const fbs::Tile *t = l->tile())
        x.tile = {t->rows(), t->out_channels(), t->tiles(), t->sram_bytes()};
      m.layers.push_back(std::move(x));
    }
  if (root->layer_perf())
    for (const fbs::LayerPerf *p : *root->layer_perf())
      m.layerPerf.push_back({str(p->name()), str(p->op()), p->macs(),
                             p->compute_us(), p->load_bytes(), p->store_bytes(),
                             p->memory_us(), p->total_us(), p->share(),
                             p->sram_bytes(), p->mac_utilisation()});
  if (const fbs::PerfSummary *s = root->perf())
    m.perf = {s->latency_us(),
              s->fps(),
              s->ddr_bytes_per_frame(),
              s->macs(),
              s->mac_utilisation(),
              s->batch(),
              s->weight_bytes(),
              s->ddr_activation_bytes(),
              s->io_bytes(),
              s->peak_ddr_bytes(),
              s->runtime_bytes()};
  return validate(m, error);
}

bool readFile(const std::string &path, Model &model, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  if (!deserialize(reinterpret_cast<const uint8_t *>(bytes.data()),
                   bytes.size(), model, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

bool resolveOutputPath(const std::string &path, std::string &target,
                       std::string &error) {
  struct stat st;
  target = path;
  if (::lstat(path.c_str(), &st) != 0)
    return true; // nothing there yet (a missing directory fails on write)
  if (S_ISLNK(st.st_mode)) {
    // Follow a link to a regular file and replace the file it names, so the
    // link survives; anything else behind a link is refused below.
    char *real = ::realpath(path.c_str(), nullptr);
    if (!real || ::stat(real, &st) != 0) {
      std::free(real);
      error = path + ": refusing to write through a dangling symbolic link";
      return false;
    }
    target = real;
    std::free(real);
  }
  if (S_ISREG(st.st_mode))
    return true;
  const char *what = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  error = path + ": refusing to replace " + what +
          " (HAT writes outputs only as regular files)";
  return false;
}

bool writeFileAtomically(const std::string &path, const void *data, size_t size,
                         std::string &error) {
  // hat::writeFileAtomically: a failed or interrupted write never leaves a
  // truncated HBM or report behind.
  std::string target;
  if (!resolveOutputPath(path, target, error))
    return false;
  const std::string reason = hat::writeFileAtomically(
      target, std::string(static_cast<const char *>(data), size));
  if (!reason.empty()) {
    error = path + ": cannot write: " + reason;
    return false;
  }
  return true;
}

bool writeFile(const std::string &path, const Model &model,
               std::string &error) {
  const std::vector<uint8_t> bytes = serialize(model);
  return writeFileAtomically(path, bytes.data(), bytes.size(), error);
}

int64_t packedWeightSize(int64_t outChannels, int64_t k, int64_t groups) {
  const int64_t og = outChannels / groups;
  const int64_t blocks = (og + 15) / 16, k2 = (k + 1) / 2;
  return groups * blocks * k2 * 32;
}

std::vector<int8_t> packWeightsO16K2(const std::vector<int8_t> &rowMajor,
                                     int64_t outChannels, int64_t k,
                                     int64_t groups) {
  const int64_t og = outChannels / groups;
  const int64_t blocks = (og + 15) / 16, k2 = (k + 1) / 2;
  std::vector<int8_t> packed(size_t(packedWeightSize(outChannels, k, groups)),
                             0);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o = 0; o < og; ++o)
      for (int64_t kk = 0; kk < k; ++kk) {
        const int64_t dst =
            (((g * blocks + o / 16) * k2 + kk / 2) * 16 + o % 16) * 2 + kk % 2;
        packed[size_t(dst)] = rowMajor[size_t((g * og + o) * k + kk)];
      }
  return packed;
}

} // namespace hat::hbm
