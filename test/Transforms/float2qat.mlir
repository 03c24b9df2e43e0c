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
