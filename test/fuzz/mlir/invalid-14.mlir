func.func @fq_scale_count(%a: tensor<4x2x3x3xf32>) {
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint8>, axis = 0 : i64, observer = #hat<observer minmax>, scale = array<f32: 0.1, 0.1>} : tensor<4x2x3x3xf32>
  return
}
