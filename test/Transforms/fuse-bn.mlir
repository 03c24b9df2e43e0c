// RUN: hat-opt %s --hat-fuse-bn --split-input-file --verify-diagnostics | FileCheck %s

// w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta
// with gamma = 2, var + eps = 4 (factor 1), mean = 1, beta = 0.5, b = 3:
// w' = 1.5, b' = (3 - 1) * 1 + 0.5 = 2.5.
// CHECK-LABEL: func @conv_bn
// CHECK-DAG: %[[W:.*]] = hat.param "conv.weight" dense<1.500000e+00> : tensor<2x1x1x1xf32>
// CHECK-DAG: %[[B:.*]] = hat.param "conv.bias" dense<2.500000e+00> : tensor<2xf32>
// CHECK: %[[C:.*]] = hat.conv2d %arg0, %[[W]], %[[B]]
// CHECK-NOT: hat.batch_norm
// CHECK: return %[[C]]
func.func @conv_bn(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = hat.param "conv.weight" dense<1.5> : tensor<2x1x1x1xf32>
  %b = hat.param "conv.bias" dense<3.0> : tensor<2xf32>
  %g = hat.param "bn.weight" dense<2.0> : tensor<2xf32>
  %beta = hat.param "bn.bias" dense<0.5> : tensor<2xf32>
  %m = hat.param "bn.running_mean" dense<1.0> : tensor<2xf32>
  %v = hat.param "bn.running_var" dense<3.0> : tensor<2xf32>
  %c = hat.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %y = hat.batch_norm %c, %g, %beta, %m, %v {eps = 1.0 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// -----

// A conv without bias gets one named after its weight, per channel.
// CHECK-LABEL: func @conv_no_bias_per_channel
// CHECK-DAG: hat.param "layer1.0.conv1.weight" dense<{{\[}}[{{\[}}[2.000000e+00]]], {{\[}}[{{\[}}-3.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-DAG: hat.param "layer1.0.conv1.bias" dense<[-2.000000e+00, 3.000000e+00]> : tensor<2xf32>
func.func @conv_no_bias_per_channel(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = hat.param "layer1.0.conv1.weight" dense<1.0> : tensor<2x1x1x1xf32>
  %g = hat.param "bn.weight" dense<[2.0, -3.0]> : tensor<2xf32>
  %beta = hat.param "bn.bias" dense<0.0> : tensor<2xf32>
  %m = hat.param "bn.running_mean" dense<1.0> : tensor<2xf32>
  %v = hat.param "bn.running_var" dense<0.0> : tensor<2xf32>
  %c = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %y = hat.batch_norm %c, %g, %beta, %m, %v {eps = 1.0 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// -----

// BatchNorm1d after a linear layer folds the same way.
// CHECK-LABEL: func @linear_bn
// CHECK: hat.linear
// CHECK-NOT: hat.batch_norm
func.func @linear_bn(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = hat.param "fc.weight" dense<1.0> : tensor<2x3xf32>
  %g = hat.param "bn.weight" dense<1.0> : tensor<2xf32>
  %beta = hat.param "bn.bias" dense<0.0> : tensor<2xf32>
  %m = hat.param "bn.running_mean" dense<0.0> : tensor<2xf32>
  %v = hat.param "bn.running_var" dense<1.0> : tensor<2xf32>
  %l = hat.linear %x, %w : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  %y = hat.batch_norm %l, %g, %beta, %m, %v {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// A conv whose output is also used elsewhere cannot absorb the BN.
// CHECK-LABEL: func @shared_conv
// CHECK: hat.batch_norm
func.func @shared_conv(%x: tensor<1x1x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  %w = hat.param "conv.weight" dense<1.0> : tensor<2x1x1x1xf32>
  %p = hat.param "bn.p" dense<1.0> : tensor<2xf32>
  %c = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  // expected-warning @+1 {{batch_norm not folded: its producer has other users}}
  %y = hat.batch_norm %c, %p, %p, %p, %p {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y, %c : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}

// -----

func.func @input_bn(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %p = hat.param "bn.p" dense<1.0> : tensor<2xf32>
  // expected-warning @+1 {{batch_norm not folded: its input is not produced by a conv2d or linear}}
  %y = hat.batch_norm %x, %p, %p, %p, %p {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// -----

func.func @negative_variance(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = hat.param "conv.weight" dense<1.0> : tensor<2x1x1x1xf32>
  %p = hat.param "bn.p" dense<1.0> : tensor<2xf32>
  %v = hat.param "bn.running_var" dense<-2.0> : tensor<2xf32>
  %c = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  // expected-error @+1 {{cannot fold: var + eps is -1.000000e+00 for channel 0, it must be > 0}}
  %y = hat.batch_norm %c, %p, %p, %p, %v {eps = 1.0 : f32, momentum = 0.1 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}
