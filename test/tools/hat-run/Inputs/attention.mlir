// A position-attention block as GaNet's neck has it (query/key/value 1x1
// convs, energy = key^T x query, softmax, value x attention, residual add),
// a constant position embedding added to the input, and a trained scalar
// gamma scaling the attention output; small enough for the lit suite.
func.func @forward(%x0: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %pos = hat.param "attn.pos_embed" dense<[[[[0.246, 0.484, 0.59, 0.885], [0.48, 0.845, -0.942, -0.069], [0.887, 0.298, 0.802, -0.774], [-0.062, -0.507, 0.088, 0.148]], [[-0.974, -0.567, -0.441, 0.833], [0.531, -0.681, 0.594, -0.722], [0.235, -0.747, -0.996, 0.743], [-0.581, -0.569, 0.965, 0.745]], [[-0.421, 0.923, 0.078, 0.356], [-0.59, 0.882, 0.381, 0.933], [0.787, -0.402, -0.278, -0.668], [-0.709, -0.87, -0.397, 0.206]], [[-0.993, 0.356, -0.324, -0.38], [0.637, -0.039, -0.368, -0.038], [0.409, -0.886, 0.95, -0.954], [0.5, 0.69, -0.964, 0.575]], [[-0.268, 0.157, -0.982, -0.907], [-0.638, 0.91, -0.607, 0.511], [0.859, 0.884, -0.311, -0.29], [0.049, 0.551, -0.784, 0.497]], [[0.594, 0.719, -0.927, 0.892], [-0.818, -0.319, 0.222, 0.836], [-0.32, 0.848, 0.09, -0.375], [-0.366, -0.645, -0.844, -0.702]], [[0.378, 0.993, -0.677, -0.903], [0.973, 0.067, -0.188, -0.525], [0.188, 0.653, -0.089, -0.156], [-0.889, 0.832, -0.935, -0.013]], [[0.677, -0.739, 0.463, 0.9], [0.261, 0.576, -0.787, -0.131], [-0.702, 0.689, -0.41, -0.094], [0.999, 0.705, 0.952, -0.093]]]]> : tensor<1x8x4x4xf32>
  %x = hat.add %x0, %pos : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
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
  %gamma = hat.param "attn.gamma" dense<0.75> : tensor<1xf32> {hat.trainable}
  %og = hat.mul %gamma, %o4 : (tensor<1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %y = hat.add %og, %x : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %y : tensor<1x8x4x4xf32>
}
