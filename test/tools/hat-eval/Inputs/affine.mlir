func.func @affine(%x: tensor<1x3xf32>) -> tensor<1x3xf32> {
  %zero = hat.param "zero" dense<0.0> : tensor<3xf32>
  %values = hat.param "values" dense<[1.0, -2.0, 3.5]> : tensor<3xf32>
  %z = hat.mul %x, %zero : (tensor<1x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  %y = hat.add %z, %values : (tensor<1x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
