//===- Optimizers.cpp - SGD and AdamW with per-name param groups ----------===//
//
// `params={"weight": dict(weight_decay=4e-5)}` puts every parameter whose
// name contains "weight" in a group with those options (first matching key
// wins); the others form the default group with the top-level options.
//
// HAT's `custom_param_optimizer(optim_cls, optim_cfgs, custom_param_mapper)`
// wraps SGD or AdamW: every parameter starts from `optim_cfgs`, then each
// mapper entry that selects it overrides the options it names, in the
// mapper's order ("norm_types" selects the weights and biases of batch and
// layer norms; any other key the parameters whose name contains it), so
// `{"backbone": dict(lr=2e-5), "norm_types": dict(weight_decay=0)}` gives a
// backbone norm both. Parameters with equal options share a param group.
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Builders.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

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

/// The options one config dict sets; the others stay as they were.
struct KwargsDelta {
  std::optional<double> lr, momentum, weightDecay, dampening, beta1, beta2, eps;
  std::optional<bool> nesterov;

  void applyTo(OptimizerKwargs &kw) const {
    kw.lr = lr.value_or(kw.lr);
    kw.momentum = momentum.value_or(kw.momentum);
    kw.weightDecay = weightDecay.value_or(kw.weightDecay);
    kw.dampening = dampening.value_or(kw.dampening);
    kw.beta1 = beta1.value_or(kw.beta1);
    kw.beta2 = beta2.value_or(kw.beta2);
    kw.eps = eps.value_or(kw.eps);
    kw.nesterov = nesterov.value_or(kw.nesterov);
  }
};

/// Reads the options of `dict` (skipping `type` and `params`); unknown
/// options and bad values are errors.
config::Expected<KwargsDelta> parseKwargs(const config::BuildArgs &args,
                                          const config::DictData &dict,
                                          bool isSGD) {
  KwargsDelta delta;
  for (auto &[key, value] : dict.entries) {
    std::string k = key.str();
    if (k == "type" || k == "params")
      continue;
    if (k == "nesterov" && isSGD) {
      if (!value.isBool())
        return args.error("'nesterov' must be True or False");
      delta.nesterov = value.asBool();
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
      delta.beta1 = beta[0];
      delta.beta2 = beta[1];
      continue;
    }
    auto v = number(args, value, k);
    if (!v)
      return v.error();
    if (k == "lr")
      delta.lr = *v;
    else if (k == "weight_decay")
      delta.weightDecay = *v;
    else if (k == "momentum" && isSGD)
      delta.momentum = *v;
    else if (k == "dampening" && isSGD)
      delta.dampening = *v;
    else if (k == "eps" && !isSGD)
      delta.eps = *v;
    else
      return args.error("'" + k + "' is not an option of " +
                        (isSGD ? "SGD" : "AdamW"));
  }
  return delta;
}

/// The checks torch.optim would make, with the config's location.
config::Status checkKwargs(const config::BuildArgs &args,
                           const OptimizerKwargs &kw) {
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

/// Applies the kwargs of `dict` (top level or a param group) to `kw`.
config::Status applyKwargs(const config::BuildArgs &args,
                           const config::DictData &dict, OptimizerKwargs &kw,
                           bool isSGD) {
  auto delta = parseKwargs(args, dict, isSGD);
  if (!delta)
    return delta.error();
  delta->applyTo(kw);
  return checkKwargs(args, kw);
}

std::unique_ptr<torch::optim::OptimizerOptions>
optionsOf(bool isSGD, const OptimizerKwargs &kw) {
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
}

/// SGD or AdamW over `groups` (empty ones dropped), `base` the defaults.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(
    bool isSGD, const OptimizerKwargs &base,
    const std::vector<std::pair<std::vector<at::Tensor>, OptimizerKwargs>>
        &groups) {
  std::vector<torch::optim::OptimizerParamGroup> paramGroups;
  for (const auto &[members, kw] : groups)
    if (!members.empty())
      paramGroups.emplace_back(members, optionsOf(isSGD, kw));
  if (isSGD)
    return std::make_unique<torch::optim::SGD>(
        paramGroups, torch::optim::SGDOptions(base.lr)
                         .momentum(base.momentum)
                         .dampening(base.dampening)
                         .weight_decay(base.weightDecay)
                         .nesterov(base.nesterov));
  return std::make_unique<torch::optim::AdamW>(
      paramGroups, torch::optim::AdamWOptions(base.lr)
                       .betas({base.beta1, base.beta2})
                       .eps(base.eps)
                       .weight_decay(base.weightDecay));
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
                              groups](const exec::NamedTensors &named,
                                      const std::set<std::string> &)
      -> std::unique_ptr<torch::optim::Optimizer> {
    std::vector<std::pair<std::vector<at::Tensor>, OptimizerKwargs>> members;
    for (const auto &group : groups)
      members.push_back({{}, group.second});
    members.push_back({{}, base});
    for (auto &[name, tensor] : named) {
      size_t g = groups.size();
      for (size_t i = 0; i < groups.size(); ++i)
        if (name.find(groups[i].first) != std::string::npos) {
          g = i;
          break;
        }
      members[g].first.push_back(tensor);
    }
    return makeOptimizer(isSGD, base, members);
  };
  return std::any(factory);
}

} // namespace

std::string describeOptimizer(torch::optim::Optimizer &optimizer) {
  const bool sgd = dynamic_cast<torch::optim::SGD *>(&optimizer) != nullptr;
  std::ostringstream out;
  out << "optimizer " << (sgd ? "SGD" : "AdamW") << ": "
      << optimizer.param_groups().size() << " param group"
      << (optimizer.param_groups().size() == 1 ? "" : "s") << ":";
  const char *separator = " ";
  for (auto &group : optimizer.param_groups()) {
    double weightDecay =
        sgd ? static_cast<torch::optim::SGDOptions &>(group.options())
                  .weight_decay()
            : static_cast<torch::optim::AdamWOptions &>(group.options())
                  .weight_decay();
    out << separator << group.params().size()
        << " tensors lr=" << group.options().get_lr()
        << " weight_decay=" << weightDecay;
    separator = "; ";
  }
  return out.str();
}

namespace {

/// `optim_cls` (torch.optim.SGD / AdamW, as a symbol or a string): true for
/// SGD; an error for anything else.
config::Expected<bool> optimClassIsSGD(const config::BuildArgs &args) {
  const config::Value &cls = args.get("optim_cls");
  if (!cls.isSymbol() && !cls.isStr())
    return args.error("'optim_cls' must be torch.optim.SGD or "
                      "torch.optim.AdamW, got " +
                      cls.repr());
  const std::string name = cls.str();
  const std::string last = name.substr(name.rfind('.') + 1);
  if (last != "SGD" && last != "AdamW")
    return args.error("'optim_cls' must be torch.optim.SGD or "
                      "torch.optim.AdamW, got " +
                      name);
  return last == "SGD";
}

config::Expected<std::any>
buildCustomParamOptimizer(const config::BuildArgs &args) {
  auto isSGD = optimClassIsSGD(args);
  if (!isSGD)
    return isSGD.error();
  const config::Value &cfgs = args.get("optim_cfgs");
  if (!cfgs.isDict())
    return args.error("'optim_cfgs' must be a dict of " +
                      std::string(*isSGD ? "SGD" : "AdamW") + " options");
  if (!cfgs.asDict().find(config::Value::string("lr")))
    return args.error("'optim_cfgs' must set 'lr'");
  OptimizerKwargs base;
  if (auto s = applyKwargs(args, cfgs.asDict(), base, *isSGD); !s)
    return s.error();
  // (key, the options it overrides), in the mapper's order.
  std::vector<std::pair<std::string, KwargsDelta>> mapper;
  const config::Value &mapping = args.get("custom_param_mapper");
  if (!mapping.isNone()) {
    if (!mapping.isDict())
      return args.error("'custom_param_mapper' must be a dict of key -> "
                        "options (a name substring, or \"norm_types\")");
    for (auto &[key, value] : mapping.asDict().entries) {
      if (!key.isStr() || key.asStr().empty())
        return args.error("custom_param_mapper keys must be non-empty "
                          "strings, got " +
                          key.repr());
      if (!value.isDict())
        return args.error("custom_param_mapper['" + key.asStr() +
                          "'] must be a dict of options");
      auto delta = parseKwargs(args, value.asDict(), *isSGD);
      if (!delta)
        return delta.error();
      // Each entry must be valid on its own over the base options.
      OptimizerKwargs check = base;
      delta->applyTo(check);
      if (auto s = checkKwargs(args, check); !s)
        return s.error();
      mapper.emplace_back(key.asStr(), *delta);
    }
  }
  OptimizerFactory factory = [isSGD = *isSGD, base,
                              mapper](const exec::NamedTensors &named,
                                      const std::set<std::string> &norms)
      -> std::unique_ptr<torch::optim::Optimizer> {
    auto key = [](const OptimizerKwargs &kw) {
      return std::make_tuple(kw.lr, kw.momentum, kw.weightDecay, kw.dampening,
                             kw.nesterov, kw.beta1, kw.beta2, kw.eps);
    };
    std::vector<std::pair<std::vector<at::Tensor>, OptimizerKwargs>> groups;
    for (auto &[name, tensor] : named) {
      OptimizerKwargs kw = base;
      for (const auto &[selector, delta] : mapper)
        if (selector == "norm_types" ? norms.count(name) > 0
                                     : name.find(selector) != std::string::npos)
          delta.applyTo(kw);
      auto same = std::find_if(groups.begin(), groups.end(), [&](auto &g) {
        return key(g.second) == key(kw);
      });
      if (same == groups.end())
        groups.push_back({{tensor}, kw});
      else
        same->first.push_back(tensor);
    }
    return makeOptimizer(isSGD, base, groups);
  };
  return std::any(factory);
}

HAT_REGISTER("optimizer", {"custom_param_optimizer"},
             config::KwargSpec{{"optim_cls", "optim_cfgs"},
                               {"custom_param_mapper"}},
             buildCustomParamOptimizer);
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
