//===- Classifier.cpp - HAT's Classifier model ----------------------------===//
//
// `dict(type="Classifier", backbone=dict(...), losses=dict(...))`: the
// backbone (with its classification top) is the network; the losses are
// kept for the engine, which applies them to the logits during training.
//
//===----------------------------------------------------------------------===//

#include "ModelArgs.h"

using namespace mlir;

namespace hat::models {
namespace {

struct Classifier : Module {
  ModulePtr backbone;
  config::Value lossConfig;

  std::string typeName() const override { return "Classifier"; }
  Value forward(NetBuilder &nb, Value x) override {
    return backbone->forward(nb, x);
  }
  config::Value losses() const override { return lossConfig; }
};

config::Expected<std::any> buildClassifier(const config::BuildArgs &args) {
  auto backbone = buildModule(args.get("backbone"), "backbone");
  if (!backbone)
    return backbone.error();
  auto net = std::make_shared<Classifier>();
  net->backbone = *backbone;
  net->lossConfig = args.get("losses");
  return moduleResult(net);
}

HAT_REGISTER("model", {"Classifier"},
             config::KwargSpec{{"backbone"}, {"losses"}}, buildClassifier);

} // namespace
} // namespace hat::models
