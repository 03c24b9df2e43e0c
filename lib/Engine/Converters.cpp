//===- Converters.cpp - model_convert_pipeline as pass pipelines ----------===//
//
// HAT's converters change the model between stages; here each is a pass
// pipeline over the IR (or a state load), then the executor is rebuilt in
// the mode the next stage runs:
//   Float2Calibration  fuse-bn + float2qat, observers on (Calibrate)
//   Float2QAT          fuse-bn + float2qat, fake quantization (QAT)
//   Calibration2QAT    fake quantization on an already converted model
//   LoadCheckpoint     a checkpoint's tensors into the current model
//   QAT2Quantize       qat2quantize: the integer model
//
//===----------------------------------------------------------------------===//

#include "hat/Engine/Builders.h"

namespace hat::engine {

namespace {

std::string qatPipeline(const config::BuildArgs &args, std::string &error) {
  std::string options;
  auto addString = [&](const char *kwarg, const char *option) {
    config::Value v = args.get(kwarg);
    if (v.isNone())
      return;
    if (!v.isStr()) {
      error = args.error(std::string("'") + kwarg + "' must be a string, got " +
                         v.repr())
                  .str();
      return;
    }
    options +=
        std::string(options.empty() ? "" : " ") + option + "=" + v.asStr();
  };
  addString("activation_dtype", "activation-dtype");
  addString("output_dtype", "output-dtype");
  addString("observer", "observer");
  return "func.func(hat-fuse-bn,hat-float2qat" +
         (options.empty() ? std::string() : "{" + options + "}") + ")";
}

/// The config's top-level `qconfig = dict(module_name={"layer1.conv1":
/// "qint16", ...})` (the fragment hat-quant-analysis --topk writes) as
/// hat-float2qat's layer-dtypes option; empty without a qconfig.
std::string layerDTypesOption() {
  RunContext &ctx = runContext();
  const config::Value *qconfig =
      ctx.config ? ctx.config->get("qconfig") : nullptr;
  if (!qconfig || qconfig->isNone())
    return "";
  auto bad = [&](const std::string &why) {
    return EngineError(ctx.configPath + ": qconfig " + why +
                       " (expected qconfig = dict(module_name={\"NAME\": "
                       "\"qint16\", ...}))");
  };
  if (!qconfig->isDict())
    throw bad("must be a dict, got " + qconfig->repr());
  std::string entries;
  for (const auto &[key, value] : qconfig->asDict().entries) {
    if (!key.isStr() || key.asStr() != "module_name")
      throw bad("has an unknown key " + key.repr());
    if (!value.isDict())
      throw bad("'module_name' must be a dict, got " + value.repr());
    for (const auto &[name, dtype] : value.asDict().entries) {
      if (!name.isStr() || name.asStr().empty() ||
          name.asStr().find_first_of(",:{} ") != std::string::npos)
        throw bad("module name " + name.repr() + " is not a layer name");
      if (!dtype.isStr() ||
          (dtype.asStr() != "qint8" && dtype.asStr() != "qint16"))
        throw bad("dtype of '" + name.asStr() +
                  "' must be \"qint8\" or "
                  "\"qint16\", got " +
                  dtype.repr());
      entries +=
          (entries.empty() ? "" : ",") + name.asStr() + ":" + dtype.asStr();
    }
  }
  return entries.empty() ? "" : "layer-dtypes=" + entries;
}

exec::ExecutorOptions qatOptions(const config::BuildArgs &args,
                                 std::string &error) {
  exec::ExecutorOptions options;
  config::Value v = args.get("activation_scales");
  if (v.isNone() || (v.isStr() && v.asStr() == "fixed"))
    options.activationScales = exec::ActivationScaleMode::Fixed;
  else if (v.isStr() && v.asStr() == "moving_average")
    options.activationScales = exec::ActivationScaleMode::MovingAverage;
  else
    error = args.error("'activation_scales' must be \"fixed\" or "
                       "\"moving_average\", got " +
                       v.repr())
                .str();
  config::Value freeze = args.get("freeze_weight_scales");
  if (freeze.isBool())
    options.freezeWeightScales = freeze.asBool();
  else if (!freeze.isNone())
    error = args.error("'freeze_weight_scales' must be True or False").str();
  config::Value observer = args.get("observer");
  if (observer.isStr())
    options.observer = observer.asStr();
  return options;
}

config::Expected<std::any> buildConverter(const config::BuildArgs &args) {
  const std::string &type = args.typeName();
  std::string error;
  Converter converter;
  if (type == "Float2QAT" || type == "Float2Calibration") {
    std::string pipeline = qatPipeline(args, error);
    exec::ExecutorOptions options = qatOptions(args, error);
    exec::FakeQuantMode mode = type == "Float2QAT"
                                   ? exec::FakeQuantMode::QAT
                                   : exec::FakeQuantMode::Calibrate;
    converter = [pipeline, options, mode](EngineModel &model) {
      if (model.kind() != "float")
        throw EngineError("Float2QAT/Float2Calibration need a float model, "
                          "this one is already " +
                          model.kind());
      // The qconfig is read when converting, so every stage (calibration,
      // QAT, int_infer) of one config quantizes the same layers in int16.
      std::string layerDTypes = layerDTypesOption();
      std::string full = pipeline;
      if (!layerDTypes.empty()) {
        size_t at =
            full.find("hat-float2qat") + std::string("hat-float2qat").size();
        if (full.compare(at, 1, "{") == 0)
          full.insert(at + 1, layerDTypes + " ");
        else
          full.insert(at, "{" + layerDTypes + "}");
      }
      model.runPasses(full, mode, options);
    };
  } else if (type == "Calibration2QAT") {
    converter = [](EngineModel &model) {
      model.setFakeQuantMode(exec::FakeQuantMode::QAT);
    };
  } else if (type == "QAT2Quantize") {
    converter = [](EngineModel &model) {
      if (model.kind() != "qat")
        throw EngineError("QAT2Quantize needs a fake-quant model (apply "
                          "Float2QAT and load a calibrated or QAT "
                          "checkpoint first), this one is " +
                          model.kind());
      model.runPasses("func.func(hat-qat2quantize)", exec::FakeQuantMode::QAT);
    };
  } else if (type == "LoadCheckpoint") {
    config::Value path = args.get("checkpoint_path");
    if (!path.isStr())
      return args.error("'checkpoint_path' must be a string, got " +
                        path.repr());
    std::string file = path.asStr();
    config::Value ignoreExtra = args.get("ignore_extra");
    if (!ignoreExtra.isNone() && !ignoreExtra.isBool())
      return args.error("'ignore_extra' must be True or False");
    bool strict = !(ignoreExtra.isBool() && ignoreExtra.asBool());
    converter = [file, strict](EngineModel &model) {
      CheckpointData ck = loadCheckpoint(file);
      model.loadStateDict(ck.model, file, strict);
      model.lastCheckpoint = file;
      runContext().logger->info("loaded " + file + " (" + ck.stage +
                                ", epoch " + std::to_string(ck.epoch) + ")");
    };
  } else { // ModelConvertPipeline
    config::Value mode = args.get("qat_mode");
    if (!mode.isNone() && !(mode.isStr() && mode.asStr() == "fuse_bn"))
      return args.error("only qat_mode=\"fuse_bn\" is supported (BN is folded "
                        "before fake quantization), got " +
                        mode.repr());
    std::vector<Converter> steps;
    try {
      for (const config::Value &c : asList(args.get("converters")))
        steps.push_back(buildAs<Converter>(c, "converter"));
    } catch (const EngineError &e) {
      return config::Diagnostic(e.what());
    }
    converter = [steps](EngineModel &model) {
      for (const Converter &step : steps)
        step(model);
    };
  }
  if (!error.empty())
    return config::Diagnostic(error);
  return std::any(converter);
}

HAT_REGISTER("converter", {"ModelConvertPipeline"},
             config::KwargSpec{{"converters"}, {"qat_mode"}}, buildConverter);
HAT_REGISTER("converter", {"Float2QAT", "Float2Calibration"},
             config::KwargSpec{{},
                               {"convert_mode", "activation_dtype",
                                "output_dtype", "observer", "activation_scales",
                                "freeze_weight_scales"}},
             buildConverter);
HAT_REGISTER("converter", {"Calibration2QAT", "QAT2Quantize"},
             config::KwargSpec{{}, {"convert_mode"}}, buildConverter);
HAT_REGISTER("converter", {"LoadCheckpoint"},
             config::KwargSpec{{"checkpoint_path"}, {"ignore_extra"}},
             buildConverter);

} // namespace
} // namespace hat::engine
