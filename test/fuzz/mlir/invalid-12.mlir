func.func @reshape_count(%a: tensor<2x6xf32>) {
  %0 = hat.reshape %a {shape = array<i64: 5, 2>} : (tensor<2x6xf32>) -> tensor<5x2xf32>
  return
}
