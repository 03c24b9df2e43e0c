func.func @qresize_bilinear_needs_requant(%a: tensor<1x4x2x2xi8>) {
  %0 = hat.qresize %a {mode = #hat<resize_mode bilinear>, size = array<i64: 4, 4>, align_corners = false} : (tensor<1x4x2x2xi8>) -> tensor<1x4x4x4xi8>
  return
}
