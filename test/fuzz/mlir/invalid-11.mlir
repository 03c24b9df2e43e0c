func.func @concat_shapes(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x3x2xf32>) {
  %0 = hat.concat %a, %b {axis = 1 : i64} : (tensor<1x4x2x2xf32>, tensor<1x4x3x2xf32>) -> tensor<1x8x2x2xf32>
  return
}
