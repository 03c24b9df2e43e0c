func.func @bn_channels(%x: tensor<1x4x2x2xf32>, %p: tensor<8xf32>) {
  %0 = hat.batch_norm %x, %p, %p, %p, %p {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x4x2x2xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x4x2x2xf32>
  return
}
