func.func @qconcat_requant_count(%a: tensor<1x4xi8>, %b: tensor<1x4xi8>) {
  %0 = hat.qconcat %a, %b {axis = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x8xi8>
  return
}
