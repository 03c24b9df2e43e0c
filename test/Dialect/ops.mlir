// RUN: hat-opt %s | FileCheck %s
// RUN: hat-opt %s | hat-opt | FileCheck %s
// RUN: hat-opt %s --mlir-print-op-generic | hat-opt | FileCheck %s
// Every float op parses, verifies, prints and re-parses.

// CHECK-LABEL: func @float_ops
func.func @float_ops(%x: tensor<2x4x8x8xf32>) -> tensor<2x10xf32> {
  // CHECK: hat.param "conv.weight" dense<1.000000e-01> : tensor<8x2x3x3xf32>
  %w = hat.param "conv.weight" dense<0.1> : tensor<8x2x3x3xf32>
  %b = hat.param "conv.bias" dense<0.0> : tensor<8xf32>
  %c1 = hat.param "bn.c" dense<1.0> : tensor<8xf32>
  // CHECK: hat.conv2d %{{.*}}, %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<2x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  %c = hat.conv2d %x, %w, %b {stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>, groups = 2 : i64} : (tensor<2x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  // CHECK: hat.batch_norm
  %bn = hat.batch_norm %c, %c1, %b, %b, %c1 {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  // CHECK: hat.relu
  %r = hat.relu %bn : tensor<2x8x4x4xf32>
  // CHECK: hat.relu6
  %r6 = hat.relu6 %r : tensor<2x8x4x4xf32>
  // CHECK: hat.sigmoid
  %s = hat.sigmoid %r6 : tensor<2x8x4x4xf32>
  // CHECK: hat.silu
  %si = hat.silu %s : tensor<2x8x4x4xf32>
  // CHECK: hat.hardswish
  %hs = hat.hardswish %si : tensor<2x8x4x4xf32>
  %gap = hat.global_avg_pool %hs : (tensor<2x8x4x4xf32>) -> tensor<2x8x1x1xf32>
  // CHECK: hat.mul {{.*}} : (tensor<2x8x4x4xf32>, tensor<2x8x1x1xf32>) -> tensor<2x8x4x4xf32>
  %se = hat.mul %hs, %gap : (tensor<2x8x4x4xf32>, tensor<2x8x1x1xf32>) -> tensor<2x8x4x4xf32>
  // Batched matmul with a broadcast batch: [2, 8, 16] x [1, 16, 4].
  // CHECK: hat.matmul {{.*}} : (tensor<2x8x16xf32>, tensor<1x16x4xf32>) -> tensor<2x8x4xf32>
  %flat = hat.reshape %se {shape = array<i64: 2, 8, 16>} : (tensor<2x8x4x4xf32>) -> tensor<2x8x16xf32>
  %key = hat.reshape %gap {shape = array<i64: 1, 16, 1>} : (tensor<2x8x1x1xf32>) -> tensor<1x16x1xf32>
  %keys = hat.concat %key, %key, %key, %key {axis = 2 : i64} : (tensor<1x16x1xf32>, tensor<1x16x1xf32>, tensor<1x16x1xf32>, tensor<1x16x1xf32>) -> tensor<1x16x4xf32>
  %mm = hat.matmul %flat, %keys : (tensor<2x8x16xf32>, tensor<1x16x4xf32>) -> tensor<2x8x4xf32>
  // CHECK: hat.add
  %a = hat.add %se, %r : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<2x8x4x4xf32>
  // CHECK: hat.weighted_sum %{{.*}}, %{{.*}} weights %{{.*}} {eps = 9.99999974E-5 : f32} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2xf32>) -> tensor<2x8x4x4xf32>
  %fusew = hat.param "fusion.weight" dense<[1.0, 0.5]> : tensor<2xf32>
  %ws = hat.weighted_sum %se, %r weights %fusew {eps = 1.0e-04 : f32} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>, tensor<2xf32>) -> tensor<2x8x4x4xf32>
  // CHECK: hat.concat {{.*}} {axis = 1 : i64} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<2x16x4x4xf32>
  %cat = hat.concat %a, %r {axis = 1 : i64} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<2x16x4x4xf32>
  // CHECK: hat.max_pool2d
  %mp = hat.max_pool2d %cat {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : (tensor<2x16x4x4xf32>) -> tensor<2x16x2x2xf32>
  // CHECK: hat.resize {{.*}}mode = #hat<resize_mode bilinear>
  %up = hat.resize %mp {mode = #hat<resize_mode bilinear>, size = array<i64: 4, 4>, align_corners = false} : (tensor<2x16x2x2xf32>) -> tensor<2x16x4x4xf32>
  // CHECK: hat.avg_pool2d
  %ap = hat.avg_pool2d %up {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<2x16x4x4xf32>) -> tensor<2x16x2x2xf32>
  // CHECK: hat.transpose
  %t = hat.transpose %ap {perm = array<i64: 0, 2, 3, 1>} : (tensor<2x16x2x2xf32>) -> tensor<2x2x2x16xf32>
  // CHECK: hat.reshape
  %rs = hat.reshape %t {shape = array<i64: 2, -1>} : (tensor<2x2x2x16xf32>) -> tensor<2x64xf32>
  %fw = hat.param "fc.weight" dense<0.01> : tensor<10x64xf32>
  // CHECK: hat.linear {{.*}} : (tensor<2x64xf32>, tensor<10x64xf32>) -> tensor<2x10xf32>
  %fc = hat.linear %rs, %fw : (tensor<2x64xf32>, tensor<10x64xf32>) -> tensor<2x10xf32>
  // CHECK: hat.softmax
  %sm = hat.softmax %fc {axis = 1 : i64} : (tensor<2x10xf32>) -> tensor<2x10xf32>
  return %sm : tensor<2x10xf32>
}

// CHECK-LABEL: func @quant_ops
func.func @quant_ops(%x: tensor<1x4x4x4xf32>) -> tensor<1x8xf32> {
  // CHECK: hat.fake_quant %{{.*}} {dtype = #hat<qdtype qint8>, max = array<f32: 1.000000e+00>, min = array<f32: -1.000000e+00>, observer = #hat<observer mse>, scale = array<f32: 0.00784313772>} : tensor<1x4x4x4xf32>
  %fq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer mse>, scale = array<f32: 0.00784313772>, min = array<f32: -1.0>, max = array<f32: 1.0>} : tensor<1x4x4x4xf32>
  // CHECK: hat.quantize {{.*}} -> tensor<1x4x4x4xi8>
  %q = hat.quantize %fq {scale = 0.0078125 : f32} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xi8>
  %w = hat.param "w" dense<1> : tensor<8x4x1x1xi8>
  %b = hat.param "b" dense<10> : tensor<8xi32>
  // CHECK: hat.qconv2d {{.*}}multiplier = array<i32: 1073741824>{{.*}}relu{{.*}}shift = array<i32: 31>
  %c = hat.qconv2d %q, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1073741824>, shift = array<i32: 31>, relu} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi8>, tensor<8xi32>) -> tensor<1x8x4x4xi8>
  // CHECK: hat.qadd
  %a = hat.qadd %c, %c {lhs_multiplier = 1073741824 : i32, rhs_multiplier = 1073741824 : i32, shift = 31 : i32} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi8>) -> tensor<1x8x4x4xi16>
  // CHECK: hat.requantize
  %rq = hat.requantize %a {multiplier = array<i32: 1073741824>, shift = array<i32: 32>} : (tensor<1x8x4x4xi16>) -> tensor<1x8x4x4xi8>
  // CHECK: hat.qmul
  %m = hat.qmul %rq, %rq {multiplier = 1073741824 : i32, shift = 36 : i32} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi8>) -> tensor<1x8x4x4xi8>
  // CHECK: hat.qmatmul {{.*}} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi16>) -> tensor<1x8x4x4xi16>
  %mm = hat.qmatmul %rq, %a {multiplier = 1073741824 : i32, shift = 40 : i32} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi16>) -> tensor<1x8x4x4xi16>
  // CHECK: hat.qconcat
  %cat = hat.qconcat %m, %rq {axis = 1 : i64, multiplier = array<i32: 1073741824, 1073741824>, shift = array<i32: 30, 30>} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi8>) -> tensor<1x16x4x4xi8>
  // CHECK: hat.max_pool2d {{.*}} -> tensor<1x16x2x2xi8>
  %mp = hat.max_pool2d %cat {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x16x4x4xi8>) -> tensor<1x16x2x2xi8>
  // CHECK: hat.qresize {{.*}}nearest
  %up = hat.qresize %mp {mode = #hat<resize_mode nearest>, size = array<i64: 4, 4>, align_corners = false} : (tensor<1x16x2x2xi8>) -> tensor<1x16x4x4xi8>
  // CHECK: hat.qresize {{.*}}bilinear
  %bl = hat.qresize %up {mode = #hat<resize_mode bilinear>, size = array<i64: 8, 8>, align_corners = false, multiplier = 1073741824 : i32, shift = 50 : i32} : (tensor<1x16x4x4xi8>) -> tensor<1x16x8x8xi8>
  // CHECK: hat.qavg_pool2d
  %ap = hat.qavg_pool2d %bl {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, multiplier = 1073741824 : i32, shift = 32 : i32} : (tensor<1x16x8x8xi8>) -> tensor<1x16x4x4xi8>
  // CHECK: hat.qglobal_avg_pool
  %gp = hat.qglobal_avg_pool %ap {multiplier = 1073741824 : i32, shift = 34 : i32} : (tensor<1x16x4x4xi8>) -> tensor<1x16x1x1xi8>
  %fl = hat.flatten %gp {start_dim = 1 : i64} : (tensor<1x16x1x1xi8>) -> tensor<1x16xi8>
  %lw = hat.param "fc.w" dense<2> : tensor<8x16xi8>
  // CHECK: hat.qlinear
  %l = hat.qlinear %fl, %lw {multiplier = array<i32: 1073741824>, shift = array<i32: 31>} : (tensor<1x16xi8>, tensor<8x16xi8>) -> tensor<1x8xi8>
  // CHECK: hat.qlut {{.*}} -> tensor<1x8xi8>
  %lut = hat.qlut %l {table = array<i32: -64, -64, -63, -63, -62, -62, -61, -61, -60, -60, -59, -59, -58, -58, -57, -57, -56, -56, -55, -55, -54, -54, -53, -53, -52, -52, -51, -51, -50, -50, -49, -49, -48, -48, -47, -47, -46, -46, -45, -45, -44, -44, -43, -43, -42, -42, -41, -41, -40, -40, -39, -39, -38, -38, -37, -37, -36, -36, -35, -35, -34, -34, -33, -33, -32, -32, -31, -31, -30, -30, -29, -29, -28, -28, -27, -27, -26, -26, -25, -25, -24, -24, -23, -23, -22, -22, -21, -21, -20, -20, -19, -19, -18, -18, -17, -17, -16, -16, -15, -15, -14, -14, -13, -13, -12, -12, -11, -11, -10, -10, -9, -9, -8, -8, -7, -7, -6, -6, -5, -5, -4, -4, -3, -3, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31, 32, 32, 33, 33, 34, 34, 35, 35, 36, 36, 37, 37, 38, 38, 39, 39, 40, 40, 41, 41, 42, 42, 43, 43, 44, 44, 45, 45, 46, 46, 47, 47, 48, 48, 49, 49, 50, 50, 51, 51, 52, 52, 53, 53, 54, 54, 55, 55, 56, 56, 57, 57, 58, 58, 59, 59, 60, 60, 61, 61, 62, 62, 63, 63>} : (tensor<1x8xi8>) -> tensor<1x8xi8>
  // CHECK: hat.dequantize {{.*}} -> tensor<1x8xf32>
  %d = hat.dequantize %lut {scale = array<f32: 0.5>} : (tensor<1x8xi8>) -> tensor<1x8xf32>
  return %d : tensor<1x8xf32>
}

// Layer norm over the last axis of [N, L, C] tokens and its integer form.
// CHECK-LABEL: func @layer_norm
// CHECK: hat.layer_norm {{.*}} {eps = 9.99999974E-6 : f32} : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
// CHECK: hat.qlayer_norm {{.*}} {eps_q = 42 : i64, multiplier = array<i32: {{.*}}>, shift = array<i32: {{.*}}>} : (tensor<2x5x8xi16>, tensor<8xi32>) -> tensor<2x5x8xi8>
func.func @layer_norm(%x: tensor<2x5x8xf32>, %q: tensor<2x5x8xi16>) -> (tensor<2x5x8xf32>, tensor<2x5x8xi8>) {
  %g = hat.param "norm1.weight" dense<1.0> : tensor<8xf32>
  %b = hat.param "norm1.bias" dense<0.0> : tensor<8xf32>
  %y = hat.layer_norm %x, %g, %b {eps = 1.0e-5 : f32} : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  %bi = hat.param "norm1.bias.q" dense<3> : tensor<8xi32>
  %z = hat.qlayer_norm %q, %bi {eps_q = 42 : i64, multiplier = array<i32: 1073741824, -1073741824, 0, 1, 2, 3, 4, 5>, shift = array<i32: 30, 30, 0, 1, 2, 3, 4, 62>} : (tensor<2x5x8xi16>, tensor<8xi32>) -> tensor<2x5x8xi8>
  return %y, %z : tensor<2x5x8xf32>, tensor<2x5x8xi8>
}

// Deformable sampling over two levels (2x4 and 1x2: S = 10) for 3 queries,
// 2 heads of 4 channels, 2 points; and its integer form.
// CHECK-LABEL: func @ms_deform_attn
// CHECK: hat.ms_deform_attn {{.*}} {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32>
// CHECK: hat.qms_deform_attn {{.*}} -> tensor<1x3x8xi8>
func.func @ms_deform_attn(%v: tensor<1x10x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x2xf32>, %qv: tensor<1x10x2x4xi8>, %ql: tensor<1x3x2x2x2x2xi16>, %qw: tensor<1x3x2x2x2xi8>) -> (tensor<1x3x8xf32>, tensor<1x3x8xi8>) {
  %y = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32>
  %z = hat.qms_deform_attn %qv, %ql, %qw {spatial_shapes = array<i64: 2, 4, 1, 2>, loc_multiplier = array<i32: 1073741824, 1073741824, 1073741824, 1073741824>, loc_shift = array<i32: 28, 29, 29, 30>, multiplier = 1073741824 : i32, shift = 52 : i32} : (tensor<1x10x2x4xi8>, tensor<1x3x2x2x2x2xi16>, tensor<1x3x2x2x2xi8>) -> tensor<1x3x8xi8>
  return %y, %z : tensor<1x3x8xf32>, tensor<1x3x8xi8>
}

// Batch 1 locations and weights serve a batch of 2 (shared queries).
// CHECK-LABEL: func @ms_deform_attn_shared_queries
// CHECK: hat.ms_deform_attn {{.*}} -> tensor<2x3x8xf32>
func.func @ms_deform_attn_shared_queries(%v: tensor<2x10x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x2xf32>) -> tensor<2x3x8xf32> {
  %y = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<2x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}
