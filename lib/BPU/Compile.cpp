//===- Compile.cpp - The hat-compile pipeline and the HBM export ----------===//

#include "hat/BPU/Compile.h"

#include "PassUtil.h"

#include "hat/BPU/Passes.h"
#include "hat/Dialect/HatOps.h"
#include "hat/Dialect/ResultAttributes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace hat::bpu {

std::string pipelineFor(const CompileOptions &o) {
  std::string p = "bpu-lower{march=" + o.march;
  if (!o.function.empty())
    p += " function=" + o.function;
  p += "}";
  if (o.optLevel >= 3)
    p += ",bpu-fuse";
  p += std::string(",bpu-tile{search=") + (o.optLevel >= 3 ? "true" : "false") +
       "}";
  p += ",bpu-pack-weights,bpu-plan-arena";
  if (o.activationSramBytes >= 0)
    p += "{activation-sram=" + std::to_string(o.activationSramBytes) + "}";
  p += ",bpu-estimate-perf{input-source=" + o.inputSource + "}";
  return p;
}

LogicalResult buildPipeline(PassManager &pm, const CompileOptions &options) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(pipelineFor(options), pm, os))) {
    llvm::errs() << errors;
    return failure();
  }
  return success();
}

namespace {

hbm::DType dtypeOfType(Type t) {
  if (t.isF32())
    return hbm::DType::F32;
  if (t.isInteger(8))
    return hbm::DType::I8;
  if (t.isInteger(16))
    return hbm::DType::I16;
  return hbm::DType::I32;
}

std::vector<int64_t> i64s(ArrayRef<int64_t> a) { return {a.begin(), a.end()}; }
std::vector<int32_t> i32s(ArrayRef<int32_t> a) { return {a.begin(), a.end()}; }

class Exporter {
public:
  explicit Exporter(ModuleOp module) : module(module) {}

  FailureOr<hbm::Model> run() {
    func::FuncOp func = getCompiledFunction(module);
    if (!func)
      return failure();
    auto arena = module->getAttrOfType<IntegerAttr>(kArenaBytesAttr);
    if (!arena)
      return module.emitError("no arena plan: run bpu-plan-arena"), failure();
    m.march = module->getAttrOfType<StringAttr>(kMarchAttr).str();
    if (auto o = module->getAttrOfType<IntegerAttr>(kOptLevelAttr))
      m.optLevel = int32_t(o.getInt());
    if (auto s = module->getAttrOfType<StringAttr>(kInputSourceAttr))
      m.inputSource = s.str();
    m.producer = "hat-compile";
    m.arenaBytes = arena.getInt();
    for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
      auto type = cast<RankedTensorType>(arg.getType());
      if (!type.getElementType().isF32())
        return func.emitError("model inputs must be f32 (the integer model "
                              "quantizes its inputs)"),
               failure();
      m.inputs.push_back(addTensor(arg, "input_" + std::to_string(i), -1));
    }
    for (Operation &op : func.getBody().front()) {
      if (isa<ParamOp, PackedWeightOp>(op))
        continue;
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
          if (!tensors.count(v))
            return ret.emitError("result is not produced by a layer"),
                   failure();
          m.outputs.push_back(tensors[v]);
          // An integer result (dequant_output=False) carries the scale the
          // caller dequantizes with.
          hbm::TensorDesc &out = m.tensors[size_t(tensors[v])];
          if (out.dtype == hbm::DType::F32)
            continue;
          auto scale = func.getResultAttrOfType<DenseF32ArrayAttr>(
              unsigned(i), kResultScaleAttr);
          if (!scale)
            return func.emitError("integer result ")
                       << i << " has no " << kResultScaleAttr
                       << ": the caller could not dequantize it",
                   failure();
          out.scale.assign(scale.asArrayRef().begin(),
                           scale.asArrayRef().end());
        }
        // Multi-output models name their results (docs/detection.md);
        // all or none.
        for (unsigned i = 0; i < func.getNumResults(); ++i)
          if (auto name = func.getResultAttrOfType<StringAttr>(i, "hat.name"))
            m.outputNames.push_back(name.str());
        if (!m.outputNames.empty() &&
            m.outputNames.size() != func.getNumResults())
          return func.emitError("some results have a hat.name and others "
                                "not: name all of them or none"),
                 failure();
        if (auto pp = func->getAttrOfType<StringAttr>("hat.post_process"))
          m.postProcess = pp.str();
        continue;
      }
      if (!isLayer(&op))
        return op.emitError("not a bpu layer: run bpu-lower first"), failure();
      if (failed(addLayer(&op)))
        return failure();
    }
    if (auto perf = module->getAttrOfType<DictionaryAttr>(kPerfAttr)) {
      m.perf.latencyUs = f64(perf, "latency_us");
      m.perf.fps = f64(perf, "fps");
      m.perf.ddrBytesPerFrame = i64(perf, "ddr_bytes_per_frame");
      m.perf.macs = i64(perf, "macs");
      m.perf.macUtilisation = f64(perf, "mac_utilisation");
      m.perf.batch = i64(perf, "batch");
      m.perf.weightBytes = i64(perf, "weight_bytes");
      m.perf.ddrActivationBytes = i64(perf, "ddr_activation_bytes");
      m.perf.ioBytes = i64(perf, "io_bytes");
      m.perf.peakDdrBytes = i64(perf, "peak_ddr_bytes");
      m.perf.runtimeBytes = i64(perf, "runtime_bytes");
    }
    return std::move(m);
  }

private:
  static double f64(DictionaryAttr d, StringRef key) {
    auto a = d.getAs<FloatAttr>(key);
    return a ? a.getValueAsDouble() : 0.0;
  }
  static int64_t i64(DictionaryAttr d, StringRef key) {
    auto a = d.getAs<IntegerAttr>(key);
    return a ? a.getInt() : 0;
  }

  int32_t addTensor(Value v, std::string name, int64_t offset) {
    auto type = cast<RankedTensorType>(v.getType());
    hbm::TensorDesc t;
    t.name = std::move(name);
    t.shape = i64s(type.getShape());
    t.dtype = dtypeOfType(type.getElementType());
    t.arenaOffset = offset;
    m.tensors.push_back(std::move(t));
    return tensors[v] = int32_t(m.tensors.size() - 1);
  }

  FailureOr<int32_t> addConstant(Operation *user, Value v) {
    auto it = constants.find(v);
    if (it != constants.end())
      return it->second;
    hbm::Constant c;
    if (auto pw = v.getDefiningOp<PackedWeightOp>()) {
      c.name = pw.getName().str();
      c.shape = i64s(pw.getShape());
      c.dtype = hbm::DType::I8;
      c.layout = "o16k2";
      c.groups = pw.getGroups();
      auto values = pw.getData().tryGetValues<APInt>();
      if (!values)
        return pw.emitError("cannot read packed weights"), failure();
      for (const APInt &x : *values)
        c.data.push_back(uint8_t(int8_t(x.getSExtValue())));
    } else if (auto p = v.getDefiningOp<ParamOp>()) {
      auto type = cast<RankedTensorType>(p.getType());
      if (!type.getElementType().isInteger(32))
        return user->emitError("expected an i32 bias param, got ")
                   << type << " (weights must go through bpu-pack-weights)",
               failure();
      c.name = p.getName().str();
      c.shape = i64s(type.getShape());
      c.dtype = hbm::DType::I32;
      c.layout = "plain";
      auto values = p.getValue().tryGetValues<APInt>();
      if (!values)
        return p.emitError("cannot read bias data"), failure();
      for (const APInt &x : *values) {
        const uint32_t u = uint32_t(int32_t(x.getSExtValue()));
        for (int b = 0; b < 4; ++b)
          c.data.push_back(uint8_t(u >> (8 * b)));
      }
    } else {
      return user->emitError("weight/bias is not a constant"), failure();
    }
    m.constants.push_back(std::move(c));
    return constants[v] = int32_t(m.constants.size() - 1);
  }

  /// An integer constant operand of an activation layer (a quantized
  /// position embedding): a tensor outside the arena whose data is a
  /// "plain" constant.
  FailureOr<int32_t> addConstantTensor(Operation *user, ParamOp p) {
    auto type = cast<RankedTensorType>(p.getType());
    const bool i16 = type.getElementType().isInteger(16);
    if (!i16 && !type.getElementType().isInteger(8))
      return user->emitError("constant operand '")
                 << p.getName() << "' must be i8 or i16, got " << type,
             failure();
    if (!isa<AddOp, MulOp, MatmulOp, ConcatOp, ConvOp, LinearOp>(user))
      return user->emitError("this layer cannot read the constant '")
                 << p.getName()
                 << "' (only add, mul, matmul, concat, conv and linear can)",
             failure();
    hbm::Constant c;
    c.name = p.getName().str();
    c.shape = i64s(type.getShape());
    c.dtype = i16 ? hbm::DType::I16 : hbm::DType::I8;
    c.layout = "plain";
    auto values = p.getValue().tryGetValues<APInt>();
    if (!values)
      return p.emitError("cannot read constant data"), failure();
    for (const APInt &x : *values) {
      const uint16_t u = uint16_t(int16_t(x.getSExtValue()));
      c.data.push_back(uint8_t(u));
      if (i16)
        c.data.push_back(uint8_t(u >> 8));
    }
    m.constants.push_back(std::move(c));
    const int32_t index = addTensor(p.getResult(), p.getName().str(), -1);
    m.tensors[size_t(index)].constant = int32_t(m.constants.size() - 1);
    return index;
  }

  LogicalResult addLayer(Operation *op) {
    hbm::Layer l;
    auto nameAttr = op->getAttrOfType<StringAttr>("name");
    l.name = nameAttr ? nameAttr.str()
                      : op->getName().stripDialect().str() + "_" +
                            std::to_string(m.layers.size());
    auto inputOf = [&](Value v) -> FailureOr<int32_t> {
      auto it = tensors.find(v);
      if (it != tensors.end())
        return it->second;
      if (auto p = v.getDefiningOp<ParamOp>())
        return addConstantTensor(op, p);
      return op->emitError("operand is not a model input or layer result"),
             failure();
    };
    auto addInput = [&](Value v) -> LogicalResult {
      auto i = inputOf(v);
      if (failed(i))
        return failure();
      l.inputs.push_back(*i);
      return success();
    };
    auto offset = op->getAttrOfType<IntegerAttr>("arena_offset");
    if (!offset)
      return op->emitError("no arena_offset: run bpu-plan-arena"), failure();
    LogicalResult ok = success();
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](QuantizeOp q) {
          l.kind = hbm::LayerKind::Quantize;
          ok = addInput(q.getInput());
          l.scale = {q.getScale().convertToFloat()};
        })
        .Case([&](DequantizeOp d) {
          l.kind = hbm::LayerKind::Dequantize;
          ok = addInput(d.getInput());
          l.scale.assign(d.getScale().begin(), d.getScale().end());
          if (d.getAxis()) {
            l.hasAxis = true;
            l.axis = int64_t(*d.getAxis());
          }
        })
        .Case([&](ConvOp c) {
          l.kind = hbm::LayerKind::Conv;
          ok = addInput(c.getInput());
          if (succeeded(ok) && c.getResidual())
            ok = addInput(c.getResidual());
          auto w = addConstant(op, c.getWeight());
          if (failed(w)) {
            ok = failure();
            return;
          }
          l.weight = *w;
          if (c.getBias()) {
            auto b = addConstant(op, c.getBias());
            if (failed(b)) {
              ok = failure();
              return;
            }
            l.bias = *b;
          }
          l.kernel = i64s(c.getKernel());
          l.stride = i64s(c.getStride());
          l.padding = i64s(c.getPadding());
          l.dilation = i64s(c.getDilation());
          l.groups = c.getGroups();
          l.multiplier = i32s(c.getMultiplier());
          l.shift = i32s(c.getShift());
          l.relu = c.getRelu();
          if (c.getResidual()) {
            l.residual = true;
            l.convDType = dtypeOfType(*c.getConvType());
            l.addConvMultiplier = *c.getAddConvMultiplier();
            l.addResidualMultiplier = *c.getAddResidualMultiplier();
            l.addShift = *c.getAddShift();
            l.addRelu = c.getAddRelu();
          }
        })
        .Case([&](LinearOp li) {
          l.kind = hbm::LayerKind::Linear;
          ok = addInput(li.getInput());
          auto w = addConstant(op, li.getWeight());
          if (failed(w)) {
            ok = failure();
            return;
          }
          l.weight = *w;
          if (li.getBias()) {
            auto b = addConstant(op, li.getBias());
            if (failed(b)) {
              ok = failure();
              return;
            }
            l.bias = *b;
          }
          l.multiplier = i32s(li.getMultiplier());
          l.shift = i32s(li.getShift());
          l.relu = li.getRelu();
        })
        .Case([&](AddOp a) {
          l.kind = hbm::LayerKind::Add;
          ok = succeeded(addInput(a.getLhs())) ? addInput(a.getRhs())
                                               : failure();
          l.multiplier = {int32_t(a.getLhsMultiplier()),
                          int32_t(a.getRhsMultiplier())};
          l.shift = {int32_t(a.getShift())};
          l.relu = a.getRelu();
        })
        .Case([&](MatmulOp mm) {
          l.kind = hbm::LayerKind::MatMul;
          ok = succeeded(addInput(mm.getLhs())) ? addInput(mm.getRhs())
                                                : failure();
          l.multiplier = {int32_t(mm.getMultiplier())};
          l.shift = {int32_t(mm.getShift())};
        })
        .Case([&](MsDeformAttnOp a) {
          l.kind = hbm::LayerKind::MsDeformAttn;
          for (Value v : {a.getValue(), a.getLocations(), a.getWeights()})
            if (succeeded(ok))
              ok = addInput(v);
          l.size = i64s(a.getSpatialShapes());
          // The output requantization first, then x and y of each level.
          l.multiplier = {int32_t(a.getMultiplier())};
          l.shift = {int32_t(a.getShift())};
          for (int32_t v : a.getLocMultiplier())
            l.multiplier.push_back(v);
          for (int32_t v : a.getLocShift())
            l.shift.push_back(v);
        })
        .Case([&](LayerNormOp ln) {
          l.kind = hbm::LayerKind::LayerNorm;
          ok = addInput(ln.getInput());
          if (failed(ok))
            return;
          auto b = addConstant(op, ln.getBias());
          if (failed(b)) {
            ok = failure();
            return;
          }
          l.bias = *b;
          l.normEps = int64_t(ln.getEpsQ());
          l.multiplier = i32s(ln.getMultiplier());
          l.shift = i32s(ln.getShift());
        })
        .Case([&](MulOp mu) {
          l.kind = hbm::LayerKind::Mul;
          ok = succeeded(addInput(mu.getLhs())) ? addInput(mu.getRhs())
                                                : failure();
          l.multiplier = {int32_t(mu.getMultiplier())};
          l.shift = {int32_t(mu.getShift())};
        })
        .Case([&](PoolOp p) {
          ok = addInput(p.getInput());
          StringRef kind = p.getKind();
          l.kind = kind == "max"   ? hbm::LayerKind::MaxPool
                   : kind == "avg" ? hbm::LayerKind::AvgPool
                                   : hbm::LayerKind::GlobalAvgPool;
          if (p.getKernel()) {
            l.kernel = i64s(*p.getKernel());
            l.stride = i64s(*p.getStride());
            l.padding = i64s(*p.getPadding());
          }
          if (p.getMultiplier()) {
            l.multiplier = {int32_t(*p.getMultiplier())};
            l.shift = {int32_t(*p.getShift())};
          }
        })
        .Case([&](ConcatOp c) {
          l.kind = hbm::LayerKind::Concat;
          for (Value v : c.getInputs())
            if (failed(addInput(v)))
              ok = failure();
          l.axis = c.getAxis();
          if (l.axis < 0)
            l.axis += cast<RankedTensorType>(c.getType()).getRank();
          if (c.getMultiplier()) {
            l.multiplier = i32s(*c.getMultiplier());
            l.shift = i32s(*c.getShift());
          }
        })
        .Case([&](ResizeOp r) {
          l.kind = hbm::LayerKind::Resize;
          ok = addInput(r.getInput());
          l.resizeMode = r.getMode() == "bilinear" ? 1 : 0;
          l.size = i64s(r.getSize());
          l.alignCorners = r.getAlignCorners();
          if (r.getMultiplier()) {
            l.multiplier = {int32_t(*r.getMultiplier())};
            l.shift = {int32_t(*r.getShift())};
          }
        })
        .Case([&](RequantizeOp r) {
          l.kind = hbm::LayerKind::Requantize;
          ok = addInput(r.getInput());
          l.multiplier = i32s(r.getMultiplier());
          l.shift = i32s(r.getShift());
          l.relu = r.getRelu();
        })
        .Case([&](LutOp t) {
          l.kind = hbm::LayerKind::Lut;
          ok = addInput(t.getInput());
          l.table = i32s(t.getTable());
        })
        .Case([&](ReshapeOp r) {
          l.kind = hbm::LayerKind::Reshape;
          ok = addInput(r.getInput());
        })
        .Case([&](TransposeOp t) {
          l.kind = hbm::LayerKind::Transpose;
          ok = addInput(t.getInput());
          l.perm = i64s(t.getPerm());
        })
        .Case([&](SoftmaxOp s) {
          l.kind = hbm::LayerKind::Softmax;
          ok = addInput(s.getInput());
          l.axis = s.getAxis();
          if (l.axis < 0)
            l.axis += cast<RankedTensorType>(s.getType()).getRank();
        })
        .Default([&](Operation *) {
          ok = op->emitError("no HBM form for this op");
        });
    if (failed(ok))
      return failure();
    if (auto tile = op->getAttrOfType<DenseI64ArrayAttr>("tile")) {
      l.tile.rows = tile[0], l.tile.outChannels = tile[1],
      l.tile.tiles = tile[2];
      if (auto s = op->getAttrOfType<IntegerAttr>("sram_bytes"))
        l.tile.sramBytes = s.getInt();
    }
    l.output = addTensor(op->getResult(0), l.name, offset.getInt());
    if (auto q = dyn_cast<QuantizeOp>(op))
      m.tensors[size_t(l.output)].scale = {q.getScale().convertToFloat()};
    if (auto d = dyn_cast<DequantizeOp>(op))
      m.tensors[size_t(l.inputs[0])].scale.assign(d.getScale().begin(),
                                                  d.getScale().end());
    if (auto perf = op->getAttrOfType<DictionaryAttr>("perf")) {
      hbm::LayerPerf p;
      p.name = l.name;
      p.op = op->getName().stripDialect().str();
      if (auto c = dyn_cast<ConvOp>(op); c && c.getResidual())
        p.op = c.getAddRelu() ? "conv+add+relu" : "conv+add";
      p.macs = i64(perf, "macs");
      p.computeUs = f64(perf, "compute_us");
      p.loadBytes = i64(perf, "load_bytes");
      p.storeBytes = i64(perf, "store_bytes");
      p.memoryUs = f64(perf, "memory_us");
      p.totalUs = f64(perf, "total_us");
      p.share = f64(perf, "share");
      p.sramBytes = i64(perf, "sram_bytes");
      p.macUtilisation = f64(perf, "mac_utilisation");
      m.layerPerf.push_back(std::move(p));
    }
    m.layers.push_back(std::move(l));
    return success();
  }

  ModuleOp module;
  hbm::Model m;
  llvm::DenseMap<Value, int32_t> tensors, constants;
};

} // namespace

FailureOr<hbm::Model> exportHbm(ModuleOp module) {
  return Exporter(module).run();
}

} // namespace hat::bpu
