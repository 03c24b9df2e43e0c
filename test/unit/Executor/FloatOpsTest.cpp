//===- FloatOpsTest.cpp - Float ops vs hand-written LibTorch --------------===//
//
// Every float op: the executor's forward, input gradient and parameter
// gradients equal the same computation written directly with ATen, bit for
// bit, and the forward agrees with the reference interpreter (HatEval) to
// float rounding.
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestUtil.h"

#include <map>

namespace hat::exec::test {
namespace {

using TensorMap = std::map<std::string, at::Tensor>;
using Reference =
    std::function<at::Tensor(const std::vector<at::Tensor> &, TensorMap &)>;

class FloatOpsTest : public ExecutorTest {
protected:
  /// Runs `func` on `inputs` through the executor and `reference` on clones
  /// of the inputs, parameters and buffers; compares the output, the input
  /// gradients, the parameter gradients and the buffers afterwards: bit for
  /// bit with NCHW convs, to float rounding with channels-last convs
  /// (ExecutorOptions::channelsLast, oneDNN's other summation order), whose
  /// outputs must also come back contiguous. Returns the NCHW output.
  at::Tensor check(mlir::func::FuncOp func,
                   const std::vector<at::Tensor> &inputs,
                   const Reference &reference, bool training = false) {
    at::Tensor nchwOut;
    for (bool channelsLast : {false, true}) {
      SCOPED_TRACE(channelsLast ? "channels-last convs" : "NCHW convs");
      ExecutorOptions options;
      options.fakeQuantMode = FakeQuantMode::Float;
      options.channelsLast = channelsLast;
      auto executor = makeExecutor(func, options);
      if (!executor)
        return at::Tensor();
      executor->train(training);

      TensorMap refState;
      for (auto &[name, t] : executor->namedParameters())
        refState[name] = t.detach().clone().set_requires_grad(true);
      for (auto &[name, t] : executor->namedBuffers())
        refState[name] = t.detach().clone();

      std::vector<at::Tensor> ins, refIns;
      for (const at::Tensor &t : inputs) {
        ins.push_back(t.detach().clone().set_requires_grad(true));
        refIns.push_back(t.detach().clone().set_requires_grad(true));
      }
      at::Tensor out = executor->forward(ins)[0];
      at::manual_seed(11);
      at::Tensor gradOut = at::randn(out.sizes());
      (out * gradOut).sum().backward();

      at::Tensor refOut = reference(refIns, refState);
      (refOut * gradOut).sum().backward();

      auto same = [&](const at::Tensor &a, const at::Tensor &b) {
        return channelsLast ? allClose(a, b, 1e-4, 1e-5) : bitEqual(a, b);
      };
      EXPECT_TRUE(same(out, refOut)) << "forward";
      if (channelsLast)
        EXPECT_TRUE(out.is_contiguous()) << "output memory format";
      for (size_t i = 0; i < ins.size(); ++i)
        EXPECT_TRUE(same(ins[i].grad(), refIns[i].grad()))
            << "gradient of input " << i;
      for (auto &[name, t] : executor->namedParameters())
        EXPECT_TRUE(same(t.grad(), refState[name].grad()))
            << "gradient of " << name;
      for (auto &[name, t] : executor->namedBuffers())
        EXPECT_TRUE(same(t, refState[name])) << "buffer " << name;

      if (!channelsLast) {
        nchwOut = out;
        if (!training) {
          // Same meaning as the reference interpreter (different summation
          // order, so only to float rounding).
          std::vector<at::Tensor> evalOut = runEval(func, inputs);
          if (!evalOut.empty())
            EXPECT_TRUE(allClose(out, evalOut[0], 1e-4, 1e-5)) << "vs HatEval";
        }
      }
    }
    return nchwOut;
  }
};

TEST_F(FloatOpsTest, Conv2d) {
  struct Case {
    std::vector<int64_t> stride, pad, dilation;
    int64_t groups;
    bool bias;
  };
  for (const Case &c :
       std::vector<Case>{{{1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
                         {{2, 2}, {0, 0, 0, 0}, {1, 1}, 2, false},
                         {{1, 2}, {1, 2, 1, 2}, {2, 1}, 1, true},
                         {{1, 1}, {0, 1, 2, 0}, {1, 1}, 4, true}}) {
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({2, 4, 9, 8}, fb.f32())});
    mlir::Value w = fb.param("conv.weight", {8, 4 / c.groups, 3, 3}, 0.5f);
    mlir::Value b = c.bias ? fb.param("conv.bias", {8}, 0.5f) : mlir::Value();
    mlir::Value y = fb.builder.create<Conv2dOp>(
        fb.loc(), args[0], w, b, fb.i64s(c.stride), fb.i64s(c.pad),
        fb.i64s(c.dilation), fb.builder.getI64IntegerAttr(c.groups));
    auto func = fb.finish({y});
    check(func, {randn({2, 4, 9, 8})},
          [&](const std::vector<at::Tensor> &in, TensorMap &p) {
            at::Tensor x = in[0];
            std::vector<int64_t> padding{c.pad[0], c.pad[1]};
            if (c.pad[0] != c.pad[2] || c.pad[1] != c.pad[3]) {
              x = at::constant_pad_nd(x,
                                      {c.pad[1], c.pad[3], c.pad[0], c.pad[2]});
              padding = {0, 0};
            }
            return at::conv2d(x, p["conv.weight"],
                              c.bias ? p["conv.bias"] : at::Tensor(), c.stride,
                              padding, c.dilation, c.groups);
          });
  }
}

TEST_F(FloatOpsTest, Linear) {
  for (bool bias : {true, false}) {
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({2, 3, 6}, fb.f32())});
    mlir::Value w = fb.param("fc.weight", {4, 6}, 0.5f);
    mlir::Value b = bias ? fb.param("fc.bias", {4}, 0.5f) : mlir::Value();
    mlir::Value y = fb.builder.create<LinearOp>(fb.loc(), args[0], w, b);
    check(fb.finish({y}), {randn({2, 3, 6})},
          [&](const std::vector<at::Tensor> &in, TensorMap &p) {
            return at::linear(in[0], p["fc.weight"],
                              bias ? p["fc.bias"] : at::Tensor());
          });
  }
}

TEST_F(FloatOpsTest, BatchNormEvalAndTrain) {
  for (bool training : {false, true}) {
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({4, 3, 5, 5}, fb.f32())});
    mlir::Value gamma = fb.param("bn.weight", {3}, 0.3f, 1.f);
    mlir::Value beta = fb.param("bn.bias", {3}, 0.3f);
    mlir::Value mean = fb.param("bn.running_mean", {3}, 0.3f);
    mlir::Value var = fb.param("bn.running_var", {3}, 0.3f, 1.f);
    mlir::Value y = fb.builder.create<BatchNormOp>(
        fb.loc(), args[0], gamma, beta, mean, var,
        fb.builder.getF32FloatAttr(1e-3f), fb.builder.getF32FloatAttr(0.2f));
    auto func = fb.finish({y});
    at::Tensor input = randn({4, 3, 5, 5}) * 2 + 0.5;
    ExecutorOptions options;
    auto probe = makeExecutor(func, options);
    at::Tensor meanBefore = probe->namedBuffers()[0].second.clone();
    at::Tensor varBefore = probe->namedBuffers()[1].second.clone();
    EXPECT_EQ(probe->namedBuffers()[0].first, "bn.running_mean");

    check(
        func, {input},
        [&](const std::vector<at::Tensor> &in, TensorMap &p) {
          return at::batch_norm(in[0], p["bn.weight"], p["bn.bias"],
                                p["bn.running_mean"], p["bn.running_var"],
                                training, 0.2, double(1e-3f), true);
        },
        training);

    if (training) {
      // PyTorch's convention, spelled out: running = (1 - m) * running + m *
      // batch, with the unbiased batch variance.
      auto executor = makeExecutor(func, options);
      executor->train();
      executor->forwardOne(input);
      at::Tensor batchMean = input.mean({0, 2, 3});
      at::Tensor batchVar = input.var({0, 2, 3}, /*unbiased=*/true);
      auto buffers = executor->namedBuffers();
      EXPECT_TRUE(
          allClose(buffers[0].second, meanBefore * 0.8 + batchMean * 0.2));
      EXPECT_TRUE(
          allClose(buffers[1].second, varBefore * 0.8 + batchVar * 0.2));
      // Training normalises with the batch statistics.
      executor->eval();
      at::Tensor evalOut = executor->forwardOne(input);
      executor->train();
      at::Tensor trainOut = executor->forwardOne(input);
      EXPECT_FALSE(allClose(evalOut, trainOut));
    }
  }
}

TEST_F(FloatOpsTest, Activations) {
  using Builder = std::function<mlir::Value(FunctionBuilder &, mlir::Value)>;
  using Ref = std::function<at::Tensor(const at::Tensor &)>;
  std::vector<std::tuple<const char *, Builder, Ref>> cases = {
      {"relu",
       [](FunctionBuilder &fb, mlir::Value x) -> mlir::Value {
         return fb.builder.create<ReluOp>(fb.loc(), x);
       },
       [](const at::Tensor &x) { return at::relu(x); }},
      {"relu6",
       [](FunctionBuilder &fb, mlir::Value x) -> mlir::Value {
         return fb.builder.create<Relu6Op>(fb.loc(), x);
       },
       [](const at::Tensor &x) { return at::hardtanh(x, 0.0, 6.0); }},
      {"sigmoid",
       [](FunctionBuilder &fb, mlir::Value x) -> mlir::Value {
         return fb.builder.create<SigmoidOp>(fb.loc(), x);
       },
       [](const at::Tensor &x) { return at::sigmoid(x); }},
      {"silu",
       [](FunctionBuilder &fb, mlir::Value x) -> mlir::Value {
         return fb.builder.create<SiluOp>(fb.loc(), x);
       },
       [](const at::Tensor &x) { return at::silu(x); }},
      {"hardswish",
       [](FunctionBuilder &fb, mlir::Value x) -> mlir::Value {
         return fb.builder.create<HardswishOp>(fb.loc(), x);
       },
       [](const at::Tensor &x) { return at::hardswish(x); }},
  };
  for (auto &[name, build, ref] : cases) {
    SCOPED_TRACE(name);
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({2, 3, 4, 4}, fb.f32())});
    auto func = fb.finish({build(fb, args[0])});
    check(func, {randn({2, 3, 4, 4}) * 4},
          [&](const std::vector<at::Tensor> &in, TensorMap &) {
            return ref(in[0]);
          });
  }
}

TEST_F(FloatOpsTest, AddAndMulBroadcast) {
  for (bool isAdd : {true, false}) {
    FunctionBuilder fb(context);
    auto args = fb.begin(
        {fb.tensor({2, 3, 4, 4}, fb.f32()), fb.tensor({2, 3, 1, 1}, fb.f32())});
    mlir::Value y =
        isAdd
            ? fb.builder.create<AddOp>(fb.loc(), args[0], args[1]).getResult()
            : fb.builder.create<MulOp>(fb.loc(), args[0], args[1]).getResult();
    check(fb.finish({y}), {randn({2, 3, 4, 4}), randn({2, 3, 1, 1})},
          [&](const std::vector<at::Tensor> &in, TensorMap &) {
            return isAdd ? in[0] + in[1] : in[0] * in[1];
          });
  }
}

// A parameter marked hat.trainable trains whatever uses it (GaNet's
// attention gamma only feeds a hat.mul): it is among the parameters and gets
// the reference gradient; the same parameter unmarked is a constant.
TEST_F(FloatOpsTest, TrainableMarkerMakesAParameter) {
  for (bool marked : {true, false}) {
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({2, 3, 4, 4}, fb.f32())});
    mlir::Value gamma = fb.param("attn.gamma", {1}, 0.5f);
    if (marked)
      gamma.getDefiningOp()->setAttr("hat.trainable", fb.builder.getUnitAttr());
    mlir::Value y = fb.builder.create<MulOp>(fb.loc(), gamma, args[0]);
    auto func = fb.finish({y});
    ExecutorOptions options;
    auto executor = makeExecutor(func, options);
    ASSERT_TRUE(executor);
    bool found = false;
    for (auto &[name, t] : executor->namedParameters())
      found |= name == "attn.gamma";
    EXPECT_EQ(found, marked);
    if (marked)
      check(func, {randn({2, 3, 4, 4})},
            [&](const std::vector<at::Tensor> &in, TensorMap &p) {
              return p["attn.gamma"] * in[0];
            });
  }
}

// hat.matmul forward and backward (both operands get gradients) against
// at::matmul, with a broadcast batch dimension, and against HatEval.
TEST_F(FloatOpsTest, MatmulBroadcastBatch) {
  FunctionBuilder fb(context);
  auto args = fb.begin(
      {fb.tensor({2, 3, 5, 4}, fb.f32()), fb.tensor({3, 4, 6}, fb.f32())});
  mlir::Value y =
      fb.builder.create<MatmulOp>(fb.loc(), args[0], args[1]).getResult();
  at::Tensor out =
      check(fb.finish({y}), {randn({2, 3, 5, 4}), randn({3, 4, 6})},
            [&](const std::vector<at::Tensor> &in, TensorMap &) {
              return at::matmul(in[0], in[1]);
            });
  EXPECT_EQ(out.sizes().vec(), (std::vector<int64_t>{2, 3, 5, 6}));
}

// hat.layer_norm forward and backward (input, gamma and beta gradients)
// against at::layer_norm bit for bit, and against the formula written out
// in LibTorch ops (biased variance over the last axis) to float rounding.
TEST_F(FloatOpsTest, LayerNormLastAxis) {
  FunctionBuilder fb(context);
  auto args = fb.begin({fb.tensor({2, 7, 6}, fb.f32())});
  mlir::Value gamma = fb.param("norm.weight", {6}, 0.5f, 1.f);
  mlir::Value beta = fb.param("norm.bias", {6}, 0.3f);
  mlir::Value y = fb.builder.create<LayerNormOp>(
      fb.loc(), args[0], gamma, beta, fb.builder.getF32FloatAttr(1e-3f));
  auto func = fb.finish({y});
  at::Tensor input = randn({2, 7, 6}) * 3 + 1;
  at::Tensor out = check(func, {input},
                         [&](const std::vector<at::Tensor> &in, TensorMap &p) {
                           return at::layer_norm(in[0], {6}, p["norm.weight"],
                                                 p["norm.bias"], double(1e-3f));
                         });
  ASSERT_TRUE(out.defined());

  ExecutorOptions options;
  options.fakeQuantMode = FakeQuantMode::Float;
  auto executor = makeExecutor(func, options);
  ASSERT_TRUE(executor);
  executor->train(true);
  at::Tensor x = input.clone().set_requires_grad(true);
  at::Tensor got = executor->forward({x})[0];
  at::Tensor gradOut = randn({2, 7, 6});
  (got * gradOut).sum().backward();
  TensorMap p;
  for (auto &[name, t] : executor->namedParameters())
    p[name] = t.detach().clone().set_requires_grad(true);
  at::Tensor xr = input.clone().set_requires_grad(true);
  at::Tensor mean = xr.mean({-1}, /*keepdim=*/true);
  at::Tensor var = (xr - mean).pow(2).mean({-1}, /*keepdim=*/true);
  at::Tensor want =
      (xr - mean) / at::sqrt(var + double(1e-3f)) * p["norm.weight"] +
      p["norm.bias"];
  (want * gradOut).sum().backward();
  EXPECT_TRUE(allClose(got, want, 1e-5, 1e-5)) << "forward vs formula";
  EXPECT_TRUE(allClose(x.grad(), xr.grad(), 1e-4, 1e-5)) << "input gradient";
  for (auto &[name, t] : executor->namedParameters())
    EXPECT_TRUE(allClose(t.grad(), p[name].grad(), 1e-4, 1e-5)) << name;
  EXPECT_EQ(executor->namedParameters().size(), 2u);
  EXPECT_EQ(executor->normParameterNames(),
            (std::set<std::string>{"norm.bias", "norm.weight"}));
}

// hat.ms_deform_attn forward and backward (value, locations and weights all
// get gradients) against ms_deform_attn_core_pytorch written in ATen (bit
// for bit), and against bilinear sampling written out with gathers (to
// float rounding), and HatEval.
TEST_F(FloatOpsTest, MsDeformAttnTwoLevels) {
  const std::vector<int64_t> shapes{4, 6, 2, 3};
  const int64_t n = 2, s = 30, m = 2, d = 4, lq = 5, levels = 2, points = 3;
  FunctionBuilder fb(context);
  auto args = fb.begin({fb.tensor({n, s, m, d}, fb.f32()),
                        fb.tensor({n, lq, m, levels, points, 2}, fb.f32()),
                        fb.tensor({n, lq, m, levels, points}, fb.f32())});
  mlir::Value y = fb.builder.create<MsDeformAttnOp>(
      fb.loc(), args[0], args[1], args[2],
      fb.builder.getDenseI64ArrayAttr(shapes));
  auto func = fb.finish({y});
  // Locations in [-0.1, 1.1]: some points sample partly outside the maps.
  const std::vector<at::Tensor> inputs{
      randn({n, s, m, d}), at::rand({n, lq, m, levels, points, 2}) * 1.2 - 0.1,
      at::softmax(randn({n, lq, m, levels, points}), -1)};
  auto composition = [&](const std::vector<at::Tensor> &in, TensorMap &) {
    const at::Tensor grids = in[1] * 2 - 1;
    std::vector<at::Tensor> sampled;
    int64_t start = 0;
    for (int64_t l = 0; l < levels; ++l) {
      const int64_t h = shapes[size_t(2 * l)], w = shapes[size_t(2 * l + 1)];
      at::Tensor map = in[0]
                           .narrow(1, start, h * w)
                           .flatten(2)
                           .transpose(1, 2)
                           .reshape({n * m, d, h, w});
      at::Tensor grid = grids.select(3, l).transpose(1, 2).flatten(0, 1);
      sampled.push_back(at::grid_sampler(map, grid, 0, 0, false));
      start += h * w;
    }
    at::Tensor attention =
        in[2].transpose(1, 2).reshape({n * m, 1, lq, levels * points});
    return (at::stack(sampled, -2).flatten(-2) * attention)
        .sum(-1)
        .view({n, m * d, lq})
        .transpose(1, 2)
        .contiguous();
  };
  at::Tensor out = check(func, inputs, composition);
  ASSERT_EQ(out.sizes().vec(), (std::vector<int64_t>{n, lq, m * d}));

  // Bilinear sampling spelled out: four gathered corners per point, zero
  // outside, weights (1 - fx)(1 - fy) ...; gradients through autograd.
  std::vector<at::Tensor> mine, theirs;
  for (const at::Tensor &t : inputs) {
    mine.push_back(t.clone().set_requires_grad(true));
    theirs.push_back(t.clone().set_requires_grad(true));
  }
  ExecutorOptions options;
  options.fakeQuantMode = FakeQuantMode::Float;
  auto executor = makeExecutor(func, options);
  ASSERT_TRUE(executor);
  at::Tensor got = executor->forward(mine)[0];
  at::Tensor gradOut = randn(got.sizes().vec());
  (got * gradOut).sum().backward();
  at::Tensor result = at::zeros({n, lq, m, d});
  int64_t start = 0;
  for (int64_t l = 0; l < levels; ++l) {
    const int64_t h = shapes[size_t(2 * l)], w = shapes[size_t(2 * l + 1)];
    at::Tensor level = theirs[0].narrow(1, start, h * w); // [N, HW, M, D]
    at::Tensor x = theirs[1].select(3, l).select(-1, 0) * w - 0.5;
    at::Tensor yv = theirs[1].select(3, l).select(-1, 1) * h - 0.5;
    at::Tensor x0 = x.floor().detach(), y0 = yv.floor().detach();
    at::Tensor fx = x - x0, fy = yv - y0; // [N, Lq, M, P]
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        at::Tensor xx = x0 + dx, yy = y0 + dy;
        at::Tensor inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h);
        at::Tensor pos =
            (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).to(at::kLong);
        at::Tensor cw = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) *
                        inside.to(at::kFloat) *
                        theirs[2].select(3, l); // [N, Lq, M, P]
        for (int64_t b = 0; b < n; ++b)
          for (int64_t head = 0; head < m; ++head) {
            at::Tensor map = level[b].select(1, head); // [HW, D]
            at::Tensor idx = pos[b].select(1, head);   // [Lq, P]
            at::Tensor gathered =
                map.index_select(0, idx.flatten()).view({lq, points, d});
            at::Tensor contribution =
                (gathered * cw[b].select(1, head).unsqueeze(-1)).sum(1);
            result.select(0, b).select(1, head).add_(contribution);
          }
      }
    start += h * w;
  }
  at::Tensor want = result.reshape({n, lq, m * d});
  (want * gradOut).sum().backward();
  EXPECT_TRUE(allClose(got, want, 1e-5, 1e-5)) << "forward vs gathers";
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(allClose(mine[i].grad(), theirs[i].grad(), 1e-4, 1e-5))
        << "gradient of input " << i;
}

// Locations and weights of batch 1 (a decoder's learned queries) serve a
// batch of 3: the same forward as copies for each image, and their
// gradients are the sums of the copies' gradients.
TEST_F(FloatOpsTest, MsDeformAttnSharedLocations) {
  const std::vector<int64_t> shapes{4, 6, 2, 3};
  // The builders own their modules: both stay alive for the test.
  std::vector<std::unique_ptr<FunctionBuilder>> builders;
  auto build = [&](int64_t locBatch) {
    builders.push_back(std::make_unique<FunctionBuilder>(context));
    FunctionBuilder &fb = *builders.back();
    auto args = fb.begin({fb.tensor({3, 30, 2, 4}, fb.f32()),
                          fb.tensor({locBatch, 5, 2, 2, 3, 2}, fb.f32()),
                          fb.tensor({locBatch, 5, 2, 2, 3}, fb.f32())});
    mlir::Value y = fb.builder.create<MsDeformAttnOp>(
        fb.loc(), args[0], args[1], args[2],
        fb.builder.getDenseI64ArrayAttr(shapes));
    return fb.finish({y});
  };
  mlir::func::FuncOp sharedFunc = build(1), copiedFunc = build(3);
  ExecutorOptions options;
  options.fakeQuantMode = FakeQuantMode::Float;
  auto sharedExec = makeExecutor(sharedFunc, options);
  auto copiedExec = makeExecutor(copiedFunc, options);
  ASSERT_TRUE(sharedExec && copiedExec);
  at::Tensor value = randn({3, 30, 2, 4});
  at::Tensor loc = at::rand({1, 5, 2, 2, 3, 2}).set_requires_grad(true);
  at::Tensor w = at::rand({1, 5, 2, 2, 3}).set_requires_grad(true);
  at::Tensor locCopies = loc.detach().repeat({3, 1, 1, 1, 1, 1});
  at::Tensor wCopies = w.detach().repeat({3, 1, 1, 1, 1});
  locCopies.set_requires_grad(true);
  wCopies.set_requires_grad(true);
  at::Tensor shared = sharedExec->forward({value, loc, w})[0];
  at::Tensor copied = copiedExec->forward({value, locCopies, wCopies})[0];
  EXPECT_TRUE(allClose(shared, copied, 1e-6, 1e-6)) << "forward";
  at::Tensor gradOut = randn({3, 5, 8});
  (shared * gradOut).sum().backward();
  (copied * gradOut).sum().backward();
  EXPECT_TRUE(allClose(loc.grad(), locCopies.grad().sum(0, true), 1e-4, 1e-5))
      << "location gradient";
  EXPECT_TRUE(allClose(w.grad(), wCopies.grad().sum(0, true), 1e-4, 1e-5))
      << "weight gradient";
  // HatEval agrees.
  std::vector<at::Tensor> evalOut = runEval(sharedFunc, {value, loc, w});
  ASSERT_EQ(evalOut.size(), 1u);
  EXPECT_TRUE(allClose(shared, evalOut[0], 1e-4, 1e-5)) << "vs HatEval";
}

TEST_F(FloatOpsTest, ConcatReshapeFlattenTransposeSoftmax) {
  FunctionBuilder fb(context);
  auto args = fb.begin(
      {fb.tensor({2, 3, 4, 5}, fb.f32()), fb.tensor({2, 2, 4, 5}, fb.f32())});
  auto &b = fb.builder;
  mlir::Value cat = b.create<ConcatOp>(
      fb.loc(), mlir::ValueRange{args[0], args[1]}, b.getI64IntegerAttr(1));
  mlir::Value t = b.create<TransposeOp>(fb.loc(), cat, fb.i64s({0, 2, 3, 1}));
  mlir::Value r = b.create<ReshapeOp>(fb.loc(), t, fb.i64s({2, 20, 5}));
  mlir::Value s = b.create<SoftmaxOp>(fb.loc(), r, b.getI64IntegerAttr(2));
  mlir::Value f = b.create<FlattenOp>(fb.loc(), s, b.getI64IntegerAttr(1));
  check(fb.finish({f}), {randn({2, 3, 4, 5}), randn({2, 2, 4, 5})},
        [&](const std::vector<at::Tensor> &in, TensorMap &) {
          at::Tensor c = at::cat({in[0], in[1]}, 1).permute({0, 2, 3, 1});
          return at::softmax(c.reshape({2, 20, 5}), 2).flatten(1);
        });
}

TEST_F(FloatOpsTest, Pools) {
  struct Case {
    bool max;
    std::vector<int64_t> kernel, stride, pad;
  };
  for (const Case &c :
       std::vector<Case>{{true, {2, 2}, {2, 2}, {0, 0, 0, 0}},
                         {true, {3, 3}, {1, 1}, {1, 1, 1, 1}},
                         {true, {3, 2}, {2, 1}, {0, 1, 1, 0}},
                         {false, {3, 3}, {1, 1}, {1, 1, 1, 1}},
                         {false, {2, 2}, {2, 2}, {0, 0, 0, 0}},
                         {false, {3, 3}, {2, 2}, {1, 0, 1, 1}}}) {
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({2, 3, 7, 6}, fb.f32())});
    mlir::Value y =
        c.max ? fb.builder
                    .create<MaxPool2dOp>(fb.loc(), args[0], fb.i64s(c.kernel),
                                         fb.i64s(c.stride), fb.i64s(c.pad))
                    .getResult()
              : fb.builder
                    .create<AvgPool2dOp>(fb.loc(), args[0], fb.i64s(c.kernel),
                                         fb.i64s(c.stride), fb.i64s(c.pad))
                    .getResult();
    check(fb.finish({y}), {randn({2, 3, 7, 6})},
          [&](const std::vector<at::Tensor> &in, TensorMap &) {
            bool symmetric = c.pad[0] == c.pad[2] && c.pad[1] == c.pad[3] &&
                             2 * c.pad[0] <= c.kernel[0] &&
                             2 * c.pad[1] <= c.kernel[1];
            at::Tensor x = in[0];
            std::vector<int64_t> padding{c.pad[0], c.pad[1]};
            if (!symmetric) {
              x = at::constant_pad_nd(x,
                                      {c.pad[1], c.pad[3], c.pad[0], c.pad[2]},
                                      c.max ? -INFINITY : 0.0);
              padding = {0, 0};
            }
            return c.max ? at::max_pool2d(x, c.kernel, c.stride, padding)
                         : at::avg_pool2d(x, c.kernel, c.stride, padding, false,
                                          true);
          });
  }
  FunctionBuilder fb(context);
  auto args = fb.begin({fb.tensor({2, 3, 7, 6}, fb.f32())});
  mlir::Value y = fb.builder.create<GlobalAvgPoolOp>(fb.loc(), args[0]);
  check(fb.finish({y}), {randn({2, 3, 7, 6})},
        [&](const std::vector<at::Tensor> &in, TensorMap &) {
          return at::mean(in[0], {2, 3}, true);
        });
}

TEST_F(FloatOpsTest, Resize) {
  for (auto [mode, alignCorners, outH, outW] :
       std::vector<std::tuple<hat::ResizeMode, bool, int64_t, int64_t>>{
           {hat::ResizeMode::nearest, false, 10, 7},
           {hat::ResizeMode::nearest, false, 3, 2},
           // torch's float nearest index differs from HAT's at 6 -> 74:
           // the executor must keep HAT's (index_select), not take
           // at::upsample_nearest2d.
           {hat::ResizeMode::nearest, false, 10, 74},
           {hat::ResizeMode::bilinear, false, 10, 12},
           {hat::ResizeMode::bilinear, true, 9, 4}}) {
    FunctionBuilder fb(context);
    auto args = fb.begin({fb.tensor({2, 3, 5, 6}, fb.f32())});
    mlir::Value y = fb.builder.create<ResizeOp>(
        fb.loc(), args[0], ResizeModeAttr::get(&context, mode),
        fb.i64s({outH, outW}), fb.builder.getBoolAttr(alignCorners));
    auto func = fb.finish({y});
    at::Tensor input = randn({2, 3, 5, 6});
    at::Tensor out = check(
        func, {input}, [&](const std::vector<at::Tensor> &in, TensorMap &) {
          if (mode == hat::ResizeMode::bilinear)
            return at::upsample_bilinear2d(in[0], {outH, outW}, alignCorners);
          // HAT's nearest: src = floor(dst * in / out) in integers. Where
          // that is torch's index too, what a LibTorch user writes.
          if (outW != 74)
            return at::upsample_nearest2d(in[0], {outH, outW});
          std::vector<int64_t> rows, cols;
          for (int64_t d = 0; d < outH; ++d)
            rows.push_back(d * 5 / outH);
          for (int64_t d = 0; d < outW; ++d)
            cols.push_back(d * 6 / outW);
          return in[0]
              .index_select(2, at::tensor(rows, at::TensorOptions(at::kLong)))
              .index_select(3, at::tensor(cols, at::TensorOptions(at::kLong)));
        });
    if (mode == hat::ResizeMode::nearest) // copies: exact vs HatEval too
      EXPECT_TRUE(bitEqual(out, runEval(func, {input})[0]));
  }
}

TEST_F(FloatOpsTest, WeightedSum) {
  // BiFPN's fast normalised fusion: forward and the gradients of the inputs
  // and of the raw fusion weights against the same formula in LibTorch. The
  // third case has a negative weight, which the ReLU removes (zero gradient).
  struct Case {
    std::vector<float> weights;
  };
  for (const Case &c : std::vector<Case>{
           {{1.0f, 1.0f}}, {{0.3f, 1.7f, 0.9f}}, {{0.8f, -0.5f, 1.2f}}}) {
    const int64_t n = int64_t(c.weights.size());
    FunctionBuilder fb(context);
    std::vector<mlir::Type> types(size_t(n), fb.tensor({2, 3, 4, 5}, fb.f32()));
    auto args = fb.begin(types);
    mlir::Value w =
        createFloatParam(fb.builder, fb.loc(), "fusion.weight", {n}, c.weights);
    mlir::Value y = fb.builder.create<WeightedSumOp>(
        fb.loc(), mlir::ValueRange(args), w, fb.builder.getF32FloatAttr(1e-4f));
    std::vector<at::Tensor> inputs;
    for (int64_t i = 0; i < n; ++i)
      inputs.push_back(randn({2, 3, 4, 5}));
    check(fb.finish({y}), inputs,
          [&](const std::vector<at::Tensor> &in, TensorMap &p) {
            at::Tensor pos = at::relu(p["fusion.weight"]);
            at::Tensor norm = pos / (pos.sum() + double(1e-4f));
            at::Tensor acc = in[0] * norm[0];
            for (int64_t i = 1; i < n; ++i)
              acc = acc + in[size_t(i)] * norm[i];
            return acc;
          });
  }
}

TEST_F(FloatOpsTest, SharedWeightsAndSeveralResults) {
  // FCOS's head: one conv weight applied to two levels, per-level BN, and a
  // function with one result per level. Every result and every gradient
  // (the shared weight's accumulates both levels) matches LibTorch.
  FunctionBuilder fb(context);
  auto args = fb.begin(
      {fb.tensor({2, 4, 8, 8}, fb.f32()), fb.tensor({2, 4, 4, 4}, fb.f32())});
  mlir::Value w = fb.param("head.conv.weight", {6, 4, 3, 3}, 0.3f);
  mlir::Value b = fb.param("head.conv.bias", {6}, 0.1f);
  std::vector<mlir::Value> results;
  for (int level = 0; level < 2; ++level) {
    std::string bn = "head.bn_" + std::to_string(level);
    mlir::Value c = fb.builder.create<Conv2dOp>(
        fb.loc(), args[size_t(level)], w, b, fb.i64s({1, 1}),
        fb.i64s({1, 1, 1, 1}), fb.i64s({1, 1}),
        fb.builder.getI64IntegerAttr(1));
    mlir::Value gamma = fb.param(bn + ".weight", {6}, 0.3f, 1.f);
    mlir::Value beta = fb.param(bn + ".bias", {6}, 0.2f);
    mlir::Value mean = fb.param(bn + ".running_mean", {6}, 0.2f);
    mlir::Value var = fb.param(bn + ".running_var", {6}, 0.3f, 1.f);
    results.push_back(fb.builder.create<ReluOp>(
        fb.loc(),
        fb.builder.create<BatchNormOp>(fb.loc(), c, gamma, beta, mean, var,
                                       fb.builder.getF32FloatAttr(1e-5f),
                                       fb.builder.getF32FloatAttr(0.1f))));
  }
  auto func = fb.finish(results);
  ExecutorOptions options;
  options.fakeQuantMode = FakeQuantMode::Float;
  options.channelsLast = false; // compared bit for bit below
  auto executor = makeExecutor(func, options);
  ASSERT_TRUE(executor);
  executor->train(true);
  TensorMap p;
  for (auto &[name, t] : executor->namedParameters())
    p[name] = t.detach().clone().set_requires_grad(true);
  for (auto &[name, t] : executor->namedBuffers())
    p[name] = t.detach().clone();
  // One parameter entry for the shared weight, not one per use.
  EXPECT_EQ(executor->namedParameters().size(), 6u);
  std::vector<at::Tensor> inputs{randn({2, 4, 8, 8}), randn({2, 4, 4, 4})};
  std::vector<at::Tensor> outs = executor->forward(inputs);
  ASSERT_EQ(outs.size(), 2u);
  std::vector<at::Tensor> grads{at::randn(outs[0].sizes()),
                                at::randn(outs[1].sizes())};
  ((outs[0] * grads[0]).sum() + (outs[1] * grads[1]).sum()).backward();
  at::Tensor refLoss;
  for (int level = 0; level < 2; ++level) {
    std::string bn = "head.bn_" + std::to_string(level);
    at::Tensor y = at::conv2d(inputs[size_t(level)], p["head.conv.weight"],
                              p["head.conv.bias"], {1, 1}, {1, 1});
    y = at::relu(at::batch_norm(y, p[bn + ".weight"], p[bn + ".bias"],
                                p[bn + ".running_mean"], p[bn + ".running_var"],
                                true, double(0.1f), double(1e-5f), true));
    EXPECT_TRUE(bitEqual(outs[size_t(level)], y)) << "result " << level;
    at::Tensor term = (y * grads[size_t(level)]).sum();
    refLoss = refLoss.defined() ? refLoss + term : term;
  }
  refLoss.backward();
  for (auto &[name, t] : executor->namedParameters())
    EXPECT_TRUE(allClose(t.grad(), p[name].grad(), 1e-5, 1e-6))
        << "gradient of " << name;
  for (auto &[name, t] : executor->namedBuffers())
    EXPECT_TRUE(bitEqual(t, p[name])) << "buffer " << name;
}

TEST_F(FloatOpsTest, RandomNetTrainAndEval) {
  // A whole network in both modes: the executor is the sum of its steps.
  for (bool training : {false, true}) {
    auto module = buildRandomNet(context, 3, 2);
    check(
        entry(*module), {randn({2, 3, 12, 12})},
        [&](const std::vector<at::Tensor> &in, TensorMap &p) {
          // Hand-written twin of buildRandomNet(seed 3): parameters are
          // numbered in creation order.
          int k = 0;
          auto next = [&](const std::string &base) {
            return p[base + "." + std::to_string(k++)];
          };
          auto convBnRelu = [&](at::Tensor x, int64_t kSize, bool relu) {
            at::Tensor w = next("conv.weight");
            at::Tensor y = at::conv2d(x, w, {}, {1, 1}, {kSize / 2, kSize / 2});
            at::Tensor g = next("bn.weight"), b = next("bn.bias");
            at::Tensor m = next("bn.mean"), v = next("bn.var");
            y = at::batch_norm(y, g, b, m, v, training, double(0.1f),
                               double(1e-5f), true);
            return relu ? at::relu(y) : y;
          };
          at::Tensor x = convBnRelu(in[0], 3, true);
          at::Tensor y = convBnRelu(x, 3, false);
          at::Tensor sum = at::relu(x + y);
          at::Tensor pooled = at::max_pool2d(sum, {2, 2}, {2, 2});
          at::Tensor a = convBnRelu(pooled, 1, true);
          at::Tensor bb = at::avg_pool2d(convBnRelu(pooled, 3, true), {3, 3},
                                         {1, 1}, {1, 1}, false, true);
          at::Tensor up =
              at::upsample_bilinear2d(at::cat({a, bb}, 1), {12, 12}, false);
          at::Tensor flat = at::mean(up, {2, 3}, true).reshape({-1, 10});
          at::Tensor w = next("head.weight"), b = next("head.bias");
          return at::linear(flat, w, b);
        },
        training);
  }
}

} // namespace
} // namespace hat::exec::test
