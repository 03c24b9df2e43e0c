//===- HatQuantOps.td - Quantization and integer ops --------*- tablegen -*-===//
//
// fake_quant marks where a QAT model rounds; quantize/dequantize are the
// integer model's boundaries; the `q*` ops compute on integers exactly as
// docs/quantization.md specifies. Requantization is `multiplier` (int32,
// one per output channel or one for the tensor) and `shift` (0..62):
//   out = saturate((acc * multiplier + 2^(shift-1)) >> shift)
//
//===----------------------------------------------------------------------===//

#ifndef HAT_QUANT_OPS_TD
#define HAT_QUANT_OPS_TD

include "HatOps.td"

def Hat_FakeQuantOp : Hat_Op<"fake_quant", [Pure, SameOperandsAndResultType]> {
  let summary = "symmetric fake quantization with a straight-through gradient";
  let description = [{
    y = clamp(round_half_even(x / scale), qmin, qmax) * scale. Per-tensor
    when `axis` is absent (one scale), per-channel along `axis` otherwise.
    `scale` is absent until calibration sets it; `observer` selects how it
    is computed and `min`/`max` hold the observer's running state.
    `fixed_scale` freezes the scale during QAT.
  }];
  let arguments = (ins Hat_F32Tensor:$input, Hat_QDTypeAttr:$dtype,
                   OptionalAttr<I64Attr>:$axis,
                   OptionalAttr<DenseF32ArrayAttr>:$scale,
                   Hat_ObserverAttr:$observer,
                   OptionalAttr<DenseF32ArrayAttr>:$min,
                   OptionalAttr<DenseF32ArrayAttr>:$max,
                   UnitAttr:$fixed_scale);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Number of scales this node needs: 1, or the size of dim `axis`.
    int64_t getNumChannels();
    bool isCalibrated() { return getScale().has_value(); }
  }];
}

def Hat_QuantizeOp : Hat_Op<"quantize", [Pure]> {
  let summary = "float to integer: saturate(round_half_even(x / scale))";
  let arguments = (ins Hat_F32Tensor:$input, F32Attr:$scale);
  let results = (outs Hat_IntTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Hat_DequantizeOp : Hat_Op<"dequantize", [Pure]> {
  let summary = "integer to float: q * scale (per-tensor or along `axis`)";
  let arguments = (ins RankedTensorOf<[I8, I16, I32]>:$input,
                   DenseF32ArrayAttr:$scale, OptionalAttr<I64Attr>:$axis);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

// Every requantizing integer op carries `multiplier`/`shift` (one entry, or
// one per output channel where noted) and an optional fused ReLU.
class Hat_IntOp<string mnemonic, list<Trait> traits = []>
    : Hat_Op<mnemonic, !listconcat([Pure], traits)> {
  let hasVerifier = 1;
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_QConv2dOp : Hat_IntOp<"qconv2d"> {
  let summary = "integer convolution with per-channel requantization";
  let description = [{
    acc = bias[c] + sum(input * weight) in int32, then requantized with
    multiplier[c]/shift[c] (or the single entry) into i8 or i16, clamped at
    zero first when `relu` is set.
  }];
  let arguments = (ins Hat_IntTensor:$input, Hat_I8Tensor:$weight,
                   Optional<Hat_I32Tensor>:$bias,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DenseI64ArrayAttr:$dilation, I64Attr:$groups,
                   DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift,
                   UnitAttr:$relu);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QLinearOp : Hat_IntOp<"qlinear"> {
  let summary = "integer fully connected layer with per-channel requantization";
  let arguments = (ins Hat_IntTensor:$input, Hat_I8Tensor:$weight,
                   Optional<Hat_I32Tensor>:$bias,
                   DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift,
                   UnitAttr:$relu);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QAddOp : Hat_IntOp<"qadd"> {
  let summary = "integer sum: each side rescaled to the output, one rounding";
  let description = [{
    out = saturate((lhs * lhs_multiplier + rhs * rhs_multiplier
                    + 2^(shift-1)) >> shift), ReLU applied before saturation
    when `relu` is set. Operands broadcast NumPy-style.
  }];
  let arguments = (ins Hat_IntTensor:$lhs, Hat_IntTensor:$rhs,
                   I32Attr:$lhs_multiplier, I32Attr:$rhs_multiplier,
                   I32Attr:$shift, UnitAttr:$relu);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QMulOp : Hat_IntOp<"qmul"> {
  let summary = "integer product, requantized once";
  let arguments = (ins Hat_IntTensor:$lhs, Hat_IntTensor:$rhs,
                   I32Attr:$multiplier, I32Attr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QMatmulOp : Hat_IntOp<"qmatmul"> {
  let summary = "integer batched matrix product, requantized once";
  let description = [{
    acc = sum_k lhs[..., m, k] * rhs[..., k, n] exactly (int64), clamped to
    int32, then requantized with the one multiplier/shift (s_lhs * s_rhs /
    s_out) and saturated to the result type. Shapes as hat.matmul.
  }];
  let arguments = (ins Hat_IntTensor:$lhs, Hat_IntTensor:$rhs,
                   I32Attr:$multiplier, I32Attr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QLayerNormOp : Hat_IntOp<"qlayer_norm"> {
  let summary = "integer layer normalization over the last axis";
  let description = [{
    Each row of C integers is normalised with exact integer sums and a
    fixed-point reciprocal square root (hat::quant::layerNormRow,
    docs/quantization.md "Layer norm"): `eps_q` is eps * C^2 / s_in^2,
    `multiplier[c]` * 2^-`shift[c]` is gamma[c] / s_out (the multiplier
    carries gamma's sign) and `bias[c]` is beta[c] / s_out in 1/256 steps.
    C is at most 32768.
  }];
  let arguments = (ins Hat_IntTensor:$input, Hat_I32Tensor:$bias,
                   I64Attr:$eps_q, DenseI32ArrayAttr:$multiplier,
                   DenseI32ArrayAttr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QMsDeformAttnOp : Hat_IntOp<"qms_deform_attn"> {
  let summary = "integer multi-scale deformable attention sampling";
  let description = [{
    Shapes as hat.ms_deform_attn. A sampling position in 1/256 pixel is
    applyRequant(q_x, loc_multiplier[2 l], loc_shift[2 l]) - 128 (and
    entry 2 l + 1 for y), the ratios s_loc * W_l * 256 and s_loc * H_l *
    256; the four bilinear weights are products of 8-bit fractions (they
    sum to 65536); acc = sum over levels and points of q_weight * sum over
    the corners inside the map of value * bilinear weight (int64), then
    requantized once by multiplier / shift (s_value * s_weight / (65536 *
    s_out), 128-bit product) and saturated. docs/quantization.md.
  }];
  let arguments = (ins Hat_IntTensor:$value, Hat_IntTensor:$locations,
                   Hat_IntTensor:$weights, DenseI64ArrayAttr:$spatial_shapes,
                   DenseI32ArrayAttr:$loc_multiplier,
                   DenseI32ArrayAttr:$loc_shift, I32Attr:$multiplier,
                   I32Attr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QConcatOp : Hat_IntOp<"qconcat"> {
  let summary = "integer concatenation, each input rescaled to the output";
  let arguments = (ins Variadic<Hat_IntTensor>:$inputs, I64Attr:$axis,
                   DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QAvgPool2dOp : Hat_IntOp<"qavg_pool2d"> {
  let summary = "integer window sum requantized (divisor folded in)";
  let arguments = (ins Hat_IntTensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   I32Attr:$multiplier, I32Attr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QGlobalAvgPoolOp : Hat_IntOp<"qglobal_avg_pool"> {
  let summary = "integer sum over H and W requantized (divisor folded in)";
  let arguments = (ins Hat_IntTensor:$input, I32Attr:$multiplier,
                   I32Attr:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QResizeOp : Hat_IntOp<"qresize"> {
  let summary = "integer resize; bilinear weights are Q10 fixed point";
  let description = [{
    `nearest` copies values (multiplier/shift must then be absent).
    `bilinear` sums the four neighbours times Q10 weights (each axis' pair
    sums to 1024) and requantizes with multiplier/shift, which fold in the
    2^-20 of the weights.
  }];
  let arguments = (ins Hat_IntTensor:$input, Hat_ResizeModeAttr:$mode,
                   DenseI64ArrayAttr:$size, BoolAttr:$align_corners,
                   OptionalAttr<I32Attr>:$multiplier,
                   OptionalAttr<I32Attr>:$shift);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_RequantizeOp : Hat_IntOp<"requantize"> {
  let summary = "rescale integers (per-tensor, or per-channel along axis 1)";
  let arguments = (ins RankedTensorOf<[I8, I16, I32]>:$input,
                   DenseI32ArrayAttr:$multiplier, DenseI32ArrayAttr:$shift,
                   UnitAttr:$relu);
  let results = (outs Hat_IntTensor:$result);
}

def Hat_QLutOp : Hat_IntOp<"qlut"> {
  let summary = "table lookup for integer activations (sigmoid, silu, ...)";
  let description = [{
    out = table[q - qmin] where qmin is the input type's minimum; the table
    has 2^bits(input) entries of the output type's range.
  }];
  let arguments = (ins Hat_IntTensor:$input, DenseI32ArrayAttr:$table);
  let results = (outs Hat_IntTensor:$result);
}

#endif // HAT_QUANT_OPS_TD
