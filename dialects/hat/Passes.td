//===- Passes.td - Passes over the hat dialect --------------*- tablegen -*-===//

#ifndef HAT_PASSES_TD
#define HAT_PASSES_TD

include "mlir/Pass/PassBase.td"

def HatFuseBN : Pass<"hat-fuse-bn", "::mlir::func::FuncOp"> {
  let summary = "Fold batch_norm into the preceding conv2d/linear";
  let description = [{
    w' = w * gamma / sqrt(var + eps) per output channel and
    b' = (b - mean) * gamma / sqrt(var + eps) + beta. A batch_norm whose
    producer is not a conv2d/linear with a single use stays.
  }];
  let dependentDialects = ["::hat::HatDialect"];
}

def HatFloat2QAT : Pass<"hat-float2qat", "::mlir::func::FuncOp"> {
  let summary = "Insert fake_quant nodes on weights and activations";
  let description = [{
    Weights of conv2d/linear get per-channel (axis 0) fake_quant; function
    inputs and the outputs of every layer get per-tensor fake_quant. A
    conv2d/linear/add followed by its only user relu/relu6 is one unit: the
    activation is quantized after the ReLU. batch_norm is folded first.
    An op carrying `hat.qdtype = #hat<qdtype qint16>` gets an int16 output.
    `layer-dtypes=NAME:qint16,...` sets that attribute on the ops whose
    location is the layer name NAME (the model builders name every op after
    its module path, e.g. `layer1.0.conv1`); a name no op has is an error.
    Activation fake_quants take the location of their layer unit's first op.
  }];
  let options = [
    Option<"activationDType", "activation-dtype", "std::string", "\"qint8\"",
           "dtype of activation fake_quant (qint8 or qint16)">,
    Option<"weightDType", "weight-dtype", "std::string", "\"qint8\"",
           "dtype of weight fake_quant (only qint8 is supported)">,
    Option<"outputDType", "output-dtype", "std::string", "\"\"",
           "dtype of the function results' fake_quant (default: activation-dtype)">,
    Option<"observer", "observer", "std::string", "\"minmax\"",
           "observer for activations: minmax, percentile or mse">,
    ListOption<"layerDTypes", "layer-dtypes", "std::string",
               "per-layer output dtype, `NAME:qint16` (the qconfig of a "
               "module name)">
  ];
  let dependentDialects = ["::hat::HatDialect"];
}

def HatCalibrate : Pass<"hat-calibrate", "::mlir::ModuleOp"> {
  let summary = "Set every fake_quant scale by observing sample inputs";
  let description = [{
    Runs the reference evaluator on the `.npy` inputs (one file per function
    argument and sample, or one batch per argument) and feeds each
    fake_quant's input to its observer. Weight scales come from the weights.
  }];
  let options = [
    ListOption<"inputs", "inputs", "std::string",
               "comma-separated .npy files; each is one batch for argument 0, "
               "or `a.npy+b.npy` for a multi-input function">,
    Option<"function", "function", "std::string", "\"\"",
           "function to run (default: the only public function)">,
    Option<"percentile", "percentile", "double", "99.99",
           "percentile of |x| used by the percentile observer">,
    Option<"observerOverride", "observer", "std::string", "\"\"",
           "use this observer for every activation instead of the op's own">
  ];
  let dependentDialects = ["::hat::HatDialect"];
}

def HatQAT2Quantize : Pass<"hat-qat2quantize", "::mlir::func::FuncOp"> {
  let summary = "Turn a calibrated fake-quant model into an integer model";
  let description = [{
    Replaces every fake_quant-delimited float layer by its integer op with
    fixed-point requantization, quantizes function inputs and dequantizes
    results. Layers without an integer form (softmax) run in float between
    dequantize and quantize. An uncalibrated fake_quant is an error.
  }];
  let dependentDialects = ["::hat::HatDialect"];
}

def HatInferShapes : Pass<"hat-infer-shapes", "::mlir::func::FuncOp"> {
  let summary = "Recompute result types after the inputs changed";
  let description = [{
    With `batch-size`, first sets the leading dimension of every argument.
    Then re-infers the result type of every op and the function type.
  }];
  let options = [
    Option<"batchSize", "batch-size", "int64_t", "0",
           "new leading dimension of every argument (0 keeps it)">
  ];
  let dependentDialects = ["::hat::HatDialect"];
}

#endif // HAT_PASSES_TD
