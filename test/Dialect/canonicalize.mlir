// RUN: hat-opt %s --canonicalize --cse | FileCheck %s
// hat ops are side-effect free: unused layers and parameters disappear,
// identity reshapes/flattens/transposes fold away, CSE merges duplicates.

// CHECK-LABEL: func @cleanup
// CHECK-NEXT: %[[R:.*]] = hat.relu %arg0
// CHECK-NEXT: %[[A:.*]] = hat.add %[[R]], %[[R]]
// CHECK-NEXT: return %[[A]]
func.func @cleanup(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %unused = hat.param "unused.weight" dense<1.0> : tensor<4x4xf32>
  %dead = hat.linear %x, %unused : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %t = hat.transpose %x {perm = array<i64: 0, 1>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = hat.reshape %t {shape = array<i64: 2, 4>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %f = hat.flatten %r {start_dim = 1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %a = hat.relu %f : tensor<2x4xf32>
  %b = hat.relu %f : tensor<2x4xf32>
  %s = hat.add %a, %b : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %s : tensor<2x4xf32>
}

// A real transpose stays.
// CHECK-LABEL: func @keep
// CHECK: hat.transpose
func.func @keep(%x: tensor<2x4xf32>) -> tensor<4x2xf32> {
  %t = hat.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x4xf32>) -> tensor<4x2xf32>
  return %t : tensor<4x2xf32>
}
