func.func @gap_rank(%a: tensor<1x4xf32>) {
  %0 = hat.global_avg_pool %a : (tensor<1x4xf32>) -> tensor<1x4x1x1xf32>
  return
}
