//===- HatOps.td - Float ops of the hat dialect -------------*- tablegen -*-===//
//
// Float layers. Shapes are static and NCHW; every op infers its result type
// from its operands and attributes, so the verifier rejects a result that
// disagrees with the inputs and builders need no result types.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_OPS_TD
#define HAT_OPS_TD

include "HatDialect.td"
include "HatAttrs.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

def Hat_F32Tensor : RankedTensorOf<[F32]>;
def Hat_IntTensor : RankedTensorOf<[I8, I16]>;
def Hat_I8Tensor : RankedTensorOf<[I8]>;
def Hat_I32Tensor : RankedTensorOf<[I32]>;
def Hat_AnyTensor : RankedTensorOf<[AnyType]>;

// Window attributes of convolutions and pools: `kernel`, `stride` and
// `dilation` are [h, w]; `padding` is [top, left, bottom, right].

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Hat_ParamOp : Hat_Op<"param", [Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "a named weight tensor with its data";
  let description = [{
    Holds one trained tensor (weights, biases, BN statistics, integer weights
    and biases after quantization). The name is the parameter's dotted path
    in the model (`backbone.conv1.weight`) and is unique in a function.
    Printing with `--mlir-elide-elementsattrs-if-larger=N` elides the data.

    ```mlir
    %w = hat.param "conv1.weight" dense<0.5> : tensor<8x1x3x3xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, ElementsAttr:$value);
  let results = (outs Hat_AnyTensor:$result);
  let assemblyFormat = "$name $value attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Convolution and linear layers
//===----------------------------------------------------------------------===//

def Hat_Conv2dOp : Hat_Op<"conv2d", [Pure, InferTypeOpAdaptor]> {
  let summary = "2-D convolution (NCHW input, OIHW weight)";
  let description = [{
    `weight` is [Cout, Cin / groups, KH, KW]; the optional `bias` is [Cout].
    `padding` is [top, left, bottom, right], zeros.
  }];
  let arguments = (ins Hat_F32Tensor:$input, Hat_F32Tensor:$weight,
                   Optional<Hat_F32Tensor>:$bias,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DenseI64ArrayAttr:$dilation, I64Attr:$groups);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_LinearOp : Hat_Op<"linear", [Pure, InferTypeOpAdaptor]> {
  let summary = "fully connected layer, y = x * W^T + b";
  let description = [{
    `input` is [..., K], `weight` is [M, K], the optional `bias` is [M].
  }];
  let arguments = (ins Hat_F32Tensor:$input, Hat_F32Tensor:$weight,
                   Optional<Hat_F32Tensor>:$bias);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_BatchNormOp : Hat_Op<"batch_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "batch normalization over the channel axis (axis 1)";
  let description = [{
    Inference form: y = (x - mean) / sqrt(var + eps) * weight + bias, with
    `weight`, `bias`, `mean` and `var` all [C]. The executor uses batch
    statistics while training and updates `mean`/`var` with `momentum`.
  }];
  let arguments = (ins Hat_F32Tensor:$input, Hat_F32Tensor:$weight,
                   Hat_F32Tensor:$bias, Hat_F32Tensor:$mean,
                   Hat_F32Tensor:$var, F32Attr:$eps, F32Attr:$momentum);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_LayerNormOp : Hat_Op<"layer_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "layer normalization over the last axis (torch LayerNorm)";
  let description = [{
    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and the
    biased variance taken over the last axis of each row and `weight`,
    `bias` [C], C the last dimension (torch.nn.LayerNorm(C)). The
    transformer blocks of Deformable DETR normalise [N, L, C] tokens.
  }];
  let arguments = (ins Hat_F32Tensor:$input, Hat_F32Tensor:$weight,
                   Hat_F32Tensor:$bias, F32Attr:$eps);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Hat_UnaryOp<string mnemonic, string doc>
    : Hat_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = doc;
  let arguments = (ins Hat_F32Tensor:$input);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Hat_ReluOp : Hat_UnaryOp<"relu", "max(x, 0)">;
def Hat_Relu6Op : Hat_UnaryOp<"relu6", "min(max(x, 0), 6)">;
def Hat_SigmoidOp : Hat_UnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def Hat_SiluOp : Hat_UnaryOp<"silu", "x * sigmoid(x)">;
def Hat_HardswishOp : Hat_UnaryOp<"hardswish", "x * relu6(x + 3) / 6">;

class Hat_BinaryOp<string mnemonic, string doc>
    : Hat_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let summary = doc;
  let description = [{
    Operands broadcast NumPy-style (e.g. [N, C, H, W] with [N, C, 1, 1]).
  }];
  let arguments = (ins Hat_F32Tensor:$lhs, Hat_F32Tensor:$rhs);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_AddOp : Hat_BinaryOp<"add", "elementwise sum with broadcasting">;
def Hat_MulOp : Hat_BinaryOp<"mul", "elementwise product with broadcasting">;

def Hat_WeightedSumOp : Hat_Op<"weighted_sum", [Pure, InferTypeOpAdaptor]> {
  let summary = "BiFPN fast normalised fusion of same-shaped inputs";
  let description = [{
    out = sum_i w_i * x_i with w_i = relu(weights[i]) / (sum_j relu(weights[j])
    + eps): EfficientDet's fast normalised fusion. `weights` is a learnable
    [N] parameter for the N inputs; the ReLU keeps the fusion weights
    non-negative and the normalisation keeps their sum below one, so the
    output stays in the range of the inputs (what makes it quantize well: the
    integer model folds each w_i into its input's rescale multiplier).

    ```mlir
    %y = hat.weighted_sum %a, %b weights %w {eps = 1.0e-04 : f32}
        : (tensor<1x64x8x8xf32>, tensor<1x64x8x8xf32>, tensor<2xf32>)
        -> tensor<1x64x8x8xf32>
    ```
  }];
  let arguments = (ins Variadic<Hat_F32Tensor>:$inputs, Hat_F32Tensor:$weights,
                   F32Attr:$eps);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    $inputs `weights` $weights attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_ConcatOp : Hat_Op<"concat", [Pure, InferTypeOpAdaptor]> {
  let summary = "concatenation along `axis`";
  let arguments = (ins Variadic<Hat_AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs Hat_AnyTensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Pooling and resizing
//===----------------------------------------------------------------------===//

def Hat_MaxPool2dOp : Hat_Op<"max_pool2d", [Pure, InferTypeOpAdaptor]> {
  let summary = "2-D max pooling; padded cells never win";
  let arguments = (ins Hat_AnyTensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let results = (outs Hat_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Hat_AvgPool2dOp : Hat_Op<"avg_pool2d", [Pure, InferTypeOpAdaptor]> {
  let summary = "2-D average pooling, zero padding counted in the divisor";
  let arguments = (ins Hat_F32Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Hat_GlobalAvgPoolOp : Hat_Op<"global_avg_pool", [Pure, InferTypeOpAdaptor]> {
  let summary = "mean over H and W, keeping [N, C, 1, 1]";
  let arguments = (ins Hat_F32Tensor:$input);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Hat_ResizeOp : Hat_Op<"resize", [Pure, InferTypeOpAdaptor]> {
  let summary = "spatial resize to `size` = [H, W]";
  let description = [{
    `nearest` picks floor(dst * in / out); `bilinear` uses half-pixel
    centres unless `align_corners` is set, as torch.nn.functional.interpolate.
  }];
  let arguments = (ins Hat_F32Tensor:$input, Hat_ResizeModeAttr:$mode,
                   DenseI64ArrayAttr:$size, BoolAttr:$align_corners);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Shape manipulation (any element type, so integer models reuse them)
//===----------------------------------------------------------------------===//

def Hat_ReshapeOp : Hat_Op<"reshape", [Pure, InferTypeOpAdaptor]> {
  let summary = "reshape to `shape`; at most one -1 is inferred";
  let arguments = (ins Hat_AnyTensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Hat_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Hat_FlattenOp : Hat_Op<"flatten", [Pure, InferTypeOpAdaptor]> {
  let summary = "merge dimensions start_dim..rank-1 into one";
  let arguments = (ins Hat_AnyTensor:$input, I64Attr:$start_dim);
  let results = (outs Hat_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Hat_TransposeOp : Hat_Op<"transpose", [Pure, InferTypeOpAdaptor]> {
  let summary = "permute dimensions: result dim i is input dim perm[i]";
  let arguments = (ins Hat_AnyTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Hat_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Hat_MatmulOp : Hat_Op<"matmul", [Pure, InferTypeOpAdaptor]> {
  let summary = "batched matrix product of two activations (torch.matmul)";
  let description = [{
    lhs [..., M, K] x rhs [..., K, N] -> [..., M, N]; both operands have rank
    >= 2 and the batch dimensions (all but the last two) broadcast
    NumPy-style, as torch.matmul. GaNet's and DETR's attention use it
    (query x key, attention x value).
  }];
  let arguments = (ins Hat_F32Tensor:$lhs, Hat_F32Tensor:$rhs);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_MsDeformAttnOp : Hat_Op<"ms_deform_attn",
                                [Pure, InferTypeOpAdaptor]> {
  let summary = "multi-scale deformable attention sampling (Deformable DETR)";
  let description = [{
    `value` [N, S, M, D] holds the L levels' maps flattened and concatenated
    (S = sum H_l * W_l, `spatial_shapes` = [H_0, W_0, H_1, W_1, ...]) for M
    heads of D channels; `locations` [N, Lq, M, L, P, 2] are (x, y) in
    [0, 1] per query, head, level and point; `weights` [N, Lq, M, L, P] are
    the attention weights. Locations and weights of batch 1 serve every
    image (a decoder's first layer, whose learned queries are the same for
    all). Each point samples its level bilinearly at pixel
    (x * W - 0.5, y * H - 0.5) with zeros outside (grid_sample,
    align_corners=False); the result [N, Lq, M * D] is the weighted sum
    over levels and points (Deformable DETR's
    ms_deform_attn_core_pytorch).
  }];
  let arguments = (ins Hat_F32Tensor:$value, Hat_F32Tensor:$locations,
                   Hat_F32Tensor:$weights, DenseI64ArrayAttr:$spatial_shapes);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
}

def Hat_SoftmaxOp : Hat_Op<"softmax", [Pure, InferTypeOpAdaptor]> {
  let summary = "softmax along `axis`";
  let arguments = (ins Hat_F32Tensor:$input, I64Attr:$axis);
  let results = (outs Hat_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

#endif // HAT_OPS_TD
