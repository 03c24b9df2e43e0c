// bpu-fuse: a conv whose only user is an add becomes one bpu.conv with the
// add as its epilogue (two roundings, as before); the intermediate tensor
// disappears. A conv with another user stays unfused.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse | FileCheck %s
// RUN: hat-opt %s --bpu-fuse | FileCheck %s --check-prefix=SHARED

// CHECK: %[[C1:.*]] = bpu.conv {{.*}}name = "c1"
// CHECK: bpu.conv %[[C1]], %{{.*}}, %[[C1]] {add_conv_multiplier = 1073741824 : i32, add_relu, add_residual_multiplier = 1073741824 : i32, add_shift = 31 : i32, conv_type = i8, {{.*}}name = "c2+add", operandSegmentSizes = array<i32: 1, 1, 0, 1>, {{.*}}shift = array<i32: 35>
// CHECK-NOT: bpu.add
// CHECK: bpu.pool

// The conv result also feeds the return: fusing would need it in DDR anyway.
// SHARED: %[[C:.*]] = bpu.conv %arg0, %{{.*}} {{{.*}}name = "c"
// SHARED: bpu.add %[[C]], %arg1
module attributes {bpu.function = "shared", bpu.march = "nash-e"} {
  func.func @shared(%arg0: tensor<1x2x4x4xi8>, %arg1: tensor<1x2x4x4xi8>) -> (tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>) {
    %w = hat.param "c.weight" dense<1> : tensor<2x2x1x1xi8>
    %0 = bpu.conv %arg0, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, kernel = array<i64: 1, 1>, multiplier = array<i32: 1073741824>, name = "c", operandSegmentSizes = array<i32: 1, 1, 0, 0>, padding = array<i64: 0, 0, 0, 0>, shift = array<i32: 31>, stride = array<i64: 1, 1>} : (tensor<1x2x4x4xi8>, tensor<2x2x1x1xi8>) -> tensor<1x2x4x4xi8>
    %1 = bpu.add %0, %arg1 {lhs_multiplier = 1073741824 : i32, rhs_multiplier = 1073741824 : i32, shift = 31 : i32} : (tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xi8>
    return %0, %1 : tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>
  }
}
