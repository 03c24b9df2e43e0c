//===- Processors.cpp - BasicBatchProcessor and MultiBatchProcessor -------===//

#include "hat/Data/ConfigBuild.h"
#include "hat/Distributed/Distributed.h"
#include "hat/Engine/Builders.h"
#include "hat/Metrics/TensorValue.h"

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <regex>

namespace hat::engine {

namespace {
/// Flattens dict outputs into dotted keys for collect_loss_by_regex.
void flatten(const config::Value &v, const std::string &prefix,
             std::vector<std::pair<std::string, at::Tensor>> &out) {
  if (at::Tensor t = metrics::asTensor(v); t.defined()) {
    out.emplace_back(prefix, t);
  } else if (v.isDict()) {
    for (auto &[key, value] : v.asDict().entries)
      flatten(value, prefix.empty() ? key.str() : prefix + "." + key.str(),
              out);
  } else if (v.isList() || v.isTuple()) {
    auto &items = v.sequenceItems();
    for (size_t i = 0; i < items.size(); ++i)
      flatten(items[i],
              prefix.empty() ? std::to_string(i)
                             : prefix + "." + std::to_string(i),
              out);
  }
}
} // namespace

std::vector<at::Tensor>
BatchProcessor::collectLosses(const config::Value &outputs) const {
  std::vector<at::Tensor> losses;
  if (lossCollector.isFunction()) {
    metrics::collectTensors(
        callConfigFunction(lossCollector, {outputs}, "loss_collector"), losses);
  } else if (lossCollector.isCall()) {
    const config::CallData &call = lossCollector.asCall();
    std::string fn = call.callee.substr(call.callee.rfind('.') + 1);
    if (fn == "collect_loss_by_index") {
      if (!outputs.isTuple() && !outputs.isList())
        throw EngineError("collect_loss_by_index needs tuple outputs");
      auto &items = outputs.sequenceItems();
      for (const config::Value &index : call.args) {
        std::vector<config::Value> indices =
            index.isInt() ? std::vector<config::Value>{index} : asList(index);
        for (const config::Value &i : indices) {
          if (!i.isInt() || i.asInt() < 0 || i.asInt() >= (int64_t)items.size())
            throw EngineError("collect_loss_by_index: index " + i.repr() +
                              " is out of range for " +
                              std::to_string(items.size()) + " outputs");
          metrics::collectTensors(items[i.asInt()], losses);
        }
      }
    } else if (fn == "collect_loss_by_regex") {
      if (call.args.size() != 1 || !call.args[0].isStr())
        throw EngineError("collect_loss_by_regex takes one regex string");
      std::regex pattern(call.args[0].asStr());
      std::vector<std::pair<std::string, at::Tensor>> flat;
      flatten(outputs, "", flat);
      for (auto &[key, t] : flat)
        if (std::regex_search(key, pattern))
          losses.push_back(t);
    } else {
      throw EngineError("unknown loss collector " + call.callee +
                        " (expected a config function, "
                        "collect_loss_by_index or collect_loss_by_regex)");
    }
  } else if (outputs.isTuple() && outputs.sequenceItems().size() == 2) {
    metrics::collectTensors(outputs.sequenceItems()[1], losses);
  } else {
    std::vector<at::Tensor> all;
    metrics::collectTensors(outputs, all);
    for (const at::Tensor &t : all)
      if (t.dim() == 0)
        losses.push_back(t);
  }
  return losses;
}

config::Value BatchProcessor::prepare(data::Batch &batch) const {
  try {
    data::applyBatchTransforms(batchTransforms, batch);
  } catch (const std::invalid_argument &error) {
    throw EngineError(std::string("batch_transforms: ") + error.what());
  }
  return batchToValue(batch);
}

void BatchProcessor::run(LoopState &state, const config::Value &batch) {
  Loop &loop = *state.loop;
  EngineModel &model = *loop.model;
  std::vector<config::Value> batches = multiBatch && batch.isTuple()
                                           ? batch.sequenceItems()
                                           : std::vector<config::Value>{batch};
  bool train = needGradUpdate && loop.optimizer;
  std::vector<config::Value> outputs;
  double total = 0;
  state.batchSize = 0;
  if (train && state.globalStep % gradAccumulationStep == 0)
    loop.optimizer->zero_grad();
  // Data parallel: only the last backward before the optimizer step
  // synchronises gradients (torch's no_sync for the others).
  const bool stepsNow = (state.globalStep + 1) % gradAccumulationStep == 0;
  for (size_t k = 0; k < batches.size(); ++k) {
    const config::Value &b = batches[k];
    if (b.isDict())
      if (const config::Value *img = b.asDict().find("img"))
        state.batchSize += metrics::asTensor(*img).size(0);
    if (!train) {
      at::NoGradGuard noGrad;
      outputs.push_back(model.forward(b));
      continue;
    }
    config::Value out = model.forward(b);
    std::vector<at::Tensor> losses = collectLosses(out);
    if (losses.empty())
      throw EngineError("training found no loss in the model outputs: give "
                        "the model losses= or the batch processor a "
                        "loss_collector");
    at::Tensor loss = losses[0];
    for (size_t i = 1; i < losses.size(); ++i)
      loss = loss + losses[i];
    double value = loss.item<double>();
    if (!std::isfinite(value))
      throw EngineError("the loss became " + std::to_string(value) +
                        " at epoch " + std::to_string(state.epoch) + ", step " +
                        std::to_string(state.globalStep) +
                        ": lower the learning rate");
    bool sync = loop.reducer && stepsNow && k + 1 == batches.size();
    if (sync)
      loop.reducer->prepareForBackward();
    (loss / (double)gradAccumulationStep).backward();
    if (sync)
      loop.reducer->finishBackward();
    total += value;
    outputs.push_back(out);
  }
  if (train && stepsNow) {
    for (const CallbackPtr &callback : loop.callbacks)
      callback->beforeOptimizerStep(state);
    loop.optimizer->step();
  }
  state.outputs =
      outputs.size() == 1 ? outputs[0] : config::Value::tuple(outputs);
  state.loss = total;
}

namespace {
config::Expected<std::any> buildProcessor(const config::BuildArgs &args) {
  auto p = std::make_shared<BatchProcessor>();
  p->multiBatch = args.typeName() == "MultiBatchProcessor";
  config::Value need = args.get("need_grad_update");
  if (!need.isBool())
    return args.error("'need_grad_update' must be True or False, got " +
                      need.repr());
  p->needGradUpdate = need.asBool();
  p->lossCollector = args.get("loss_collector");
  if (!p->lossCollector.isNone() && !p->lossCollector.isFunction() &&
      !p->lossCollector.isCall())
    return args.error("'loss_collector' must be a config function or "
                      "collect_loss_by_index(...)/collect_loss_by_regex(...)"
                      ", got " +
                      p->lossCollector.repr());
  config::Value acc = args.get("grad_accumulation_step");
  if (!acc.isNone()) {
    if (!acc.isInt() || acc.asInt() < 1)
      return args.error("'grad_accumulation_step' must be an int >= 1, got " +
                        acc.repr());
    p->gradAccumulationStep = acc.asInt();
  }
  // batch_transforms: transforms that run on each collated batch.
  config::Expected<std::vector<data::TransformPtr>> transforms =
      data::buildBatchTransforms(args.get("batch_transforms"));
  if (!transforms) {
    config::Diagnostic diagnostic = transforms.error();
    if (!diagnostic.hasLocation())
      diagnostic = args.error(diagnostic.message);
    diagnostic.notes.push_back("in 'batch_transforms' of " + args.typeName());
    return diagnostic;
  }
  p->batchTransforms = std::move(*transforms);
  config::Value inverse = args.get("inverse_transforms");
  if (!inverse.isNone() && !((inverse.isList() || inverse.isTuple()) &&
                             inverse.sequenceItems().empty()))
    return args.error("'inverse_transforms' is not supported yet");
  for (const char *name :
       {"enable_amp", "enable_apex", "enable_channels_last"}) {
    config::Value v = args.get(name);
    if (v.isBool() && v.asBool())
      return args.error(std::string("'") + name +
                        "=True' needs a GPU build; this CPU build trains in "
                        "float32");
  }
  return std::any(p);
}
HAT_REGISTER("batch_processor", {"BasicBatchProcessor", "MultiBatchProcessor"},
             config::KwargSpec{{"need_grad_update"},
                               {"loss_collector", "grad_accumulation_step",
                                "batch_transforms", "inverse_transforms",
                                "enable_amp", "enable_apex",
                                "enable_channels_last", "delay_sync",
                                "empty_cache"}},
             buildProcessor);
} // namespace

} // namespace hat::engine
