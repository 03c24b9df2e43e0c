func.func @fq_observer_state(%a: tensor<4xf32>) {
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>, min = array<f32: 0.0>} : tensor<4xf32>
  return
}
