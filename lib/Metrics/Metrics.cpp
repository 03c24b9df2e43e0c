//===- Metrics.cpp - Training and validation metrics ----------------------===//

#include "hat/Metrics/Metrics.h"

#include "hat/Config/Registry.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>

#include <any>

namespace hat::metrics {

config::Expected<config::Value>
Metric::callMethod(const std::string &name,
                   const std::vector<config::Value> &args,
                   const config::Kwargs &kwargs) {
  if (name == "update" && kwargs.empty())
    return update(args);
  if (name == "reset" && args.empty()) {
    reset();
    return config::Value::none();
  }
  if (name == "get" && args.empty()) {
    std::vector<config::Value> names, values;
    for (auto &[n, v] : get()) {
      names.push_back(config::Value::string(n));
      values.push_back(config::Value::real(v));
    }
    return config::Value::tuple(
        {config::Value::list(names), config::Value::list(values)});
  }
  return config::Diagnostic(typeName() + "." + name + "() is not supported");
}

namespace {
/// (labels, preds) from update's arguments, checked.
config::Expected<std::pair<at::Tensor, at::Tensor>>
labelsAndPreds(const std::string &metric,
               const std::vector<config::Value> &args) {
  if (args.size() != 2)
    return config::Diagnostic(metric +
                              ".update(labels, preds) takes 2 "
                              "arguments, got " +
                              std::to_string(args.size()));
  at::Tensor labels = asTensor(args[0]), preds = asTensor(args[1]);
  if (!preds.defined() && (args[1].isTuple() || args[1].isList()) &&
      !args[1].sequenceItems().empty())
    preds = asTensor(args[1].sequenceItems()[0]); // (preds, losses)
  if (!labels.defined() || !preds.defined())
    return config::Diagnostic(metric + ".update expects tensors, got " +
                              args[0].typeName() + " and " +
                              args[1].typeName());
  if (preds.dim() != 2 || labels.dim() != 1 || labels.size(0) != preds.size(0))
    return config::Diagnostic(
        metric + ".update expects labels [N] and class scores [N, C], got " +
        std::to_string(labels.dim()) + "-d and " + std::to_string(preds.dim()) +
        "-d tensors");
  return std::make_pair(labels, preds);
}
} // namespace

void Accuracy::updateTensors(const at::Tensor &labels,
                             const at::Tensor &preds) {
  at::NoGradGuard noGrad;
  at::Tensor predicted = preds.argmax(1);
  correct += predicted.eq(labels.to(predicted.device())).sum().item<int64_t>();
  total += labels.size(0);
}

config::Expected<config::Value>
Accuracy::update(const std::vector<config::Value> &args) {
  auto lp = labelsAndPreds("Accuracy", args);
  if (!lp)
    return lp.error();
  updateTensors(lp->first, lp->second);
  return config::Value::none();
}

std::vector<std::pair<std::string, double>> Accuracy::get() const {
  if (total == 0)
    return {};
  return {{"accuracy", (double)correct / (double)total}};
}

namespace {
config::Expected<config::Value> mergeCounts(const std::string &metric,
                                            const std::vector<double> &other,
                                            int64_t &correct, int64_t &total) {
  if (other.size() != 2 || other[0] < 0 || other[1] < other[0])
    return config::Diagnostic(metric +
                              ": a merged state must be (correct, "
                              "total) counts, got " +
                              std::to_string(other.size()) + " numbers");
  correct += (int64_t)other[0];
  total += (int64_t)other[1];
  return config::Value::none();
}
} // namespace

config::Expected<config::Value>
Accuracy::mergeState(const std::vector<double> &other) {
  return mergeCounts("Accuracy", other, correct, total);
}

config::Expected<config::Value>
TopKAccuracy::mergeState(const std::vector<double> &other) {
  return mergeCounts("TopKAccuracy", other, correct, total);
}

config::Expected<config::Value>
TopKAccuracy::update(const std::vector<config::Value> &args) {
  auto lp = labelsAndPreds("TopKAccuracy", args);
  if (!lp)
    return lp.error();
  at::NoGradGuard noGrad;
  auto [labels, preds] = *lp;
  // The label's rank: classes scoring higher, plus equal scores at a lower
  // index. Quantized logits tie often, and this rule (argmax's, extended)
  // makes the result independent of topk's unspecified tie order, so
  // hat-run and hat-train count the same images as correct.
  at::Tensor target = labels.to(preds.device()).unsqueeze(1);
  at::Tensor score = preds.gather(1, target);
  at::Tensor index =
      at::arange(preds.size(1), preds.options().dtype(at::kLong)).unsqueeze(0);
  at::Tensor rank =
      preds.gt(score).sum(1) + (preds.eq(score) & index.lt(target)).sum(1);
  correct += rank.lt(k).sum().item<int64_t>();
  total += labels.size(0);
  return config::Value::none();
}

std::vector<std::pair<std::string, double>> TopKAccuracy::get() const {
  if (total == 0)
    return {};
  return {{"top" + std::to_string(k), (double)correct / (double)total}};
}

config::Expected<config::Value>
LossShow::update(const std::vector<config::Value> &args) {
  if (args.size() != 1)
    return config::Diagnostic("LossShow.update(losses) takes 1 argument");
  std::vector<std::pair<std::string, at::Tensor>> named;
  const config::Value &v = args[0];
  if (v.isDict()) {
    for (auto &[key, value] : v.asDict().entries)
      if (at::Tensor t = asTensor(value); t.defined())
        named.emplace_back(key.str(), t);
  } else if (at::Tensor t = asTensor(v); t.defined()) {
    named.emplace_back("loss", t);
  } else if (v.isList() || v.isTuple()) {
    auto &items = v.sequenceItems();
    for (size_t i = 0; i < items.size(); ++i)
      if (at::Tensor t = asTensor(items[i]); t.defined())
        named.emplace_back("loss" + std::to_string(i), t);
  }
  if (named.empty())
    return config::Diagnostic("LossShow.update expects a loss tensor, a list "
                              "of them or a dict of them, got " +
                              v.typeName());
  if (sums.empty())
    for (auto &[n, t] : named)
      sums.emplace_back(n, 0.0);
  if (sums.size() != named.size())
    return config::Diagnostic("LossShow.update got a different set of "
                              "losses than before");
  for (size_t i = 0; i < named.size(); ++i)
    sums[i].second += named[i].second.detach().sum().item<double>();
  ++count;
  return config::Value::none();
}

std::vector<double> LossShow::state() const {
  std::vector<double> out{(double)count};
  for (auto &[n, sum] : sums)
    out.push_back(sum);
  return out;
}

config::Expected<config::Value>
LossShow::mergeState(const std::vector<double> &other) {
  if (other.empty() || other[0] < 0)
    return config::Diagnostic("LossShow: a merged state starts with a count");
  if (other[0] == 0)
    return config::Value::none();
  if (sums.empty() && count == 0)
    return config::Diagnostic("LossShow: cannot merge losses into a metric "
                              "that has seen none (their names are unknown)");
  if (other.size() != sums.size() + 1)
    return config::Diagnostic(
        "LossShow: a merged state has " + std::to_string(other.size() - 1) +
        " losses, this one " + std::to_string(sums.size()));
  count += (int64_t)other[0];
  for (size_t i = 0; i < sums.size(); ++i)
    sums[i].second += other[i + 1];
  return config::Value::none();
}

std::vector<std::pair<std::string, double>> LossShow::get() const {
  std::vector<std::pair<std::string, double>> out;
  for (auto &[n, s] : sums)
    out.emplace_back(n, count ? s / count : 0.0);
  return out;
}

config::Expected<std::vector<MetricPtr>>
buildMetrics(const config::Value &cfg) {
  std::vector<MetricPtr> metrics;
  if (cfg.isNone())
    return metrics;
  std::vector<config::Value> items = (cfg.isList() || cfg.isTuple())
                                         ? cfg.sequenceItems()
                                         : std::vector<config::Value>{cfg};
  for (const config::Value &item : items) {
    auto built = config::Registry::instance().build(item, "metric");
    if (!built)
      return built.error();
    metrics.push_back(std::any_cast<MetricPtr>(*built));
  }
  return metrics;
}

namespace {
config::Expected<std::any> buildAccuracy(const config::BuildArgs &) {
  return std::any(MetricPtr(std::make_shared<Accuracy>()));
}
config::Expected<std::any> buildTopK(const config::BuildArgs &args) {
  config::Value k = args.get("top_k");
  if (!k.isNone() && (!k.isInt() || k.asInt() < 1))
    return args.error("'top_k' must be a positive int, got " + k.repr());
  return std::any(
      MetricPtr(std::make_shared<TopKAccuracy>(k.isNone() ? 5 : k.asInt())));
}
config::Expected<std::any> buildLossShow(const config::BuildArgs &) {
  return std::any(MetricPtr(std::make_shared<LossShow>()));
}
HAT_REGISTER("metric", {"Accuracy"}, config::KwargSpec{{}, {}}, buildAccuracy);
HAT_REGISTER("metric", {"TopKAccuracy"}, config::KwargSpec{{}, {"top_k"}},
             buildTopK);
HAT_REGISTER("metric", {"LossShow"}, config::KwargSpec{{}, {}}, buildLossShow);
} // namespace

} // namespace hat::metrics
