"""What anomaly mode costs: a chain of small ops (forward + backward) with
anomaly detection off and on, and the cost of the one check that runs per
op when it is off.

    python benchmarks/bench_anomaly.py [--repeats 15]
"""
import argparse
import statistics
import time
import timeit

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import anomaly, autograd

OPS = 100


def chain(x_np):
    x = tc.Tensor(x_np, requires_grad=True)
    y = x
    for _ in range(OPS // 4):
        y = (y * 1.01 + 0.1).tanh() - y * 0.5
    y.sum().backward()


def per_op_us(x_np, calls=100):
    start = time.perf_counter()
    for _ in range(calls):
        chain(x_np)
    return (time.perf_counter() - start) / calls / OPS * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    x_np = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
    off, on = [], []
    for _ in range(args.repeats):          # interleaved, so drift hits both alike
        off.append(per_op_us(x_np))
        with autograd.detect_anomaly():
            on.append(per_op_us(x_np))
    check_ns = min(timeit.repeat("anomaly.enabled and None", globals={"anomaly": anomaly},
                                 number=1_000_000, repeat=5)) * 1e3
    print(f"chain of {OPS} ops, forward + backward, per op (median of {args.repeats}):")
    print(f"  anomaly off  {statistics.median(off):7.3f} us")
    print(f"  anomaly on   {statistics.median(on):7.3f} us   ({statistics.median(on) / statistics.median(off):.2f}x)")
    print(f"the check that runs when off: {check_ns:.1f} ns per op application and per backward step "
          f"({2 * check_ns / 1e3 / statistics.median(off) * 100:.2f}% of an op)")


if __name__ == "__main__":
    main()
