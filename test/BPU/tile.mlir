// bpu-tile on bernoulli2 (1 MiB SRAM, half of it for tiles, the other half
// for on-chip activations): a 64x112x112 int8 conv does not fit whole, and
// neither does its whole input beside one channel group (so no channel
// split). Without search (-O0) rows are halved until a band fits (4 tiles of
// 28 rows, halo rows read twice); the search (-O3) finds no cheaper shape.
// RUN: hat-opt %s --bpu-tile=search=false --bpu-estimate-perf | FileCheck %s --check-prefix=O0
// RUN: hat-opt %s --bpu-tile --bpu-estimate-perf | FileCheck %s --check-prefix=O3

// O0: load_bytes = 883456 : i64
// O0-SAME: sram_bytes = 453376 : i64
// O0-SAME: tile = array<i64: 28, 64, 4>
// O3: load_bytes = 883456 : i64
// O3-SAME: sram_bytes = 453376 : i64
// O3-SAME: tile = array<i64: 28, 64, 4>
module attributes {bpu.function = "big", bpu.march = "bernoulli2"} {
  func.func @big(%arg0: tensor<1x64x112x112xi8>) -> tensor<1x64x112x112xi8> {
    %w = hat.param "big.weight" dense<1> : tensor<64x64x3x3xi8>
    %0 = bpu.conv %arg0, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 3, 3>, multiplier = array<i32: 1073741824>, name = "big", operandSegmentSizes = array<i32: 1, 1, 0, 0>, padding = array<i64: 1, 1, 1, 1>, shift = array<i32: 40>, stride = array<i64: 1, 1>} : (tensor<1x64x112x112xi8>, tensor<64x64x3x3xi8>) -> tensor<1x64x112x112xi8>
    return %0 : tensor<1x64x112x112xi8>
  }
}
