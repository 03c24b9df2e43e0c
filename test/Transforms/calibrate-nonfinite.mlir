// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import struct,sys; h=b\"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }\"; h=h+b' '*(118-len(h))+b'\n'; v=[float(x) for x in sys.argv[1:]]; open('%t/bad.npy','wb').write(b'\x93NUMPY\x01\x00'+struct.pack('<H',len(h))+h+struct.pack('<4f',*v))" nan inf -inf nan
// RUN: not hat-opt %s --hat-calibrate="inputs=%t/bad.npy" 2>&1 | FileCheck %s
// Every calibration value NaN/Inf: an error on the fake_quant, not the
// 1/127 fallback scale (the observers skip non-finite values, so nothing
// finite is left to derive a scale from).
// CHECK: error: calibration: this fake_quant's observer saw 4 values and none was finite (NaN/Inf)
func.func @calib(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %q = hat.fake_quant %x {dtype = #hat<qdtype qint8>, observer = #hat<observer minmax>} : tensor<1x4xf32>
  return %q : tensor<1x4xf32>
}
