// A position-attention block as GaNet's neck has it (query/key/value 1x1
// convs, energy = key^T x query, softmax, value x attention, residual add),
// small enough for the lit suite.
func.func @forward(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %query_w = hat.param "query_conv.weight" dense<[[[[-0.314]], [[0.053]], [[-0.156]], [[0.125]], [[0.151]], [[-0.521]], [[-0.584]], [[0.405]]], [[[-0.289]], [[-0.319]], [[0.595]], [[-0.036]], [[0.404]], [[-0.028]], [[0.167]], [[-0.419]]], [[[0.162]], [[0.442]], [[0.028]], [[0.29]], [[0.206]], [[-0.523]], [[0.31]], [[0.109]]], [[[-0.238]], [[-0.563]], [[0.439]], [[-0.033]], [[0.263]], [[0.455]], [[0.257]], [[0.505]]]]> : tensor<4x8x1x1xf32>
  %query_b = hat.param "query_conv.bias" dense<[-0.126, 0.361, -0.066, 0.523]> : tensor<4xf32>
  %query = hat.conv2d %x, %query_w, %query_b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<4x8x1x1xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %key_w = hat.param "key_conv.weight" dense<[[[[0.455]], [[-0.483]], [[-0.437]], [[-0.34]], [[0.559]], [[-0.077]], [[0.152]], [[-0.239]]], [[[0.009]], [[-0.137]], [[-0.179]], [[0.102]], [[0.101]], [[0.485]], [[0.218]], [[0.515]]], [[[0.428]], [[0.589]], [[0.206]], [[-0.404]], [[0.433]], [[0.558]], [[0.486]], [[0.083]]], [[[0.257]], [[-0.347]], [[0.398]], [[0.088]], [[-0.258]], [[-0.524]], [[0.425]], [[0.588]]]]> : tensor<4x8x1x1xf32>
  %key_b = hat.param "key_conv.bias" dense<[-0.494, 0.361, -0.107, -0.419]> : tensor<4xf32>
  %key = hat.conv2d %x, %key_w, %key_b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<4x8x1x1xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %value_w = hat.param "value_conv.weight" dense<[[[[-0.247]], [[0.323]], [[0.447]], [[-0.547]], [[0.137]], [[-0.546]], [[0.262]], [[-0.203]]], [[[0.457]], [[0.577]], [[0.007]], [[0.598]], [[-0.228]], [[-0.508]], [[0.12]], [[-0.562]]], [[[-0.363]], [[-0.11]], [[0.133]], [[-0.413]], [[-0.549]], [[0.441]], [[-0.223]], [[0.55]]], [[[0.476]], [[-0.147]], [[-0.048]], [[0.024]], [[0.173]], [[0.115]], [[0.071]], [[0.144]]], [[[0.529]], [[0.008]], [[-0.083]], [[0.264]], [[-0.315]], [[-0.239]], [[0.573]], [[0.025]]], [[[0.058]], [[-0.586]], [[-0.102]], [[0.096]], [[-0.576]], [[0.139]], [[0.159]], [[-0.528]]], [[[0.153]], [[-0.04]], [[0.215]], [[-0.177]], [[0.248]], [[0.286]], [[-0.573]], [[-0.527]]], [[[0.211]], [[0.556]], [[-0.299]], [[-0.052]], [[0.111]], [[-0.216]], [[-0.163]], [[-0.225]]]]> : tensor<8x8x1x1xf32>
  %value_b = hat.param "value_conv.bias" dense<[-0.157, 0.115, -0.24, -0.147, 0.327, -0.568, 0.083, 0.282]> : tensor<8xf32>
  %value = hat.conv2d %x, %value_w, %value_b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %q = hat.reshape %query {shape = array<i64: 1, 4, 16>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x16xf32>
  %k = hat.reshape %key {shape = array<i64: 1, 4, 16>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x16xf32>
  %kt = hat.transpose %k {perm = array<i64: 0, 2, 1>} : (tensor<1x4x16xf32>) -> tensor<1x16x4xf32>
  %energy = hat.matmul %kt, %q {hat.layer_name = "attn.energy"} : (tensor<1x16x4xf32>, tensor<1x4x16xf32>) -> tensor<1x16x16xf32>
  %attn = hat.softmax %energy {axis = 1 : i64} : (tensor<1x16x16xf32>) -> tensor<1x16x16xf32>
  %v = hat.reshape %value {shape = array<i64: 1, 8, 16>} : (tensor<1x8x4x4xf32>) -> tensor<1x8x16xf32>
  %o = hat.matmul %v, %attn {hat.layer_name = "attn.out"} : (tensor<1x8x16xf32>, tensor<1x16x16xf32>) -> tensor<1x8x16xf32>
  %o4 = hat.reshape %o {shape = array<i64: 1, 8, 4, 4>} : (tensor<1x8x16xf32>) -> tensor<1x8x4x4xf32>
  %y = hat.add %o4, %x : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %y : tensor<1x8x4x4xf32>
}
