//===- Optimizers.cpp - SGD and AdamW with per-name param groups ----------===//
//
// `params={"weight": dict(weight_decay=4e-5)}` puts every parameter whose
// name contains "weight" in a group with those options (first matching key
// wins); the others form the default group with the top-level options.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Builders.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <cmath>

namespace hat::engine {

namespace {

struct OptimizerKwargs {
  double lr = 0.01;
  double momentum = 0, weightDecay = 0, dampening = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

config::Expected<double> number(const config::BuildArgs &args,
                                const config::Value &v,
                                const std::string &name) {
  if (!v.isNumber() || v.isBool())
    return args.error("'" + name + "' must be a number, got " + v.repr());
  // LibTorch checks these only when it builds the optimizer, as a c10
  // backtrace without the config location; NaN/Inf pass its checks.
  if (!std::isfinite(v.asNumber()))
    return args.error("'" + name + "' must be a finite number, got " +
                      v.repr());
  return v.asNumber();
}

/// Applies the kwargs of `dict` (top level or a param group) to `kw`.
config::Status applyKwargs(const config::BuildArgs &args,
                           const config::DictData &dict, OptimizerKwargs &kw,
                           bool isSGD) {
  for (auto &[key, value] : dict.entries) {
    std::string k = key.str();
    if (k == "type" || k == "params")
      continue;
    if (k == "nesterov" && isSGD) {
      if (!value.isBool())
        return args.error("'nesterov' must be True or False");
      kw.nesterov = value.asBool();
      continue;
    }
    if (k == "betas" && !isSGD) {
      if ((!value.isTuple() && !value.isList()) ||
          value.sequenceItems().size() != 2)
        return args.error("'betas' must be a pair of numbers");
      double beta[2];
      for (int i = 0; i < 2; ++i) {
        auto b = number(args, value.sequenceItems()[size_t(i)], "betas");
        if (!b)
          return b.error();
        if (*b < 0 || *b >= 1)
          return args.error("'betas' must lie in [0, 1), got " + value.repr());
        beta[i] = *b;
      }
      kw.beta1 = beta[0];
      kw.beta2 = beta[1];
      continue;
    }
    auto v = number(args, value, k);
    if (!v)
      return v.error();
    if (k == "lr")
      kw.lr = *v;
    else if (k == "weight_decay")
      kw.weightDecay = *v;
    else if (k == "momentum" && isSGD)
      kw.momentum = *v;
    else if (k == "dampening" && isSGD)
      kw.dampening = *v;
    else if (k == "eps" && !isSGD)
      kw.eps = *v;
    else
      return args.error("'" + k + "' is not an option of " + args.typeName());
  }
  if (kw.lr < 0)
    return args.error("'lr' must be >= 0");
  if (kw.weightDecay < 0)
    return args.error("'weight_decay' must be >= 0");
  if (kw.momentum < 0)
    return args.error("'momentum' must be >= 0");
  if (kw.eps < 0)
    return args.error("'eps' must be >= 0");
  if (kw.nesterov && (kw.momentum <= 0 || kw.dampening != 0))
    return args.error("'nesterov' needs momentum > 0 and dampening = 0 (as "
                      "in torch.optim.SGD)");
  return config::Status::success();
}

config::Expected<std::any> buildOptimizer(const config::BuildArgs &args) {
  std::string last = args.typeName().substr(args.typeName().rfind('.') + 1);
  bool isSGD = last == "SGD";
  OptimizerKwargs base;
  if (auto s = applyKwargs(args, args.config(), base, isSGD); !s)
    return s.error();
  std::vector<std::pair<std::string, OptimizerKwargs>> groups;
  config::Value params = args.get("params");
  if (!params.isNone()) {
    if (!params.isDict())
      return args.error("'params' must be a dict of name pattern -> options");
    for (auto &[key, value] : params.asDict().entries) {
      if (!value.isDict())
        return args.error("params['" + key.str() + "'] must be a dict");
      OptimizerKwargs kw = base;
      if (auto s = applyKwargs(args, value.asDict(), kw, isSGD); !s)
        return s.error();
      groups.emplace_back(key.str(), kw);
    }
  }
  OptimizerFactory factory = [isSGD, base,
                              groups](const exec::NamedTensors &named)
      -> std::unique_ptr<torch::optim::Optimizer> {
    std::vector<std::vector<at::Tensor>> members(groups.size() + 1);
    for (auto &[name, tensor] : named) {
      size_t g = groups.size();
      for (size_t i = 0; i < groups.size(); ++i)
        if (name.find(groups[i].first) != std::string::npos) {
          g = i;
          break;
        }
      members[g].push_back(tensor);
    }
    auto options = [&](const OptimizerKwargs &kw)
        -> std::unique_ptr<torch::optim::OptimizerOptions> {
      if (isSGD)
        return std::make_unique<torch::optim::SGDOptions>(
            torch::optim::SGDOptions(kw.lr)
                .momentum(kw.momentum)
                .dampening(kw.dampening)
                .weight_decay(kw.weightDecay)
                .nesterov(kw.nesterov));
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(kw.lr)
              .betas({kw.beta1, kw.beta2})
              .eps(kw.eps)
              .weight_decay(kw.weightDecay));
    };
    std::vector<torch::optim::OptimizerParamGroup> paramGroups;
    for (size_t i = 0; i <= groups.size(); ++i) {
      if (members[i].empty())
        continue;
      const OptimizerKwargs &kw = i < groups.size() ? groups[i].second : base;
      paramGroups.emplace_back(members[i], options(kw));
    }
    if (isSGD)
      return std::make_unique<torch::optim::SGD>(
          paramGroups, torch::optim::SGDOptions(base.lr)
                           .momentum(base.momentum)
                           .weight_decay(base.weightDecay)
                           .nesterov(base.nesterov));
    return std::make_unique<torch::optim::AdamW>(
        paramGroups, torch::optim::AdamWOptions(base.lr)
                         .betas({base.beta1, base.beta2})
                         .eps(base.eps)
                         .weight_decay(base.weightDecay));
  };
  return std::any(factory);
}

HAT_REGISTER("optimizer", {"torch.optim.SGD", "SGD"},
             config::KwargSpec{{"lr"},
                               {"params", "momentum", "weight_decay",
                                "nesterov", "dampening"}},
             buildOptimizer);
HAT_REGISTER("optimizer", {"torch.optim.AdamW", "AdamW"},
             config::KwargSpec{{"lr"},
                               {"params", "betas", "eps", "weight_decay"}},
             buildOptimizer);

} // namespace
} // namespace hat::engine
