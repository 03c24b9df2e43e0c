func.func @flatten_start(%a: tensor<1x4xf32>) {
  %0 = hat.flatten %a {start_dim = 2 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return
}
