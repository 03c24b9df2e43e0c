#!/usr/bin/env python3
"""The int8 peer of bench/int8-model-bench.sh: MobileNetV2 and
EfficientNet-B0 (ReLU, no SE) written as HAT's builders build them
(lib/Models/MobileNetV2.cpp, lib/Models/EfficientNet.cpp), quantized with
PyTorch's FX graph mode (static int8, per-channel weights) for the oneDNN
engine, timed at batch 1 and 8 with 1 and 2 threads.

    /usr/bin/python3 bench/pytorch_int8_models.py --model mobilenetv2 \
        [--size 224] [--iters N]

Weights and calibration inputs are random (speed does not depend on
values). Prints one line per (threads, batch):
`pytorch-int8-onednn THREADS BATCH IMAGES_PER_S` and the fp32 eager line
`pytorch-fp32-eager THREADS BATCH IMAGES_PER_S`.
"""
import argparse

import torch
from torch import nn

from int8_peer import run_peer

# (expand ratio, kernel, first stride, output channels, repeats), as the
# builders' tables.
MOBILENETV2 = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 3, 2, 32, 3),
               (6, 3, 2, 64, 4), (6, 3, 1, 96, 3), (6, 3, 2, 160, 3),
               (6, 3, 1, 320, 1)]
EFFICIENTNET_B0 = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2),
                   (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                   (6, 3, 1, 320, 1)]


def conv_bn(cin, cout, k, stride, groups, act):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups,
                        bias=False),
              nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, expand, k, stride, act):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers.append(conv_bn(cin, hidden, 1, 1, 1, act))
        layers.append(conv_bn(hidden, hidden, k, stride, hidden, act))
        layers.append(conv_bn(hidden, cout, 1, 1, 1, None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        # FX quantizes operator.add into a quantized add.
        return x + y if self.residual else y


class Net(nn.Module):
    def __init__(self, stages, act, classes=1000):
        super().__init__()
        layers = [conv_bn(3, 32, 3, 2, 1, act)]
        c = 32
        for expand, k, stride, out, repeats in stages:
            for i in range(repeats):
                layers.append(InvertedResidual(c, out, expand, k,
                                               stride if i == 0 else 1, act))
                c = out
        layers.append(conv_bn(c, 1280, 1, 1, 1, act))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def build(name):
    if name == "mobilenetv2":
        return Net(MOBILENETV2, nn.ReLU6)
    if name == "efficientnetb0":
        return Net(EFFICIENTNET_B0, nn.ReLU)
    raise SystemExit(f"unknown --model {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True,
                        choices=["mobilenetv2", "efficientnetb0"])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args()
    if args.size < 32 or args.iters < 1:
        parser.error("--size must be >= 32 and --iters >= 1")

    torch.manual_seed(0)
    run_peer(build(args.model).eval(), args.size, args.iters)


if __name__ == "__main__":
    main()
