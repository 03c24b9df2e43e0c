//===- BpuOps.td - Ops of the bpu dialect --------------------*- tablegen -*-===//
//
// Every layer op has the same optional annotations, filled in by the passes
// in order (see Passes.td):
//   tile        [rows per tile, output channels per tile, tiles]  bpu-tile
//   sram_bytes  SRAM the layer's largest tile needs               bpu-tile
//   arena_offset byte offset of the result in the activation arena bpu-plan-arena
//   perf        {macs, compute_us, load_bytes, store_bytes, ...}  bpu-estimate-perf
//
//===----------------------------------------------------------------------===//

#ifndef BPU_OPS_TD
#define BPU_OPS_TD

include "BpuDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

def Bpu_IntTensor : RankedTensorOf<[I8, I16]>;
def Bpu_AnyTensor : RankedTensorOf<[I8, I16, I32, F32]>;

defvar Bpu_Annotations = (ins OptionalAttr<DenseI64ArrayAttr>:$tile,
                              OptionalAttr<I64Attr>:$sram_bytes,
                              OptionalAttr<I64Attr>:$arena_offset,
                              OptionalAttr<DictionaryAttr>:$perf);

class Bpu_LayerOp<string mnemonic, dag args, list<Trait> traits = []>
    : Bpu_Op<mnemonic, !listconcat([Pure], traits)> {
  let arguments = !con(args, Bpu_Annotations);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
}

def Bpu_PackedWeightOp : Bpu_Op<"packed_weight", [Pure]> {
  let summary = "int8 weights reordered for the MAC array (and CPU runtime)";
  let description = [{
    `layout = "o16k2"`: per group, output channels in blocks of 16 and the
    reduction axis K = Cin/g * KH * KW (in (c, kh, kw) order) in pairs,
    i.e. data[g][ob][k / 2][o % 16][k % 2], zero-padded to whole blocks and
    an even K. `shape` is the logical [O, Cin/g, KH, KW] (or [M, K]) weight.
    The result is the packed bytes as a 1-d i8 tensor.
  }];
  let arguments = (ins StrAttr:$name, ElementsAttr:$data,
                   StrAttr:$layout, DenseI64ArrayAttr:$shape,
                   I64Attr:$groups);
  let results = (outs RankedTensorOf<[I8]>:$result);
  let assemblyFormat = "$name $layout attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Bpu_QuantizeOp : Bpu_LayerOp<"quantize",
    (ins RankedTensorOf<[F32]>:$input, F32Attr:$scale)> {
  let summary = "float model input to integers (section 3 rounding)";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_DequantizeOp : Bpu_LayerOp<"dequantize",
    (ins RankedTensorOf<[I8, I16, I32]>:$input, DenseF32ArrayAttr:$scale,
         OptionalAttr<I64Attr>:$axis)> {
  let summary = "integers to float model output";
  let results = (outs RankedTensorOf<[F32]>:$result);
}

def Bpu_ConvOp : Bpu_LayerOp<"conv",
    (ins Bpu_IntTensor:$input, RankedTensorOf<[I8]>:$weight,
         Optional<RankedTensorOf<[I32]>>:$bias,
         Optional<Bpu_IntTensor>:$residual,
         DenseI64ArrayAttr:$kernel,
         DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
         DenseI64ArrayAttr:$dilation, I64Attr:$groups,
         DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift,
         UnitAttr:$relu,
         OptionalAttr<TypeAttr>:$conv_type,
         OptionalAttr<I32Attr>:$add_conv_multiplier,
         OptionalAttr<I32Attr>:$add_residual_multiplier,
         OptionalAttr<I32Attr>:$add_shift,
         UnitAttr:$add_relu, UnitAttr:$residual_is_lhs),
    [AttrSizedOperandSegments]> {
  let summary = "convolution with a requantizing epilogue, optionally + residual";
  let description = [{
    acc = bias + sum(input * weight) clamped to int32, requantized with
    multiplier/shift (per output channel or one), `relu`, saturated to the
    conv element type (`conv_type`, default the result's). With a
    `residual` (conv+add fusion) that value c then goes through qadd with the
    residual r: saturate(addrelu?((c * add_conv_multiplier + r *
    add_residual_multiplier + 2^(add_shift-1)) >> add_shift)) -- two
    roundings, exactly as the unfused qconv2d + qadd. `residual_is_lhs`
    records which qadd operand the residual was (it changes nothing
    numerically; the multipliers are per operand). `weight` is the OIHW i8
    param before bpu-pack-weights and a bpu.packed_weight after.
  }];
  let results = (outs Bpu_IntTensor:$result);
  let hasVerifier = 1;
}

def Bpu_LinearOp : Bpu_LayerOp<"linear",
    (ins Bpu_IntTensor:$input, RankedTensorOf<[I8]>:$weight,
         Optional<RankedTensorOf<[I32]>>:$bias,
         DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift,
         UnitAttr:$relu)> {
  let summary = "fully connected layer with a requantizing epilogue";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_AddOp : Bpu_LayerOp<"add",
    (ins Bpu_IntTensor:$lhs, Bpu_IntTensor:$rhs, I32Attr:$lhs_multiplier,
         I32Attr:$rhs_multiplier, I32Attr:$shift, UnitAttr:$relu)> {
  let summary = "elementwise qadd (one rounding over both rescaled terms)";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_MulOp : Bpu_LayerOp<"mul",
    (ins Bpu_IntTensor:$lhs, Bpu_IntTensor:$rhs, I32Attr:$multiplier,
         I32Attr:$shift)> {
  let summary = "elementwise qmul";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_MatmulOp : Bpu_LayerOp<"matmul",
    (ins Bpu_IntTensor:$lhs, Bpu_IntTensor:$rhs, I32Attr:$multiplier,
         I32Attr:$shift)> {
  let summary = "batched qmatmul of two activations on the MAC array";
  let description = [{
    lhs [..., M, K] x rhs [..., K, N] with broadcast batch dimensions (as
    hat.qmatmul); the MAC array sees batch x M rows of K inputs and N
    outputs, rhs streamed in as the layer's "weights".
  }];
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_LayerNormOp : Bpu_LayerOp<"layer_norm",
    (ins Bpu_IntTensor:$input, RankedTensorOf<[I32]>:$bias, I64Attr:$eps_q,
         DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift)> {
  let summary = "integer layer norm over the last axis on the vector unit";
  let description = [{
    hat.qlayer_norm: per row, integer sums for the mean and variance, a
    fixed-point reciprocal square root, a signed per-channel requantization
    and the bias (hat::quant::layerNormRow). Three passes over each row:
    sum, squared deviations, normalise.
  }];
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_MsDeformAttnOp : Bpu_LayerOp<"ms_deform_attn",
    (ins Bpu_IntTensor:$value, Bpu_IntTensor:$locations,
         Bpu_IntTensor:$weights, DenseI64ArrayAttr:$spatial_shapes,
         DenseI32ArrayAttr:$loc_multiplier, DenseI32ArrayAttr:$loc_shift,
         I32Attr:$multiplier, I32Attr:$shift)> {
  let summary = "integer deformable attention sampling (grid-sample unit)";
  let description = [{
    hat.qms_deform_attn: per query, head, level and point, four gathers of
    D channels weighted by 8-bit fractions, scaled by the attention weight
    and summed; one requantization. Costed as 5 multiply-adds per sampled
    channel value on the vector unit, the value maps re-read by every
    query tile (the sampling positions are data-dependent).
  }];
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_PoolOp : Bpu_LayerOp<"pool",
    (ins Bpu_IntTensor:$input, StrAttr:$kind,
         OptionalAttr<DenseI64ArrayAttr>:$kernel,
         OptionalAttr<DenseI64ArrayAttr>:$stride,
         OptionalAttr<DenseI64ArrayAttr>:$padding,
         OptionalAttr<I32Attr>:$multiplier, OptionalAttr<I32Attr>:$shift)> {
  let summary = "max / avg / global_avg pooling";
  let description = [{
    `kind` is "max" (integers compared directly, no requantization), "avg"
    or "global_avg" (window sum requantized, divisor folded in).
  }];
  let results = (outs Bpu_IntTensor:$result);
  let hasVerifier = 1;
}

def Bpu_ConcatOp : Bpu_LayerOp<"concat",
    (ins Variadic<Bpu_IntTensor>:$inputs, I64Attr:$axis,
         OptionalAttr<DenseI32ArrayAttr>:$multiplier,
         OptionalAttr<DenseI32ArrayAttr>:$shift)> {
  let summary = "concatenation, each input requantized when multipliers are set";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_ResizeOp : Bpu_LayerOp<"resize",
    (ins Bpu_IntTensor:$input, StrAttr:$mode, DenseI64ArrayAttr:$size,
         BoolAttr:$align_corners, OptionalAttr<I32Attr>:$multiplier,
         OptionalAttr<I32Attr>:$shift)> {
  let summary = "nearest copy or Q10 bilinear resize";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_RequantizeOp : Bpu_LayerOp<"requantize",
    (ins RankedTensorOf<[I8, I16, I32]>:$input, DenseI32ArrayAttr:$multiplier,
         DenseI32ArrayAttr:$shift, UnitAttr:$relu)> {
  let summary = "rescale integers (per tensor or per channel along axis 1)";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_LutOp : Bpu_LayerOp<"lut",
    (ins Bpu_IntTensor:$input, DenseI32ArrayAttr:$table)> {
  let summary = "table lookup activation";
  let results = (outs Bpu_IntTensor:$result);
}

def Bpu_ReshapeOp : Bpu_LayerOp<"reshape", (ins Bpu_AnyTensor:$input)> {
  let summary = "view with a new shape (shares the input's arena bytes)";
  let results = (outs Bpu_AnyTensor:$result);
}

def Bpu_TransposeOp : Bpu_LayerOp<"transpose",
    (ins Bpu_AnyTensor:$input, DenseI64ArrayAttr:$perm)> {
  let summary = "permute dimensions";
  let results = (outs Bpu_AnyTensor:$result);
}

def Bpu_SoftmaxOp : Bpu_LayerOp<"softmax",
    (ins RankedTensorOf<[F32]>:$input, I64Attr:$axis)> {
  let summary = "float softmax, run on the CPU beside the BPU";
  let results = (outs RankedTensorOf<[F32]>:$result);
}

#endif // BPU_OPS_TD
