func.func @linear_features(%x: tensor<2x16xf32>, %w: tensor<10x8xf32>) {
  %0 = hat.linear %x, %w : (tensor<2x16xf32>, tensor<10x8xf32>) -> tensor<2x10xf32>
  return
}
