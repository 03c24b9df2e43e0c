#!/usr/bin/python3
"""One float training epoch of configs/classification/fashion_mnist_tinyresnet.py
written as a plain PyTorch script: the same Fashion-MNIST files, the same
transforms (random horizontal flip with p = 0.5, normalisation by 72.94 /
90.02), a torch DataLoader with the config's batch size, shuffling and
workers, the same TinyResNet (bench/pytorch_tinyresnet.py), cross entropy
with label smoothing 0.05, SGD (lr 0.1, momentum 0.9, weight decay 5e-4 on
conv/linear weights), then one validation pass over the 10,000 test images
(batch 500) with top-1 accuracy, as hat-train's float stage does per epoch.
bench/epoch-vs-pytorch.sh runs it beside `hat-train --stage float`.

Prints the epoch's wall time (training + validation) and images/s.
Run with Debian's torch: /usr/bin/python3 bench/pytorch_fashion_epoch.py
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_tinyresnet import TinyResNet  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


class FashionMNIST(Dataset):
    def __init__(self, root, split, flip):
        prefix = "train" if split == "train" else "t10k"
        self.images = read_idx(os.path.join(root, prefix + "-images-idx3-ubyte.gz"))
        self.labels = read_idx(os.path.join(root, prefix + "-labels-idx1-ubyte.gz"))
        self.flip = flip

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = torch.from_numpy(self.images[i].astype(np.float32))
        if self.flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        image = (image - 72.94) / 90.02
        return image.unsqueeze(0), int(self.labels[i])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.environ.get(
        "HAT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    train = DataLoader(FashionMNIST(a.data, "train", True), batch_size=a.batch,
                       shuffle=True, num_workers=a.workers)
    val = DataLoader(FashionMNIST(a.data, "val", False), batch_size=500,
                     shuffle=False, num_workers=a.workers)
    model = TinyResNet([16, 32, 64])
    decay = [q for n, q in model.named_parameters() if n.endswith("weight") and q.dim() > 1]
    rest = [q for n, q in model.named_parameters() if not (n.endswith("weight") and q.dim() > 1)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                           {"params": rest, "weight_decay": 0.0}],
                          lr=0.1, momentum=0.9)
    start = time.perf_counter()
    model.train()
    seen = 0
    for images, labels in train:
        opt.zero_grad()
        loss = F.cross_entropy(model(images), labels, label_smoothing=0.05)
        loss.backward()
        opt.step()
        seen += len(labels)
    trained = time.perf_counter()
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in val:
            correct += int((model(images).argmax(1) == labels).sum())
            total += len(labels)
    end = time.perf_counter()
    print("pytorch eager fashion-mnist epoch threads %d: %.1f s (train %.1f s, "
          "%.0f images/s; validation %.1f s), val accuracy %.4f"
          % (a.threads, end - start, trained - start, seen / (trained - start),
             end - trained, correct / total))


if __name__ == "__main__":
    main()
