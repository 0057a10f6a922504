"""PyTorch's side of bench/overhead.js: what one op with (almost) no work
costs, in microseconds per op, printed as one JSON line ({"us": {case: us}}).

add: torch.add of two [1] tensors; matmul: torch.matmul of two [1, 1]
tensors; tidy: the add under torch.no_grad() entered each time (tfjs' tidy
has no twin; this is the nearest per-call context); chain: --chain adds
y = y + b without autograd, per add; taped: the same chain from a leaf with
requires_grad (recorded for autograd), forward only; grad: forward +
backward() of its sum; minimize: zero_grad, forward, backward, SGD step.
By hand:

    /usr/bin/python3 bench/overhead_torch.py --threads 1 --ops 20000 --chain 200
"""
import argparse
import json
import resource
import time

import torch


def per_op(fn, n):
    """Microseconds per op of fn(n) running n ops; best of two tries after a warm-up of the same size."""
    fn(n)
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        fn(n)
        best = min(best, (time.perf_counter() - t0) * 1e6 / n)
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ops", type=int, default=20000)
    p.add_argument("--chain", type=int, default=200)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, b, m = torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([[1.0]])
    leaf = torch.tensor([1.0], requires_grad=True)
    w = torch.nn.Parameter(torch.tensor([0.0]))
    opt = torch.optim.SGD([w], lr=0.001)
    chains = lambda n: max(1, round(n / a.chain))

    def chain(y):
        for _ in range(a.chain):
            y = y + b
        return y

    def add(n):
        for _ in range(n):
            torch.add(x, b)

    def matmul(n):
        for _ in range(n):
            torch.matmul(m, m)

    def tidy(n):
        for _ in range(n):
            with torch.no_grad():
                torch.add(x, b)

    def untaped(n):
        with torch.no_grad():
            for _ in range(chains(n)):
                chain(leaf)

    def taped(n):
        for _ in range(chains(n)):
            chain(leaf)

    def grad(n):
        for _ in range(chains(n)):
            leaf.grad = None
            chain(leaf).sum().backward()

    def minimize(n):
        for _ in range(chains(n)):
            opt.zero_grad()
            chain(w).sum().backward()
            opt.step()

    us = {"add": per_op(add, a.ops), "matmul": per_op(matmul, a.ops), "tidy": per_op(tidy, a.ops)}
    scale = a.ops / (chains(a.ops) * a.chain)  # the chains ran chains(n) * chain adds where n was asked
    for name, fn in [("chain", untaped), ("taped", taped), ("grad", grad), ("minimize", minimize)]:
        us[name] = per_op(fn, a.ops) * scale
    print(json.dumps({"framework": "pytorch", "threads": torch.get_num_threads(), "torchVersion": torch.__version__, "us": us,
                      "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
