//===- StateTest.cpp - Parameters, state dicts, writeBack, training -------===//

#include "ExecutorTestUtil.h"

#include "hat/Executor/QuantKernels.h"

#include <ATen/core/grad_mode.h>
#include <torch/optim/sgd.h>

namespace hat::exec::test {
namespace {

class StateTest : public ExecutorTest {
protected:
  /// A few SGD steps of a cross-entropy-like loss on a fixed batch; returns
  /// the losses.
  std::vector<float> train(ModuleExecutor &executor, const at::Tensor &input,
                           const at::Tensor &target, int steps,
                           double lr = 0.05) {
    torch::optim::SGD sgd(executor.parameters(),
                          torch::optim::SGDOptions(lr).momentum(0.9));
    std::vector<float> losses;
    executor.train();
    for (int i = 0; i < steps; ++i) {
      sgd.zero_grad();
      at::Tensor logits = executor.forwardOne(input);
      at::Tensor loss = at::cross_entropy_loss(logits, target);
      loss.backward();
      sgd.step();
      losses.push_back(loss.item<float>());
    }
    return losses;
  }

  at::Tensor target() { return at::tensor({0, 1, 2, 3}, at::kLong); }
};

TEST_F(StateTest, ParametersAndBuffersAreNamedInProgramOrder) {
  auto module = buildRandomNet(context, 1, 2);
  auto executor = makeExecutor(entry(*module));
  auto params = executor->namedParameters();
  // 4 conv/bn units (weight, gamma, beta) + head weight and bias.
  ASSERT_EQ(params.size(), 4u * 3 + 2);
  EXPECT_EQ(params[0].first, "conv.weight.0");
  EXPECT_EQ(params[1].first, "bn.weight.1");
  EXPECT_EQ(params.back().first, "head.bias.21");
  for (auto &[name, t] : params)
    EXPECT_TRUE(t.requires_grad()) << name;
  auto buffers = executor->namedBuffers();
  ASSERT_EQ(buffers.size(), 4u * 2);
  EXPECT_EQ(buffers[0].first, "bn.mean.3");
  EXPECT_FALSE(buffers[0].second.requires_grad());
  EXPECT_EQ(executor->stateDict().size(), params.size() + buffers.size());
  EXPECT_EQ(executor->numSteps(), 20u);
  // The BN affine parameters are the norm parameters (custom_param_
  // optimizer's "norm_types"); conv and head weights are not.
  std::set<std::string> norms = executor->normParameterNames();
  EXPECT_EQ(norms.size(), 4u * 2);
  EXPECT_TRUE(norms.count("bn.weight.1"));
  EXPECT_FALSE(norms.count("conv.weight.0"));
  EXPECT_FALSE(norms.count("head.bias.21"));
  EXPECT_NE(executor->describe().find("hat.conv2d -> at::conv2d"),
            std::string::npos);

  // QAT: fake-quant state joins the buffers, weights stay the parameters.
  runPipeline(*module, "func.func(hat-fuse-bn,hat-float2qat)");
  auto qat = makeExecutor(entry(*module));
  EXPECT_EQ(qat->namedParameters().size(), 4u * 2 + 2); // weights + biases
  bool sawWeightFq = false, sawActivationFq = false;
  for (auto &[name, t] : qat->namedBuffers()) {
    sawWeightFq |= name == "conv.weight.0_fake_quant.scale";
    sawActivationFq |= name == "fake_quant.0.max";
  }
  EXPECT_TRUE(sawWeightFq);
  EXPECT_TRUE(sawActivationFq);
}

TEST_F(StateTest, SgdReducesLossAndWriteBackKeepsOutputs) {
  auto module = buildRandomNet(context, 2, 4);
  auto executor = makeExecutor(entry(*module));
  at::Tensor input = randn({4, 3, 12, 12});
  std::vector<float> losses = train(*executor, input, target(), 20);
  EXPECT_LT(losses.back(), 0.7f * losses.front())
      << losses.front() << " -> " << losses.back();

  // Trained values into the IR; the reference interpreter then computes what
  // the executor computes (eval mode: running statistics).
  executor->writeBack();
  executor->eval();
  at::Tensor ours;
  {
    at::NoGradGuard noGrad;
    ours = executor->forwardOne(input);
  }
  EXPECT_TRUE(allClose(ours, runEval(entry(*module), {input})[0], 1e-4, 1e-4));
  for (auto &[name, t] : executor->stateDict()) {
    bool found = false;
    module->walk([&](ParamOp p) {
      if (p.getName() != name)
        return;
      found = true;
      auto data = readFloatParam(p);
      ASSERT_TRUE(data);
      EXPECT_TRUE(bitEqual(at::tensor(*data).reshape(t.sizes()), t)) << name;
    });
    EXPECT_TRUE(found) << name;
  }
  // The written module still verifies and runs through the next passes.
  runPipeline(*module, "func.func(hat-fuse-bn,hat-float2qat)");
}

TEST_F(StateTest, QatTrainingWriteBackThenHatEval) {
  auto module = buildRandomNet(context, 4, 4);
  std::vector<at::Tensor> batches = {randn({4, 3, 12, 12})};
  runPipeline(*module, "func.func(hat-fuse-bn,hat-float2qat),hat-calibrate{"
                       "inputs=" +
                           writeBatches(batches) + "}");
  auto executor = makeExecutor(entry(*module));
  std::vector<float> losses = train(*executor, batches[0], target(), 8, 0.02);
  EXPECT_LT(losses.back(), losses.front());
  executor->writeBack();
  // Weight scales in the IR are those of the trained weights.
  for (auto &[name, t] : executor->namedBuffers())
    if (name == "conv.weight.0_fake_quant.scale") {
      auto weight = executor->namedParameters()[0].second;
      EXPECT_EQ(executor->namedParameters()[0].first, "conv.weight.0");
      EXPECT_TRUE(
          bitEqual(t, at::tensor(weightChannelStats(weight, 0, 8).scales)));
    }
  executor->eval();
  at::Tensor ours;
  {
    at::NoGradGuard noGrad;
    ours = executor->forwardOne(batches[0]);
  }
  // Fake quantization can flip a rounding where ATen's and the reference's
  // float sums differ in the last bit; almost all outputs agree exactly.
  at::Tensor ref = runEval(entry(*module), {batches[0]})[0];
  const double agree = ours.eq(ref).to(at::kDouble).mean().item<double>();
  EXPECT_GE(agree, 0.9);
  EXPECT_TRUE(allClose(ours, ref, 0.0, 0.2));
  // And the trained QAT module lowers to an integer model.
  runPipeline(*module, "func.func(hat-qat2quantize)");
}

TEST_F(StateTest, StateDictRoundTrip) {
  auto module = buildRandomNet(context, 5, 2);
  runPipeline(*module, "func.func(hat-fuse-bn,hat-float2qat)");
  ExecutorOptions options;
  options.fakeQuantMode = FakeQuantMode::Calibrate;
  auto executor = makeExecutor(entry(*module), options);
  at::Tensor input = randn({2, 3, 12, 12});
  {
    at::NoGradGuard noGrad;
    executor->forwardOne(input);
  }
  executor->setFakeQuantMode(FakeQuantMode::QAT);
  NamedTensors saved;
  for (auto &[name, t] : executor->stateDict())
    saved.emplace_back(name, t.clone());
  executor->eval();
  at::Tensor before = executor->forwardOne(input).detach();

  // Train away from the checkpoint, then restore it in place.
  at::Tensor logitsTarget = at::tensor({1, 3}, at::kLong);
  train(*executor, input, logitsTarget, 3);
  executor->eval();
  EXPECT_FALSE(bitEqual(executor->forwardOne(input), before));
  auto paramsBefore = executor->parameters();
  EXPECT_EQ(executor->loadStateDict(saved), "");
  EXPECT_TRUE(bitEqual(executor->forwardOne(input), before));
  // Same tensor objects: an optimizer holding them stays valid.
  auto paramsAfter = executor->parameters();
  for (size_t i = 0; i < paramsBefore.size(); ++i)
    EXPECT_TRUE(paramsBefore[i].is_same(paramsAfter[i]));

  // A fresh executor on the unmodified module loads the checkpoint too.
  auto fresh = makeExecutor(entry(*module));
  EXPECT_EQ(fresh->loadStateDict(saved), "");
  fresh->eval();
  EXPECT_TRUE(bitEqual(fresh->forwardOne(input), before));
}

TEST_F(StateTest, StateDictMismatchesAreNamedAndChangeNothing) {
  auto module = buildRandomNet(context, 6, 2);
  auto executor = makeExecutor(entry(*module));
  NamedTensors good;
  for (auto &[name, t] : executor->stateDict())
    good.emplace_back(name, t.clone() + 1);
  NamedTensors original;
  for (auto &[name, t] : executor->stateDict())
    original.emplace_back(name, t.clone());
  auto unchanged = [&] {
    auto now = executor->stateDict();
    for (size_t i = 0; i < now.size(); ++i)
      if (!bitEqual(now[i].second, original[i].second))
        return false;
    return true;
  };

  NamedTensors missing(good.begin() + 1, good.end());
  std::string error = executor->loadStateDict(missing);
  EXPECT_NE(error.find("'conv.weight.0'"), std::string::npos) << error;
  EXPECT_TRUE(unchanged());

  NamedTensors wrongShape = good;
  wrongShape[2].second = at::zeros({7});
  error = executor->loadStateDict(wrongShape);
  EXPECT_NE(error.find("'" + good[2].first + "' has shape [7]"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("expects [8]"), std::string::npos) << error;
  EXPECT_TRUE(unchanged());

  NamedTensors extra = good;
  extra.emplace_back("optimizer.lr", at::zeros({1}));
  error = executor->loadStateDict(extra);
  EXPECT_NE(error.find("'optimizer.lr'"), std::string::npos) << error;
  EXPECT_TRUE(unchanged());
  EXPECT_EQ(executor->loadStateDict(extra, /*strict=*/false), "");
  EXPECT_TRUE(bitEqual(executor->stateDict()[0].second, good[0].second));
}

TEST_F(StateTest, InputChecksAndDynamicBatch) {
  auto module = buildRandomNet(context, 8, 2);
  auto executor = makeExecutor(entry(*module));
  executor->eval();
  try {
    executor->forwardOne(randn({2, 4, 12, 12}));
    FAIL() << "expected an ExecutorError";
  } catch (const ExecutorError &e) {
    EXPECT_NE(std::string(e.what()).find("input #0 is Float [2, 4, 12, 12], "
                                         "the function expects Float "
                                         "[2, 3, 12, 12]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(executor->forward({}), ExecutorError);
  // Another batch size runs (reshape/flatten keep dim 0 as the batch) and
  // agrees row by row with the function's own batch size.
  at::Tensor big = randn({5, 3, 12, 12});
  at::Tensor out = executor->forwardOne(big);
  EXPECT_EQ(shapeOf(out), (std::vector<int64_t>{5, 5}));
  EXPECT_TRUE(allClose(out.slice(0, 0, 2),
                       executor->forwardOne(big.slice(0, 0, 2)), 1e-5, 1e-6));
  ExecutorOptions fixed;
  fixed.dynamicBatch = false;
  EXPECT_THROW(makeExecutor(entry(*module), fixed)->forwardOne(big),
               ExecutorError);
}

TEST_F(StateTest, CreateErrors) {
  FunctionBuilder fb(context);
  auto args = fb.begin({fb.tensor({2, 3}, fb.f32())});
  // An op from another dialect the executor does not know.
  auto call = fb.builder.create<mlir::func::CallOp>(
      fb.loc(), "f", mlir::TypeRange{fb.tensor({2, 3}, fb.f32())},
      mlir::ValueRange{args[0]});
  auto func = fb.finish({call.getResult(0)});
  auto created = ModuleExecutor::create(func);
  EXPECT_FALSE(created.executor);
  EXPECT_NE(created.error.find("cannot run 'func.call'"), std::string::npos)
      << created.error;

  auto module = buildRandomNet(context, 9, 2);
  ExecutorOptions options;
  options.observer = "median";
  created = ModuleExecutor::create(entry(*module), options);
  EXPECT_NE(created.error.find("unknown observer 'median'"), std::string::npos)
      << created.error;
#ifndef HAT_ENABLE_CUDA
  options = {};
  options.device = c10::Device(c10::kCUDA, 0);
  created = ModuleExecutor::create(entry(*module), options);
  EXPECT_NE(created.error.find("HAT_ENABLE_CUDA"), std::string::npos)
      << created.error;
#endif
}

} // namespace
} // namespace hat::exec::test
