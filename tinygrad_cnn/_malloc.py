"""Keep freed array memory for reuse (glibc only).

A training step allocates and frees the same large arrays (im2col matrices,
activations, gradients) every step. By default glibc hands blocks over 32 MiB
straight back to the kernel, so each step pays for fresh zeroed pages again
(page faults cost ~20% of a ConvNet step here). Raising the mmap and trim
thresholds keeps that memory in the process for the next step, as PyTorch's
CPU allocator does; resident memory then stays at the high-water mark.

The high-water mark itself does not move (measured when this was written:
over the first 7 steps of the benchmark ConvNet, batch 100 with Adam, the
peak resident set grows by 151 MiB with and without the tuning), while with
glibc's own thresholds every step faults ~9000 pages back in (~134 ms a step
instead of ~111 ms here).
``python benchmarks/bench_convnet.py --memory-only --malloc both`` measures it.

Set TINYGRAD_CNN_SYSTEM_MALLOC=1 to leave the C allocator untouched.
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
