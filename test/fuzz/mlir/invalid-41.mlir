func.func @qgap_shift(%a: tensor<1x4x4x4xi8>) {
  %0 = hat.qglobal_avg_pool %a {multiplier = 1 : i32, shift = -1 : i32} : (tensor<1x4x4x4xi8>) -> tensor<1x4x1x1xi8>
  return
}
