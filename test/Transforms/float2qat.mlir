// RUN: hat-opt %s --hat-float2qat --split-input-file --verify-diagnostics | FileCheck %s
// RUN: hat-opt %s --split-input-file --verify-diagnostics --hat-float2qat="activation-dtype=qint16 observer=mse" | FileCheck %s --check-prefix=I16
// RUN: not hat-opt %s --hat-float2qat="activation-dtype=int4" 2>&1 | FileCheck %s --check-prefix=BADTYPE
// RUN: not hat-opt %s --hat-float2qat="weight-dtype=qint16" 2>&1 | FileCheck %s --check-prefix=BADWEIGHT

// BADTYPE: error: unknown dtype in hat-float2qat options (expected qint8 or qint16): activation-dtype=int4
// BADWEIGHT: error: weight-dtype must be qint8

// conv + bn + relu is one unit: BN folds, the weight gets a per-channel
// fake_quant, the activation is quantized once, after the ReLU. Max pool
// and flatten keep their input's scale; add+relu is one unit; the head
// output gets the output dtype.
// CHECK-LABEL: func @net
// CHECK: %[[IN:.*]] = hat.fake_quant %arg0 {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>}
// CHECK: %[[WQ:.*]] = hat.fake_quant %{{.*}} {axis = 0 : i64, dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<4x1x3x3xf32>
// CHECK: %[[C:.*]] = hat.conv2d %[[IN]], %[[WQ]], %{{.*}}
// CHECK-NOT: hat.batch_norm
// CHECK-NEXT: %[[R:.*]] = hat.relu %[[C]]
// CHECK-NEXT: %[[RQ:.*]] = hat.fake_quant %[[R]] {dtype = #hat<qdtype qint8>
// CHECK-NEXT: %[[P:.*]] = hat.max_pool2d %[[RQ]]
// CHECK-NEXT: %[[A:.*]] = hat.add %[[P]], %[[P]]
// CHECK-NEXT: %[[AR:.*]] = hat.relu %[[A]]
// CHECK-NEXT: %[[AQ:.*]] = hat.fake_quant %[[AR]]
// CHECK-NEXT: %[[G:.*]] = hat.global_avg_pool %[[AQ]]
// CHECK-NEXT: %[[GQ:.*]] = hat.fake_quant %[[G]]
// CHECK-NEXT: %[[F:.*]] = hat.flatten %[[GQ]]
// CHECK: hat.fake_quant %{{.*}} {axis = 0 : i64{{.*}}} : tensor<10x4xf32>
// CHECK: %[[L:.*]] = hat.linear %[[F]]
// CHECK-NEXT: %[[LQ:.*]] = hat.fake_quant %[[L]] {dtype = #hat<qdtype qint8>
// CHECK-NEXT: return %[[LQ]]

// I16-LABEL: func @net
// I16: hat.fake_quant %arg0 {dtype = #hat<qdtype qint16>, observer = #hat<observer mse>}
// I16: {axis = 0 : i64, dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<4x1x3x3xf32>
func.func @net(%x: tensor<1x1x4x4xf32>) -> tensor<1x10xf32> {
  %w = hat.param "conv.weight" dense<0.5> : tensor<4x1x3x3xf32>
  %g = hat.param "bn.weight" dense<1.0> : tensor<4xf32>
  %b = hat.param "bn.bias" dense<0.0> : tensor<4xf32>
  %m = hat.param "bn.running_mean" dense<0.0> : tensor<4xf32>
  %v = hat.param "bn.running_var" dense<1.0> : tensor<4xf32>
  %c = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x4x4xf32>
  %bn = hat.batch_norm %c, %g, %b, %m, %v {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %r = hat.relu %bn : tensor<1x4x4x4xf32>
  %p = hat.max_pool2d %r {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32>
  %a = hat.add %p, %p : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  %ar = hat.relu %a : tensor<1x4x2x2xf32>
  %gp = hat.global_avg_pool %ar : (tensor<1x4x2x2xf32>) -> tensor<1x4x1x1xf32>
  %f = hat.flatten %gp {start_dim = 1 : i64} : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
  %lw = hat.param "fc.weight" dense<0.1> : tensor<10x4xf32>
  %l = hat.linear %f, %lw : (tensor<1x4xf32>, tensor<10x4xf32>) -> tensor<1x10xf32>
  return %l : tensor<1x10xf32>
}

// -----

// An op attribute asks for an int16 output; a standalone sigmoid gets its
// own fake_quant; running the pass twice adds nothing.
// CHECK-LABEL: func @head
// CHECK: %[[S:.*]] = hat.sigmoid
// CHECK-NEXT: hat.fake_quant %[[S]] {dtype = #hat<qdtype qint16>
// CHECK-NOT: hat.fake_quant
func.func @head(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %s = hat.sigmoid %x {hat.qdtype = #hat<qdtype qint16>} : tensor<1x4xf32>
  return %s : tensor<1x4xf32>
}

// -----

func.func @unfoldable(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %p = hat.param "bn.p" dense<1.0> : tensor<2xf32>
  // expected-error @+1 {{cannot be quantized: batch_norm must fold into a conv2d/linear, but its input is not produced by a conv2d or linear}}
  %y = hat.batch_norm %x, %p, %p, %p, %p {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// -----

// FCOS-style sharing: a conv weight used at two levels, each with its own BN,
// folds into one weight per BN (named after the BN); a predictor shared
// without BN keeps one weight and one per-channel fake_quant. A BiFPN fusion
// and its ReLU are one unit, quantized after the ReLU.
// CHECK-LABEL: func @shared_levels
// CHECK-DAG: hat.param "head.bn_s8.folded_conv.weight"
// CHECK-DAG: hat.param "head.bn_s8.folded_conv.bias"
// CHECK-DAG: hat.param "head.bn_s16.folded_conv.weight"
// CHECK-NOT: hat.param "head.tower.weight"
// CHECK: %[[WS:.*]] = hat.weighted_sum
// CHECK-NEXT: %[[R:.*]] = hat.relu %[[WS]]
// CHECK-NEXT: hat.fake_quant %[[R]] {dtype = #hat<qdtype qint8>
// CHECK: %[[PW:.*]] = hat.param "head.pred.weight"
// CHECK: %[[PQ:.*]] = hat.fake_quant %[[PW]] {axis = 0 : i64
// CHECK: hat.conv2d %{{.*}}, %[[PQ]]
// CHECK-NEXT: hat.fake_quant %{{.*}} {dtype = #hat<qdtype qint16>
// CHECK: hat.conv2d %{{.*}}, %[[PQ]]
// CHECK-NEXT: hat.fake_quant %{{.*}} {dtype = #hat<qdtype qint16>
func.func @shared_levels(%a: tensor<1x2x4x4xf32>, %b: tensor<1x2x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %w = hat.param "head.tower.weight" dense<0.5> : tensor<2x2x1x1xf32>
  %one = hat.param "head.one" dense<1.0> : tensor<2xf32>
  %zero = hat.param "head.zero" dense<0.0> : tensor<2xf32>
  %g8 = hat.param "head.bn_s8.weight" dense<2.0> : tensor<2xf32>
  %g16 = hat.param "head.bn_s16.weight" dense<3.0> : tensor<2xf32>
  %c8 = hat.conv2d %a, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %n8 = hat.batch_norm %c8, %g8, %zero, %zero, %one {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %c16 = hat.conv2d %b, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %n16 = hat.batch_norm %c16, %g16, %zero, %zero, %one {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %fw = hat.param "neck.fusion.weight" dense<1.0> : tensor<2xf32>
  %ws = hat.weighted_sum %n8, %n16 weights %fw {eps = 1.0e-04 : f32} : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32>
  %r = hat.relu %ws : tensor<1x2x4x4xf32>
  %pw = hat.param "head.pred.weight" dense<0.25> : tensor<2x2x1x1xf32>
  %p0 = hat.conv2d %r, %pw {hat.qdtype = #hat<qdtype qint16>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %p1 = hat.conv2d %n16, %pw {hat.qdtype = #hat<qdtype qint16>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  return %p0, %p1 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// -----

// Multiplying by a positive scalar constant gets no fake_quant: the integer
// model folds it into the scale.
// CHECK-LABEL: func @constant_scale
// CHECK: %[[X:.*]] = hat.fake_quant %arg0
// CHECK: %[[M:.*]] = hat.mul %[[X]]
// CHECK-NEXT: return %[[M]]
func.func @constant_scale(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %s = hat.param "conv_reg.stride_s8" dense<8.0> : tensor<1xf32>
  %y = hat.mul %x, %s : (tensor<1x4xf32>, tensor<1xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// An attention product: both operands are activations (quantized where they
// enter), the matrix product gets its own output fake_quant, softmax too.
// CHECK-LABEL: func @attention
// CHECK-DAG: %[[Q:.*]] = hat.fake_quant %arg0
// CHECK-DAG: %[[K:.*]] = hat.fake_quant %arg1
// CHECK: %[[E:.*]] = hat.matmul %[[Q]], %[[K]]
// CHECK-NEXT: %[[EQ:.*]] = hat.fake_quant %[[E]]
// CHECK-NEXT: %[[S:.*]] = hat.softmax %[[EQ]]
// CHECK-NEXT: %[[SQ:.*]] = hat.fake_quant %[[S]]
// CHECK: %[[KT:.*]] = hat.transpose %[[K]]
// CHECK: %[[O:.*]] = hat.matmul %[[SQ]], %[[KT]]
// CHECK-NEXT: hat.fake_quant %[[O]]
func.func @attention(%q: tensor<1x4x8xf32>, %k: tensor<1x8x4xf32>) -> tensor<1x4x8xf32> {
  %e = hat.matmul %q, %k : (tensor<1x4x8xf32>, tensor<1x8x4xf32>) -> tensor<1x4x4xf32>
  %s = hat.softmax %e {axis = 2 : i64} : (tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %kt = hat.transpose %k {perm = array<i64: 0, 2, 1>} : (tensor<1x8x4xf32>) -> tensor<1x4x8xf32>
  %o = hat.matmul %s, %kt : (tensor<1x4x4xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return %o : tensor<1x4x8xf32>
}

// -----

// A float constant added to an activation (a position embedding) is
// quantized like an input, named after itself; a positive scalar a mul
// scales by needs no fake_quant (it folds into the scale), a negative one
// does.
// CHECK-LABEL: func @constants
// CHECK: %[[P:.*]] = hat.param "attn.pos_embed"
// CHECK-NEXT: %[[PQ:.*]] = hat.fake_quant %[[P]] {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>}
// CHECK: hat.add %{{.*}}, %[[PQ]]
// CHECK: %[[G:.*]] = hat.param "attn.gamma" dense<2.500000e-01>
// CHECK-NOT: hat.fake_quant %[[G]]
// CHECK: hat.mul %[[G]]
// CHECK: %[[N:.*]] = hat.param "neg" dense<-2.500000e-01>
// CHECK-NEXT: %[[NQ:.*]] = hat.fake_quant %[[N]]
// CHECK: hat.mul %[[NQ]]
func.func @constants(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>, tensor<1x4xf32>) {
  %p = hat.param "attn.pos_embed" dense<[[0.5, -0.5, 1.0, 0.25]]> : tensor<1x4xf32>
  %a = hat.add %x, %p : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %g = hat.param "attn.gamma" dense<0.25> : tensor<1xf32> {hat.trainable}
  %m = hat.mul %g, %a : (tensor<1xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %n = hat.param "neg" dense<-0.25> : tensor<1xf32>
  %k = hat.mul %n, %a : (tensor<1xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  return %m, %k : tensor<1x4xf32>, tensor<1x4xf32>
}

// -----

// Layer norm produces a new scale: its output gets a fake_quant; gamma and
// beta are not activations and stay float (qat2quantize folds them).
// CHECK-LABEL: func @layer_norm
// CHECK: %[[X:.*]] = hat.fake_quant %arg0
// CHECK: %[[Y:.*]] = hat.layer_norm %[[X]], %{{.*}}, %{{.*}} {eps = 9.99999974E-6 : f32}
// CHECK-NEXT: hat.fake_quant %[[Y]]
// CHECK-NOT: hat.fake_quant
// I16-LABEL: func @layer_norm
// I16: hat.layer_norm
// I16-NEXT: hat.fake_quant {{.*}}dtype = #hat<qdtype qint16>
func.func @layer_norm(%x: tensor<1x6x8xf32>) -> tensor<1x6x8xf32> {
  %g = hat.param "norm.weight" dense<1.0> : tensor<8xf32>
  %b = hat.param "norm.bias" dense<0.0> : tensor<8xf32>
  %y = hat.layer_norm %x, %g, %b {eps = 1.0e-5 : f32} : (tensor<1x6x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x6x8xf32>
  return %y : tensor<1x6x8xf32>
}

// -----

// Deformable sampling produces a new scale: a fake_quant after it; its
// three operands are quantized where they enter.
// CHECK-LABEL: func @ms_deform_attn
// CHECK-DAG: %[[V:.*]] = hat.fake_quant %arg0
// CHECK-DAG: %[[L:.*]] = hat.fake_quant %arg1
// CHECK-DAG: %[[W:.*]] = hat.fake_quant %arg2
// CHECK: %[[Y:.*]] = hat.ms_deform_attn %[[V]], %[[L]], %[[W]]
// CHECK-NEXT: hat.fake_quant %[[Y]]
func.func @ms_deform_attn(%v: tensor<1x10x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32> {
  %y = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32>
  return %y : tensor<1x3x8xf32>
}

// -----

// A learned query tensor (a decoder's `tgt`) entering a linear projection
// as its data is quantized like an activation: a fake_quant after the
// parameter, named after it. The linear's weight gets its per-channel one.
// CHECK-LABEL: func @param_into_linear
// CHECK: %[[T:.*]] = hat.param "tgt"
// CHECK: %[[TQ:.*]] = hat.fake_quant %[[T]] {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<1x4x8xf32>
// CHECK: hat.linear %[[TQ]], %{{.*}}, %{{.*}}
func.func @param_into_linear(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %t = hat.param "tgt" dense<0.5> : tensor<1x4x8xf32>
  %w = hat.param "proj.weight" dense<0.1> : tensor<8x8xf32>
  %b = hat.param "proj.bias" dense<0.0> : tensor<8xf32>
  %v = hat.linear %t, %w, %b : (tensor<1x4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  %y = hat.add %x, %v : (tensor<2x4x8xf32>, tensor<1x4x8xf32>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}
