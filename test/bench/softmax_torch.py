"""Reference for the softmax-regression benchmark: the book's concise softmax
regression in PyTorch (Debian's python3-torch), same data, same settings,
2 threads. Prints one JSON line: examples/sec of training and the metrics.

    /usr/bin/python3 test/bench/softmax_torch.py --data ../shared/data/fashion-mnist [--epochs 10]
"""
import argparse
import gzip
import json
import pathlib
import struct
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def loaders(root, batch_size):
    def load(prefix):
        x = read_idx(root / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
        y = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        return torch.utils.data.TensorDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y))
    train, test = load("train"), load("t10k")
    return (torch.utils.data.DataLoader(train, batch_size, shuffle=True),
            torch.utils.data.DataLoader(test, batch_size, shuffle=False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "fashion-mnist"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    train_iter, test_iter = loaders(pathlib.Path(a.data), a.batch_size)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    nn.init.normal_(net[1].weight, std=0.01)
    nn.init.zeros_(net[1].bias)
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=a.lr)
    seconds = 0.0
    examples = 0
    for _ in range(a.epochs):
        net.train()
        tot_loss = tot_correct = n = 0.0
        start = time.perf_counter()
        for X, y in train_iter:
            y_hat = net(X)
            l = loss(y_hat, y)
            trainer.zero_grad()
            l.mean().backward()
            trainer.step()
            tot_loss += float(l.sum())
            tot_correct += float((y_hat.argmax(1) == y).sum())
            n += y.numel()
        seconds += time.perf_counter() - start
        examples += int(n)
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for X, y in test_iter:
            correct += int((net(X).argmax(1) == y).sum())
            total += y.numel()
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}", "backend": f"cpu ({a.threads} threads)",
        "trainLoss": tot_loss / n, "trainAcc": tot_correct / n, "testAcc": correct / total,
        "examplesPerSec": examples / seconds, "epochs": a.epochs,
    }))


if __name__ == "__main__":
    main()
