func.func @dequantize_axis_scales(%a: tensor<1x4xi32>) {
  %0 = hat.dequantize %a {scale = array<f32: 0.5>, axis = 1 : i64} : (tensor<1x4xi32>) -> tensor<1x4xf32>
  return
}
