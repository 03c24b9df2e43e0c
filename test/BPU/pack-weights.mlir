// bpu-pack-weights: [M, K] = [[1, 2, 3], [4, 5, 6]] in o16k2 order is
// k-pair 0: (1, 2) (4, 5) then 14 zero channels; k-pair 1: (3, 0) (6, 0) ...
// (K padded to even, channels to a block of 16): 2 pairs x 16 x 2 = 64 bytes.
// RUN: hat-opt %s --bpu-pack-weights | FileCheck %s

// CHECK: %[[W:.*]] = bpu.packed_weight "fc.weight" "o16k2" {data = dense<[1, 2, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 6, 0, 0, {{.*}}]> : tensor<64xi8>, groups = 1 : i64, shape = array<i64: 2, 3>} : tensor<64xi8>
// CHECK: bpu.linear %arg0, %[[W]]
// CHECK-NOT: hat.param "fc.weight"
module attributes {bpu.function = "fc", bpu.march = "nash-e"} {
  func.func @fc(%arg0: tensor<1x3xi8>) -> tensor<1x2xi8> {
    %w = hat.param "fc.weight" dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi8>
    %0 = bpu.linear %arg0, %w {multiplier = array<i32: 1073741824>, shift = array<i32: 31>} : (tensor<1x3xi8>, tensor<2x3xi8>) -> tensor<1x2xi8>
    return %0 : tensor<1x2xi8>
  }
}
