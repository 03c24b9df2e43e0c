// bpu-plan-arena: 64-byte aligned offsets, largest tensor first into the
// lowest free gap. c1 (512 B) is live until the fused conv reads it, so the
// fused conv's result goes beside it; the max pool then reuses c1's bytes;
// reshape shares its input's offset. reuse=false lays tensors end to end.
// Every tensor fits the march's activation SRAM and stays on chip but the
// function's result, which goes to DDR: the DDR arena is its 64 bytes.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse --bpu-plan-arena | FileCheck %s
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse --bpu-plan-arena=reuse=false | FileCheck %s --check-prefix=NOREUSE

// CHECK: module attributes {bpu.arena_bytes = 1024 : i64, bpu.ddr_arena_bytes = 64 : i64
// CHECK: bpu.quantize {{.*}}arena_offset = 512 : i64{{.*}}on_chip = true
// CHECK: bpu.conv {{.*}}arena_offset = 0 : i64{{.*}}name = "c1"{{.*}}on_chip = true
// CHECK: bpu.conv {{.*}}arena_offset = 512 : i64{{.*}}name = "c2+add"
// CHECK: bpu.pool {{.*}}arena_offset = 0 : i64{{.*}}kind = "max"
// CHECK: bpu.pool {{.*}}arena_offset = [[G:[0-9]+]] : i64{{.*}}kind = "global_avg"
// CHECK: bpu.reshape {{.*}}arena_offset = [[G]] : i64

// CHECK: bpu.dequantize {{.*}}on_chip = false

// NOREUSE: module attributes {bpu.arena_bytes = 1600 : i64, bpu.ddr_arena_bytes = 64 : i64
