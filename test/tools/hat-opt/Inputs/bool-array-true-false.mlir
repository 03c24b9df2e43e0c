func.func @f(%a: tensor<4xi32>) -> tensor<4xi8> {
  %0 = hat.requantize %a {multiplier = array<i32: 1, 1, 1, 1>, shift = array<i32: 1, 1, 1, 1>, flags = array<i1: true, false>} : (tensor<4xi32>) -> tensor<4xi8>
  return %0 : tensor<4xi8>
}
