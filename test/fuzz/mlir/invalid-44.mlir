func.func @pool_padding(%a: tensor<1x4x4x4xf32>) {
  %0 = hat.max_pool2d %a {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 2, 2, 2, 2>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x6x6xf32>
  return
}
