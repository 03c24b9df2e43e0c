// RUN: hat-opt %s --hat-infer-shapes=batch-size=8 | FileCheck %s
// RUN: hat-opt %s --hat-infer-shapes=batch-size=-1 --verify-diagnostics

// CHECK-LABEL: func @net(%arg0: tensor<8x1x4x4xf32>) -> tensor<8x3xf32>
// expected-error @+1 {{batch-size must be >= 0, got -1}}
func.func @net(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %w = hat.param "conv.weight" dense<1.0> : tensor<2x1x3x3xf32>
  // CHECK: hat.conv2d {{.*}} -> tensor<8x2x2x2xf32>
  %c = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x2x2xf32>
  // CHECK: hat.relu {{.*}} : tensor<8x2x2x2xf32>
  %r = hat.relu %c : tensor<1x2x2x2xf32>
  // CHECK: hat.fake_quant {{.*}} : tensor<8x2x2x2xf32>
  %q = hat.fake_quant %r {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<1x2x2x2xf32>
  // CHECK: hat.flatten {{.*}} -> tensor<8x8xf32>
  %f = hat.flatten %q {start_dim = 1 : i64} : (tensor<1x2x2x2xf32>) -> tensor<1x8xf32>
  %lw = hat.param "fc.weight" dense<1.0> : tensor<3x8xf32>
  // CHECK: hat.linear {{.*}} -> tensor<8x3xf32>
  %l = hat.linear %f, %lw : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
  return %l : tensor<1x3xf32>
}
