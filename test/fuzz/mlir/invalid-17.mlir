func.func @quantize_dtype(%a: tensor<4x2xf32>) {
  %0 = hat.quantize %a {scale = 0.1 : f32} : (tensor<4x2xf32>) -> tensor<4x2xi32>
  return
}
