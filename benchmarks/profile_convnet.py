"""Where one ConvNet training step spends its time, op by op.

    python benchmarks/profile_convnet.py [--steps 10]

Wraps every registered op's forward and VJP with a timer and runs the seed
ConvNet's forward + backward at batch 100 (no optimizer step), then prints
milliseconds per step for each. A VJP's time includes the ops it calls (for
conv2d: its two adjoints), so the rows overlap; the forward rows do not.
"""
import argparse
import collections
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from bench_convnet import batch, convnet_ours


def instrument(totals):
    def timed(fn, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[key] += time.perf_counter() - start
        return wrapper

    for name, op in tc.registered_ops().items():
        op.forward = timed(op.forward, f"{name} forward")
        if op.vjp_fn is not None:
            op.vjp_fn = timed(op.vjp_fn, f"{name} VJP (incl. ops it calls)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    tc.manual_seed(0)
    model = convnet_ours()
    images, labels = batch(100)
    x, y = tc.Tensor(images), tc.Tensor(labels)

    def step():
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()

    totals = collections.defaultdict(float)
    instrument(totals)
    for _ in range(2):
        step()
    totals.clear()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    elapsed = (time.perf_counter() - start) / args.steps
    print(f"forward + backward, batch 100: {elapsed * 1e3:.1f} ms per step")
    for key, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        if seconds / args.steps >= 5e-5:
            print(f"  {key:<42} {seconds / args.steps * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
