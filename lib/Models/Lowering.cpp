//===- Lowering.cpp - Config model to hat IR ------------------------------===//

#include "hat/Dialect/HatOps.h"
#include "hat/Models/Module.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

namespace hat::models {

namespace {
/// Every `type` in a model config tree that the registry does not know,
/// with its dotted path, so one run lists all of them.
void collectUnknownTypes(const config::Value &v, const std::string &path,
                         std::vector<std::string> &unknown) {
  if (v.isDict()) {
    for (auto &[key, value] : v.asDict().entries) {
      std::string k = key.isStr() ? key.asStr() : key.repr();
      // Losses and training targets are built by the engine, not lowered
      // into the network (a classifier's `losses`, a detector's `targets`
      // and `loss_cls`/`loss_reg`/..., DETR's set `criterion`).
      if (k == "losses" || k == "targets" || k == "criterion" ||
          llvm::StringRef(k).starts_with("loss_"))
        continue;
      if (k == "type") {
        if (!config::Registry::instance().lookup(value))
          unknown.push_back(
              (value.isStr() ? value.asStr() : value.repr()) + " (" +
              (path.empty() ? std::string("type") : path + ".type") + ")");
        continue;
      }
      collectUnknownTypes(value, path.empty() ? k : path + "." + k, unknown);
    }
  } else if (v.isList() || v.isTuple()) {
    auto &items = v.sequenceItems();
    for (size_t i = 0; i < items.size(); ++i)
      collectUnknownTypes(items[i], path + "." + std::to_string(i), unknown);
  }
}
} // namespace

std::vector<Value> Module::forwardMulti(NetBuilder &nb,
                                        const std::vector<Value> &inputs) {
  if (inputs.size() != 1) {
    nb.fail(typeName(),
            "takes one input, " + std::to_string(inputs.size()) + " given");
    return inputs;
  }
  return {forward(nb, inputs[0])};
}

config::Expected<ModulePtr> buildModule(const config::Value &cfg,
                                        const std::string &category) {
  if (!cfg.isDict())
    return config::Diagnostic("a model must be a dict with 'type', got " +
                              cfg.typeName());
  std::vector<std::string> unknown;
  collectUnknownTypes(cfg, "", unknown);
  if (unknown.size() > 1) {
    config::Diagnostic d(cfg.asDict().loc,
                         "model types not registered yet: " + unknown[0]);
    for (size_t i = 1; i < unknown.size(); ++i)
      d.message += ", " + unknown[i];
    d.notes.push_back("registered models and backbones: " + [] {
      std::string all;
      for (const char *c : {"model", "backbone"})
        for (const std::string &n : config::Registry::instance().names(c))
          all += (all.empty() ? "" : ", ") + n;
      return all;
    }());
    return d;
  }
  auto built = config::Registry::instance().build(cfg, category);
  if (!built)
    return built.error();
  if (auto *module = std::any_cast<ModulePtr>(&*built))
    return *module;
  return config::Diagnostic(cfg.asDict().loc,
                            "the type of this dict does not build a model");
}

config::Expected<std::vector<std::pair<std::string, std::vector<int64_t>>>>
parseDeployInputs(const config::Value &deployInputs) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> inputs;
  if (!deployInputs.isDict())
    return config::Diagnostic("deploy_inputs must be a dict such as "
                              "dict(img=torch.randn((1, 3, 224, 224))), got " +
                              deployInputs.typeName());
  for (auto &[key, value] : deployInputs.asDict().entries) {
    std::string name = key.isStr() ? key.asStr() : key.repr();
    auto bad = [&, &value = value] {
      return config::Diagnostic(
          deployInputs.asDict().loc,
          "deploy_inputs['" + name +
              "'] must be torch.randn/rand/zeros/ones((N, C, H, W)), got " +
              value.repr());
    };
    if (!value.isCall())
      return bad();
    const config::CallData &call = value.asCall();
    std::string fn = call.callee.substr(call.callee.rfind('.') + 1);
    if (fn != "randn" && fn != "rand" && fn != "zeros" && fn != "ones")
      return bad();
    std::vector<config::Value> dims = call.args;
    if (dims.size() == 1 && (dims[0].isTuple() || dims[0].isList()))
      dims = dims[0].sequenceItems();
    std::vector<int64_t> shape;
    for (const config::Value &d : dims) {
      if (!d.isInt() || d.asInt() < 1)
        return bad();
      shape.push_back(d.asInt());
    }
    if (shape.empty())
      return bad();
    inputs.emplace_back(name, shape);
  }
  if (inputs.empty())
    return config::Diagnostic("deploy_inputs is empty");
  return inputs;
}

config::Expected<OwningOpRef<ModuleOp>> lowerModel(
    MLIRContext &context, const ModulePtr &model,
    const std::vector<std::pair<std::string, std::vector<int64_t>>> &inputs,
    const LoweringOptions &options) {
  context.loadDialect<HatDialect, func::FuncDialect>();
  if (inputs.size() != 1)
    return config::Diagnostic(model->typeName() + " takes one input, " +
                              std::to_string(inputs.size()) + " given");
  OpBuilder builder(&context);
  Location loc = NameLoc::get(builder.getStringAttr(model->typeName()));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  builder.setInsertionPointToEnd(module->getBody());
  auto inputType =
      RankedTensorType::get(inputs[0].second, builder.getF32Type());
  auto func = builder.create<func::FuncOp>(
      loc, options.functionName, builder.getFunctionType({inputType}, {}));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);
  NetBuilder nb(builder, loc, options.seed);
  std::vector<Value> outs = model->forwardMulti(nb, {body->getArgument(0)});
  if (nb.failed())
    return config::Diagnostic("cannot lower " + model->typeName() +
                              " for input " + inputs[0].first + " of shape " +
                              [&] {
                                std::string s;
                                for (int64_t d : inputs[0].second)
                                  s += (s.empty() ? "" : "x") +
                                       std::to_string(d);
                                return s;
                              }() +
                              ": " + nb.getError());
  builder.create<func::ReturnOp>(loc, outs);
  SmallVector<Type> resultTypes;
  for (Value v : outs)
    resultTypes.push_back(v.getType());
  func.setFunctionType(builder.getFunctionType({inputType}, resultTypes));
  func.setArgAttr(0, "hat.name", builder.getStringAttr(inputs[0].first));
  // Consumers (decoders, hat-run, the engine) find each result by name, not
  // by position.
  std::vector<std::string> names = model->outputNames();
  std::vector<NamedAttrList> attrs = model->outputAttributes(&context);
  if ((!names.empty() && names.size() != outs.size()) ||
      (!attrs.empty() && attrs.size() != outs.size()))
    return config::Diagnostic("internal error: " + model->typeName() +
                              " names " + std::to_string(names.size()) +
                              " of its " + std::to_string(outs.size()) +
                              " outputs");
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!names.empty())
      func.setResultAttr(i, "hat.name", builder.getStringAttr(names[i]));
    if (!attrs.empty())
      for (NamedAttribute a : attrs[i])
        func.setResultAttr(i, a.getName(), a.getValue());
  }
  for (NamedAttribute a : model->functionAttributes(&context))
    func->setAttr(a.getName(), a.getValue());
  if (failed(verify(*module)))
    return config::Diagnostic("internal error: lowered " + model->typeName() +
                              " does not verify");
  return std::move(module);
}

config::Expected<int64_t> countParameters(MLIRContext &context,
                                          const ModulePtr &model,
                                          std::vector<int64_t> input) {
  context.loadDialect<HatDialect, func::FuncDialect>();
  OpBuilder builder(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module->getBody());
  auto func = builder.create<func::FuncOp>(
      builder.getUnknownLoc(), "count",
      builder.getFunctionType(
          {RankedTensorType::get(input, builder.getF32Type())}, {}));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);
  NetBuilder nb(builder, builder.getUnknownLoc());
  model->forwardMulti(nb, {body->getArgument(0)});
  if (nb.failed())
    return config::Diagnostic(nb.getError());
  return nb.numParameters();
}

} // namespace hat::models
