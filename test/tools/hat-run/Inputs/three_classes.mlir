// A 3-class integer classifier over 1x28x28 images (global pool -> linear),
// for hat-run --config tests whose data has 10 classes.
module {
  func.func @net(%arg0: tensor<1x1x28x28xf32>) -> tensor<1x3xf32> {
    %q = hat.quantize %arg0 {scale = 0.0625 : f32} : (tensor<1x1x28x28xf32>) -> tensor<1x1x28x28xi8>
    %g = hat.qglobal_avg_pool %q {multiplier = 1073741824 : i32, shift = 30 : i32} : (tensor<1x1x28x28xi8>) -> tensor<1x1x1x1xi8>
    %f = hat.flatten %g {start_dim = 1 : i64} : (tensor<1x1x1x1xi8>) -> tensor<1x1xi8>
    %w = hat.param "fc.weight" dense<[[1], [2], [3]]> : tensor<3x1xi8>
    %b = hat.param "fc.bias" dense<[1, 2, 3]> : tensor<3xi32>
    %l = hat.qlinear %f, %w, %b {multiplier = array<i32: 1073741824>, shift = array<i32: 31>} : (tensor<1x1xi8>, tensor<3x1xi8>, tensor<3xi32>) -> tensor<1x3xi8>
    %d = hat.dequantize %l {scale = array<f32: 0.125>} : (tensor<1x3xi8>) -> tensor<1x3xf32>
    return %d : tensor<1x3xf32>
  }
}
