// A camera-sized input in miniature: a 3-channel image (an NV12 frame on the
// pyramid path), one 1x1 conv to 24 channels, dequantized.
module {
  func.func @rgb(%arg0: tensor<1x3x6x40xf32>) -> tensor<1x24x6x40xf32> {
    %q = hat.quantize %arg0 {scale = 0.0625 : f32} : (tensor<1x3x6x40xf32>) -> tensor<1x3x6x40xi8>
    %w = hat.param "c.weight" dense<1> : tensor<24x3x1x1xi8>
    %c = hat.qconv2d %q, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1073741824>, padding = array<i64: 0, 0, 0, 0>, shift = array<i32: 31>, stride = array<i64: 1, 1>} : (tensor<1x3x6x40xi8>, tensor<24x3x1x1xi8>) -> tensor<1x24x6x40xi8>
    %d = hat.dequantize %c {scale = array<f32: 0.125>} : (tensor<1x24x6x40xi8>) -> tensor<1x24x6x40xf32>
    return %d : tensor<1x24x6x40xf32>
  }
}
