#!/usr/bin/python3
"""PyTorch's side of bench/workers.js: the same two preprocessing workloads
through torch.utils.data.DataLoader with num_workers 0, 1, 2 and 2 persistent,
as examples/sec of the loader alone (the loop only drops each batch).

- crop96: 4096 random uint8 images 3x96x96, torchvision's
  Compose([RandomCrop(96, padding=8), RandomHorizontalFlip(), GaussianBlur(5, sigma=1),
  ConvertImageDtype(float32), Normalize(mean, std)]), batch 64;
- elastic28: 16384 random uint8 images 1x28x28, ElasticTransform(alpha=34, sigma=4) on floats,
  then Normalize, batch 128.

The main process runs with --threads intra-op threads (torch's workers use 1 each, as
torch sets them); run it with 1 and 2 and compare d2l-ts with the faster, per setting.
Run on an idle machine (Debian's python3-torch, python3-torchvision):

    /usr/bin/python3 bench/workers_torch.py [--threads 1] [--epochs 3] [--warmup 1] [--examples N] [--batch N] [--json]

bench/workers.js runs it (with --json: one JSON line after the table) on 1 and 2 threads beside d2l-ts.
"""
import argparse
import json
import os
import resource
import time

import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader, Dataset


class RandomImages(Dataset):
    def __init__(self, n, size, channels, transform):
        g = torch.Generator().manual_seed(12345)
        self.images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
        self.labels = torch.arange(n) % 10
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


WORKLOADS = {
    "crop96": dict(size=96, channels=3, examples=4096, batch=64, transform=T.Compose([
        T.RandomCrop(96, padding=8), T.RandomHorizontalFlip(), T.GaussianBlur(5, sigma=1.0),
        T.ConvertImageDtype(torch.float32), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])),
    "elastic28": dict(size=28, channels=1, examples=16384, batch=128, transform=T.Compose([
        T.ConvertImageDtype(torch.float32), T.ElasticTransform(alpha=34.0, sigma=4.0), T.Normalize([0.286], [0.353])])),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--workloads", default="crop96,elastic28")
    ap.add_argument("--examples", type=int, default=0, help="examples per epoch (0: the workload's)")
    ap.add_argument("--batch", type=int, default=0, help="batch size (0: the workload's)")
    ap.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load = lambda: ", ".join(f"{v:.2f}" for v in os.getloadavg())
    before = load()
    rows = []
    for name in a.workloads.split(","):
        wl = WORKLOADS[name]
        ds = RandomImages(a.examples or wl["examples"], wl["size"], wl["channels"], wl["transform"])
        reference = None
        for label, workers, persistent in [("0", 0, False), ("1", 1, False), ("2", 2, False), ("2 (persistent)", 2, True)]:
            loader = DataLoader(ds, batch_size=a.batch or wl["batch"], shuffle=True, num_workers=workers, persistent_workers=persistent)
            rates = []
            for e in range(a.warmup + a.epochs):
                t0 = time.perf_counter()
                n = 0
                for X, y in loader:
                    n += X.shape[0]
                if e >= a.warmup:
                    rates.append(n / (time.perf_counter() - t0))
            del loader
            rates.sort()
            median = rates[len(rates) // 2]
            reference = reference or median
            rows.append((name, label, median, rates[-1], median / reference))
    print(f"PyTorch {torch.__version__}, torchvision DataLoader, main process {a.threads} thread(s); "
          f"{a.epochs} timed epochs after {a.warmup} warm-up; load average before {before}, after {load()}")
    print()
    print("| workload | num_workers | examples/sec (median) | best | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name, label, median, best, speedup in rows:
        print(f"| {name} | {label} | {median:.0f} | {best:.0f} | {speedup:.2f}x |")
    if a.json:
        print(json.dumps({"threads": torch.get_num_threads(), "torchVersion": torch.__version__, "load": [before, load()],
                          "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "rows": [{"workload": n, "numWorkers": l, "median": m, "best": b} for n, l, m, b, _ in rows]}))


if __name__ == "__main__":
    main()
