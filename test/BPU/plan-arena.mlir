// bpu-plan-arena: 64-byte aligned offsets, largest tensor first into the
// lowest free gap. c1 (512 B) is live until the fused conv reads it, so the
// fused conv's result goes beside it; the max pool then reuses c1's bytes;
// reshape shares its input's offset. reuse=false lays tensors end to end.
// Every tensor fits the march's activation SRAM and stays on chip but the
// function's result, which goes to DDR.
//
// bpu.ddr_arena_bytes, the DDR homes (peak DDR), in the BPU's layout: the
// quantized 1x4x8x8 input 8 x 32 x 4 = 1024 (<= 4 channels: W to 32), c1
// and c2 1x8x8x8 with 8 channel bytes padded to 16: 1024 each, the max pool
// 256, the global pool (and its reshape view) and the linear 64 each; the
// result is the caller's buffer, not a home. With reuse: q and c1, then c1
// and c2, are live together: 2048. End to end: 3 x 1024 + 256 + 64 + 64 =
// 3456. A streamed tensor (read only by the next layer) larger than the
// activation SRAM has no home: with activation-sram=100, q, c2 and the max
// pool (streamed, > 100 bytes) drop out, end to end 1024 + 64 + 64 = 1152;
// with 0 every streamed tensor does, leaving c1 (read twice by the fused
// conv): 1024.
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse --bpu-plan-arena | FileCheck %s
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse --bpu-plan-arena=reuse=false | FileCheck %s --check-prefix=NOREUSE
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse --bpu-plan-arena="reuse=false activation-sram=100" | FileCheck %s --check-prefix=SRAM100
// RUN: hat-opt %S/Inputs/residual.mlir --bpu-lower --bpu-fuse --bpu-plan-arena="reuse=false activation-sram=0" | FileCheck %s --check-prefix=SRAM0

// CHECK: module attributes {bpu.arena_bytes = 1024 : i64, bpu.ddr_arena_bytes = 2048 : i64
// CHECK: bpu.quantize {{.*}}arena_offset = 512 : i64{{.*}}on_chip = true
// CHECK: bpu.conv {{.*}}arena_offset = 0 : i64{{.*}}name = "c1"{{.*}}on_chip = true
// CHECK: bpu.conv {{.*}}arena_offset = 512 : i64{{.*}}name = "c2+add"
// CHECK: bpu.pool {{.*}}arena_offset = 0 : i64{{.*}}kind = "max"
// CHECK: bpu.pool {{.*}}arena_offset = [[G:[0-9]+]] : i64{{.*}}kind = "global_avg"
// CHECK: bpu.reshape {{.*}}arena_offset = [[G]] : i64

// CHECK: bpu.dequantize {{.*}}on_chip = false

// NOREUSE: module attributes {bpu.arena_bytes = 1600 : i64, bpu.ddr_arena_bytes = 3456 : i64
// SRAM100: bpu.ddr_arena_bytes = 1152 : i64
// SRAM0: bpu.ddr_arena_bytes = 1024 : i64
