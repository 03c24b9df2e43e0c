func.func @float_ops(%x: tensor<2x4x8x8xf32>) -> tensor<2x10xf32> {
  %w = hat.param "conv.weight" dense<0.1> : tensor<8x2x3x3xf32>
  %b = hat.param "conv.bias" dense<0.0> : tensor<8xf32>
  %c1 = hat.param "bn.c" dense<1.0> : tensor<8xf32>
  %c = hat.conv2d %x, %w, %b {stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>, groups = 2 : i64} : (tensor<2x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  %bn = hat.batch_norm %c, %c1, %b, %b, %c1 {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<2x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8x4x4xf32>
  %r = hat.relu %bn : tensor<2x8x4x4xf32>
  %r6 = hat.relu6 %r : tensor<2x8x4x4xf32>
  %s = hat.sigmoid %r6 : tensor<2x8x4x4xf32>
  %si = hat.silu %s : tensor<2x8x4x4xf32>
  %hs = hat.hardswish %si : tensor<2x8x4x4xf32>
  %gap = hat.global_avg_pool %hs : (tensor<2x8x4x4xf32>) -> tensor<2x8x1x1xf32>
  %se = hat.mul %hs, %gap : (tensor<2x8x4x4xf32>, tensor<2x8x1x1xf32>) -> tensor<2x8x4x4xf32>
  %a = hat.add %se, %r : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<2x8x4x4xf32>
  %cat = hat.concat %a, %r {axis = 1 : i64} : (tensor<2x8x4x4xf32>, tensor<2x8x4x4xf32>) -> tensor<2x16x4x4xf32>
  %mp = hat.max_pool2d %cat {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : (tensor<2x16x4x4xf32>) -> tensor<2x16x2x2xf32>
  %up = hat.resize %mp {mode = #hat<resize_mode bilinear>, size = array<i64: 4, 4>, align_corners = false} : (tensor<2x16x2x2xf32>) -> tensor<2x16x4x4xf32>
  %ap = hat.avg_pool2d %up {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<2x16x4x4xf32>) -> tensor<2x16x2x2xf32>
  %t = hat.transpose %ap {perm = array<i64: 0, 2, 3, 1>} : (tensor<2x16x2x2xf32>) -> tensor<2x2x2x16xf32>
  %rs = hat.reshape %t {shape = array<i64: 2, -1>} : (tensor<2x2x2x16xf32>) -> tensor<2x64xf32>
  %fw = hat.param "fc.weight" dense<0.01> : tensor<10x64xf32>
  %fc = hat.linear %rs, %fw : (tensor<2x64xf32>, tensor<10x64xf32>) -> tensor<2x10xf32>
  %sm = hat.softmax %fc {axis = 1 : i64} : (tensor<2x10xf32>) -> tensor<2x10xf32>
  return %sm : tensor<2x10xf32>
}
