//===- Reducer.cpp - Bucketed gradient all-reduce during backward ---------===//
//
// The part of torch's DDP that matters for speed. Parameters are grouped
// into buckets in reverse program order (backward produces the last layers'
// gradients first). A post hook on each parameter's AccumulateGrad node
// runs once its gradient is complete; when every parameter of a bucket is
// ready the bucket is flattened and its all-reduce handed to Gloo's worker
// threads, while autograd goes on with the earlier layers. Buckets start in
// index order on every rank, so the collectives always match. After
// backward the main thread waits for the buckets, divides by the world size
// and copies the averages back into .grad.
//
//===----------------------------------------------------------------------===//

#include "DistributedImpl.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>

namespace hat::dist {

struct GradientReducer::State {
  Context *context = nullptr;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  ReducerOptions options;
  std::vector<std::string> names;
  std::vector<at::Tensor> params;
  /// Keeps each parameter's gradient accumulator (and so its hook) alive.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hookKeys;

  struct Bucket {
    std::vector<size_t> members; // parameter indices
    int64_t numel = 0;
    size_t pending = 0;
    at::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  std::vector<size_t> bucketOf;
  std::vector<bool> ready;
  size_t nextToLaunch = 0;
  bool armed = false;
  double waited = 0;

  void launch(size_t index) {
    Bucket &b = buckets[index];
    std::vector<at::Tensor> grads;
    grads.reserve(b.members.size());
    for (size_t i : b.members) {
      at::Tensor g = params[i].grad();
      grads.push_back(
          g.defined() ? g.detach().reshape({-1})
                      : at::zeros({params[i].numel()}, params[i].options()));
    }
    b.flat = at::cat(grads);
    std::vector<at::Tensor> one{b.flat};
    b.work = group->allreduce(one);
  }

  /// Starts every ready bucket that is next in order.
  void launchReady() {
    while (nextToLaunch < buckets.size() &&
           buckets[nextToLaunch].pending == 0) {
      launch(nextToLaunch);
      ++nextToLaunch;
    }
  }

  void markReady(size_t index) {
    if (!armed || ready[index])
      return;
    ready[index] = true;
    --buckets[bucketOf[index]].pending;
    if (options.overlap)
      launchReady();
  }
};

namespace {
/// Runs after AccumulateGrad has written the parameter's gradient.
class ReadyHook : public torch::autograd::FunctionPostHook {
public:
  ReadyHook(std::weak_ptr<GradientReducer::State> state, size_t index)
      : state(std::move(state)), index(index) {}
  torch::autograd::variable_list
  operator()(const torch::autograd::variable_list &outputs,
             const torch::autograd::variable_list &) override {
    if (auto s = state.lock())
      s->markReady(index);
    return outputs;
  }

private:
  std::weak_ptr<GradientReducer::State> state;
  size_t index;
};
} // namespace

GradientReducer::GradientReducer(
    Context &context, std::vector<std::pair<std::string, at::Tensor>> named,
    const ReducerOptions &options)
    : state(std::make_shared<State>()) {
  State &s = *state;
  s.context = &context;
  s.group = context.impl().gradientGroup;
  s.options = options;
  for (auto &[name, t] : named)
    if (t.requires_grad()) {
      s.names.push_back(name);
      s.params.push_back(t);
    }
  // Buckets in reverse order, the first one small so communication starts
  // early, as torch's DDP does.
  const int64_t cap =
      std::max<int64_t>(1, (int64_t)(options.bucketCapMb * 1024 * 1024));
  const int64_t firstCap = std::min<int64_t>(cap, 1024 * 1024);
  s.bucketOf.assign(s.params.size(), 0);
  for (size_t k = s.params.size(); k-- > 0;) {
    int64_t bytes = s.params[k].numel() * (int64_t)s.params[k].element_size();
    int64_t limit = s.buckets.size() <= 1 ? firstCap : cap;
    if (s.buckets.empty() ||
        (!s.buckets.back().members.empty() &&
         s.buckets.back().numel * (int64_t)s.params[k].element_size() + bytes >
             limit))
      s.buckets.emplace_back();
    s.buckets.back().members.push_back(k);
    s.buckets.back().numel += s.params[k].numel();
    s.bucketOf[k] = s.buckets.size() - 1;
  }
  s.ready.assign(s.params.size(), false);
  for (size_t i = 0; i < s.params.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[i]);
    if (!accumulator)
      throw DistributedError("parameter '" + s.names[i] +
                             "' is not a leaf tensor requiring gradients");
    s.hookKeys.push_back(accumulator->add_post_hook(
        std::make_unique<ReadyHook>(std::weak_ptr<State>(state), i)));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < state->accumulators.size(); ++i)
    state->accumulators[i]->del_post_hook(state->hookKeys[i]);
}

size_t GradientReducer::numBuckets() const { return state->buckets.size(); }
double GradientReducer::waitSeconds() const { return state->waited; }

void GradientReducer::prepareForBackward() {
  State &s = *state;
  for (auto &b : s.buckets) {
    b.pending = b.members.size();
    b.flat = at::Tensor();
    b.work.reset();
  }
  std::fill(s.ready.begin(), s.ready.end(), false);
  s.nextToLaunch = 0;
  s.armed = true;
}

void GradientReducer::finishBackward() {
  State &s = *state;
  s.armed = false;
  std::vector<size_t> unused;
  for (size_t i = 0; i < s.params.size(); ++i)
    if (!s.ready[i])
      unused.push_back(i);
  if (!unused.empty() && !s.options.findUnusedParameters) {
    std::string list;
    for (size_t k = 0; k < unused.size() && k < 8; ++k)
      list += (k ? ", " : "") + s.names[unused[k]];
    if (unused.size() > 8)
      list += ", ... (" + std::to_string(unused.size()) + " in all)";
    throw DistributedError(
        "parameters received no gradient in this step: " + list +
        "; set find_unused_parameters=True in the trainer if some parameters "
        "are legitimately unused");
  }
  // Unused parameters contribute zeros; their buckets start now, in order.
  for (size_t i : unused) {
    s.ready[i] = true;
    --s.buckets[s.bucketOf[i]].pending;
  }
  auto begin = std::chrono::steady_clock::now();
  at::Tensor usedCounts;
  try {
    s.launchReady();
    if (s.options.findUnusedParameters) {
      // Parameters no rank used keep no gradient, as in a single process.
      usedCounts = at::ones({(int64_t)s.params.size()}, at::kFloat);
      for (size_t i : unused)
        usedCounts[(int64_t)i] = 0;
      std::vector<at::Tensor> one{usedCounts};
      s.group->allreduce(one)->wait();
    }
    for (auto &b : s.buckets)
      b.work->wait();
  } catch (const std::exception &e) {
    s.context->collectiveFailed("the gradient all-reduce", e);
  }
  s.waited +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
          .count();
  at::NoGradGuard noGrad;
  const double world = s.context->worldSize();
  for (auto &b : s.buckets) {
    b.flat.div_(world);
    int64_t offset = 0;
    for (size_t i : b.members) {
      at::Tensor &p = s.params[i];
      at::Tensor average = b.flat.narrow(0, offset, p.numel()).view_as(p);
      offset += p.numel();
      // No rank used it: its gradient stays what it was, as in a single
      // process.
      if (usedCounts.defined() && usedCounts[(int64_t)i].item<float>() == 0)
        continue;
      if (p.grad().defined())
        p.mutable_grad().copy_(average);
      else
        p.mutable_grad() = average.clone();
    }
  }
}

} // namespace hat::dist
