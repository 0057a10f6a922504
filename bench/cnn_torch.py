"""The PyTorch twin of bench/cnn.js: one run, printed as one JSON line.

Two kinds of run, each in its own process (bench/cnn.js starts them):

  full:        the book's LeNet training (d2l.ai 6.6): Xavier-uniform init, SGD lr 0.9, batch 256,
               10 epochs on Fashion-MNIST read from $D2L_DATA_DIR/fashion-mnist (the same IDX files
               d2l-ts reads), cross entropy; reports loss, train acc, test acc, time, examples/sec.
  throughput:  training steps per second of LeNet at 28 px or ResNet-18 (d2l.ai 7.6) at 96 px on one
               random batch: warm-up steps, then a fixed number of timed steps.

By hand:

    /usr/bin/python3 bench/cnn_torch.py --mode full --epochs 10
    /usr/bin/python3 bench/cnn_torch.py --mode throughput --model resnet18 --batch 32 --steps 20 --warmup 3
"""
import argparse
import gzip
import json
import os
import pathlib
import resource
import struct
import time

import torch
from torch import nn
from torch.nn import functional as F

from torch_workloads import train_steps  # the timed training loop run.js's twin uses


def lenet():
    """d2l.ai 6.6, as d2l.lenet() in d2l-ts (there channels-last)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


class Residual(nn.Module):
    """d2l.ai 7.6's residual block: two 3x3 convolutions with batch norm, an optional 1x1 shortcut."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18(num_classes=10, in_channels=1):
    """d2l.ai 7.6's ResNet-18: 7x7/2 conv 64 + BN + ReLU + 3x3/2 max pool, four stages of two
    residual blocks (64, 128, 256, 512 channels), global average pooling, a dense output."""
    b1 = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes))


MODELS = {"lenet": (lenet, 28), "resnet18": (resnet18, 96)}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">i", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "i" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def fashion_mnist(limit_train=None, limit_test=None):
    """(X, y) for train and test: X float [n, 1, 28, 28] in 0..1 (the book's ToTensor), y int64."""
    root = pathlib.Path(os.environ.get("D2L_DATA_DIR", ""))
    folder = root / "fashion-mnist" if (root / "fashion-mnist").is_dir() else root
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"cnn_torch.py: no Fashion-MNIST in {folder}; set D2L_DATA_DIR to the folder holding fashion-mnist/*.gz")

    def split(images, labels, limit):
        X = read_idx(folder / images).float().div_(255).unsqueeze(1)
        y = read_idx(folder / labels).long()
        return (X[:limit], y[:limit]) if limit else (X, y)

    return (split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", limit_train),
            split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", limit_test))


def batches(X, y, batch, shuffle, gen):
    idx = torch.randperm(len(y), generator=gen) if shuffle else torch.arange(len(y))
    for i in range(0, len(y), batch):
        j = idx[i:i + batch]
        yield X[j], y[j]


def full(a):
    """The book's train_ch6 on LeNet, without the Animator."""
    (Xtr, ytr), (Xte, yte) = fashion_mnist(a.limit_train, a.limit_test)
    net = lenet()

    def init_weights(m):
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)
    train_seconds = 0.0
    examples = 0
    started = time.perf_counter()
    epochs = []
    for epoch in range(a.epochs):
        net.train()
        loss_sum, correct, n = 0.0, 0, 0
        for X, y in batches(Xtr, ytr, a.batch, True, gen):
            t0 = time.perf_counter()
            opt.zero_grad()
            y_hat = net(X)
            l = loss_fn(y_hat, y)
            l.backward()
            opt.step()
            train_seconds += time.perf_counter() - t0
            with torch.no_grad():
                loss_sum += float(l) * len(y)
                correct += int((y_hat.argmax(1) == y).sum())
                n += len(y)
        examples += n
        net.eval()
        with torch.no_grad():
            test_correct = sum(int((net(X).argmax(1) == y).sum()) for X, y in batches(Xte, yte, a.batch, False, gen))
        epochs.append({"epoch": epoch + 1, "loss": loss_sum / n, "trainAcc": correct / n, "testAcc": test_correct / len(yte)})
    return {
        "framework": "pytorch", "backend": "pytorch", "threads": torch.get_num_threads(), "mode": "full",
        "epochs": a.epochs, "lr": a.lr, "batch": a.batch, "trainExamples": len(ytr), "testExamples": len(yte),
        "loss": epochs[-1]["loss"], "trainAcc": epochs[-1]["trainAcc"], "testAcc": epochs[-1]["testAcc"],
        "seconds": time.perf_counter() - started, "examplesPerSec": examples / train_seconds, "history": epochs,
        "torchVersion": torch.__version__,
    }


def throughput(a):
    make, size = MODELS[a.model]
    torch.manual_seed(0)
    net = make()
    x = torch.randn(a.batch, 1, size, size)
    y = torch.randint(0, 10, (a.batch,))
    warm, done, seconds, value = train_steps(net, x, y, a.lr, a.steps, a.warmup, a.max_seconds)
    return {
        "framework": "pytorch", "backend": "pytorch", "threads": torch.get_num_threads(), "mode": "throughput",
        "model": a.model, "size": size, "batch": a.batch, "params": sum(p.numel() for p in net.parameters()), "warmup": warm, "steps": done, "seconds": seconds,
        "examplesPerSec": done * a.batch / seconds, "loss": value, "torchVersion": torch.__version__,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="throughput", choices=["full", "throughput"])
    p.add_argument("--model", default="lenet", choices=sorted(MODELS))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=None, help="default: 0.9 (full), 0.05 (throughput)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--limit-test", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=60)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.lr is None:
        a.lr = 0.9 if a.mode == "full" else 0.05
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    out = full(a) if a.mode == "full" else throughput(a)
    out["maxRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak resident memory (KiB on Linux)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
