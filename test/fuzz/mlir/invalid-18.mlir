func.func @quantize_scale(%a: tensor<4x2xf32>) {
  %0 = hat.quantize %a {scale = -1.0 : f32} : (tensor<4x2xf32>) -> tensor<4x2xi8>
  return
}
