"""Per-op overhead: a chain of small elementwise ops and a small MLP training
step, forward + backward, against PyTorch in the same process when installed.

    python benchmarks/bench_overhead.py [--repeats 30]

Prints medians and ratios (ours / PyTorch; below 1 means faster).
"""
import argparse

import numpy as np

import tinygrad_cnn as tc
from _common import interleaved, report, try_torch

CHAIN_OPS = 100


def chain_ours(x_np):
    def run():
        x = tc.Tensor(x_np, requires_grad=True)
        y = x
        for i in range(CHAIN_OPS // 4):
            y = (y * 1.01 + 0.1).tanh() - y * 0.5
        y.sum().backward()
    return run


def chain_torch(torch, x_np):
    def run():
        x = torch.tensor(x_np, requires_grad=True)
        y = x
        for i in range(CHAIN_OPS // 4):
            y = (y * 1.01 + 0.1).tanh() - y * 0.5
        y.sum().backward()
    return run


def mlp_ours(data, params):
    x, target = tc.Tensor(data[0]), tc.Tensor(data[1])
    weights = [tc.Tensor(p, requires_grad=True) for p in params]

    def run():
        w1, b1, w2, b2, w3, b3 = weights
        h = (x @ w1.T + b1).relu()
        h = (h @ w2.T + b2).relu()
        out = h @ w3.T + b3
        loss = ((out - target) ** 2).mean()
        for w in weights:
            w.grad = None
        loss.backward()
        with tc.no_grad():
            for w in weights:
                w.data -= 0.01 * w.grad.data
    return run


def mlp_torch(torch, data, params):
    x, target = torch.tensor(data[0]), torch.tensor(data[1])
    weights = [torch.tensor(p, requires_grad=True) for p in params]

    def run():
        w1, b1, w2, b2, w3, b3 = weights
        h = (x @ w1.T + b1).relu()
        h = (h @ w2.T + b2).relu()
        out = h @ w3.T + b3
        loss = ((out - target) ** 2).mean()
        for w in weights:
            w.grad = None
        loss.backward()
        with torch.no_grad():
            for w in weights:
                w -= 0.01 * w.grad
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch = try_torch(threads=2)
    rng = np.random.default_rng(0)

    x_np = rng.standard_normal(16).astype(np.float32)
    fns = {"tinygrad_cnn": chain_ours(x_np)}
    if torch is not None:
        fns["torch"] = chain_torch(torch, x_np)
    times = interleaved(fns, args.repeats, inner=20)
    report(f"chain of {CHAIN_OPS} elementwise ops on 16 floats + sum, forward+backward, per op",
           times, unit=1e6, unit_name="us", per=CHAIN_OPS + 1)

    sizes = [(64, 32), (32, 64), (10, 32)]    # (out, in): 32 -> 64 -> 32 -> 10
    params = []
    for out_f, in_f in sizes:
        params += [(rng.standard_normal((out_f, in_f)) * 0.1).astype(np.float32),
                   np.zeros(out_f, dtype=np.float32)]
    data = (rng.standard_normal((16, 32)).astype(np.float32), rng.standard_normal((16, 10)).astype(np.float32))
    fns = {"tinygrad_cnn": mlp_ours(data, params)}
    if torch is not None:
        fns["torch"] = mlp_torch(torch, data, params)
    times = interleaved(fns, args.repeats, inner=50)
    report("small MLP step (32-64-32-10, batch 16): forward + backward + SGD update",
           times, unit=1e6, unit_name="us")
    if torch is None:
        print("\n(torch not installed: pip install torch==2.13.0 to compare)")


if __name__ == "__main__":
    main()
