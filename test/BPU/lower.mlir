// bpu-lower: one bpu layer per integer hat op, with the conv kernel size
// made explicit and every requantization attribute copied unchanged.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e | FileCheck %s
// RUN: not hat-opt %s --bpu-lower=march=nash-e 2>&1 | FileCheck %s --check-prefix=FLOAT
// RUN: not hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-x 2>&1 | FileCheck %s --check-prefix=MARCH

// CHECK: module attributes {bpu.function = "net", bpu.march = "nash-e"}
// CHECK: bpu.quantize %arg0 {name = "quantize_0", scale = 6.250000e-02 : f32}
// CHECK: %[[C1:.*]] = bpu.conv %{{.*}}, %{{.*}}, %{{.*}} {{{.*}}kernel = array<i64: 3, 3>, multiplier = array<i32: 1073741824>, name = "c1"{{.*}}relu, shift = array<i32: 34>
// CHECK: %[[C2:.*]] = bpu.conv %[[C1]], %{{.*}} {{{.*}}name = "c2"
// CHECK: bpu.add %[[C2]], %[[C1]] {lhs_multiplier = 1073741824 : i32, name = "add_0", relu, rhs_multiplier = 1073741824 : i32, shift = 31 : i32}
// CHECK: bpu.pool %{{.*}} {kernel = array<i64: 2, 2>, kind = "max"
// CHECK: bpu.pool %{{.*}} {kind = "global_avg", multiplier = 1073741824 : i32
// CHECK: bpu.reshape
// CHECK: bpu.linear {{.*}}name = "fc"
// CHECK: bpu.dequantize
// CHECK-NOT: hat.q

// FLOAT: error: cannot lower 'hat.relu' to the BPU: not an integer op (run hat-qat2quantize first)
// MARCH: error: unknown march 'nash-x' (known: bernoulli2, bayes, nash-e, nash-m, nash-p)
module {
  func.func @float(%arg0: tensor<1x4xf32>) -> tensor<1x4xf32> {
    %0 = hat.relu %arg0 : tensor<1x4xf32>
    return %0 : tensor<1x4xf32>
  }
}
