"""The convolution algorithms on the seed networks' layers, interleaved in one process.

    python benchmarks/bench_conv_algorithms.py [--repeats 25] [--threads 2] [--steps]

For each layer (the seed ConvNet's two convolutions at batch 100, TinyNet's at batch 1, a 3x3
layer with many channels) and each direction a training step runs (forward; backward: both
gradients, or only the weight's for a first layer), times every candidate, alternating between
them call by call: the im2col kernels, Winograd F(4x4, r x r) (tinygrad_cnn/kernels/winograd.py),
the gathered im2col where the kernel chooses it (small layers),
an FFT forward (numpy.fft.rfft2 over a channels-last batch, one complex product per frequency;
scipy.fft too when installed, which is not a dependency) and PyTorch (torch==2.13.0). Prints
medians, ratios to PyTorch's median, minimums, which algorithm the kernel chooses, each
candidate's float32 error (largest error over the largest magnitude, against a float64 direct
sum), and the load average before and after (a busy machine makes the medians noisy; with
``--threads 1``, BLAS and PyTorch on one core each, the ratios shrug most of it off). A single
PyTorch call after a pause varies a lot from run to run (seen: its conv1 forward 4 to 16 ms on
one thread), so compare the algorithms with each other here and with PyTorch by whole steps.
Calls shorter than 2 ms (the batch-of-one layer) are timed several at a time, back to back.

``--steps`` instead times whole steps of the seed ConvNet, interleaved: the training step at
batch 100 and the evaluation at batch 1000, with the kernels' choice of algorithm, with im2col
for every layer (the kernels before Winograd), and PyTorch's.
"""
import argparse
import functools
import os
import sys


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads (default 2)")
    parser.add_argument("--steps", action="store_true", help="whole ConvNet steps, Winograd on and off")
    return parser.parse_args()


ARGS = _arguments() if __name__ == "__main__" else None
if ARGS is not None:       # before numpy loads its BLAS
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))

import statistics  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

from tinygrad_cnn.kernels import conv as conv_kernels  # noqa: E402
from tinygrad_cnn.ops.conv import conv2d_reference, conv2d_weight_reference, conv_transpose2d_reference  # noqa: E402
from _common import try_torch  # noqa: E402

try:
    import scipy.fft as scipy_fft
except ImportError:
    scipy_fft = None

# name, input shape, filters, kernel, padding, whether the step needs the input's gradient
LAYERS = [
    ("ConvNet conv2", (100, 32, 14, 14), 64, 5, 2, True),
    ("ConvNet conv1", (100, 1, 28, 28), 32, 5, 2, False),
    ("TinyNet conv", (1, 1, 28, 28), 8, 3, 0, False),
    ("3x3, 64 -> 64", (32, 64, 14, 14), 64, 3, 1, True),
]


def fft_forward(x, w, padding, fft=np.fft):
    """Stride-1 conv2d by FFT: spectra of the zero-padded channels-last input and of the
    flipped filters, one complex product per frequency, then the inverse transform."""
    n, c, h, width = x.shape
    f, _, k, _ = w.shape
    size = (h + 2 * padding + k - 1, width + 2 * padding + k - 1)
    xp = np.zeros((n,) + size + (c,), np.float32)
    xp[:, padding:padding + h, padding:padding + width] = x.transpose(0, 2, 3, 1)
    taps = np.zeros(size + (c, f), np.float32)
    taps[:k, :k] = w[:, :, ::-1, ::-1].transpose(2, 3, 1, 0)
    spectrum = fft.rfft2(xp, axes=(1, 2))                                    # (n, S, S/2+1, c)
    frequencies = spectrum.shape[1] * spectrum.shape[2]
    products = np.matmul(spectrum.transpose(1, 2, 0, 3).reshape(frequencies, n, c),
                         fft.rfft2(taps, axes=(0, 1)).reshape(frequencies, c, f))
    out = fft.irfft2(products.reshape(spectrum.shape[1], spectrum.shape[2], n, f), s=size, axes=(0, 1))
    out_h, out_w = h + 2 * padding - k + 1, width + 2 * padding - k + 1
    return out[k - 1:k - 1 + out_h, k - 1:k - 1 + out_w].transpose(2, 3, 0, 1).astype(np.float32, copy=False)


def _interleaved(fns, repeats, least=2e-3):
    """Seconds per call of each fn, alternating between them. A call shorter than ``least``
    (a batch-of-one layer) is timed ``inner`` times back to back per sample, so that a sample
    measures the calls rather than the threads' wake-up after the pause before it."""
    inner = {}
    for name, fn in fns.items():
        fn()
        start = time.perf_counter()
        fn()
        inner[name] = max(1, min(200, int(least / max(time.perf_counter() - start, 1e-7))))
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(0.02)
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            times[name].append((time.perf_counter() - start) / inner[name])
    return times


def _error(got, expected):
    got = [got] if not isinstance(got, tuple) else got
    expected = [expected] if not isinstance(expected, tuple) else expected
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))
               for a, b in zip(got, expected) if a is not None)


def _report(title, times, errors, baseline):
    base = statistics.median(times[baseline]) if baseline in times else None
    print(f"\n{title}")
    for name, values in times.items():
        med = statistics.median(values)
        ratio = f"  {med / base:5.2f}x {baseline}" if base else ""
        error = f"   float32 error {errors[name]:.1e}" if name in errors else ""
        print(f"  {name:<22} median {med * 1e3:8.2f} ms  min {min(values) * 1e3:8.2f} ms{ratio}{error}")


def layer(torch, name, shape, filters, k, padding, needs_input, repeats):
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal(shape)
    w64 = rng.standard_normal((filters, shape[1], k, k)) * (2.0 / (shape[1] * k * k)) ** 0.5
    out_size = shape[2] + 2 * padding - k + 1
    g64 = rng.standard_normal((shape[0], filters, out_size, out_size))
    x, w, g = (a.astype(np.float32) for a in (x64, w64, g64))
    pad = (padding, padding)
    choice = conv_kernels.conv2d_algorithm(x.shape, w.shape, padding=pad)
    winograd_fits = k in (3, 5) and shape[1] > 1

    algorithms = (["im2col"] + ([f"winograd F(4x4,{k}x{k})"] if winograd_fits else [])
                  + (["gather"] if choice == "gather" else []))
    needs = (needs_input, True)
    # each algorithm as the kernel runs it (batch split across threads, BLAS held to one)
    forward = {a: _as(a, lambda: conv_kernels.conv2d_forward(_Context(x, w, needs, pad), x, w, padding=pad))
               for a in algorithms}
    forward["fft (numpy)"] = lambda: fft_forward(x, w, padding)
    if scipy_fft is not None:
        forward[f"fft (scipy, {ARGS.threads} workers)"] = lambda: fft_forward(x, w, padding, _ScipyFFT)
    if torch is not None:
        tx, tw, tg = (torch.from_numpy(a) for a in (x, w, g))
        forward["torch"] = lambda: torch.nn.functional.conv2d(tx, tw, padding=padding)
    expected = conv2d_reference(x64, w64, None, (1, 1), pad, (1, 1), 1)
    errors = {n: _error(fn() if n != "torch" else fn().numpy(), expected) for n, fn in forward.items()}
    _report(f"{name}: x {shape}, w {w.shape}, padding {padding} -- forward (the kernel chooses {choice})",
            _interleaved(forward, repeats), errors, "torch")

    backward = {}
    for a in algorithms:
        context = _Context(x, w, needs, pad)
        _as(a, lambda: conv_kernels.conv2d_forward(context, x, w, padding=pad))()    # what it saves
        backward[a] = _as(a, lambda context=context: conv_kernels.conv2d_vjp(context, g)[:2])
    if torch is not None:
        mask = [needs_input, True, False]
        backward["torch"] = lambda: tuple(
            None if t is None else t.numpy() for t in torch.ops.aten.convolution_backward(
                tg, tx, tw, None, [1, 1], [padding, padding], [1, 1], False, [0, 0], 1, mask)[:2])
    expected = (conv_transpose2d_reference(g64, w64, (1, 1), pad, (1, 1), 1, (0, 0)) if needs_input else None,
                conv2d_weight_reference(x64, g64, w.shape, (1, 1), pad, (1, 1), 1))
    errors = {n: _error(fn(), expected) for n, fn in backward.items()}
    what = "input and weight gradients" if needs_input else "weight gradient"
    choice = conv_kernels.conv2d_algorithm(x.shape, w.shape, padding=pad, direction="backward")
    _report(f"{name} -- backward, {what} (the kernel chooses {choice})", _interleaved(backward, repeats),
            errors, "torch")


class _Context:
    """What conv2d's kernel reads of its op's context."""

    def __init__(self, x, w, needs, padding):
        self.inputs = (types.SimpleNamespace(data=x), types.SimpleNamespace(data=w))
        self.needs_input_grad = needs
        self.params = {"stride": (1, 1), "padding": padding, "dilation": (1, 1), "groups": 1}
        self.saved, self.ran_kernel = None, True

    def save(self, **values):
        self.saved = {**(self.saved or {}), **values}


@functools.lru_cache(maxsize=None)
def _gather_index(*args):
    """The gathered path's index, built once per layer shape as the kernel's own plan does."""
    return conv_kernels._gather_index(*args)


def _as(algorithm, fn):
    """fn with conv2d's kernel choosing ``algorithm`` for every layer and direction."""
    def run():
        chosen, plan = conv_kernels.conv2d_algorithm, conv_kernels._plan

        def forced(x, w, bias, stride, padding, dilation, groups):
            out_h, out_w = plan(x, w, bias, stride, padding, dilation, groups)[:2]
            index = (_gather_index(x.shape[1:], w.shape[2:], tuple(stride), tuple(padding), tuple(dilation))
                     if algorithm == "gather" else None)
            return out_h, out_w, algorithm, algorithm, index
        conv_kernels.conv2d_algorithm = lambda *args, **kwargs: algorithm
        conv_kernels._plan = forced
        try:
            return fn()
        finally:
            conv_kernels.conv2d_algorithm, conv_kernels._plan = chosen, plan
    return run


class _ScipyFFT:
    @staticmethod
    def rfft2(a, axes):
        return scipy_fft.rfft2(a, axes=axes, workers=ARGS.threads)

    @staticmethod
    def irfft2(a, s, axes):
        return scipy_fft.irfft2(a, s=s, axes=axes, workers=ARGS.threads)


def _im2col_only(fn):
    """fn with every layer on im2col."""
    return _as("im2col", fn)


def steps(torch, repeats):
    import tinygrad_cnn as tc
    from bench_convnet import (batch, convnet_ours, convnet_torch, copy_weights, eval_ours, eval_torch,
                               train_step_ours, train_step_torch)
    from _common import interleaved, report
    tc.manual_seed(0)
    images, labels = batch(100)
    ours = convnet_ours()
    step = train_step_ours(ours, images, labels)
    fns = {"kernels' choice": step, "im2col only": _im2col_only(step)}
    images_eval, _ = batch(1000, seed=1)
    evaluate = eval_ours(ours, images_eval)
    evals = {"kernels' choice": evaluate, "im2col only": _im2col_only(evaluate)}
    if torch is not None:
        theirs = convnet_torch(torch)
        copy_weights(ours, theirs, torch)
        fns["torch"] = train_step_torch(torch, theirs, images, labels)
        evals["torch"] = eval_torch(torch, theirs, images_eval)
    report("ConvNet training step, batch 100", interleaved(fns, repeats, warmup=2))
    report("ConvNet evaluation, batch 1000", interleaved(evals, max(5, repeats // 2)))


def main():
    torch = try_torch(threads=ARGS.threads)
    print(f"threads: BLAS {os.environ.get('OPENBLAS_NUM_THREADS')}, torch {ARGS.threads}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    if ARGS.steps:
        steps(torch, ARGS.repeats)
    else:
        for spec in LAYERS:
            layer(torch, *spec, ARGS.repeats)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if torch is None:
        print("(torch not installed: pip install torch==2.13.0 to compare)")


if __name__ == "__main__":
    sys.exit(main())
