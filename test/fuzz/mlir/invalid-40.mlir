func.func @qavg_pool_result(%a: tensor<1x4x4x4xi8>) {
  %0 = hat.qavg_pool2d %a {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4x4x4xi8>) -> tensor<1x4x4x4xi8>
  return
}
