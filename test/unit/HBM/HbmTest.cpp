//===- HbmTest.cpp - HBM round trip, validation and corruption ------------===//
//
// MLIR-free: a small model is written by hand (quantize, conv + relu, max
// pool, reshape, linear, dequantize). It must survive a serialize /
// deserialize round trip unchanged and run bit-exactly against the reference
// kernels; every truncation and thousands of deterministic mutations of its
// bytes must either be rejected with a message or load into a model the
// runtime can execute -- never crash.
//
//===----------------------------------------------------------------------===//

#include "hat/Eval/Kernels.h"
#include "hat/HBM/Model.h"
#include "hat/HBM/Report.h"
#include "hat/Runtime/Runtime.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>

using namespace hat;

namespace {

hbm::Model tinyModel() {
  std::mt19937 rng(7);
  hbm::Model m;
  m.march = "nash-e";
  m.optLevel = 3;
  auto tensor = [&](std::string name, std::vector<int64_t> shape,
                    eval::DType dtype, int64_t offset) {
    m.tensors.push_back({std::move(name), std::move(shape), dtype, {}, offset});
    return int32_t(m.tensors.size() - 1);
  };
  const int32_t in = tensor("input_0", {1, 2, 6, 6}, eval::DType::F32, -1);
  const int32_t q = tensor("q", {1, 2, 6, 6}, eval::DType::I8, 0);
  const int32_t c = tensor("conv", {1, 20, 6, 6}, eval::DType::I8, 128);
  const int32_t p = tensor("pool", {1, 20, 3, 3}, eval::DType::I8, 0);
  const int32_t r = tensor("flat", {1, 180}, eval::DType::I8, 0);
  const int32_t l = tensor("fc", {1, 3}, eval::DType::I16, 256);
  const int32_t d = tensor("out", {1, 3}, eval::DType::F32, 320);
  m.arenaBytes = 1024;
  m.inputs = {in};
  m.outputs = {d};
  std::uniform_int_distribution<int> w8(-127, 127);
  auto weights = [&](std::string name, std::vector<int64_t> shape) {
    hbm::Constant k;
    k.name = std::move(name);
    k.shape = shape;
    k.dtype = eval::DType::I8;
    k.layout = "o16k2";
    std::vector<int8_t> raw(size_t(eval::numelOf(shape)));
    for (int8_t &v : raw)
      v = int8_t(w8(rng));
    auto packed = hbm::packWeightsO16K2(raw, shape[0],
                                        eval::numelOf(shape) / shape[0], 1);
    k.data.assign(packed.begin(), packed.end());
    m.constants.push_back(std::move(k));
    return int32_t(m.constants.size() - 1);
  };
  auto bias = [&](std::string name, int64_t n) {
    hbm::Constant k;
    k.name = std::move(name);
    k.shape = {n};
    k.dtype = eval::DType::I32;
    k.layout = "plain";
    std::uniform_int_distribution<int32_t> b(-3000, 3000);
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t v = uint32_t(b(rng));
      for (int s = 0; s < 4; ++s)
        k.data.push_back(uint8_t(v >> (8 * s)));
    }
    m.constants.push_back(std::move(k));
    return int32_t(m.constants.size() - 1);
  };
  hbm::Layer lq;
  lq.name = "quantize_0";
  lq.kind = hbm::LayerKind::Quantize;
  lq.inputs = {in};
  lq.output = q;
  lq.scale = {0.02f};
  m.layers.push_back(lq);
  hbm::Layer lc;
  lc.name = "conv";
  lc.kind = hbm::LayerKind::Conv;
  lc.inputs = {q};
  lc.output = c;
  lc.weight = weights("conv.weight", {20, 2, 3, 3});
  lc.bias = bias("conv.bias", 20);
  lc.kernel = {3, 3};
  lc.stride = {1, 1};
  lc.padding = {1, 1, 1, 1};
  lc.dilation = {1, 1};
  for (int o = 0; o < 20; ++o) {
    lc.multiplier.push_back(1200000000 + o * 1000003);
    lc.shift.push_back(38 + o % 3);
  }
  lc.relu = true;
  m.layers.push_back(lc);
  hbm::Layer lp;
  lp.name = "pool";
  lp.kind = hbm::LayerKind::MaxPool;
  lp.inputs = {c};
  lp.output = p;
  lp.kernel = {2, 2};
  lp.stride = {2, 2};
  lp.padding = {0, 0, 0, 0};
  m.layers.push_back(lp);
  hbm::Layer lr;
  lr.name = "flat";
  lr.kind = hbm::LayerKind::Reshape;
  lr.inputs = {p};
  lr.output = r;
  m.layers.push_back(lr);
  hbm::Layer ll;
  ll.name = "fc";
  ll.kind = hbm::LayerKind::Linear;
  ll.inputs = {r};
  ll.output = l;
  ll.weight = weights("fc.weight", {3, 180});
  ll.bias = bias("fc.bias", 3);
  ll.multiplier = {1500000000};
  ll.shift = {33};
  m.layers.push_back(ll);
  hbm::Layer ld;
  ld.name = "dequantize_0";
  ld.kind = hbm::LayerKind::Dequantize;
  ld.inputs = {l};
  ld.output = d;
  ld.scale = {0.001f};
  m.layers.push_back(ld);
  m.layerPerf.push_back(
      {"conv", "conv", 6480, 0.1, 100, 720, 0.01, 2.1, 1.0, 900, 0.01});
  m.perf.latencyUs = 2.1;
  m.perf.fps = 1e6 / 2.1;
  return m;
}

eval::Tensor input() {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.f, 1.f);
  eval::Tensor t = eval::Tensor::f32({1, 2, 6, 6});
  for (float &v : t.f)
    v = n(rng);
  return t;
}

/// The same computation with the reference kernels, one call per layer.
eval::Tensor referenceOutput(const hbm::Model &m) {
  auto weight = [&](int32_t index) {
    const hbm::Constant &k = m.constants[size_t(index)];
    const int64_t o = k.shape[0], kk = eval::numelOf(k.shape) / o;
    const int64_t k2 = (kk + 1) / 2, blocks = (o + 15) / 16;
    eval::Tensor t = eval::Tensor::ints(eval::DType::I8, k.shape);
    for (int64_t oo = 0; oo < o; ++oo)
      for (int64_t x = 0; x < kk; ++x)
        t.i[size_t(oo * kk + x)] = int8_t(k.data[size_t(
            (((oo / 16) * k2 + x / 2) * 16 + oo % 16) * 2 + x % 2)]);
    (void)blocks;
    return t;
  };
  auto bias = [&](int32_t index) {
    const hbm::Constant &k = m.constants[size_t(index)];
    eval::Tensor t = eval::Tensor::ints(eval::DType::I32, k.shape);
    for (size_t i = 0; i < t.i.size(); ++i)
      std::memcpy(&t.i[i], k.data.data() + 4 * i, 4);
    return t;
  };
  const hbm::Layer &lc = m.layers[1], &ll = m.layers[4];
  eval::Tensor x = eval::quantize(input(), 0.02f, eval::DType::I8);
  eval::Tensor wc = weight(lc.weight), bc = bias(lc.bias);
  eval::Requantization rq{lc.multiplier, lc.shift, true, eval::DType::I8};
  x = eval::qconv2d(x, wc, &bc, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, rq);
  x = eval::maxPool2d(x, {2, 2}, {2, 2}, {0, 0, 0, 0});
  x = eval::reshape(x, {1, 180});
  eval::Tensor wl = weight(ll.weight), bl = bias(ll.bias);
  eval::Requantization rl{ll.multiplier, ll.shift, false, eval::DType::I16};
  x = eval::qlinear(x, wl, &bl, rl);
  return eval::dequantize(x, {0.001f}, -1);
}

TEST(Hbm, ValidatesAndRunsBitExact) {
  hbm::Model m = tinyModel();
  std::string error;
  ASSERT_TRUE(hbm::validate(m, error)) << error;
  const eval::Tensor ref = referenceOutput(m);
  for (int threads : {1, 2}) {
    runtime::Options o;
    o.threads = threads;
    auto s = runtime::Session::create(m, o);
    std::vector<eval::Tensor> out;
    ASSERT_TRUE(s->run({input()}, out, error)) << error;
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].f.size(), ref.f.size());
    EXPECT_EQ(std::memcmp(out[0].f.data(), ref.f.data(), 4 * ref.f.size()), 0);
  }
}

TEST(Hbm, RoundTripKeepsEverything) {
  hbm::Model m = tinyModel();
  std::vector<uint8_t> bytes = hbm::serialize(m);
  hbm::Model back;
  std::string error;
  ASSERT_TRUE(hbm::deserialize(bytes.data(), bytes.size(), back, error))
      << error;
  EXPECT_EQ(hbm::serialize(back), bytes);
  EXPECT_EQ(back.version, hbm::kVersion);
  EXPECT_EQ(back.march, "nash-e");
  EXPECT_EQ(back.layers.size(), m.layers.size());
  EXPECT_EQ(back.layers[1].multiplier, m.layers[1].multiplier);
  EXPECT_EQ(back.constants[0].data, m.constants[0].data);
  EXPECT_EQ(back.tensors[2].arenaOffset, 128);
  EXPECT_DOUBLE_EQ(back.perf.latencyUs, 2.1);
  EXPECT_EQ(back.layerPerf[0].storeBytes, 720);
  EXPECT_NE(hbm::perfJson(back).find("\"latency_us\": 2.1"), std::string::npos);
  EXPECT_NE(hbm::perfHtml(back).find("Layer Details"), std::string::npos);
}

TEST(Hbm, PerfJsonIsValidJsonWithNullForNonFinite) {
  hbm::Model m = tinyModel();
  m.perf.latencyUs = NAN;
  m.perf.fps = INFINITY;
  m.layerPerf[0].name = "odd \"name\" \\ <x>";
  nlohmann::json report = nlohmann::json::parse(hbm::perfJson(m));
  EXPECT_TRUE(report["summary"]["latency_us"].is_null());
  EXPECT_TRUE(report["summary"]["fps"].is_null());
  EXPECT_EQ(report["layers"][0]["name"], "odd \"name\" \\ <x>");
  // The HTML report escapes the same name through its one helper.
  EXPECT_NE(hbm::perfHtml(m).find("odd &quot;name&quot; \\ &lt;x&gt;"),
            std::string::npos);
}

TEST(Hbm, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = hbm::serialize(tinyModel());
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 64) {
    hbm::Model m;
    std::string error;
    EXPECT_FALSE(hbm::deserialize(bytes.data(), n, m, error)) << n;
    EXPECT_FALSE(error.empty());
  }
}

TEST(Hbm, EveryByteFlipFailsTheChecksum) {
  // The CRC-32 trailer catches every single-byte change anywhere in the file
  // (payload or trailer) before a field is read.
  const std::vector<uint8_t> seed = hbm::serialize(tinyModel());
  std::mt19937 rng(99);
  for (size_t at = 0; at < seed.size(); ++at) {
    std::vector<uint8_t> bytes = seed;
    bytes[at] ^= uint8_t(1 + rng() % 255);
    hbm::Model m;
    std::string error;
    ASSERT_FALSE(hbm::deserialize(bytes.data(), bytes.size(), m, error)) << at;
    EXPECT_TRUE(error.find("checksum") != std::string::npos ||
                error.find("trailer") != std::string::npos)
        << at << ": " << error;
  }
  // An HBM v1 file (the flatbuffer alone) is refused with a reason.
  std::vector<uint8_t> v1(seed.begin(), seed.end() - hbm::kTrailerBytes);
  hbm::Model m;
  std::string error;
  EXPECT_FALSE(hbm::deserialize(v1.data(), v1.size(), m, error));
  EXPECT_NE(error.find("HBM version 1 file (written before checksums"),
            std::string::npos)
      << error;
}

TEST(Hbm, MutationsNeverCrash) {
  // Deterministic mutation fuzzing of the payload, resealed so the mutants
  // get past the checksum to the verifier and validate() (the libFuzzer
  // target does the same with coverage guidance when clang-19 is available).
  const std::vector<uint8_t> sealed = hbm::serialize(tinyModel());
  const std::vector<uint8_t> seed(sealed.begin(),
                                  sealed.end() - hbm::kTrailerBytes);
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> bytes = seed;
    const int edits = 1 + int(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
      case 0:
        bytes[at] ^= uint8_t(1u << (rng() % 8));
        break;
      case 1:
        bytes[at] = uint8_t(rng());
        break;
      case 2:
        bytes[at] = rng() % 2 ? 0xff : 0x00;
        break;
      default:
        bytes.resize(std::max<size_t>(8, at));
        break;
      }
    }
    bytes = hbm::sealPayload(std::move(bytes));
    hbm::Model m;
    std::string error;
    if (!hbm::deserialize(bytes.data(), bytes.size(), m, error)) {
      EXPECT_FALSE(error.empty());
      continue;
    }
    ++accepted;
    // An accepted model must be safe to run.
    runtime::Options o;
    o.threads = 1;
    auto s = runtime::Session::create(std::move(m), o);
    std::vector<eval::Tensor> inputs;
    for (int32_t i : s->model().inputs)
      inputs.push_back(
          eval::Tensor::f32(s->model().tensors[size_t(i)].shape, 0.5f));
    std::vector<eval::Tensor> out;
    s->run(inputs, out, error);
  }
  std::printf("%d of 3000 mutants loaded and ran\n", accepted);
}

TEST(Hbm, SemanticErrorsSayWhat) {
  std::string error;
  {
    hbm::Model m = tinyModel();
    m.layers[1].inputs = {99};
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("layer 'conv' refers to tensor #99"),
              std::string::npos)
        << error;
  }
  {
    hbm::Model m = tinyModel();
    m.layers[1].shift[3] = 70;
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("shift 70"), std::string::npos) << error;
  }
  {
    hbm::Model m = tinyModel();
    m.tensors[2].arenaOffset = 1000;
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("outside the arena"), std::string::npos) << error;
  }
  {
    // Found by the HBM fuzzer (UBSan: misaligned float store in the
    // runtime): an arena offset must suit the tensor's element size.
    hbm::Model m = tinyModel();
    for (hbm::TensorDesc &t : m.tensors)
      if (t.name == "fc")
        t.arenaOffset = 257; // an i16 tensor at an odd byte
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("tensor 'fc' at arena offset 257 is not aligned to "
                         "its 2-byte elements"),
              std::string::npos)
        << error;
  }
  {
    hbm::Model m = tinyModel();
    m.constants[0].data.pop_back();
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("bytes for layout 'o16k2'"), std::string::npos)
        << error;
  }
  {
    hbm::Model m = tinyModel();
    std::swap(m.layers[1], m.layers[2]);
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("before any layer writes it"), std::string::npos)
        << error;
  }
  {
    hbm::Model m = tinyModel();
    m.version = hbm::kVersion + 1;
    std::vector<uint8_t> bytes = hbm::serialize(m);
    hbm::Model back;
    EXPECT_FALSE(hbm::deserialize(bytes.data(), bytes.size(), back, error));
    EXPECT_NE(error.find("version 3 is not supported"), std::string::npos)
        << error;
  }
  {
    // A wrong file identifier behind a valid trailer (a resealed payload).
    std::vector<uint8_t> bytes = hbm::serialize(tinyModel());
    bytes.resize(bytes.size() - hbm::kTrailerBytes);
    bytes[4] = 'X'; // the file identifier
    bytes = hbm::sealPayload(std::move(bytes));
    hbm::Model back;
    EXPECT_FALSE(hbm::deserialize(bytes.data(), bytes.size(), back, error));
    EXPECT_NE(error.find("not an HBM file"), std::string::npos) << error;
  }
}

// Constant activations (a quantized position embedding): a tensor outside
// the arena whose data is a "plain" constant of its dtype, read only by
// add / mul / matmul / concat / conv / linear; the index survives
// serialization.
TEST(Hbm, ConstantTensorsAreCheckedAndRoundTrip) {
  std::string error;
  auto withConstant = [](size_t bytes) {
    hbm::Model m = tinyModel();
    hbm::Constant c;
    c.name = "pos";
    c.shape = {1, 180};
    c.dtype = eval::DType::I8;
    c.layout = "plain";
    c.data.assign(bytes, 3);
    m.constants.push_back(c);
    hbm::TensorDesc t;
    t.name = "pos";
    t.shape = {1, 180};
    t.dtype = eval::DType::I8;
    t.constant = int32_t(m.constants.size() - 1);
    m.tensors.push_back(t);
    return m;
  };
  {
    hbm::Model m = withConstant(180);
    EXPECT_TRUE(hbm::validate(m, error)) << error;
    std::vector<uint8_t> bytes = hbm::serialize(m);
    hbm::Model back;
    ASSERT_TRUE(hbm::deserialize(bytes.data(), bytes.size(), back, error))
        << error;
    EXPECT_EQ(back.tensors.back().constant, m.tensors.back().constant);
  }
  {
    hbm::Model m = withConstant(179);
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("constant tensor 'pos' must be an i8/i16 tensor"),
              std::string::npos)
        << error;
  }
  {
    // A linear may read it (a decoder's learned queries; the runtime runs
    // that layer on the reference kernel); a reshape, whose runtime path
    // addresses the arena, may not.
    hbm::Model m = withConstant(180);
    for (hbm::Layer &l : m.layers)
      if (l.name == "fc")
        l.inputs = {int32_t(m.tensors.size() - 1)};
    EXPECT_TRUE(hbm::validate(m, error)) << error;
    hbm::Model r = withConstant(180);
    for (hbm::Layer &l : r.layers)
      if (l.name == "flat")
        l.inputs = {int32_t(r.tensors.size() - 1)};
    EXPECT_FALSE(hbm::validate(r, error));
    EXPECT_NE(error.find("layer 'flat' (reshape) cannot read the constant "
                         "tensor 'pos'"),
              std::string::npos)
        << error;
  }
}

// The tiny model's "fc" layer as a layer norm over the 180 flattened values:
// it validates, round-trips with its eps and signed multipliers, and each
// malformed variant is refused with the layer's name and the reason.
TEST(Hbm, LayerNormRoundTripsAndIsChecked) {
  auto layerNormModel = [] {
    hbm::Model m = tinyModel();
    m.arenaBytes = 4096;
    for (hbm::TensorDesc &t : m.tensors)
      if (t.name == "fc" || t.name == "out") {
        t.shape = {1, 180};
        t.arenaOffset = t.name == "fc" ? 1024 : 2048;
      }
    hbm::Constant bias;
    bias.name = "norm.bias";
    bias.shape = {180};
    bias.dtype = eval::DType::I32;
    bias.layout = "plain";
    for (int i = 0; i < 180; ++i) {
      const uint32_t v = uint32_t(i * 37 - 3000);
      for (int s = 0; s < 4; ++s)
        bias.data.push_back(uint8_t(v >> (8 * s)));
    }
    m.constants.push_back(bias);
    for (hbm::Layer &l : m.layers)
      if (l.name == "fc") {
        l.kind = hbm::LayerKind::LayerNorm;
        l.weight = -1;
        l.bias = int32_t(m.constants.size() - 1);
        l.multiplier.clear();
        l.shift.clear();
        for (int i = 0; i < 180; ++i) {
          l.multiplier.push_back((i % 2 ? -1 : 1) * (1 << 30));
          l.shift.push_back(20 + i % 5);
        }
        l.normEps = 77;
      }
    return m;
  };
  std::string error;
  hbm::Model m = layerNormModel();
  ASSERT_TRUE(hbm::validate(m, error)) << error;
  std::vector<uint8_t> bytes = hbm::serialize(m);
  hbm::Model back;
  ASSERT_TRUE(hbm::deserialize(bytes.data(), bytes.size(), back, error))
      << error;
  const hbm::Layer *norm = nullptr;
  for (const hbm::Layer &l : back.layers)
    if (l.name == "fc")
      norm = &l;
  ASSERT_TRUE(norm);
  EXPECT_EQ(norm->kind, hbm::LayerKind::LayerNorm);
  EXPECT_EQ(norm->normEps, 77);
  EXPECT_EQ(norm->multiplier[1], -(1 << 30));
  EXPECT_STREQ(hbm::layerKindName(hbm::LayerKind::LayerNorm), "layer_norm");

  auto refused = [&](const std::function<void(hbm::Layer &)> &mutate,
                     const std::string &why) {
    hbm::Model bad = layerNormModel();
    for (hbm::Layer &l : bad.layers)
      if (l.name == "fc")
        mutate(l);
    std::string message;
    EXPECT_FALSE(hbm::validate(bad, message)) << why;
    EXPECT_NE(message.find(why), std::string::npos) << message;
  };
  refused([](hbm::Layer &l) { l.bias = -1; },
          "layer 'fc' (layer_norm) has no bias");
  refused([](hbm::Layer &l) { l.multiplier.pop_back(); },
          "layer 'fc' needs one multiplier/shift per channel (180)");
  refused([](hbm::Layer &l) { l.shift[3] = 63; },
          "layer 'fc' has shift 63 outside [0, 62]");
  refused([](hbm::Layer &l) { l.normEps = -1; },
          "layer 'fc' has a negative eps");
}

// A deformable sampling layer must see value / locations / weights of
// matching shapes and 1 + 2 x levels requantizations.
TEST(Hbm, MsDeformAttnShapesAreChecked) {
  std::string error;
  hbm::Model m = tinyModel();
  for (hbm::Layer &l : m.layers)
    if (l.name == "fc") {
      l.kind = hbm::LayerKind::MsDeformAttn;
      l.inputs = {l.inputs[0], l.inputs[0], l.inputs[0]};
      l.weight = l.bias = -1;
      l.size = {2, 2};
    }
  EXPECT_FALSE(hbm::validate(m, error));
  EXPECT_NE(error.find("layer 'fc' (ms_deform_attn) operands are not value "
                       "[N, S, M, D]"),
            std::string::npos)
      << error;
  EXPECT_STREQ(hbm::layerKindName(hbm::LayerKind::MsDeformAttn),
               "ms_deform_attn");
}

// A matmul layer whose operands are not [..., M, K] x [..., K, N] (here
// [1, 180] x [1, 180]) is refused with the layer's name.
TEST(Hbm, MatmulShapesAreChecked) {
  std::string error;
  hbm::Model m = tinyModel();
  for (hbm::Layer &l : m.layers)
    if (l.name == "fc") {
      l.kind = hbm::LayerKind::MatMul;
      l.inputs = {l.inputs[0], l.inputs[0]};
      l.weight = l.bias = -1;
    }
  EXPECT_FALSE(hbm::validate(m, error));
  EXPECT_NE(error.find("layer 'fc' operands are not [..., M, K] x [..., K, N]"),
            std::string::npos)
      << error;
  EXPECT_STREQ(hbm::layerKindName(hbm::LayerKind::MatMul), "matmul");
}

// dequant_output=False: a model may return an integer tensor; its scale,
// which the caller dequantizes with, must be one positive finite number.
TEST(Hbm, IntegerOutputCarriesItsScale) {
  std::string error;
  hbm::Model m = tinyModel();
  m.layers.pop_back(); // the dequantize layer
  m.outputs = {5};     // "fc", i16
  ASSERT_EQ(m.tensors[5].name, "fc");
  m.tensors[5].scale = {0.001f};
  EXPECT_TRUE(hbm::validate(m, error)) << error;
  hbm::Model back;
  std::vector<uint8_t> bytes = hbm::serialize(m);
  ASSERT_TRUE(hbm::deserialize(bytes.data(), bytes.size(), back, error))
      << error;
  EXPECT_EQ(back.tensors[5].scale, std::vector<float>{0.001f});
  for (std::vector<float> bad :
       {std::vector<float>{-1.f}, std::vector<float>{0.f},
        std::vector<float>{std::nanf("")}, std::vector<float>{0.1f, 0.2f}}) {
    m.tensors[5].scale = bad;
    EXPECT_FALSE(hbm::validate(m, error));
    EXPECT_NE(error.find("model output 'fc' needs one positive finite scale"),
              std::string::npos)
        << error;
  }
}

TEST(Hbm, FileErrorsNameTheFile) {
  hbm::Model m;
  std::string error;
  EXPECT_FALSE(hbm::readFile("/nonexistent/model.hbm", m, error));
  EXPECT_EQ(error, "/nonexistent/model.hbm: cannot open");
  const std::string path = ::testing::TempDir() + "/truncated.hbm";
  std::vector<uint8_t> bytes = hbm::serialize(tinyModel());
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()), 100);
  }
  EXPECT_FALSE(hbm::readFile(path, m, error));
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  std::remove(path.c_str());
}

} // namespace

TEST(Hbm, OutputNamesAndPostProcessRoundTrip) {
  // Multi-output fields: names parallel to the outputs and the CPU
  // post-processing description survive serialization; wrong name lists are
  // refused.
  hbm::Model m = tinyModel();
  m.outputNames = {"cls_s8"};
  m.postProcess = R"({"type":"FCOSMultiStrideFilter","strides":[8]})";
  std::vector<uint8_t> bytes = hbm::serialize(m);
  hbm::Model back;
  std::string error;
  ASSERT_TRUE(hbm::deserialize(bytes.data(), bytes.size(), back, error))
      << error;
  EXPECT_EQ(back.outputNames, m.outputNames);
  EXPECT_EQ(back.postProcess, m.postProcess);
  EXPECT_EQ(hbm::serialize(back), bytes);

  m.outputNames = {"cls_s8", "bbox_s8"};
  EXPECT_FALSE(hbm::validate(m, error));
  EXPECT_NE(error.find("output_names has 2 names for 1 outputs"),
            std::string::npos)
      << error;
  m.outputNames = {""};
  EXPECT_FALSE(hbm::validate(m, error));
  EXPECT_NE(error.find("empty or repeated"), std::string::npos) << error;
}
