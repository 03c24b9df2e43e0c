func.func @qconv_weight_dtype(%x: tensor<1x4x4x4xi8>, %w: tensor<8x4x1x1xi16>) {
  %0 = hat.qconv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 3>} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi16>) -> tensor<1x8x4x4xi8>
  return
}
