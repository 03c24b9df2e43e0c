func.func @fq_axis(%a: tensor<4x2xf32>) {
  %0 = hat.fake_quant %a {dtype = #hat<qdtype qint8>, axis = 2 : i64, observer = #hat<observer minmax>} : tensor<4x2xf32>
  return
}
