func.func @quant_ops(%x: tensor<1x4x4x4xf32>) -> tensor<1x8xf32> {
  %fq = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer mse>, scale = array<f32: 0.00784313772>, min = array<f32: -1.0>, max = array<f32: 1.0>} : tensor<1x4x4x4xf32>
  %q = hat.quantize %fq {scale = 0.0078125 : f32} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xi8>
  %w = hat.param "w" dense<1> : tensor<8x4x1x1xi8>
  %b = hat.param "b" dense<10> : tensor<8xi32>
  %c = hat.qconv2d %q, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1073741824>, shift = array<i32: 31>, relu} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi8>, tensor<8xi32>) -> tensor<1x8x4x4xi8>
  %a = hat.qadd %c, %c {lhs_multiplier = 1073741824 : i32, rhs_multiplier = 1073741824 : i32, shift = 31 : i32} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi8>) -> tensor<1x8x4x4xi16>
  %rq = hat.requantize %a {multiplier = array<i32: 1073741824>, shift = array<i32: 32>} : (tensor<1x8x4x4xi16>) -> tensor<1x8x4x4xi8>
  %m = hat.qmul %rq, %rq {multiplier = 1073741824 : i32, shift = 36 : i32} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi8>) -> tensor<1x8x4x4xi8>
  %cat = hat.qconcat %m, %rq {axis = 1 : i64, multiplier = array<i32: 1073741824, 1073741824>, shift = array<i32: 30, 30>} : (tensor<1x8x4x4xi8>, tensor<1x8x4x4xi8>) -> tensor<1x16x4x4xi8>
  %mp = hat.max_pool2d %cat {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x16x4x4xi8>) -> tensor<1x16x2x2xi8>
  %up = hat.qresize %mp {mode = #hat<resize_mode nearest>, size = array<i64: 4, 4>, align_corners = false} : (tensor<1x16x2x2xi8>) -> tensor<1x16x4x4xi8>
  %bl = hat.qresize %up {mode = #hat<resize_mode bilinear>, size = array<i64: 8, 8>, align_corners = false, multiplier = 1073741824 : i32, shift = 50 : i32} : (tensor<1x16x4x4xi8>) -> tensor<1x16x8x8xi8>
  %ap = hat.qavg_pool2d %bl {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, multiplier = 1073741824 : i32, shift = 32 : i32} : (tensor<1x16x8x8xi8>) -> tensor<1x16x4x4xi8>
  %gp = hat.qglobal_avg_pool %ap {multiplier = 1073741824 : i32, shift = 34 : i32} : (tensor<1x16x4x4xi8>) -> tensor<1x16x1x1xi8>
  %fl = hat.flatten %gp {start_dim = 1 : i64} : (tensor<1x16x1x1xi8>) -> tensor<1x16xi8>
  %lw = hat.param "fc.w" dense<2> : tensor<8x16xi8>
  %l = hat.qlinear %fl, %lw {multiplier = array<i32: 1073741824>, shift = array<i32: 31>} : (tensor<1x16xi8>, tensor<8x16xi8>) -> tensor<1x8xi8>
  %lut = hat.qlut %l {table = array<i32: -64, -64, -63, -63, -62, -62, -61, -61, -60, -60, -59, -59, -58, -58, -57, -57, -56, -56, -55, -55, -54, -54, -53, -53, -52, -52, -51, -51, -50, -50, -49, -49, -48, -48, -47, -47, -46, -46, -45, -45, -44, -44, -43, -43, -42, -42, -41, -41, -40, -40, -39, -39, -38, -38, -37, -37, -36, -36, -35, -35, -34, -34, -33, -33, -32, -32, -31, -31, -30, -30, -29, -29, -28, -28, -27, -27, -26, -26, -25, -25, -24, -24, -23, -23, -22, -22, -21, -21, -20, -20, -19, -19, -18, -18, -17, -17, -16, -16, -15, -15, -14, -14, -13, -13, -12, -12, -11, -11, -10, -10, -9, -9, -8, -8, -7, -7, -6, -6, -5, -5, -4, -4, -3, -3, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31, 32, 32, 33, 33, 34, 34, 35, 35, 36, 36, 37, 37, 38, 38, 39, 39, 40, 40, 41, 41, 42, 42, 43, 43, 44, 44, 45, 45, 46, 46, 47, 47, 48, 48, 49, 49, 50, 50, 51, 51, 52, 52, 53, 53, 54, 54, 55, 55, 56, 56, 57, 57, 58, 58, 59, 59, 60, 60, 61, 61, 62, 62, 63, 63>} : (tensor<1x8xi8>) -> tensor<1x8xi8>
  %d = hat.dequantize %lut {scale = array<f32: 0.5>} : (tensor<1x8xi8>) -> tensor<1x8xf32>
  return %d : tensor<1x8xf32>
}
