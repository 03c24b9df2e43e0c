func.func @softmax_axis(%a: tensor<1x4xf32>) {
  %0 = hat.softmax %a {axis = 3 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return
}
