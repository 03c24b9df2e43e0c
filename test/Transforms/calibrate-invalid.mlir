// RUN: hat-opt %s --hat-calibrate --verify-diagnostics
// Weight (per-channel) fake_quant must observe weight data it can read.

func.func @activation_per_channel(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{per-channel fake_quant input must be hat.param f32 data (a weight)}}
  %q = hat.fake_quant %x {dtype = #hat<qdtype qint8>, axis = 1 : i64, observer = #hat<observer minmax>} : tensor<1x4xf32>
  return %q : tensor<1x4xf32>
}
