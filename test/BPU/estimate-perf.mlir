// bpu-estimate-perf: every layer gets its roofline figures and the module
// the summary. With input-source=pyramid the quantize layer reads nothing
// from DDR.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e --bpu-fuse --bpu-tile --bpu-estimate-perf | FileCheck %s
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e --bpu-tile --bpu-estimate-perf=input-source=pyramid | FileCheck %s --check-prefix=PYR
// After bpu-plan-arena the activations stay on chip: the fused conv loads
// only its parameters (c2: 8 x 72 weights + 8 x 12 = 672 bytes) and stores
// nothing (the pool reads its result band by band); with activation-sram=0
// c1 has two readers, so it goes to DDR; the chain c2+add -> pool still
// streams.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e --bpu-fuse --bpu-tile --bpu-plan-arena --bpu-estimate-perf | FileCheck %s --check-prefix=ONCHIP
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower=march=nash-e --bpu-fuse --bpu-tile --bpu-plan-arena=activation-sram=0 --bpu-estimate-perf | FileCheck %s --check-prefix=NOSRAM

// Without bpu-plan-arena every activation counts in DDR once (1439 bytes);
// weights 1116, input + output 1036.
// CHECK: bpu.march = "nash-e", bpu.perf = {batch = 1 : i64, ddr_activation_bytes = 1439 : i64, ddr_bytes_per_frame = {{[0-9]+}} : i64, fps = {{.*}}, io_bytes = 1036 : i64, latency_us = {{.*}}, mac_utilisation = {{.*}}, macs = 55320 : i64, peak_ddr_bytes = 1503591 : i64, runtime_bytes = 1500000 : i64, weight_bytes = 1116 : i64}
// CHECK: bpu.quantize {{.*}}perf = {compute_us = {{.*}}, load_bytes = 1024 : i64, mac_utilisation = 0.000000e+00 : f64, macs = 0 : i64, memory_us = {{.*}}, share = {{.*}}, sram_bytes = {{.*}}, store_bytes = 256 : i64, total_us = {{.*}}}
// c1: 8 x 8x8 x 4*3*3 = 18432 MACs; c2: 36864; fc: 3 x 8 = 24.
// CHECK: bpu.conv {{.*}}name = "c1"{{.*}}macs = 18432 : i64
// CHECK: bpu.conv {{.*}}name = "c2+add"{{.*}}macs = 36864 : i64

// PYR: bpu.input_source = "pyramid"
// PYR: bpu.quantize {{.*}}load_bytes = 0 : i64

// ONCHIP: bpu.conv {{.*}}name = "c2+add"{{.*}}load_bytes = 672 : i64{{.*}}store_bytes = 0 : i64
// c1 (8x8x8 = 512 bytes) is read by c2 and by the fused add: through DDR,
// read twice (input and residual).
// NOSRAM: bpu.conv {{.*}}name = "c1"{{.*}}store_bytes = 512 : i64
// NOSRAM: bpu.conv {{.*}}name = "c2+add"{{.*}}load_bytes = 1696 : i64{{.*}}store_bytes = 0 : i64
