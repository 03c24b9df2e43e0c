#!/usr/bin/python3
"""TinyResNet (lib/Models/TinyResNet.cpp) in PyTorch eager, trained on random
28x28 batches exactly as bench/TrainBench.cpp trains it through HAT's
executor: forward, cross entropy, backward, SGD step; with --model resnet18,
ResNet18 (the torchvision layout: 7x7 stem, max pool, 2 basic blocks per
stage of 64..512 channels, 1000 classes) on random 224x224 RGB batches, as
hat-train-bench --model resnet18 trains HAT's ResNet18. Prints images/s."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, planes, 1, stride, 0, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(y + identity)


class TinyResNet(nn.Module):
    def __init__(self, channels, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels[0])
        layers, cin = [], channels[0]
        for i, c in enumerate(channels):
            layers.append(Block(cin, c, 1 if i == 0 else 2))
            cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for i, c in enumerate([64, 128, 256, 512]):
            layers += [Block(cin, c, 1 if i == 0 else 2), Block(c, c, 1)]
            cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--channels", default="16,32,64")
    p.add_argument("--model", choices=["tinyresnet", "resnet18"], default="tinyresnet")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    channels = [int(c) for c in a.channels.split(",")]
    if a.model == "resnet18":
        model = ResNet18().train()
        images = torch.randn(a.batch, 3, 224, 224)
        labels = torch.randint(0, 1000, (a.batch,))
        name = "ResNet18 224x224"
    else:
        model = TinyResNet(channels).train()
        images = torch.randn(a.batch, 1, 28, 28)
        labels = torch.randint(0, 10, (a.batch,))
        name = "TinyResNet[%s]" % ", ".join(map(str, channels))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    s = time.perf_counter() - t0
    print("pytorch eager %s batch %d threads %d: %.1f images/s (%.1f ms/step)"
          % (name, a.batch, a.threads, a.steps * a.batch / s, 1000 * s / a.steps))


if __name__ == "__main__":
    main()
