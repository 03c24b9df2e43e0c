#!/usr/bin/env python3
"""Writes examples/tiny_cnn.mlir: a small residual CNN for 1x28x28 inputs
with random (seeded) weights and BN statistics. The file is committed; this
script documents how it was made. Standard library only."""
import math
import random

rng = random.Random(2026)


def fmt(values):
    return "[" + ", ".join("%.6g" % v for v in values) + "]"


def nested(values, shape):
    if len(shape) == 1:
        return fmt(values)
    step = len(values) // shape[0]
    return "[" + ", ".join(nested(values[i * step:(i + 1) * step], shape[1:])
                           for i in range(shape[0])) + "]"


def ttype(shape):
    return "tensor<" + "x".join(str(d) for d in shape) + "xf32>"


lines = []
counter = [0]


def param(name, shape, values):
    counter[0] += 1
    v = "%p" + str(counter[0])
    lines.append('    %s = hat.param "%s" dense<%s> : %s' %
                 (v, name, nested(values, shape), ttype(shape)))
    return v


def kaiming(shape):
    fan_in = 1
    for d in shape[1:]:
        fan_in *= d
    bound = math.sqrt(6.0 / fan_in)
    n = 1
    for d in shape:
        n *= d
    return [rng.uniform(-bound, bound) for _ in range(n)]


def conv_bn(name, x, xshape, cout, k=3, pad=1):
    cin = xshape[1]
    w = param(name + ".conv.weight", [cout, cin, k, k], kaiming([cout, cin, k, k]))
    g = param(name + ".bn.weight", [cout], [rng.uniform(0.5, 1.5) for _ in range(cout)])
    b = param(name + ".bn.bias", [cout], [rng.uniform(-0.2, 0.2) for _ in range(cout)])
    m = param(name + ".bn.running_mean", [cout], [rng.uniform(-0.2, 0.2) for _ in range(cout)])
    s = param(name + ".bn.running_var", [cout], [rng.uniform(0.5, 1.5) for _ in range(cout)])
    oshape = [xshape[0], cout, xshape[2], xshape[3]]
    c = "%" + name + "_conv"
    lines.append("    %s = hat.conv2d %s, %s {dilation = array<i64: 1, 1>, groups = 1 : i64, "
                 "padding = array<i64: %d, %d, %d, %d>, stride = array<i64: 1, 1>} : (%s, %s) -> %s"
                 % (c, x, w, pad, pad, pad, pad, ttype(xshape), ttype([cout, cin, k, k]), ttype(oshape)))
    o = "%" + name + "_bn"
    lines.append("    %s = hat.batch_norm %s, %s, %s, %s, %s {eps = 1.0e-05 : f32, momentum = 1.0e-01 : f32} "
                 ": (%s, %s, %s, %s, %s) -> %s" % (o, c, g, b, m, s, ttype(oshape), *([ttype([cout])] * 4), ttype(oshape)))
    return o, oshape


x = "%arg0"
shape = [1, 1, 28, 28]
h, shape = conv_bn("stem", x, shape, 8)
lines.append("    %%stem_relu = hat.relu %s : %s" % (h, ttype(shape)))
pshape = [1, 8, 14, 14]
lines.append("    %%pool = hat.max_pool2d %%stem_relu {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, "
             "stride = array<i64: 2, 2>} : (%s) -> %s" % (ttype(shape), ttype(pshape)))
h, shape = conv_bn("block1", "%pool", pshape, 16)
lines.append("    %%block1_relu = hat.relu %s : %s" % (h, ttype(shape)))
h2, shape = conv_bn("block2", "%block1_relu", shape, 16)
lines.append("    %%res = hat.add %s, %%block1_relu : (%s, %s) -> %s" % (h2, ttype(shape), ttype(shape), ttype(shape)))
lines.append("    %%res_relu = hat.relu %%res : %s" % ttype(shape))
lines.append("    %%gap = hat.global_avg_pool %%res_relu : (%s) -> %s" % (ttype(shape), ttype([1, 16, 1, 1])))
lines.append("    %%flat = hat.flatten %%gap {start_dim = 1 : i64} : (%s) -> %s" % (ttype([1, 16, 1, 1]), ttype([1, 16])))
fw = param("head.weight", [10, 16], kaiming([10, 16]))
fb = param("head.bias", [10], [rng.uniform(-0.1, 0.1) for _ in range(10)])
lines.append("    %%logits = hat.linear %%flat, %s, %s : (%s, %s, %s) -> %s"
             % (fw, fb, ttype([1, 16]), ttype([10, 16]), ttype([10]), ttype([1, 10])))
lines.append("    return %logits : " + ttype([1, 10]))

with open("examples/tiny_cnn.mlir", "w") as f:
    f.write("// A small residual CNN for 1x28x28 images (Fashion-MNIST sized), made by\n"
            "// examples/gen_tiny_cnn.py. Run the quantization pipeline with\n"
            "// scripts/demo.sh or see docs/architecture.md.\n")
    f.write("module {\n  func.func @forward(%arg0: " + ttype([1, 1, 28, 28]) + ") -> " + ttype([1, 10]) + " {\n")
    f.write("\n".join(lines) + "\n  }\n}\n")
