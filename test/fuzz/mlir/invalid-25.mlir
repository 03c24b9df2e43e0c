func.func @qadd_negative_multiplier(%a: tensor<1x4xi8>) {
  %0 = hat.qadd %a, %a {lhs_multiplier = -5 : i32, rhs_multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x4xi8>
  return
}
