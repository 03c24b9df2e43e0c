// One 3x3 conv over a 32768-pixel-wide, 64-channel input: a single output
// row needs 3 input rows of 64 x 32768 bytes (6 MiB), more than nash-e's
// 4 MiB SRAM, whatever the tiling (and so does quantizing a row of the f32
// input). nash-p's 24 MiB holds both.
module {
  func.func @net(%arg0: tensor<1x64x3x32768xf32>) -> tensor<1x8x3x32768xf32> {
    %q = hat.quantize %arg0 {scale = 0.0625 : f32} : (tensor<1x64x3x32768xf32>) -> tensor<1x64x3x32768xi8>
    %w = hat.param "wide.weight" dense<1> : tensor<8x64x3x3xi8>
    %c = hat.qconv2d %q, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1073741824>, padding = array<i64: 1, 1, 1, 1>, shift = array<i32: 34>, stride = array<i64: 1, 1>} : (tensor<1x64x3x32768xi8>, tensor<8x64x3x3xi8>) -> tensor<1x8x3x32768xi8>
    %d = hat.dequantize %c {scale = array<f32: 0.125>} : (tensor<1x8x3x32768xi8>) -> tensor<1x8x3x32768xf32>
    return %d : tensor<1x8x3x32768xf32>
  }
}
