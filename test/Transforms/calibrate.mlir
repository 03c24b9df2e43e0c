// RUN: rm -rf %t && mkdir -p %t
// RUN: hat-eval %S/Inputs/known-activations.mlir --write-random-inputs %t/rand --count 1
// RUN: hat-eval %S/Inputs/known-activations.mlir --input %t/rand/input_0_0.npy -o %t/known
// RUN: hat-opt %s --hat-calibrate="inputs=%t/known/out_0.npy,%t/known/out_0.npy" | FileCheck %s
// RUN: hat-opt %s --hat-calibrate="inputs=%t/known/out_0.npy observer=percentile percentile=50" | FileCheck %s --check-prefix=PCT
// RUN: not hat-opt %s --hat-calibrate 2>&1 | FileCheck %s --check-prefix=NOINPUT
// RUN: not hat-opt %s --hat-calibrate="inputs=%t/missing.npy" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not hat-opt %s --hat-calibrate="inputs=%t/known/out_0.npy observer=median" 2>&1 | FileCheck %s --check-prefix=OBSERVER

// Input [-2.55, 0.5, 1, 2]: min-max scale 2.55 / 127.5 = 0.02; after relu
// the max is 2, scale 2 / 127.5. Weights [[1, -4], [0.5, 0.25]] get
// per-row scales 4 / 127.5 and 0.5 / 127.5 with their min/max recorded.
// CHECK-LABEL: func @calib
// CHECK: hat.fake_quant %arg0 {dtype = #hat<qdtype qint8>, max = array<f32: 2.000000e+00>, min = array<f32: -2.550000e+00>, observer = #hat<observer minmax>, scale = array<f32: 2.000000e-02>}
// CHECK: hat.fake_quant %{{.*}} {dtype = #hat<qdtype qint8>, max = array<f32: 2.000000e+00>, min = array<f32: 0.000000e+00>, observer = #hat<observer minmax>, scale = array<f32: 0.0156862754>}
// CHECK: hat.fake_quant %{{.*}} {axis = 0 : i64, dtype = #hat<qdtype qint8>, max = array<f32: 1.000000e+00, 5.000000e-01>, min = array<f32: -4.000000e+00, 2.500000e-01>, observer = #hat<observer minmax>, scale = array<f32: 0.0313725509, 0.00392156886>}

// The 50th percentile of |x| = {2.55, 0.5, 1, 2} lies well below the max.
// PCT: hat.fake_quant %arg0 {{.*}}observer = #hat<observer percentile>, scale = array<f32: 0.00{{[0-9]+}}>}

// NOINPUT: error: hat-calibrate needs sample inputs
// MISSING: error: calibration input: {{.*}}missing.npy
// OBSERVER: error: unknown observer 'median' (expected minmax, percentile or mse)
func.func @calib(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %q = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<1x4xf32>
  %r = hat.relu %q : tensor<1x4xf32>
  %rq = hat.fake_quant %r {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<1x4xf32>
  %w = hat.param "fc.weight" dense<[[1.0, -4.0, 0.0, 0.0], [0.5, 0.25, 0.25, 0.25]]> : tensor<2x4xf32>
  %wq = hat.fake_quant %w {dtype = #hat<qdtype qint8>, axis = 0 : i64, observer = #hat<observer minmax>} : tensor<2x4xf32>
  %l = hat.linear %rq, %wq : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return %l : tensor<1x2xf32>
}
