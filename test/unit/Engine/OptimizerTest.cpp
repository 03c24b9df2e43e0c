//===- OptimizerTest.cpp - Optimizers built from configs ------------------===//
//
// custom_param_optimizer (Deformable DETR's AdamW with backbone and norm
// settings) and the plain optimizers' name-pattern param groups: which
// options each parameter ends up with, and the errors for bad configs.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"
#include "hat/Engine/Builders.h"

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

using namespace hat;

namespace {

config::Expected<std::any> buildOptimizerFrom(const std::string &source) {
  auto module = config::loadConfigSource(source, "test.py");
  if (!module)
    return module.error();
  return config::Registry::instance().build(*(*module)->get("optimizer"),
                                            "optimizer");
}

/// Parameters of a small detector: backbone conv + BN, a transformer
/// layer's linear and layer norm, a head.
exec::NamedTensors namedParams() {
  exec::NamedTensors named;
  for (const char *name :
       {"backbone.conv1.weight", "backbone.bn1.weight", "backbone.bn1.bias",
        "encoder.0.sampling_offsets.weight", "encoder.0.sampling_offsets.bias",
        "encoder.0.norm1.weight", "encoder.0.norm1.bias", "head.fc.weight",
        "head.fc.bias"})
    named.emplace_back(name, at::zeros({2}).set_requires_grad(true));
  return named;
}

const std::set<std::string> kNorms{"backbone.bn1.weight", "backbone.bn1.bias",
                                   "encoder.0.norm1.weight",
                                   "encoder.0.norm1.bias"};

/// (lr, weight_decay) of the group holding `name`'s tensor.
std::pair<double, double> optionsOf(torch::optim::Optimizer &optimizer,
                                    const exec::NamedTensors &named,
                                    const std::string &name) {
  at::Tensor tensor;
  for (auto &[n, t] : named)
    if (n == name)
      tensor = t;
  for (auto &group : optimizer.param_groups())
    for (auto &p : group.params())
      if (p.is_same(tensor)) {
        auto &o = static_cast<torch::optim::AdamWOptions &>(group.options());
        return {o.lr(), o.weight_decay()};
      }
  ADD_FAILURE() << name << " is in no param group";
  return {-1, -1};
}

} // namespace

// Every parameter starts from optim_cfgs; each mapper entry that selects it
// overrides what it names, in order: a backbone norm gets both the backbone
// lr and the norm weight decay; a bias outside the norms the bias rule; the
// rest the base. Equal options share a group.
TEST(CustomParamOptimizer, MapperEntriesCombineInOrder) {
  auto built = buildOptimizerFrom(R"(
import torch
optimizer = dict(
    type="custom_param_optimizer",
    optim_cls=torch.optim.AdamW,
    optim_cfgs=dict(lr=2e-4, weight_decay=1e-4, betas=(0.9, 0.99)),
    custom_param_mapper={
        "backbone": dict(lr=2e-5),
        "sampling_offsets": dict(lr=2e-5),
        "norm_types": dict(weight_decay=0.0),
        "bias": dict(weight_decay=0.0),
    },
)
)");
  ASSERT_TRUE(bool(built)) << built.error().str();
  auto factory = std::any_cast<engine::OptimizerFactory>(*built);
  exec::NamedTensors named = namedParams();
  auto optimizer = factory(named, kNorms);
  ASSERT_TRUE(optimizer);
  using Options = std::pair<double, double>;
  EXPECT_EQ(optionsOf(*optimizer, named, "backbone.conv1.weight"),
            Options(2e-5, 1e-4));
  EXPECT_EQ(optionsOf(*optimizer, named, "backbone.bn1.weight"),
            Options(2e-5, 0.0));
  EXPECT_EQ(optionsOf(*optimizer, named, "encoder.0.sampling_offsets.weight"),
            Options(2e-5, 1e-4));
  EXPECT_EQ(optionsOf(*optimizer, named, "encoder.0.sampling_offsets.bias"),
            Options(2e-5, 0.0));
  EXPECT_EQ(optionsOf(*optimizer, named, "encoder.0.norm1.weight"),
            Options(2e-4, 0.0));
  EXPECT_EQ(optionsOf(*optimizer, named, "head.fc.weight"),
            Options(2e-4, 1e-4));
  EXPECT_EQ(optionsOf(*optimizer, named, "head.fc.bias"), Options(2e-4, 0.0));
  // Groups: (2e-5, 1e-4), (2e-5, 0), (2e-4, 0), (2e-4, 1e-4).
  EXPECT_EQ(optimizer->param_groups().size(), 4u);
  auto &adamw = static_cast<torch::optim::AdamWOptions &>(
      optimizer->param_groups()[0].options());
  EXPECT_EQ(std::get<1>(adamw.betas()), 0.99);
  EXPECT_TRUE(dynamic_cast<torch::optim::AdamW *>(optimizer.get()));
}

TEST(CustomParamOptimizer, WrapsSGDByName) {
  auto built = buildOptimizerFrom(R"(
optimizer = dict(type="custom_param_optimizer", optim_cls="torch.optim.SGD",
                 optim_cfgs=dict(lr=0.1, momentum=0.9))
)");
  ASSERT_TRUE(bool(built)) << built.error().str();
  exec::NamedTensors named = namedParams();
  auto optimizer =
      std::any_cast<engine::OptimizerFactory>(*built)(named, kNorms);
  EXPECT_TRUE(dynamic_cast<torch::optim::SGD *>(optimizer.get()));
  EXPECT_EQ(optimizer->param_groups().size(), 1u);
  EXPECT_EQ(optimizer->param_groups()[0].params().size(), named.size());
}

TEST(CustomParamOptimizer, BadConfigsNameTheProblem) {
  auto error = [](const std::string &source) {
    auto built = buildOptimizerFrom(source);
    return built ? std::string("built") : built.error().str();
  };
  EXPECT_NE(error("optimizer = dict(type='custom_param_optimizer', "
                  "optim_cls='torch.optim.Adam', optim_cfgs=dict(lr=1))")
                .find("'optim_cls' must be torch.optim.SGD or "
                      "torch.optim.AdamW, got torch.optim.Adam"),
            std::string::npos);
  EXPECT_NE(error("optimizer = dict(type='custom_param_optimizer', "
                  "optim_cls='AdamW', optim_cfgs=dict(weight_decay=1))")
                .find("'optim_cfgs' must set 'lr'"),
            std::string::npos);
  EXPECT_NE(error("optimizer = dict(type='custom_param_optimizer', "
                  "optim_cls='AdamW', optim_cfgs=dict(lr=1), "
                  "custom_param_mapper={'norm_types': dict(momentum=0.9)})")
                .find("'momentum' is not an option of AdamW"),
            std::string::npos);
  EXPECT_NE(error("optimizer = dict(type='custom_param_optimizer', "
                  "optim_cls='AdamW', optim_cfgs=dict(lr=1), "
                  "custom_param_mapper={'backbone': dict(lr=-1)})")
                .find("'lr' must be >= 0"),
            std::string::npos);
  EXPECT_NE(error("optimizer = dict(type='custom_param_optimizer', "
                  "optim_cls='AdamW', optim_cfgs=dict(lr=1), "
                  "custom_param_mapper={'backbone': 3})")
                .find("custom_param_mapper['backbone'] must be a dict"),
            std::string::npos);
}

// The plain optimizers' `params` groups: first matching pattern wins.
TEST(Optimizers, NamePatternGroupsFirstMatchWins) {
  auto built = buildOptimizerFrom(R"(
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=0.05,
                 params={"bias": dict(weight_decay=0.0),
                         "head": dict(lr=1e-2)})
)");
  ASSERT_TRUE(bool(built)) << built.error().str();
  exec::NamedTensors named = namedParams();
  auto optimizer =
      std::any_cast<engine::OptimizerFactory>(*built)(named, kNorms);
  using Options = std::pair<double, double>;
  EXPECT_EQ(optionsOf(*optimizer, named, "head.fc.bias"), Options(1e-3, 0.0));
  EXPECT_EQ(optionsOf(*optimizer, named, "head.fc.weight"),
            Options(1e-2, 0.05));
  EXPECT_EQ(optionsOf(*optimizer, named, "backbone.bn1.weight"),
            Options(1e-3, 0.05));
}
