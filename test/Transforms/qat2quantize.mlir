// RUN: hat-opt %s --hat-qat2quantize --split-input-file --verify-diagnostics | FileCheck %s

// s_in = 0.5, s_w = 0.25, s_out = 1: the conv's real multiplier is 0.125 =
// 2^30 * 2^-33. Weight 0.5 / 0.25 = 2; bias 1.0 / (0.5 * 0.25) = 8.
// The input is quantized, the result dequantized; the max pool keeps the
// int8 scale.
// CHECK-LABEL: func @conv
// CHECK: %[[Q:.*]] = hat.quantize %arg0 {scale = 5.000000e-01 : f32} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi8>
// CHECK-DAG: %[[W:.*]] = hat.param "conv.weight" dense<2> : tensor<3x2x1x1xi8>
// CHECK-DAG: %[[B:.*]] = hat.param "conv.bias" dense<8> : tensor<3xi32>
// CHECK: %[[C:.*]] = hat.qconv2d %[[Q]], %[[W]], %[[B]] {{{.*}}multiplier = array<i32: 1073741824, 1073741824, 1073741824>, padding = array<i64: 0, 0, 0, 0>, relu, shift = array<i32: 33, 33, 33>{{.*}}} : (tensor<1x2x4x4xi8>, tensor<3x2x1x1xi8>, tensor<3xi32>) -> tensor<1x3x4x4xi8>
// CHECK: %[[P:.*]] = hat.max_pool2d %[[C]] {{.*}} -> tensor<1x3x2x2xi8>
// CHECK: %[[D:.*]] = hat.dequantize %[[P]] {scale = array<f32: 1.000000e+00>} : (tensor<1x3x2x2xi8>) -> tensor<1x3x2x2xf32>
// CHECK: return %[[D]]
// CHECK-NOT: hat.fake_quant
func.func @conv(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x2x2xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x2x4x4xf32>
  %w = hat.param "conv.weight" dense<0.5> : tensor<3x2x1x1xf32>
  %b = hat.param "conv.bias" dense<1.0> : tensor<3xf32>
  %wq = hat.fake_quant %w {dtype = #hat<qdtype qint8>, axis = 0 : i64, observer = #hat<observer minmax>, scale = array<f32: 0.25, 0.25, 0.25>} : tensor<3x2x1x1xf32>
  %c = hat.conv2d %xq, %wq, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
  %r = hat.relu %c : tensor<1x3x4x4xf32>
  %rq = hat.fake_quant %r {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<1x3x4x4xf32>
  %p = hat.max_pool2d %rq {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x2x2xf32>
  return %p : tensor<1x3x2x2xf32>
}

// -----

// add rescales both sides with one shared shift: 0.5 / 1 and 0.25 / 1.
// A sigmoid becomes a 256-entry table; an int16 output fake_quant gives i16.
// CHECK-LABEL: func @add_lut
// CHECK: %[[A:.*]] = hat.quantize %arg0 {scale = 5.000000e-01 : f32}
// CHECK: %[[B:.*]] = hat.quantize %arg1 {scale = 2.500000e-01 : f32}
// CHECK: %[[S:.*]] = hat.qadd %[[A]], %[[B]] {lhs_multiplier = 1073741824 : i32, rhs_multiplier = 536870912 : i32, shift = 31 : i32} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x4xi8>
// CHECK: %[[L:.*]] = hat.qlut %[[S]] {table = array<i32: 0, 0, {{.*}}, 32767, 32767>} : (tensor<1x4xi8>) -> tensor<1x4xi16>
// CHECK: hat.dequantize %[[L]] {scale = array<f32: 3.05175781E-5>}
func.func @add_lut(%x: tensor<1x4xf32>, %y: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %s = hat.add %xq, %yq : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %sq = hat.fake_quant %s {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<1x4xf32>
  %g = hat.sigmoid %sq : tensor<1x4xf32>
  %gq = hat.fake_quant %g {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 3.05175781E-5>} : tensor<1x4xf32>
  return %gq : tensor<1x4xf32>
}

// -----

func.func @uncalibrated(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{'hat.fake_quant' op has no scale: calibrate the model (hat-calibrate) before hat-qat2quantize}}
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<1x4xf32>
  return %xq : tensor<1x4xf32>
}

// -----

func.func @not_quantized(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{operand #0 is not quantized}}
  %r = hat.sigmoid %x : tensor<1x4xf32>
  %rq = hat.fake_quant %r {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.1>} : tensor<1x4xf32>
  return %rq : tensor<1x4xf32>
}

// -----

func.func @no_output_fq(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  // expected-error @+1 {{output is not followed by a single fake_quant: run hat-float2qat first}}
  %s = hat.add %xq, %xq : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  return %s : tensor<1x4xf32>
}

// -----

func.func @leftover_bn(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x2x2x2xf32>
  %p = hat.param "bn.p" dense<1.0> : tensor<2xf32>
  // expected-error @+1 {{batch_norm has no integer form: fold it first (hat-fuse-bn)}}
  %y = hat.batch_norm %xq, %p, %p, %p, %p {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// -----

// BiFPN fusion: relu(w) / (sum + 1e-4) = [0.74998, 0.24999] folds into the
// qadd's rescale ratios 0.74998 * 0.5 / 1 and 0.24999 * 0.25 / 1 (one shared
// shift 32), and the following relu into the qadd.
// CHECK-LABEL: func @weighted_sum2
// CHECK: %[[A:.*]] = hat.quantize %arg0 {scale = 5.000000e-01 : f32}
// CHECK: %[[B:.*]] = hat.quantize %arg1 {scale = 2.500000e-01 : f32}
// CHECK: %[[S:.*]] = hat.qadd %[[A]], %[[B]] {hat.layer_name = "fusion", lhs_multiplier = 1610572472 : i32, relu, rhs_multiplier = 268428745 : i32, shift = 32 : i32} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x4xi8>
// CHECK: hat.dequantize %[[S]] {scale = array<f32: 1.000000e+00>}
// CHECK-NOT: hat.weighted_sum
func.func @weighted_sum2(%x: tensor<1x4xf32>, %y: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %w = hat.param "fusion.weight" dense<[3.0, 1.0]> : tensor<2xf32>
  %s = hat.weighted_sum %xq, %yq weights %w {eps = 1.0e-04 : f32} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<2xf32>) -> tensor<1x4xf32>
  %r = hat.relu %s : tensor<1x4xf32>
  %rq = hat.fake_quant %r {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<1x4xf32>
  return %rq : tensor<1x4xf32>
}

// -----

// Three inputs: the first two sum into i16 at the scale that holds the
// largest partial sum ((0.25 * 0.5 + 0.5 * 0.25) * 127 / 32767), the last
// qadd rounds to the output scale 0.5.
// CHECK-LABEL: func @weighted_sum3
// CHECK: %[[P:.*]] = hat.qadd %{{.*}}, %{{.*}} {hat.layer_name = "fusion.partial1", lhs_multiplier = 1082163458 : i32, rhs_multiplier = 1082163458 : i32, shift = 23 : i32} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x4xi16>
// CHECK: %[[S:.*]] = hat.qadd %[[P]], %{{.*}} {hat.layer_name = "fusion", lhs_multiplier = 66584943 : i32, rhs_multiplier = 2147429962 : i32, shift = 35 : i32} : (tensor<1x4xi16>, tensor<1x4xi8>) -> tensor<1x4xi8>
// CHECK: hat.dequantize %[[S]] {scale = array<f32: 5.000000e-01>}
func.func @weighted_sum3(%x: tensor<1x4xf32>, %y: tensor<1x4xf32>, %z: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %zq = hat.fake_quant %z {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.125>} : tensor<1x4xf32>
  %w = hat.param "fusion.weight" dense<[1.0, 2.0, 1.0]> : tensor<3xf32>
  %s = hat.weighted_sum %xq, %yq, %zq weights %w {eps = 1.0e-04 : f32} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<3xf32>) -> tensor<1x4xf32>
  %sq = hat.fake_quant %s {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  return %sq : tensor<1x4xf32>
}

// -----

// A fusion weight at or below zero drops its input; one input left is a
// requantize (ratio 0.99980 * 0.5 / 1).
// CHECK-LABEL: func @weighted_sum_dropped
// CHECK: %[[A:.*]] = hat.quantize %arg0
// CHECK: hat.requantize %[[A]] {hat.layer_name = "fusion", multiplier = array<i32: 2147054237>, shift = array<i32: 32>} : (tensor<1x4xi8>) -> tensor<1x4xi8>
// CHECK-NOT: hat.qadd
func.func @weighted_sum_dropped(%x: tensor<1x4xf32>, %y: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %w = hat.param "fusion.weight" dense<[0.5, -2.0]> : tensor<2xf32>
  %s = hat.weighted_sum %xq, %yq weights %w {eps = 1.0e-04 : f32} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<2xf32>) -> tensor<1x4xf32>
  %sq = hat.fake_quant %s {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<1x4xf32>
  return %sq : tensor<1x4xf32>
}

// -----

func.func @weighted_sum_all_zero(%x: tensor<1x4xf32>, %y: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %w = hat.param "fusion.weight" dense<[0.0, -2.0]> : tensor<2xf32>
  // expected-error @+1 {{every fusion weight is <= 0, the output would be constant zero}}
  %s = hat.weighted_sum %xq, %yq weights %w {eps = 1.0e-04 : f32} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<2xf32>) -> tensor<1x4xf32>
  %sq = hat.fake_quant %s {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<1x4xf32>
  return %sq : tensor<1x4xf32>
}

// -----

// A conv weight shared by two layers (FCOS's head predictors) becomes one
// int8 weight; each layer keeps its own bias (its input scale differs).
// CHECK-LABEL: func @shared_weight
// CHECK-COUNT-1: hat.param "head.conv_cls.weight" {{.*}} : tensor<2x2x1x1xi8>
// CHECK-DAG: hat.param "head.conv_cls.bias" dense<8> : tensor<2xi32>
// CHECK-DAG: hat.param "head.conv_cls.bias.1" dense<4> : tensor<2xi32>
// CHECK-NOT: hat.param "head.conv_cls.weight"
func.func @shared_weight(%x: tensor<1x2x4x4xf32>, %y: tensor<1x2x2x2xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x2x2xf32>) {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x2x4x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<1x2x2x2xf32>
  %w = hat.param "head.conv_cls.weight" dense<0.5> : tensor<2x2x1x1xf32>
  %b = hat.param "head.conv_cls.bias" dense<1.0> : tensor<2xf32>
  %wq = hat.fake_quant %w {dtype = #hat<qdtype qint8>, axis = 0 : i64, observer = #hat<observer minmax>, scale = array<f32: 0.25, 0.25>} : tensor<2x2x1x1xf32>
  %c0 = hat.conv2d %xq, %wq, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %c0q = hat.fake_quant %c0 {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 0.01>} : tensor<1x2x4x4xf32>
  %c1 = hat.conv2d %yq, %wq, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %c1q = hat.fake_quant %c1 {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 0.01>} : tensor<1x2x2x2xf32>
  return %c0q, %c1q : tensor<1x2x4x4xf32>, tensor<1x2x2x2xf32>
}

// -----

// A positive scalar constant (FCOSHead's upscale_bbox_pred stride) folds into
// the scale: the integers pass through, the result dequantizes at 0.25 * 8.
// CHECK-LABEL: func @constant_scale
// CHECK: %[[Q:.*]] = hat.quantize %arg0 {scale = 2.500000e-01 : f32}
// CHECK-NOT: hat.mul
// CHECK: hat.dequantize %[[Q]] {scale = array<f32: 2.000000e+00>}
func.func @constant_scale(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %s = hat.param "conv_reg.stride_s8" dense<8.0> : tensor<1xf32>
  %y = hat.mul %xq, %s : (tensor<1x4xf32>, tensor<1xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @negative_constant_scale(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %s = hat.param "neg" dense<-2.0> : tensor<1xf32>
  // expected-error @+1 {{multiplying by the constant -2.000000e+00 has no integer form (only positive scalars fold into the scale)}}
  %y = hat.mul %xq, %s : (tensor<1x4xf32>, tensor<1xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// dequant_output=False (FCOSHead): a result marked hat.keep_quantized comes
// back as its integers with the scale the caller dequantizes with (here
// with the folded stride, 0.25 * 8); the unmarked result is dequantized as
// usual and the function type follows.
// CHECK-LABEL: func @keep_quantized
// CHECK-SAME: -> (tensor<1x4xi16> {hat.keep_quantized, hat.name = "bbox_s8", hat.scale = array<f32: 2.000000e+00>}, tensor<1x4xf32> {hat.name = "cls_s8"})
// CHECK: %[[Q:.*]] = hat.quantize %arg0 {scale = 2.500000e-01 : f32} : (tensor<1x4xf32>) -> tensor<1x4xi16>
// CHECK: %[[D:.*]] = hat.dequantize
// CHECK-SAME: hat.layer_name = "cls_s8.dequantize"
// CHECK: return %[[Q]], %[[D]] : tensor<1x4xi16>, tensor<1x4xf32>
func.func @keep_quantized(%x: tensor<1x4xf32>) -> (tensor<1x4xf32> {hat.name = "bbox_s8", hat.keep_quantized}, tensor<1x4xf32> {hat.name = "cls_s8"}) {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4xf32>
  %s = hat.param "conv_reg.stride_s8" dense<8.0> : tensor<1xf32>
  %y = hat.mul %xq, %s : (tensor<1x4xf32>, tensor<1xf32>) -> tensor<1x4xf32>
  %c = hat.sigmoid %xq : tensor<1x4xf32>
  %cq = hat.fake_quant %c {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.0078125>} : tensor<1x4xf32>
  return %y, %cq : tensor<1x4xf32>, tensor<1x4xf32>
}

// -----

// A matrix product of two activations: s_lhs * s_rhs / s_out = 0.5 * 0.25 / 1
// = 0.125 = 2^30 * 2^-33, one requantization.
// CHECK-LABEL: func @matmul
// CHECK: %[[A:.*]] = hat.quantize %arg0 {scale = 5.000000e-01 : f32}
// CHECK: %[[B:.*]] = hat.quantize %arg1 {scale = 2.500000e-01 : f32}
// CHECK: %[[M:.*]] = hat.qmatmul %[[A]], %[[B]] {multiplier = 1073741824 : i32, shift = 33 : i32} : (tensor<2x3x4xi8>, tensor<1x4x5xi8>) -> tensor<2x3x5xi8>
// CHECK: hat.dequantize %[[M]] {scale = array<f32: 1.000000e+00>}
func.func @matmul(%x: tensor<2x3x4xf32>, %y: tensor<1x4x5xf32>) -> tensor<2x3x5xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<2x3x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x4x5xf32>
  %m = hat.matmul %xq, %yq : (tensor<2x3x4xf32>, tensor<1x4x5xf32>) -> tensor<2x3x5xf32>
  %mq = hat.fake_quant %m {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 1.0>} : tensor<2x3x5xf32>
  return %mq : tensor<2x3x5xf32>
}

// -----

// A quantized constant becomes an integer constant of the same name:
// [0.5, -0.5, 1.0, 0.25] at scale 1/128 -> [64, -64, 127 (saturated), 32].
// CHECK-LABEL: func @constant_operand
// CHECK: %[[P:.*]] = hat.param "attn.pos_embed" dense<{{\[\[}}64, -64, 127, 32]]> : tensor<1x4xi8>
// CHECK: hat.qadd %{{.*}}, %[[P]]
// CHECK-NOT: hat.quantize %{{.*}}pos_embed
func.func @constant_operand(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.0078125>} : tensor<1x4xf32>
  %p = hat.param "attn.pos_embed" dense<[[0.5, -0.5, 1.0, 0.25]]> : tensor<1x4xf32>
  %pq = hat.fake_quant %p {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.0078125>} : tensor<1x4xf32>
  %a = hat.add %xq, %pq : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %aq = hat.fake_quant %a {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.015625>} : tensor<1x4xf32>
  return %aq : tensor<1x4xf32>
}

// -----

// Layer norm: gamma / s_out with s_out = 0.125 gives 8 = 2^30 * 2^-27,
// -16 = -2^30 * 2^-26 (the multiplier keeps gamma's sign), 0 and 4 =
// 2^30 * 2^-28; beta in 1/256 output steps: 0.25 / 0.125 * 256 = 512,
// -1 / 0.125 * 256 = -2048; eps_q = eps * C^2 / s_in^2 = 0.25 * 16 / 0.25.
// CHECK-LABEL: func @layer_norm
// CHECK-DAG: %[[X:.*]] = hat.quantize %arg0 {scale = 5.000000e-01 : f32}
// CHECK-DAG: %[[B:.*]] = hat.param "norm.bias" dense<[0, 512, -2048, 0]> : tensor<4xi32>
// CHECK: %[[Y:.*]] = hat.qlayer_norm %[[X]], %[[B]] {eps_q = 16 : i64, hat.layer_name = "norm", multiplier = array<i32: 1073741824, -1073741824, 0, 1073741824>, shift = array<i32: 27, 26, 0, 28>} : (tensor<2x4xi8>, tensor<4xi32>) -> tensor<2x4xi8>
// CHECK: hat.dequantize %[[Y]] {scale = array<f32: 1.250000e-01>}
// CHECK-NOT: hat.layer_norm
func.func @layer_norm(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<2x4xf32>
  %g = hat.param "norm.weight" dense<[1.0, -2.0, 0.0, 0.5]> : tensor<4xf32>
  %b = hat.param "norm.bias" dense<[0.0, 0.25, -1.0, 0.0]> : tensor<4xf32>
  %y = hat.layer_norm %xq, %g, %b {eps = 0.25 : f32, hat.layer_name = "norm"} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.125>} : tensor<2x4xf32>
  return %yq : tensor<2x4xf32>
}

// -----

// A computed gamma has no integer form.
func.func @layer_norm_computed_gamma(%x: tensor<2x4xf32>, %g: tensor<4xf32>) -> tensor<2x4xf32> {
  %xq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<2x4xf32>
  %b = hat.param "norm.bias" dense<0.0> : tensor<4xf32>
  // expected-error @+1 {{layer_norm weight and bias must be float parameters to be quantized}}
  %y = hat.layer_norm %xq, %g, %b {eps = 0.25 : f32} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.125>} : tensor<2x4xf32>
  return %yq : tensor<2x4xf32>
}

// -----

// Deformable sampling: locations at s_loc = 2^-8 give position ratios
// s_loc * size * 256 = size: x of level 0 (W = 4) 2^30 * 2^-28, y (H = 2)
// 2^30 * 2^-29, level 1 (H = 1, W = 2) x 2^-29 and y 2^-30; the output
// ratio 0.5 * 2^-7 / (65536 * 0.25) = 2^-22 = 2^30 * 2^-52.
// CHECK-LABEL: func @ms_deform_attn
// CHECK: hat.qms_deform_attn %{{.*}}, %{{.*}}, %{{.*}} {hat.layer_name = "attn.sampling", loc_multiplier = array<i32: 1073741824, 1073741824, 1073741824, 1073741824>, loc_shift = array<i32: 28, 29, 29, 30>, multiplier = 1073741824 : i32, shift = 52 : i32, spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xi8>, tensor<1x3x2x2x2x2xi16>, tensor<1x3x2x2x2xi8>) -> tensor<1x3x8xi8>
// CHECK-NOT: hat.ms_deform_attn
func.func @ms_deform_attn(%v: tensor<1x10x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32> {
  %vq = hat.fake_quant %v {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.5>} : tensor<1x10x2x4xf32>
  %lq = hat.fake_quant %l {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 0.00390625>} : tensor<1x3x2x2x2x2xf32>
  %wq = hat.fake_quant %w {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.0078125>} : tensor<1x3x2x2x2xf32>
  %y = hat.ms_deform_attn %vq, %lq, %wq {hat.layer_name = "attn.sampling", spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32>
  %yq = hat.fake_quant %y {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, scale = array<f32: 0.25>} : tensor<1x3x8xf32>
  return %yq : tensor<1x3x8xf32>
}
