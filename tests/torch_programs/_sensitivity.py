"""How far the programs' printed numbers move when float32 rounds differently: the measurement behind
``TRAINED_RTOL`` in tests/test_torch_programs.py.

    python tests/torch_programs/_sensitivity.py [--runs 8] [NAME ...]

Another CPU (another BLAS kernel, numpy's AVX2 or AVX-512 loops for exp and log) rounds some float32
results one unit in the last place (ulp) the other way. This script models that: the float32
output of every op that sums or evaluates a transcendental function (INEXACT_OPS) is passed through a rounding that moves each distinct value up or down by one
ulp or leaves it, chosen by a hash of its bits and a per-run seed. Equal values stay equal (an exact
tie is a tie on every machine), but two values within a few ulps of each other may swap order, as
they do between machines (the seed ConvNet's second max-pool has such a pair, 3 ulps apart).

Each program runs once plain and ``--runs`` times perturbed, through the alias. For every decimal
number it prints, the relative deviation from the plain run is recorded (where it exceeds one unit
of the last printed digit and ATOL, which the comparison allows anyway), split by the number of
optimizer steps taken before the line was printed (0, or >= 1). The printed table gives the largest
deviation per program; the tolerance for numbers printed after training steps is set from the
largest of them, with a margin (see the test module).
"""
from __future__ import annotations

import argparse
import bisect
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from torch_alias import install, run_one  # noqa: E402
from test_torch_programs import ATOL, PROGRAMS, _NUMBER, _normalise, _unit  # noqa: E402


def one_ulp_rounding(seed: int):
    """A function float32 array -> the same values, each distinct one moved by -1, 0 or +1 ulp,
    chosen by a hash of (its bits, seed)."""
    multiplier = np.uint32(2654435761)
    salt = np.uint32((seed * 40503 + 12345) & 0xFFFFFFFF)

    def perturb(array: np.ndarray) -> np.ndarray:
        bits = np.ascontiguousarray(array).view(np.uint32)
        with np.errstate(over="ignore"):
            mixed = (bits ^ salt) * multiplier
        choice = (mixed >> np.uint32(30)).astype(np.int8)          # 0..3
        up = np.nextafter(array, np.float32(np.inf))
        down = np.nextafter(array, np.float32(-np.inf))
        out = np.where(choice == 1, up, np.where(choice == 2, down, array))
        return np.where(np.isfinite(array) & (array != 0), out, array).astype(np.float32)
    return perturb


# The ops whose float32 results may differ between machines: sums in another order (BLAS kernels,
# numpy's pairwise and SIMD reductions) and transcendental functions (numpy's SIMD exp/log/tanh
# differ by an ulp between AVX2 and AVX-512). +, -, *, /, sqrt, max and copies are correctly rounded
# or exact, so they give the same bits everywhere and are left alone.
INEXACT_OPS = (
    "matmul", "linear", "conv2d", "conv_transpose2d", "conv2d_weight", "sum", "mean", "var",
    "cumsum", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "index_add", "exp", "log", "tanh",
    "sigmoid", "silu", "gelu", "elu", "erf", "sin", "cos", "pow", "softmax", "log_softmax",
    "nll_loss", "mse_loss", "binary_cross_entropy")


def perturbed_ops(seed: int):
    """Wrap the forward of every op in INEXACT_OPS so its float32 output (when it is a new array,
    not a view of an input) goes through one_ulp_rounding."""
    from tinygrad_cnn.engine import registered_ops
    perturb = one_ulp_rounding(seed)
    originals = {}
    for name, op in registered_ops().items():
        if name not in INEXACT_OPS:
            continue
        forward = op.forward
        originals[op] = forward

        def wrapped(ctx, *arrays, _forward=forward, **params):
            out = _forward(ctx, *arrays, **params)
            if (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.size
                    and not any(np.may_share_memory(out, a) for a in arrays if isinstance(a, np.ndarray))):
                out = perturb(out).reshape(out.shape)
            return out
        op.forward = wrapped
    return originals


def numbers_by_step(out: str, steps: list) -> list:
    """[(steps before the line, line index, token index, value, printed unit)] per decimal token."""
    found = []
    for lineno, line in enumerate(out.rstrip("\n").splitlines()):
        done = bisect.bisect_right(steps, lineno)
        for index, token in enumerate(_NUMBER.findall(_normalise(line))):
            if re.search(r"[.eE]", token):
                found.append((done, lineno, index, float(token), _unit(token)))
    return found


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    install()
    names = [n for n in PROGRAMS if not args.names or n in args.names]
    worst = {0: 0.0, 1: 0.0}
    print(f"{'program':24s} {'steps':>5s} {'before training':>16s} {'after >= 1 step':>16s}")
    for name in names:
        path = os.path.join(HERE, name + ".py")
        status, out, err, steps = run_one(path)
        if status:
            print(f"{name}: fails plain; skipped\n{err[-500:]}")
            continue
        base = numbers_by_step(out, steps)
        deviation = {0: 0.0, 1: 0.0}
        for seed in range(1, args.runs + 1):
            from tinygrad_cnn.engine import registered_ops  # noqa: F401
            originals = perturbed_ops(seed)
            try:
                status, out_p, err_p, _ = run_one(path)
            finally:
                for op, forward in originals.items():
                    op.forward = forward
            if status:
                print(f"{name}: fails when perturbed (seed {seed}):\n{err_p[-500:]}")
                continue
            perturbed = numbers_by_step(out_p, steps)
            if len(perturbed) != len(base):
                print(f"{name}: seed {seed} printed {len(perturbed)} decimals, plain {len(base)}")
                continue
            for (done, _, _, a, unit), (_, _, _, b, unit_p) in zip(base, perturbed):
                scale = max(abs(a), abs(b))
                # within one unit of the last printed digit, or ATOL, passes the comparison anyway
                if scale > 0 and abs(a - b) > max(ATOL, 1.01 * max(unit, unit_p)):
                    key = min(done, 1)
                    deviation[key] = max(deviation[key], abs(a - b) / scale)
        for key in deviation:
            worst[key] = max(worst[key], deviation[key])
        print(f"{name:24s} {len(steps):5d} {deviation[0]:16.2e} {deviation[1]:16.2e}")
    print(f"{'largest':24s} {'':5s} {worst[0]:16.2e} {worst[1]:16.2e}")


if __name__ == "__main__":
    main(sys.argv[1:])
