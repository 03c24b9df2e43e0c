//===- DistributedTest.cpp - Reducer, SyncBN, collectives over Gloo -------===//
//
// Two ranks as two threads of this process, each with its own Context (own
// store connection, own Gloo process groups over loopback). Data-parallel
// gradients are compared with one process on the concatenated batch.
//
//===----------------------------------------------------------------------===//

#include "../Executor/ExecutorTestUtil.h"

#include "hat/Distributed/Distributed.h"
#include "hat/Metrics/Metrics.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <mutex>
#include <thread>

namespace hat::exec::test {
namespace {

using namespace std::chrono_literals;

/// Runs fn(rank, context) on `world` threads joined to one job; failures
/// inside a rank come back as test failures.
template <typename Fn> void runRanks(int world, Fn fn) {
  auto server = dist::StoreServer::start("127.0.0.1", 0, 30s);
  std::vector<std::string> errors(world);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank)
    threads.emplace_back([&, rank] {
      try {
        dist::InitOptions options;
        options.port = server->port();
        options.rank = rank;
        options.worldSize = world;
        options.storeHostedElsewhere = true;
        options.timeout = 30s;
        auto context = dist::Context::create(options);
        fn(rank, *context);
        context->finish();
      } catch (const std::exception &e) {
        errors[rank] = e.what();
      }
    });
  for (auto &t : threads)
    t.join();
  for (int rank = 0; rank < world; ++rank)
    EXPECT_EQ(errors[rank], "") << "rank " << rank;
}

/// max |a - b| / max |b|: relative to the tensor's scale, so elements that
/// happen to be near zero do not dominate.
double relativeError(const at::Tensor &a, const at::Tensor &b) {
  double scale = b.abs().max().item<double>();
  return (a - b).abs().max().item<double>() / std::max(scale, 1e-12);
}

class DistributedTest : public ExecutorTest {
protected:
  static constexpr int kWorld = 2, kPerRank = 3;

  /// Single-process gradients of the mean cross-entropy over `input`.
  std::vector<at::Tensor> referenceGradients(ModuleExecutor &executor,
                                             const at::Tensor &input,
                                             const at::Tensor &labels) {
    executor.train(true);
    at::Tensor loss =
        at::cross_entropy_loss(executor.forwardOne(input), labels);
    loss.backward();
    std::vector<at::Tensor> grads;
    for (const at::Tensor &p : executor.parameters())
      grads.push_back(p.grad().clone());
    return grads;
  }

  /// Each rank's executor sees its slice of the batch; returns each rank's
  /// averaged gradients.
  std::vector<std::vector<at::Tensor>>
  dataParallelGradients(std::vector<std::unique_ptr<ModuleExecutor>> &ranks,
                        const at::Tensor &input, const at::Tensor &labels,
                        bool syncBn, double bucketCapMb) {
    std::vector<std::vector<at::Tensor>> grads(kWorld);
    runRanks(kWorld, [&](int rank, dist::Context &context) {
      ModuleExecutor &executor = *ranks[rank];
      if (syncBn)
        executor.setBatchNormFunction(
            [&context](const at::Tensor &x, const at::Tensor &w,
                       const at::Tensor &b, const at::Tensor &mean,
                       const at::Tensor &var, bool training, double momentum,
                       double eps) {
              return dist::syncBatchNorm(context, x, w, b, mean, var, training,
                                         momentum, eps);
            });
      dist::ReducerOptions options;
      options.bucketCapMb = bucketCapMb;
      dist::GradientReducer reducer(context, executor.namedParameters(),
                                    options);
      if (bucketCapMb < 0.01) {
        EXPECT_GT(reducer.numBuckets(), 3u);
      }
      executor.train(true);
      at::Tensor mine = input.narrow(0, rank * kPerRank, kPerRank);
      at::Tensor myLabels = labels.narrow(0, rank * kPerRank, kPerRank);
      at::Tensor loss =
          at::cross_entropy_loss(executor.forwardOne(mine), myLabels);
      reducer.prepareForBackward();
      loss.backward();
      reducer.finishBackward();
      for (const at::Tensor &p : executor.parameters())
        grads[rank].push_back(p.grad().clone());
    });
    return grads;
  }

  void expectSameGradients(const std::vector<at::Tensor> &reference,
                           const std::vector<std::vector<at::Tensor>> &ranks,
                           const NamedTensors &names) {
    for (int rank = 0; rank < kWorld; ++rank) {
      ASSERT_EQ(ranks[rank].size(), reference.size());
      for (size_t i = 0; i < reference.size(); ++i)
        EXPECT_LE(relativeError(ranks[rank][i], reference[i]), 1e-5)
            << "rank " << rank << ", " << names[i].first;
    }
  }
};

TEST_F(DistributedTest, GradientsEqualOneProcessOnTheWholeBatchWithoutBN) {
  auto module = buildRandomNet(context, 5, kWorld * kPerRank);
  runPipeline(*module, "func.func(hat-fuse-bn)"); // no BN left
  auto reference = makeExecutor(entry(*module));
  std::vector<std::unique_ptr<ModuleExecutor>> ranks;
  for (int r = 0; r < kWorld; ++r)
    ranks.push_back(makeExecutor(entry(*module)));
  at::Tensor input = randn({kWorld * kPerRank, 3, 12, 12});
  at::Tensor labels = at::tensor({0, 3, 1, 4, 2, 2}, at::kLong);
  auto expected = referenceGradients(*reference, input, labels);
  // Tiny buckets: several all-reduces start while backward runs.
  auto got = dataParallelGradients(ranks, input, labels, false, 0.001);
  expectSameGradients(expected, got, reference->namedParameters());
  // One bucket for everything gives the same.
  for (auto &r : ranks)
    r->zeroGrad();
  got = dataParallelGradients(ranks, input, labels, false, 25);
  expectSameGradients(expected, got, reference->namedParameters());
}

TEST_F(DistributedTest, SyncBatchNormEqualsBatchNormOnTheConcatenatedBatch) {
  auto module = buildRandomNet(context, 6, kWorld * kPerRank);
  auto reference = makeExecutor(entry(*module));
  std::vector<std::unique_ptr<ModuleExecutor>> ranks;
  for (int r = 0; r < kWorld; ++r)
    ranks.push_back(makeExecutor(entry(*module)));
  // An offset makes the per-rank means differ from the global one.
  at::Tensor input = randn({kWorld * kPerRank, 3, 12, 12});
  input.narrow(0, 0, kPerRank).add_(1.5);
  at::Tensor labels = at::tensor({1, 0, 4, 3, 2, 1}, at::kLong);
  auto expected = referenceGradients(*reference, input, labels);
  auto got = dataParallelGradients(ranks, input, labels, true, 0.001);
  expectSameGradients(expected, got, reference->namedParameters());
  // Running statistics: the global batch's, on every rank.
  auto refBuffers = reference->namedBuffers();
  for (int r = 0; r < kWorld; ++r) {
    auto buffers = ranks[r]->namedBuffers();
    ASSERT_EQ(buffers.size(), refBuffers.size());
    for (size_t i = 0; i < buffers.size(); ++i)
      EXPECT_LE(relativeError(buffers[i].second, refBuffers[i].second), 1e-5)
          << "rank " << r << ", " << buffers[i].first;
  }

  // Without SyncBN the statistics are per rank and the gradients differ:
  // the comparison above can fail.
  std::vector<std::unique_ptr<ModuleExecutor>> plain;
  for (int r = 0; r < kWorld; ++r)
    plain.push_back(makeExecutor(entry(*module)));
  auto unsynced = dataParallelGradients(plain, input, labels, false, 25);
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    worst = std::max(worst, relativeError(unsynced[0][i], expected[i]));
  EXPECT_GT(worst, 1e-3);
}

TEST_F(DistributedTest, UnusedParametersAreNamedOrAveragedAsZeros) {
  // Rank 0 uses a, rank 1 uses a and b, nobody uses c.
  auto makeParams = [] {
    NamedTensors params;
    for (const char *name : {"a", "b", "c"})
      params.emplace_back(name, at::ones({4}).set_requires_grad(true));
    return params;
  };
  std::vector<NamedTensors> params(kWorld);
  for (auto &p : params)
    p = makeParams();
  runRanks(kWorld, [&](int rank, dist::Context &context) {
    dist::ReducerOptions options;
    options.findUnusedParameters = true;
    dist::GradientReducer reducer(context, params[rank], options);
    at::Tensor loss = params[rank][0].second.sum() * (rank + 1.0);
    if (rank == 1)
      loss = loss + params[rank][1].second.sum();
    reducer.prepareForBackward();
    loss.backward();
    reducer.finishBackward();
  });
  for (int rank = 0; rank < kWorld; ++rank) {
    EXPECT_TRUE(params[rank][0].second.grad().allclose(at::full({4}, 1.5)));
    EXPECT_TRUE(params[rank][1].second.grad().allclose(at::full({4}, 0.5)));
    EXPECT_FALSE(params[rank][2].second.grad().defined());
  }

  // Without find_unused_parameters the missing gradient is an error naming
  // the parameter, on the rank that lacks it.
  std::vector<std::string> messages(kWorld);
  for (auto &p : params)
    p = makeParams();
  runRanks(kWorld, [&](int rank, dist::Context &context) {
    dist::GradientReducer reducer(context, params[rank], {});
    at::Tensor loss =
        params[rank][0].second.sum() + params[rank][2].second.sum() +
        (rank == 1 ? params[rank][1].second.sum() : at::zeros({}));
    reducer.prepareForBackward();
    loss.backward();
    try {
      reducer.finishBackward();
    } catch (const dist::DistributedError &e) {
      messages[rank] = e.what();
      // Keep the other rank's bucket all-reduce company, as a real job's
      // failure handling would end it.
      params[rank][1].second.mutable_grad() = at::zeros({4});
      reducer.prepareForBackward();
      (params[rank][0].second.sum() + params[rank][1].second.sum() +
       params[rank][2].second.sum())
          .backward();
      reducer.finishBackward();
    }
  });
  EXPECT_NE(messages[0].find("no gradient in this step: b"), std::string::npos)
      << messages[0];
  EXPECT_NE(messages[0].find("find_unused_parameters=True"), std::string::npos);
  EXPECT_EQ(messages[1], "");
}

TEST_F(DistributedTest, BroadcastGatherAndMetricStatesCombine) {
  std::vector<at::Tensor> values(kWorld);
  std::vector<std::vector<std::vector<double>>> gathered(kWorld);
  std::vector<metrics::Accuracy> accuracies(kWorld);
  runRanks(kWorld, [&](int rank, dist::Context &context) {
    EXPECT_EQ(context.localWorldSize(), kWorld);
    values[rank] = at::full({3}, (float)rank + 7);
    std::vector<at::Tensor> one{values[rank]};
    context.broadcast(one, 1);
    // Variable lengths, as a detection metric's gathered detections.
    std::vector<double> mine(rank == 0 ? 1 : 3, rank + 0.25);
    gathered[rank] = context.allGather(mine);
    // Rank 0 saw 2 of 3 right, rank 1 1 of 2.
    at::Tensor preds =
        rank == 0
            ? at::tensor({0.9f, 0.1f, 0.2f, 0.8f, 0.7f, 0.3f}).view({3, 2})
            : at::tensor({0.1f, 0.9f, 0.6f, 0.4f}).view({2, 2});
    at::Tensor labels = rank == 0 ? at::tensor({0, 1, 1}, at::kLong)
                                  : at::tensor({1, 1}, at::kLong);
    accuracies[rank].updateTensors(labels, preds);
    auto states = context.allGather(accuracies[rank].state());
    auto merged = accuracies[rank].mergeState(states[1 - rank]);
    EXPECT_TRUE(bool(merged));
  });
  for (int rank = 0; rank < kWorld; ++rank) {
    EXPECT_TRUE(values[rank].equal(at::full({3}, 8.f)));
    ASSERT_EQ(gathered[rank].size(), 2u);
    EXPECT_EQ(gathered[rank][0], std::vector<double>({0.25}));
    EXPECT_EQ(gathered[rank][1], std::vector<double>({1.25, 1.25, 1.25}));
    auto acc = accuracies[rank].get();
    ASSERT_EQ(acc.size(), 1u);
    EXPECT_DOUBLE_EQ(acc[0].second, 3.0 / 5.0);
  }
  metrics::Accuracy bad;
  EXPECT_FALSE(bool(bad.mergeState({1, 2, 3})));
}

TEST(DistributedUrl, ParsesTcpHostPort) {
  auto parsed = dist::parseDistUrl("tcp://10.0.0.2:29500");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, "10.0.0.2");
  EXPECT_EQ(parsed->second, 29500);
  EXPECT_TRUE(dist::parseDistUrl("tcp://[::1]:80"));
  for (const char *bad : {"10.0.0.2:29500", "tcp://host", "tcp://:1",
                          "tcp://h:0", "tcp://h:70000", "tcp://h:x1"})
    EXPECT_FALSE(dist::parseDistUrl(bad)) << bad;
}

} // namespace
} // namespace hat::exec::test
