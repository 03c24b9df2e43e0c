func.func @qresize_nearest_requant(%a: tensor<1x4x2x2xi8>) {
  %0 = hat.qresize %a {mode = #hat<resize_mode nearest>, size = array<i64: 4, 4>, align_corners = false, multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4x2x2xi8>) -> tensor<1x4x4x4xi8>
  return
}
