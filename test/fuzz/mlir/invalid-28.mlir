func.func @qlut_size(%a: tensor<1x4xi8>) {
  %0 = hat.qlut %a {table = array<i32: 1, 2>} : (tensor<1x4xi8>) -> tensor<1x4xi8>
  return
}
