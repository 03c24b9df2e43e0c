#!/usr/bin/env python3
"""The int8 peer of hat-runtime-bench: the same residual CNN in PyTorch,
quantized with FX graph mode (static int8, per-channel weights) for the
oneDNN engine, timed at batch 1 and 8 with 1 and 2 threads.

    /usr/bin/python3 bench/pytorch_int8_cnn.py [--size 96] [--iters N]

The network is bench/RuntimeBench.cpp's `network()`: a 3x3/2 stem to 32
channels, then per stage two 3x3 convs with the stage input added before
the second ReLU and a 3x3/2 conv to the next width (32 -> 64 -> 128), global
average pool, fc 10. Weights and calibration inputs are random (speed does
not depend on values). Prints one line per (threads, batch):
`pytorch-int8-onednn THREADS BATCH IMAGES_PER_S` (and fp32 eager lines),
which bench/int8-peer-bench.sh pairs with hat-runtime-bench's.
"""
import argparse

import torch
from torch import nn

from int8_peer import run_peer


def network():
    """(cin, cout, k, stride, relu, residual_from) as RuntimeBench.cpp."""
    layers = [(3, 32, 3, 2, True, -1)]
    c = 32
    for nxt in (64, 128, 0):
        first = len(layers)
        layers.append((c, c, 3, 1, True, -1))
        layers.append((c, c, 3, 1, True, first))
        if nxt:
            layers.append((c, nxt, 3, 2, True, -1))
            c = nxt
    return layers


class ResidualCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.spec = network()
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)
            for cin, cout, k, s, _, _ in self.spec
        )
        # FX quantization needs a module (or functional call) per add.
        self.adds = nn.ModuleList(
            torch.nn.quantized.FloatFunctional()
            for _ in self.spec
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.spec[-1][1], 10)

    def forward(self, x):
        inputs = []
        for i, (_, _, _, _, relu, res) in enumerate(self.spec):
            inputs.append(x)
            y = self.convs[i](x)
            if res >= 0:
                y = self.adds[i].add(y, inputs[res])
            x = torch.relu(y) if relu else y
        return self.fc(torch.flatten(self.pool(x), 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--iters", type=int, default=50)
    args = parser.parse_args()
    if args.size < 8 or args.iters < 1:
        parser.error("--size must be >= 8 and --iters >= 1")

    torch.manual_seed(0)
    run_peer(ResidualCnn().eval(), args.size, args.iters,
             calibration_batches=8, calibration_size=4)


if __name__ == "__main__":
    main()
