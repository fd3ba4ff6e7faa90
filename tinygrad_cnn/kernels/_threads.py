"""Large numpy passes split across threads (opt-in).

numpy runs a ufunc, a copy or a reduction on one core but releases the GIL
while it does, so a pass over a big array can be split into contiguous
parts, one per thread. On this project's 2-core development machine that
did not pay: the matrix products already keep both cores busy, waking a
parked thread costs from 20 us to over 0.5 ms, and the second core does not
share the first one's cache, so the ConvNet step was no faster (and the
im2col copies slower) with 2 threads than with 1. The default is therefore
1 thread; ``TINYGRAD_CNN_THREADS=N`` turns the splitting on for machines
where it pays (measure with benchmarks/bench_convnet.py).
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _threads_from_environment() -> int:
    value = os.environ.get("TINYGRAD_CNN_THREADS")
    if value is None:
        return 1
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"TINYGRAD_CNN_THREADS must be a whole number, got {value!r}") from None


THREADS = _threads_from_environment()
# below this many elements a pass is not worth splitting
MIN_SIZE = 1 << 18
_pool = None      # started on first use, not on import


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool._max_workers != THREADS - 1:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="tinygrad_cnn")
    return _pool


def set_num_threads(count: int) -> None:
    """How many threads the kernels may split a large pass across (PyTorch's name; here the
    default is 1, see the module docstring). Matrix products use BLAS's own threads either way."""
    global THREADS
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"set_num_threads: expected a whole number >= 1, got {count!r}")
    THREADS = int(count)


def get_num_threads() -> int:
    return THREADS


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) ranges splitting range(n) into ``parts`` nearly equal pieces."""
    parts = max(1, min(parts, n))
    return [(n * k // parts, n * (k + 1) // parts) for k in range(parts)]


def run(fn, n: int, size: int | None = None) -> None:
    """Call ``fn(start, stop)`` over ranges covering range(n), one per thread
    (the calling thread takes the first). ``size``: the number of elements
    the whole pass touches; below MIN_SIZE it runs as one call."""
    if THREADS < 2 or n < 2 or (size if size is not None else n) < MIN_SIZE:
        fn(0, n)
        return
    ranges = bounds(n, THREADS)
    jobs = [_executor().submit(fn, start, stop) for start, stop in ranges[1:]]
    try:
        fn(*ranges[0])
    finally:
        for job in jobs:
            job.result()


def flat(array: np.ndarray):
    """A 1-D view of ``array``'s memory in its own order (C or F contiguous,
    or any permutation of contiguous axes, like conv2d's channels-last
    outputs), or None when its elements are not one contiguous block."""
    if array.flags.c_contiguous:
        return array.reshape(-1)
    order = np.argsort(array.strides)[::-1]              # outermost axis first
    permuted = array.transpose(order)
    if permuted.flags.c_contiguous:
        return permuted.reshape(-1)
    return None


def same_layout(*arrays: np.ndarray) -> bool:
    """Whether the arrays share one shape and one memory order (so their
    flat views line up element for element)."""
    first = arrays[0]
    return all(a.shape == first.shape and a.strides == first.strides for a in arrays[1:])


def empty_like(array: np.ndarray, dtype=None) -> np.ndarray:
    """An uninitialised array with ``array``'s shape and memory order."""
    return np.empty_like(array, dtype=dtype, order="K")


def elementwise(fn, out: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    """``fn(out_part, *input_parts)`` over matching parts of arrays that share
    a shape and memory order; split across threads when large, one call on
    the whole arrays otherwise (or when the layouts differ)."""
    if THREADS < 2 or out.size < MIN_SIZE or not same_layout(out, *inputs):
        fn(out, *inputs)
        return out
    views = [flat(a) for a in (out, *inputs)]
    if any(v is None for v in views):
        fn(out, *inputs)
        return out
    run(lambda start, stop: fn(*(v[start:stop] for v in views)), views[0].size)
    return out


def copy(view: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of a (strided) view, split over its first axis."""
    if THREADS < 2 or view.size < MIN_SIZE or view.shape[0] < 2:
        return np.ascontiguousarray(view)
    out = np.empty(view.shape, dtype=view.dtype)
    run(lambda start, stop: np.copyto(out[start:stop], view[start:stop]), view.shape[0], view.size)
    return out
