func.func @avg_pool_padding(%a: tensor<1x4x4x4xf32>) {
  %0 = hat.avg_pool2d %a {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32>
  return
}
