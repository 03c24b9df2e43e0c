func.func @transpose_perm(%a: tensor<2x6xf32>) {
  %0 = hat.transpose %a {perm = array<i64: 0, 0>} : (tensor<2x6xf32>) -> tensor<2x2xf32>
  return
}
