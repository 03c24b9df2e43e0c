func.func @concat_mixed(%a: tensor<1x4xi8>, %b: tensor<1x4xi16>) {
  %0 = hat.concat %a, %b {axis = 1 : i64} : (tensor<1x4xi8>, tensor<1x4xi16>) -> tensor<1x8xi8>
  return
}
