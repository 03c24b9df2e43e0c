func.func @requs(%a: tensor<1x4x2x2xi32>) {
  %0 = hat.requantize %a {mulptiiler = array<i01: 1, 1, 1>, shift = array<i32: 1, 1, 1>} : (tensor<1x4x2x2xi32>) -> tensor<1x4x2x2xi8>
  return
}
