module {
  func.func @net(%arg0: tensor<1x4x8x8xf32>) -> tensor<1x3xf32> {
    %q = hat.quantize %arg0 {scale = 0.0625 : f32} : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xi8>
    %w1 = hat.param "c1.weight" dense<1> : tensor<8x4x3x3xi8>
    %b1 = hat.param "c1.bias" dense<16> : tensor<8xi32>
    %c1 = hat.qconv2d %q, %w1, %b1 {dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1073741824>, padding = array<i64: 1, 1, 1, 1>, relu, shift = array<i32: 34>, stride = array<i64: 1, 1>} : (tensor<1x4x8x8xi8>, tensor<8x4x3x3xi8>, tensor<8xi32>) -> tensor<1x8x8x8xi8>
    %w2 = hat.param "c2.weight" dense<-1> : tensor<8x8x3x3xi8>
    %c2 = hat.qconv2d %c1, %w2 {dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1073741824>, padding = array<i64: 1, 1, 1, 1>, shift = array<i32: 35>, stride = array<i64: 1, 1>} : (tensor<1x8x8x8xi8>, tensor<8x8x3x3xi8>) -> tensor<1x8x8x8xi8>
    %a = hat.qadd %c2, %c1 {lhs_multiplier = 1073741824 : i32, relu, rhs_multiplier = 1073741824 : i32, shift = 31 : i32} : (tensor<1x8x8x8xi8>, tensor<1x8x8x8xi8>) -> tensor<1x8x8x8xi8>
    %p = hat.max_pool2d %a {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x8xi8>) -> tensor<1x8x4x4xi8>
    %g = hat.qglobal_avg_pool %p {multiplier = 1073741824 : i32, shift = 35 : i32} : (tensor<1x8x4x4xi8>) -> tensor<1x8x1x1xi8>
    %f = hat.flatten %g {start_dim = 1 : i64} : (tensor<1x8x1x1xi8>) -> tensor<1x8xi8>
    %w3 = hat.param "fc.weight" dense<2> : tensor<3x8xi8>
    %b3 = hat.param "fc.bias" dense<[1, 2, 3]> : tensor<3xi32>
    %l = hat.qlinear %f, %w3, %b3 {multiplier = array<i32: 1073741824>, shift = array<i32: 31>} : (tensor<1x8xi8>, tensor<3x8xi8>, tensor<3xi32>) -> tensor<1x3xi8>
    %d = hat.dequantize %l {scale = array<f32: 0.125>} : (tensor<1x3xi8>) -> tensor<1x3xf32>
    return %d : tensor<1x3xf32>
  }
}
