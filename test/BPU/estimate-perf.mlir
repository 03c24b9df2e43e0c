// bpu-estimate-perf: every layer gets its roofline figures and the module
// the summary. With input-source=pyramid the quantize layer reads nothing
// from DDR.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e --bpu-fuse --bpu-tile --bpu-estimate-perf | FileCheck %s
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e --bpu-tile --bpu-estimate-perf=input-source=pyramid | FileCheck %s --check-prefix=PYR

// CHECK: bpu.march = "nash-e", bpu.perf = {batch = 1 : i64, ddr_bytes_per_frame = {{[0-9]+}} : i64, fps = {{.*}}, latency_us = {{.*}}, mac_utilisation = {{.*}}, macs = 55320 : i64}
// CHECK: bpu.quantize {{.*}}perf = {compute_us = {{.*}}, load_bytes = 1024 : i64, mac_utilisation = 0.000000e+00 : f64, macs = 0 : i64, memory_us = {{.*}}, share = {{.*}}, sram_bytes = {{.*}}, store_bytes = 256 : i64, total_us = {{.*}}}
// c1: 8 x 8x8 x 4*3*3 = 18432 MACs; c2: 36864; fc: 3 x 8 = 24.
// CHECK: bpu.conv {{.*}}name = "c1"{{.*}}macs = 18432 : i64
// CHECK: bpu.conv {{.*}}name = "c2+add"{{.*}}macs = 36864 : i64

// PYR: bpu.input_source = "pyramid"
// PYR: bpu.quantize {{.*}}load_bytes = 0 : i64
