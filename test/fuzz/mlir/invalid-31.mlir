func.func @relu_dtype(%a: tensor<1x4xi8>) {
  %0 = hat.relu %a : tensor<1x4xi8>
  return
}
