func.func @qmul_shape(%a: tensor<1x4xi8>, %b: tensor<1x3xi8>) {
  %0 = hat.qmul %a, %b {multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4xi8>, tensor<1x3xi8>) -> tensor<1x4xi8>
  return
}
