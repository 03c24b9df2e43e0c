func.func @broadcast(%a: tensor<1x4x2x2xf32>, %b: tensor<1x3x2x2xf32>) {
  %0 = hat.add %a, %b : (tensor<1x4x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<1x4x2x2xf32>
  return
}
