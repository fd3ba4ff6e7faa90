"""Keep freed array memory for reuse (glibc only).

A training step allocates and frees the same large arrays (activations,
gradients, padded buffers) every step. By default glibc hands large blocks
straight back to the kernel, so each step pays for fresh zeroed pages again:
measured on the benchmark ConvNet (batch 100, Adam), about 9,000 page faults
a step with glibc's own thresholds and none with these. Raising the mmap and
trim thresholds keeps that memory in the process for the next step, as
PyTorch's CPU allocator does; resident memory then stays at the high-water
mark, and the high-water mark itself does not move (the peak resident set
grows by 114 MiB over the first 7 steps either way).
``python benchmarks/bench_convnet.py --memory-only --malloc both`` measures it.

The fast kernels apply this the first time a fast convolution runs (``tune_once``), not on
import, and the reference ops never do. Set TINYGRAD_CNN_SYSTEM_MALLOC=1 to leave the C
allocator untouched.
"""
import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune() -> bool:
    """Apply the thresholds; returns whether they were applied."""
    if os.environ.get("TINYGRAD_CNN_SYSTEM_MALLOC") == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc (e.g. musl): nothing to tune
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 31))


_tuned = None


def tune_once() -> None:
    """``tune()`` on the first call; later calls cost one test."""
    global _tuned
    if _tuned is None:
        _tuned = tune()
