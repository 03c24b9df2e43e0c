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
  // CHECK: hat.add
  %a = hat.add %se, %r : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<2x8x4x4xf32>
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
  // CHECK: hat.dequantize {{.*}} -> tensor<1x8xf32>
  %d = hat.dequantize %l {scale = array<f32: 0.5>} : (tensor<1x8xi8>) -> tensor<1x8xf32>
  return %d : tensor<1x8xf32>
}
