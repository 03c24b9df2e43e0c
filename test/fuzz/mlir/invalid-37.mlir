func.func @qlinear_bias(%a: tensor<1x4xi8>, %w: tensor<3x4xi8>, %b: tensor<2xi32>) {
  %0 = hat.qlinear %a, %w, %b {multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<1x4xi8>, tensor<3x4xi8>, tensor<2xi32>) -> tensor<1x3xi8>
  return
}
