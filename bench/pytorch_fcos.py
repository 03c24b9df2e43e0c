"""FCOS-EfficientNetB0 (the fashion-det config's train model) in PyTorch eager.

The same network as HAT's lowering builds (docs/detection.md, "Model") and
bench/FcosTrainBench.cpp writes by hand in LibTorch: EfficientNet-B0 with
relu and no SE, features at strides 8/16/32; BiFPN with 3 stacks of 64
channels and fast normalised fusion; FCOSHead with 4 shared 3x3 convs per
tower, per-level BN and shared predictors. Times zero_grad + forward + sum
of the 15 outputs + backward + SGD (momentum 0.937, nesterov, weight decay
4e-5), on random images. Parameter names follow HAT's IR, so
--expect-params checks the element count against the executor's.

Run with Debian's torch: /usr/bin/python3 bench/pytorch_fcos.py --threads 1
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBn(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class MBConv(nn.Module):
    def __init__(self, cin, cout, expand, k, stride):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self.expand = ConvBn(cin, mid, 1)
        else:
            self.expand = None
        self.depthwise = ConvBn(mid, mid, k, stride, mid)
        self.project = ConvBn(mid, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu(self.depthwise(y)))
        return x + y if self.residual else y


# expand ratio, kernel, stride, output channels, repeats (B0)
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


class Fuse(nn.Module):
    """weighted_sum -> relu -> depthwise 3x3 -> pointwise 1x1 -> BN."""

    def __init__(self, n, c):
        super().__init__()
        self.fusion = nn.Module()
        self.fusion.weight = nn.Parameter(torch.ones(n))
        self.dw_conv = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
        self.pw_conv = nn.Conv2d(c, c, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, xs):
        w = F.relu(self.fusion.weight)
        w = w / (w.sum() + 1e-4)
        acc = xs[0] * w[0]
        for i in range(1, len(xs)):
            acc = acc + xs[i] * w[i]
        return self.bn(self.pw_conv(self.dw_conv(F.relu(acc))))


def pool(x):
    return F.max_pool2d(x, 3, 2, 1)


class Fcos(nn.Module):
    def __init__(self, classes=10, stack=3, stacked=4, c=64):
        super().__init__()
        self.stem = ConvBn(3, 32, 3, 2)
        blocks, cin, self.feature_after = [], 32, []
        for s, (e, k, stride, cout, n) in enumerate(STAGES):
            for i in range(n):
                blocks.append(MBConv(cin, cout, e, k, stride if i == 0 else 1))
                cin = cout
            if s + 1 == len(STAGES) or STAGES[s + 1][2] == 2:
                self.feature_after.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.neck = nn.Module()
        self.neck.resample = nn.ModuleDict(
            {f"s{s}": ConvBn(cin_, c, 1) for s, cin_ in [(8, 40), (16, 112), (32, 320), (64, 320)]})
        strides = [8, 16, 32, 64, 128]
        self.neck.stack = nn.ModuleList()
        for _ in range(stack):
            layer = nn.Module()
            layer.td = nn.ModuleDict({f"s{s}": Fuse(2, c) for s in strides[:4]})
            layer.out = nn.ModuleDict(
                {f"s{s}": Fuse(3 if i < 4 else 2, c) for i, s in enumerate(strides) if i > 0})
            self.neck.stack.append(layer)
        self.head = nn.Module()
        for tower in ("cls_convs", "reg_convs"):
            convs = nn.ModuleList()
            for _ in range(stacked):
                m = nn.Module()
                m.conv = nn.Conv2d(c, c, 3, 1, 1, bias=False)
                for s in strides:
                    setattr(m, f"bn_s{s}", nn.BatchNorm2d(c))
                convs.append(m)
            setattr(self.head, tower, convs)
        self.head.conv_cls = nn.Conv2d(c, classes, 3, 1, 1)
        self.head.conv_reg = nn.Conv2d(c, 4, 3, 1, 1)
        self.head.conv_centerness = nn.Conv2d(c, 1, 3, 1, 1)
        self.strides = strides

    def forward(self, x):
        x = F.relu(self.stem(x))
        feats = []
        for i, b in enumerate(self.blocks):
            x = b(x)
            if i in self.feature_after:
                feats.append(x)
        r = self.neck.resample
        p = [r["s8"](feats[2]), r["s16"](feats[3]), r["s32"](feats[4])]
        p.append(pool(r["s64"](feats[4])))
        p.append(pool(p[-1]))
        L = len(p)
        for layer in self.neck.stack:
            td = [None] * L
            td[L - 1] = p[L - 1]
            for i in range(L - 2, -1, -1):
                up = F.interpolate(td[i + 1], size=p[i].shape[2:], mode="nearest")
                td[i] = layer.td[f"s{self.strides[i]}"]([p[i], up])
            out = [td[0]]
            for i in range(1, L):
                ins = [p[i]] + ([td[i]] if i + 1 < L else []) + [pool(out[i - 1])]
                out.append(layer.out[f"s{self.strides[i]}"](ins))
            p = out
        h = self.head
        cls, bbox, ctr = [], [], []
        for level, s in enumerate(self.strides):
            c_, r_ = p[level], p[level]
            for k in range(len(h.cls_convs)):
                cm, rm = h.cls_convs[k], h.reg_convs[k]
                c_ = F.relu(getattr(cm, f"bn_s{s}")(cm.conv(c_)))
                r_ = F.relu(getattr(rm, f"bn_s{s}")(rm.conv(r_)))
            cls.append(h.conv_cls(c_))
            bbox.append(F.relu(h.conv_reg(r_)))
            ctr.append(h.conv_centerness(r_))
        return cls + bbox + ctr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--expect-params", type=int, default=0,
                    help="fail unless the parameter element count is this")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = Fcos().train()
    count = sum(p.numel() for p in net.parameters())
    print(f"PyTorch eager {torch.__version__}: {count} parameter elements")
    if a.expect_params and count != a.expect_params:
        sys.exit(f"pytorch_fcos.py: {count} parameter elements, the executor has {a.expect_params}")
    opt = torch.optim.SGD(net.parameters(), lr=0.14 * 16 / 96, momentum=0.937,
                          nesterov=True, weight_decay=4e-5)
    img = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1
    times, cpu = [], []
    for i in range(a.warmup + a.iters):
        c0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = sum(o.sum() for o in net(img))
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    best, med = min(times), statistics.median(times)
    print(f"{'PyTorch eager, sum of outputs':<36} {1e3 * best:8.0f} {1e3 * med:8.0f}"
          f" {1e3 * min(cpu):8.0f} {'':>8} {'':>8} {'':>8} {a.batch / best:8.2f}"
          f" {a.batch / med:8.2f}")


if __name__ == "__main__":
    main()
