"""One benchmark run in PyTorch: one workload, printed as one JSON line.

The same seven models as bench/tfjs_workloads.js (NCHW instead of channels-last),
trained with SGD lr 0.1 on one random batch. Run by bench/run.js; by hand:

    /usr/bin/python3 bench/torch_workloads.py --workload lenet --steps 30 --warmup 5 --max-seconds 20
"""
import argparse
import json
import resource
import time

import torch
from torch import nn


def softmax():
    return nn.Sequential(nn.Linear(784, 10)), 256, torch.randn(256, 784), torch.randint(0, 10, (256,))


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), 256, torch.randn(256, 784), torch.randint(0, 10, (256,))


def lenet():
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))
    return net, 256, torch.randn(256, 1, 28, 28), torch.randint(0, 10, (256,))


class Residual(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


def resnet():
    net = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        Residual(64), Residual(64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    return net, 32, torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))


class GruLM(nn.Module):
    """The language model of gru and lstm: one-hot 28 -> cell(256) -> Linear 28 at every step."""

    def __init__(self, vocab=28, hidden=256, cell=nn.GRU):
        super().__init__()
        self.rnn = cell(vocab, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(y).reshape(-1, self.out.out_features)


def gru(cell=nn.GRU):
    x = nn.functional.one_hot(torch.randint(0, 28, (32, 35)), 28).float()
    return GruLM(cell=cell), 32, x, torch.randint(0, 28, (32 * 35,))


def lstm():
    return gru(nn.LSTM)


class EncoderBlockHead(nn.Module):
    """One encoder block of the book's Transformer (its own PyTorch code, the fixture
    bench/transformer_torch.py trains), then nn.Linear(32, 10) at every step."""

    def __init__(self):
        super().__init__()
        from transformer_torch import book_classes
        self.block = book_classes()["EncoderBlock"](32, 32, 32, 32, [32], 32, 64, 4, 0.1)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        return self.out(self.block(x, None)).reshape(-1, 10)


def transformer():
    return EncoderBlockHead(), 64, torch.randn(64, 10, 32), torch.randint(0, 10, (64 * 10,))


WORKLOADS = {"softmax": softmax, "mlp": mlp, "lenet": lenet, "resnet": resnet, "gru": gru, "lstm": lstm, "transformer": transformer}


def timed(step, steps, warmup, max_seconds, min_seconds=0.0):
    """`warmup` calls of step(), more while less than min_seconds / 2 has passed, stopped once
    max_seconds / 2 is spent; then `steps` timed calls, more while less than min_seconds has passed,
    stopped once max_seconds is spent; each phase at least one. step() returns the loss and the clock
    stops after the last loss is read. Returns (warm-up steps, timed steps, seconds, last loss).
    bench/common.js's trainSteps is the same loop for tfjs; bench/vision_torch.py times its workloads
    with it too."""
    t0 = time.perf_counter()
    warm = 0
    while warm < warmup or (warmup > 0 and time.perf_counter() - t0 < min_seconds / 2):
        step()
        warm += 1
        if time.perf_counter() - t0 > max_seconds / 2:
            break
    t0 = time.perf_counter()
    done = 0
    loss = None
    while done < steps or time.perf_counter() - t0 < min_seconds:
        loss = step()
        done += 1
        if time.perf_counter() - t0 > max_seconds:
            break
    value = loss.item()
    return warm, done, time.perf_counter() - t0, value


def train_steps(net, x, y, lr, steps, warmup, max_seconds, min_seconds=0.0):
    """Train net on the one batch (x, y) with cross entropy and SGD(lr), timed by `timed`.
    Returns (warm-up steps, timed steps, seconds, last loss). bench/cnn_torch.py times its models
    with it too."""
    net.train()
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=lr)

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return timed(step, steps, warmup, max_seconds, min_seconds)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", default="softmax", choices=sorted(WORKLOADS))
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--max-seconds", type=float, default=20)
    p.add_argument("--min-seconds", type=float, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net, batch, x, y = WORKLOADS[a.workload]()
    warm, done, seconds, value = train_steps(net, x, y, 0.1, a.steps, a.warmup, a.max_seconds, a.min_seconds)
    print(json.dumps({
        "framework": "pytorch", "backend": "pytorch", "threads": torch.get_num_threads(),
        "workload": a.workload, "batch": batch, "warmup": warm, "steps": done, "seconds": seconds,
        "examplesPerSec": done * batch / seconds, "loss": value,
        "torchVersion": torch.__version__,
        # the process's peak resident memory (ru_maxrss is in KiB on Linux)
        "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
