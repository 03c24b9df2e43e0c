func.func @param_name() {
  %0 = hat.param "" dense<1.0> : tensor<2xf32>
  return
}
