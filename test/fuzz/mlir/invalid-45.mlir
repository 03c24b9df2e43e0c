func.func @qconcat_mixed(%a: tensor<1x4xi8>, %b: tensor<1x4xi16>) -> tensor<1x8xi16> {
  %0 = hat.qconcat %a, %b {axis = 1 : i64, multiplier = array<i32: 1073741824, 1073741824>, shift = array<i32: 30, 30>} : (tensor<1x4xi8>, tensor<1x4xi16>) -> tensor<1x8xi16>
  return %0 : tensor<1x8xi16>
}
