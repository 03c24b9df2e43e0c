// RUN: hat-opt %s --split-input-file --verify-diagnostics
// Each verifier rejects a malformed op with a message naming the problem.

func.func @conv_rank(%x: tensor<4x8x8xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+2 {{'hat.conv2d' op input must have rank 4, got 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x6xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+2 {{weight expects 4 input channels (4 x 1 groups), input has 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x6xf32>
  return
}

// -----

func.func @conv_groups(%x: tensor<1x6x8x8xf32>, %w: tensor<8x3x3x3xf32>) {
  // expected-error @+2 {{input channels (6) and output channels (8) must be divisible by groups (4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 4 : i64} : (tensor<1x6x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32>
  return
}

// -----

func.func @conv_bias(%x: tensor<1x4x8x8xf32>, %w: tensor<8x4x3x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{bias has 4 entries, weight has 8 output channels}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>, tensor<4xf32>) -> tensor<1x8x6x6xf32>
  return
}

// -----

func.func @conv_result(%x: tensor<1x4x8x8xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+2 {{'hat.conv2d' op inferred type(s) 'tensor<1x8x6x6xf32>' are incompatible with return type(s) of operation 'tensor<1x8x8x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x8x8xf32>
  return
}

// -----

func.func @conv_stride(%x: tensor<1x4x8x8xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+2 {{'stride' entries must be >= 1, got [0, 1]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.conv2d %x, %w {stride = array<i64: 0, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x6xf32>
  return
}

// -----

func.func @conv_dtype(%x: tensor<1x4x8x8xi8>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{'hat.conv2d' op operand #0 must be ranked tensor of 32-bit float values}}
  %0 = hat.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x8x8xi8>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x6xf32>
  return
}

// -----

func.func @window_too_big(%x: tensor<1x4x2x2xf32>) {
  // expected-error @+2 {{window of extent 3 does not fit the padded height extent 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x4x2x2xf32>) -> tensor<1x4x1x1xf32>
  return
}

// -----

func.func @linear_features(%x: tensor<2x16xf32>, %w: tensor<10x8xf32>) {
  // expected-error @+2 {{weight expects 8 input features, input has 16}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.linear %x, %w : (tensor<2x16xf32>, tensor<10x8xf32>) -> tensor<2x10xf32>
  return
}

// -----

func.func @bn_channels(%x: tensor<1x4x2x2xf32>, %p: tensor<8xf32>) {
  // expected-error @+2 {{'weight' must be [4] to match the 4 input channels, got [8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.batch_norm %x, %p, %p, %p, %p {eps = 1.0e-5 : f32, momentum = 0.1 : f32} : (tensor<1x4x2x2xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @broadcast(%a: tensor<1x4x2x2xf32>, %b: tensor<1x3x2x2xf32>) {
  // expected-error @+2 {{operand shapes [1, 4, 2, 2] and [1, 3, 2, 2] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.add %a, %b : (tensor<1x4x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @concat_shapes(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x3x2xf32>) {
  // expected-error @+2 {{input #1 has shape [1, 4, 3, 2], incompatible with [1, 4, 2, 2] outside axis 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.concat %a, %b {axis = 1 : i64} : (tensor<1x4x2x2xf32>, tensor<1x4x3x2xf32>) -> tensor<1x8x2x2xf32>
  return
}

// -----

func.func @reshape_count(%a: tensor<2x6xf32>) {
  // expected-error @+2 {{cannot reshape [2, 6] (12 elements) into [5, 2] (10 elements)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.reshape %a {shape = array<i64: 5, 2>} : (tensor<2x6xf32>) -> tensor<5x2xf32>
  return
}

// -----

func.func @transpose_perm(%a: tensor<2x6xf32>) {
  // expected-error @+2 {{'perm' [0, 0] is not a permutation}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.transpose %a {perm = array<i64: 0, 0>} : (tensor<2x6xf32>) -> tensor<2x2xf32>
  return
}

// -----

func.func @fq_scale_count(%a: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{'hat.fake_quant' op 'scale' has 2 entries, expected 4}}
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint8>, axis = 0 : i64, observer = #hat<observer minmax>, scale = array<f32: 0.1, 0.1>} : tensor<4x2x3x3xf32>
  return
}

// -----

func.func @fq_scale_positive(%a: tensor<4x2xf32>) {
  // expected-error @+1 {{'scale' entries must be finite and > 0, got 0}}
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint16>, observer = #hat<observer minmax>, scale = array<f32: 0.0>} : tensor<4x2xf32>
  return
}

// -----

func.func @fq_axis(%a: tensor<4x2xf32>) {
  // expected-error @+1 {{'axis' 2 is out of range for rank 2}}
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint8>, axis = 2 : i64, observer = #hat<observer minmax>} : tensor<4x2xf32>
  return
}

// -----

func.func @quantize_dtype(%a: tensor<4x2xf32>) {
  // expected-error @+1 {{'hat.quantize' op result #0 must be ranked tensor of 8-bit signless integer or 16-bit signless integer values}}
  %0 = hat.quantize %a {scale = 0.1 : f32} : (tensor<4x2xf32>) -> tensor<4x2xi32>
  return
}

// -----

func.func @quantize_scale(%a: tensor<4x2xf32>) {
  // expected-error @+1 {{'scale' must be finite and > 0, got -1}}
  %0 = hat.quantize %a {scale = -1.0 : f32} : (tensor<4x2xf32>) -> tensor<4x2xi8>
  return
}

// -----

func.func @dequantize_axis_scales(%a: tensor<1x4xi32>) {
  // expected-error @+1 {{'scale' has 1 entries, expected 4}}
  %0 = hat.dequantize %a {scale = array<f32: 0.5>, axis = 1 : i64} : (tensor<1x4xi32>) -> tensor<1x4xf32>
  return
}

// -----

func.func @qconv_multiplier_count(%x: tensor<1x4x4x4xi8>, %w: tensor<8x4x1x1xi8>) {
  // expected-error @+1 {{'multiplier' must have 1 or 8 entries (one per output channel), got 2}}
  %0 = hat.qconv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1, 2>, shift = array<i32: 3, 4>} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi8>) -> tensor<1x8x4x4xi8>
  return
}

// -----

func.func @qconv_shift_range(%x: tensor<1x4x4x4xi8>, %w: tensor<8x4x1x1xi8>) {
  // expected-error @+1 {{'shift' entries must be in [0, 62], got 63}}
  %0 = hat.qconv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 63>} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi8>) -> tensor<1x8x4x4xi8>
  return
}

// -----

func.func @qconv_weight_dtype(%x: tensor<1x4x4x4xi8>, %w: tensor<8x4x1x1xi16>) {
  // expected-error @+1 {{'hat.qconv2d' op operand #1 must be ranked tensor of 8-bit signless integer values}}
  %0 = hat.qconv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 3>} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi16>) -> tensor<1x8x4x4xi8>
  return
}

// -----

func.func @qconv_result_shape(%x: tensor<1x4x4x4xi8>, %w: tensor<8x4x1x1xi8>) {
  // expected-error @+1 {{result shape [1, 8, 2, 2] does not match the inferred shape [1, 8, 4, 4]}}
  %0 = hat.qconv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 3>} : (tensor<1x4x4x4xi8>, tensor<8x4x1x1xi8>) -> tensor<1x8x2x2xi8>
  return
}

// -----

func.func @qconcat_requant_count(%a: tensor<1x4xi8>, %b: tensor<1x4xi8>) {
  // expected-error @+1 {{needs one 'multiplier' and one 'shift' per input (2), got 1 and 1}}
  %0 = hat.qconcat %a, %b {axis = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x8xi8>
  return
}

// -----

func.func @qadd_negative_multiplier(%a: tensor<1x4xi8>) {
  // expected-error @+1 {{'multiplier' entries must be >= 0, got -5}}
  %0 = hat.qadd %a, %a {lhs_multiplier = -5 : i32, rhs_multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x4xi8>
  return
}

// -----

func.func @qresize_nearest_requant(%a: tensor<1x4x2x2xi8>) {
  // expected-error @+1 {{nearest resize copies values and takes no 'multiplier'/'shift'}}
  %0 = hat.qresize %a {mode = #hat<resize_mode nearest>, size = array<i64: 4, 4>, align_corners = false, multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4x2x2xi8>) -> tensor<1x4x4x4xi8>
  return
}

// -----

func.func @qresize_bilinear_needs_requant(%a: tensor<1x4x2x2xi8>) {
  // expected-error @+1 {{bilinear resize needs 'multiplier' and 'shift'}}
  %0 = hat.qresize %a {mode = #hat<resize_mode bilinear>, size = array<i64: 4, 4>, align_corners = false} : (tensor<1x4x2x2xi8>) -> tensor<1x4x4x4xi8>
  return
}

// -----

func.func @qlut_size(%a: tensor<1x4xi8>) {
  // expected-error @+1 {{'table' must have 256 entries for an i8 input, got 2}}
  %0 = hat.qlut %a {table = array<i32: 1, 2>} : (tensor<1x4xi8>) -> tensor<1x4xi8>
  return
}

// -----

func.func @requantize_channels(%a: tensor<1x4x2x2xi32>) {
  // expected-error @+1 {{'multiplier' must have 1 or 4 entries (one per output channel), got 3}}
  %0 = hat.requantize %a {multiplier = array<i32: 1, 1, 1>, shift = array<i32: 1, 1, 1>} : (tensor<1x4x2x2xi32>) -> tensor<1x4x2x2xi8>
  return
}

// -----

func.func @param_name() {
  // expected-error @+1 {{'hat.param' op needs a non-empty parameter name}}
  %0 = hat.param "" dense<1.0> : tensor<2xf32>
  return
}

// -----

func.func @relu_dtype(%a: tensor<1x4xi8>) {
  // expected-error @+1 {{'hat.relu' op operand #0 must be ranked tensor of 32-bit float values}}
  %0 = hat.relu %a : tensor<1x4xi8>
  return
}

// -----

func.func @gap_rank(%a: tensor<1x4xf32>) {
  // expected-error @+2 {{'hat.global_avg_pool' op input must have rank 4, got 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.global_avg_pool %a : (tensor<1x4xf32>) -> tensor<1x4x1x1xf32>
  return
}

// -----

func.func @avg_pool_padding(%a: tensor<1x4x4x4xf32>) {
  // expected-error @+2 {{'padding' must have 4 entries, got 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.avg_pool2d %a {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @resize_size(%a: tensor<1x4x4x4xf32>) {
  // expected-error @+2 {{'size' entries must be >= 1, got [0, 8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.resize %a {mode = #hat<resize_mode nearest>, size = array<i64: 0, 8>, align_corners = false} : (tensor<1x4x4x4xf32>) -> tensor<1x4x0x8xf32>
  return
}

// -----

func.func @flatten_start(%a: tensor<1x4xf32>) {
  // expected-error @+2 {{'start_dim' 2 is out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.flatten %a {start_dim = 2 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return
}

// -----

func.func @softmax_axis(%a: tensor<1x4xf32>) {
  // expected-error @+2 {{'axis' 3 is out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.softmax %a {axis = 3 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return
}

// -----

// Regression: an I64Attr reads back unsigned; -1 was reported as
// 18446744073709551615.
func.func @softmax_negative_axis(%a: tensor<1x4xf32>) {
  // expected-error @+2 {{'axis' -1 is out of range for rank 2 (expected 0..1; negative axes are not accepted)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.softmax %a {axis = -1 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  return
}

// -----

func.func @qlinear_bias(%a: tensor<1x4xi8>, %w: tensor<3x4xi8>, %b: tensor<2xi32>) {
  // expected-error @+1 {{bias has 2 entries, weight has 3 output features}}
  %0 = hat.qlinear %a, %w, %b {multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<1x4xi8>, tensor<3x4xi8>, tensor<2xi32>) -> tensor<1x3xi8>
  return
}

// -----

func.func @qlinear_bias_dtype(%a: tensor<1x4xi8>, %w: tensor<3x4xi8>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'hat.qlinear' op operand #2 must be ranked tensor of 32-bit signless integer values}}
  %0 = hat.qlinear %a, %w, %b {multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<1x4xi8>, tensor<3x4xi8>, tensor<3xf32>) -> tensor<1x3xi8>
  return
}

// -----

func.func @qmul_shape(%a: tensor<1x4xi8>, %b: tensor<1x3xi8>) {
  // expected-error @+1 {{operand shapes [1, 4] and [1, 3] do not broadcast}}
  %0 = hat.qmul %a, %b {multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4xi8>, tensor<1x3xi8>) -> tensor<1x4xi8>
  return
}

// -----

func.func @qavg_pool_result(%a: tensor<1x4x4x4xi8>) {
  // expected-error @+1 {{result shape [1, 4, 4, 4] does not match the inferred shape [1, 4, 2, 2]}}
  %0 = hat.qavg_pool2d %a {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x4x4x4xi8>) -> tensor<1x4x4x4xi8>
  return
}

// -----

func.func @qgap_shift(%a: tensor<1x4x4x4xi8>) {
  // expected-error @+1 {{'shift' entries must be in [0, 62], got -1}}
  %0 = hat.qglobal_avg_pool %a {multiplier = 1 : i32, shift = -1 : i32} : (tensor<1x4x4x4xi8>) -> tensor<1x4x1x1xi8>
  return
}

// -----

func.func @qlut_range(%a: tensor<1x4xi8>) {
  // expected-error @+1 {{'table' entry 300 is outside the i8 range}}
  %0 = hat.qlut %a {table = array<i32: 300, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<1x4xi8>) -> tensor<1x4xi8>
  return
}

// -----

func.func @fq_observer_state(%a: tensor<4xf32>) {
  // expected-error @+1 {{observer state needs both 'min' and 'max'}}
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, min = array<f32: 0.0>} : tensor<4xf32>
  return
}

// -----

func.func @pool_padding(%a: tensor<1x4x4x4xf32>) {
  // expected-error @+2 {{pool padding [2, 2, 2, 2] exceeds half the kernel [3, 3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.max_pool2d %a {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 2, 2, 2, 2>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

// qconcat may mix int8 and int16 inputs; plain concat may not.
func.func @qconcat_mixed(%a: tensor<1x4xi8>, %b: tensor<1x4xi16>) -> tensor<1x8xi16> {
  %0 = hat.qconcat %a, %b {axis = 1 : i64, multiplier = array<i32: 1073741824, 1073741824>, shift = array<i32: 30, 30>} : (tensor<1x4xi8>, tensor<1x4xi16>) -> tensor<1x8xi16>
  return %0 : tensor<1x8xi16>
}

// -----

func.func @concat_mixed(%a: tensor<1x4xi8>, %b: tensor<1x4xi16>) {
  // expected-error @+2 {{input #1 has element type 'i16', input #0 has 'i8'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.concat %a, %b {axis = 1 : i64} : (tensor<1x4xi8>, tensor<1x4xi16>) -> tensor<1x8xi8>
  return
}

// -----

func.func @weighted_sum_shapes(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x3x2xf32>, %w: tensor<2xf32>) {
  // expected-error @+2 {{input #1 is [1, 4, 3, 2], but input #0 is [1, 4, 2, 2] (fused inputs must have the same shape)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.weighted_sum %a, %b weights %w {eps = 1.0e-04 : f32} : (tensor<1x4x2x2xf32>, tensor<1x4x3x2xf32>, tensor<2xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @weighted_sum_weights(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x2x2xf32>, %w: tensor<3xf32>) {
  // expected-error @+2 {{'weights' must be [2], one per input, got [3]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.weighted_sum %a, %b weights %w {eps = 1.0e-04 : f32} : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>, tensor<3xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @weighted_sum_one_input(%a: tensor<1x4x2x2xf32>, %w: tensor<1xf32>) {
  // expected-error @+2 {{needs at least 2 inputs, got 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.weighted_sum %a weights %w {eps = 1.0e-04 : f32} : (tensor<1x4x2x2xf32>, tensor<1xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @weighted_sum_eps(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x2x2xf32>, %w: tensor<2xf32>) {
  // expected-error @+2 {{'eps' must be > 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.weighted_sum %a, %b weights %w {eps = 0.0 : f32} : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>, tensor<2xf32>) -> tensor<1x4x2x2xf32>
  return
}

// -----

func.func @matmul_contraction(%a: tensor<2x3x4xf32>, %b: tensor<2x5x6xf32>) {
  // expected-error @+2 {{contraction dimensions differ: [2, 3, 4] x [2, 5, 6] (lhs K = 4, rhs K = 5)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.matmul %a, %b : (tensor<2x3x4xf32>, tensor<2x5x6xf32>) -> tensor<2x3x6xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<4xf32>, %b: tensor<4x2xf32>) {
  // expected-error @+2 {{operands must have rank >= 2, got [4] and [4, 2]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.matmul %a, %b : (tensor<4xf32>, tensor<4x2xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<3x4x6xf32>) {
  // expected-error @+2 {{operand shapes [2] and [3] do not broadcast}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.matmul %a, %b : (tensor<2x3x4xf32>, tensor<3x4x6xf32>) -> tensor<2x3x6xf32>
  return
}

// -----

func.func @qmatmul_result(%a: tensor<1x3x4xi8>, %b: tensor<1x4x6xi8>) {
  // expected-error @+1 {{'hat.qmatmul' op result shape}}
  %0 = hat.qmatmul %a, %b {multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x3x4xi8>, tensor<1x4x6xi8>) -> tensor<1x3x4xi8>
  return
}

// -----

func.func @qmatmul_shift(%a: tensor<3x4xi8>, %b: tensor<4x6xi8>) {
  // expected-error @+1 {{'shift' entries must be in [0, 62], got 70}}
  %0 = hat.qmatmul %a, %b {multiplier = 1 : i32, shift = 70 : i32} : (tensor<3x4xi8>, tensor<4x6xi8>) -> tensor<3x6xi8>
  return
}

// -----

func.func @layer_norm_weight(%x: tensor<2x5x8xf32>, %g: tensor<4xf32>, %b: tensor<8xf32>) {
  // expected-error @+2 {{'weight' must be [8] to match the last axis of [2, 5, 8], got [4]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.layer_norm %x, %g, %b {eps = 1.0e-5 : f32} : (tensor<2x5x8xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return
}

// -----

func.func @layer_norm_eps(%x: tensor<2x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) {
  // expected-error @+2 {{'eps' must be >= 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.layer_norm %x, %g, %b {eps = -1.0 : f32} : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @qlayer_norm_channels(%x: tensor<2x4xi8>, %b: tensor<4xi32>) {
  // expected-error @+1 {{'multiplier' and 'shift' must have 4 entries (one per channel), got 1 and 1}}
  %0 = hat.qlayer_norm %x, %b {eps_q = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<2x4xi8>, tensor<4xi32>) -> tensor<2x4xi8>
  return
}

// -----

func.func @qlayer_norm_bias(%x: tensor<2x4xi8>, %b: tensor<2xi32>) {
  // expected-error @+1 {{'bias' must be [4], got [2]}}
  %0 = hat.qlayer_norm %x, %b {eps_q = 1 : i64, multiplier = array<i32: 1, 1, 1, 1>, shift = array<i32: 1, 1, 1, 1>} : (tensor<2x4xi8>, tensor<2xi32>) -> tensor<2x4xi8>
  return
}

// -----

func.func @qlayer_norm_shift(%x: tensor<2x2xi8>, %b: tensor<2xi32>) {
  // expected-error @+1 {{'shift' entries must be in [0, 62], got 63}}
  %0 = hat.qlayer_norm %x, %b {eps_q = 1 : i64, multiplier = array<i32: 1, 1>, shift = array<i32: 1, 63>} : (tensor<2x2xi8>, tensor<2xi32>) -> tensor<2x2xi8>
  return
}

// -----

func.func @qlayer_norm_eps(%x: tensor<2x2xi8>, %b: tensor<2xi32>) {
  // expected-error @+1 {{'eps_q' must be >= 0}}
  %0 = hat.qlayer_norm %x, %b {eps_q = -5 : i64, multiplier = array<i32: 1, 1>, shift = array<i32: 1, 1>} : (tensor<2x2xi8>, tensor<2xi32>) -> tensor<2x2xi8>
  return
}

// -----

func.func @qlayer_norm_long_rows(%x: tensor<1x40000xi8>, %b: tensor<40000xi32>) {
  // expected-error @+1 {{normalises rows of 40000 values; 1..32768 are supported}}
  %0 = hat.qlayer_norm %x, %b {eps_q = 1 : i64, multiplier = array<i32: 1>, shift = array<i32: 1>} : (tensor<1x40000xi8>, tensor<40000xi32>) -> tensor<1x40000xi8>
  return
}

// -----

func.func @ms_deform_attn_positions(%v: tensor<1x9x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x2xf32>) {
  // expected-error @+2 {{'value' has 9 positions but the 2 level(s) of 'spatial_shapes' [2, 4, 1, 2] hold 10}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x9x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32>
  return
}

// -----

func.func @ms_deform_attn_locations(%v: tensor<1x10x2x4xf32>, %l: tensor<1x3x2x3x2x2xf32>, %w: tensor<1x3x2x3x2xf32>) {
  // expected-error @+2 {{'locations' must be [N, Lq, M, L, P, 2] = [1, Lq, 2, 2, P, 2], got [1, 3, 2, 3, 2, 2]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x3x2x2xf32>, tensor<1x3x2x3x2xf32>) -> tensor<1x3x8xf32>
  return
}

// -----

func.func @ms_deform_attn_weights(%v: tensor<1x10x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x4xf32>) {
  // expected-error @+2 {{'weights' must be [N, Lq, M, L, P] = [1, 3, 2, 2, 2], got [1, 3, 2, 2, 4]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x4xf32>) -> tensor<1x3x8xf32>
  return
}

// -----

func.func @ms_deform_attn_shapes(%v: tensor<1x10x2x4xf32>, %l: tensor<1x3x2x2x2x2xf32>, %w: tensor<1x3x2x2x2xf32>) {
  // expected-error @+2 {{'spatial_shapes' must hold H, W per level, got 3 entries}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1>} : (tensor<1x10x2x4xf32>, tensor<1x3x2x2x2x2xf32>, tensor<1x3x2x2x2xf32>) -> tensor<1x3x8xf32>
  return
}

// -----

func.func @qms_deform_attn_loc_requant(%v: tensor<1x10x2x4xi8>, %l: tensor<1x3x2x2x2x2xi16>, %w: tensor<1x3x2x2x2xi8>) {
  // expected-error @+1 {{'loc_multiplier' and 'loc_shift' must have 4 entries (x and y of each level), got 2 and 2}}
  %0 = hat.qms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>, loc_multiplier = array<i32: 1, 1>, loc_shift = array<i32: 1, 1>, multiplier = 1 : i32, shift = 1 : i32} : (tensor<1x10x2x4xi8>, tensor<1x3x2x2x2x2xi16>, tensor<1x3x2x2x2xi8>) -> tensor<1x3x8xi8>
  return
}

// -----

func.func @ms_deform_attn_batch(%v: tensor<2x10x2x4xf32>, %l: tensor<3x3x2x2x2x2xf32>, %w: tensor<3x3x2x2x2xf32>) {
  // expected-error @+2 {{'locations' must be [N, Lq, M, L, P, 2] = [2 or 1, Lq, 2, 2, P, 2], got [3, 3, 2, 2, 2, 2]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = hat.ms_deform_attn %v, %l, %w {spatial_shapes = array<i64: 2, 4, 1, 2>} : (tensor<2x10x2x4xf32>, tensor<3x3x2x2x2x2xf32>, tensor<3x3x2x2x2xf32>) -> tensor<2x3x8xf32>
  return
}
