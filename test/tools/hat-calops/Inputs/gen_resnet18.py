#!/usr/bin/env python3
"""Prints torchvision's ResNet18 (1000 classes) as a float hat module.

Every parameter is a splat (dense<0.01>, variances dense<1.0>) so the file
stays small; hat-calops only needs the shapes. Usage:
    gen_resnet18.py [H W] > resnet18.mlir      (default 224 224)
"""
import sys

H, W = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) == 3 else (224, 224)
lines = []
n = [0]


def t(shape):
    return "tensor<" + "x".join(str(d) for d in shape) + "xf32>"


def val():
    n[0] += 1
    return "%v" + str(n[0])


def param(name, shape, value="0.01"):
    v = val()
    lines.append(f'    {v} = hat.param "{name}" dense<{value}> : {t(shape)}')
    return v


def conv(x, shape, name, cout, k, stride, pad):
    cin, h, w = shape[1], shape[2], shape[3]
    wv = param(name + ".weight", [cout, cin, k, k])
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    out = [1, cout, oh, ow]
    v = val()
    lines.append(
        f"    {v} = hat.conv2d {x}, {wv} {{dilation = array<i64: 1, 1>, groups = 1 : i64, "
        f"padding = array<i64: {pad}, {pad}, {pad}, {pad}>, stride = array<i64: {stride}, {stride}>}}"
        f" : ({t(shape)}, {t([cout, cin, k, k])}) -> {t(out)}")
    return v, out


def bn(x, shape, name):
    c = shape[1]
    g = param(name + ".weight", [c], "1.0")
    b = param(name + ".bias", [c])
    m = param(name + ".running_mean", [c])
    s = param(name + ".running_var", [c], "1.0")
    v = val()
    cs = t([c])
    lines.append(
        f"    {v} = hat.batch_norm {x}, {g}, {b}, {m}, {s} {{eps = 1.0e-05 : f32, momentum = 1.0e-01 : f32}}"
        f" : ({t(shape)}, {cs}, {cs}, {cs}, {cs}) -> {t(shape)}")
    return v


def relu(x, shape):
    v = val()
    lines.append(f"    {v} = hat.relu {x} : {t(shape)}")
    return v


def block(x, shape, name, cout, stride):
    y, s1 = conv(x, shape, name + ".conv1", cout, 3, stride, 1)
    y = relu(bn(y, s1, name + ".bn1"), s1)
    y, s2 = conv(y, s1, name + ".conv2", cout, 3, 1, 1)
    y = bn(y, s2, name + ".bn2")
    if stride != 1 or shape[1] != cout:
        x, sd = conv(x, shape, name + ".downsample.0", cout, 1, stride, 0)
        x = bn(x, sd, name + ".downsample.1")
    v = val()
    lines.append(f"    {v} = hat.add {y}, {x} : ({t(s2)}, {t(s2)}) -> {t(s2)}")
    return relu(v, s2), s2


x, s = conv("%arg0", [1, 3, H, W], "conv1", 64, 7, 2, 3)
x = relu(bn(x, s, "bn1"), s)
ps = [1, 64, (s[2] + 2 - 3) // 2 + 1, (s[3] + 2 - 3) // 2 + 1]
v = val()
lines.append(
    f"    {v} = hat.max_pool2d {x} {{kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, "
    f"stride = array<i64: 2, 2>}} : ({t(s)}) -> {t(ps)}")
x, s = v, ps
for stage, cout in enumerate([64, 128, 256, 512], start=1):
    for b in range(2):
        stride = 2 if stage > 1 and b == 0 else 1
        x, s = block(x, s, f"layer{stage}.{b}", cout, stride)
g = val()
lines.append(f"    {g} = hat.global_avg_pool {x} : ({t(s)}) -> {t([1, 512, 1, 1])}")
f = val()
lines.append(f"    {f} = hat.flatten {g} {{start_dim = 1 : i64}} : ({t([1, 512, 1, 1])}) -> {t([1, 512])}")
w = param("fc.weight", [1000, 512])
b = param("fc.bias", [1000])
o = val()
lines.append(f"    {o} = hat.linear {f}, {w}, {b} : ({t([1, 512])}, {t([1000, 512])}, {t([1000])}) -> {t([1, 1000])}")
print("// torchvision ResNet18 with splat weights (test/tools/hat-calops/Inputs/gen_resnet18.py)")
print("module {")
print(f"  func.func @resnet18(%arg0: {t([1, 3, H, W])}) -> {t([1, 1000])} {{")
print("\n".join(lines))
print(f"    return {o} : {t([1, 1000])}")
print("  }")
print("}")
