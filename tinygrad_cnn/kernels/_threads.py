"""The fast kernels' threads: large passes and batches split across cores.

numpy runs a ufunc, a copy or a reduction on one core but releases the GIL while it does, and
OpenBLAS runs a small matrix product on one core or splits it across all for little gain. So a
kernel that loops over chunks of a batch (Winograd's transforms and its many small products,
im2col's copies and products) or makes one pass over a large array keeps one core busy at a time.
These helpers split such work into contiguous parts, one per thread (the calling thread takes
the first), with numpy's BLAS held to one thread while the parts run: each core then works on a
whole part, and no BLAS worker thread competes with them. (OpenBLAS's idle workers keep spinning
for a while after each multi-threaded product; a part running next to one ran as slowly as the
whole batch on one thread.)

``tc.set_num_threads(n)`` (PyTorch's name for its intra-op threads) sets how many parts; the
default is the thread count numpy's BLAS was started with (``OPENBLAS_NUM_THREADS``, else the
cores), or ``TINYGRAD_CNN_THREADS``. Where BLAS's thread count cannot be set (a BLAS other than
OpenBLAS) the default is 1, so products are never run on more threads than cores.
"""
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ArgumentError


def _threads_from_environment():
    value = os.environ.get("TINYGRAD_CNN_THREADS")
    if value is None:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"TINYGRAD_CNN_THREADS must be a whole number, got {value!r}") from None


_chosen = _threads_from_environment()     # set_num_threads's value; None: BLAS's count
_default = None                           # BLAS's count, read once (before any part holds it)
# below this many elements a pass is not worth splitting
MIN_SIZE = 1 << 18


def set_num_threads(count: int) -> None:
    """How many threads the fast kernels split their work across (PyTorch's name; see the
    module docstring for the default)."""
    global _chosen
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ArgumentError(f"set_num_threads: expected a whole number >= 1, got {count!r}")
    _chosen = int(count)


def get_num_threads() -> int:
    global _default
    if _chosen is not None:
        return _chosen
    if _default is None:
        blas = _blas_threads()
        _default = max(1, (blas.get() if _holders == 0 else _saved_count) if blas.get is not None else 1)
    return _default


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) ranges splitting range(n) into ``parts`` nearly equal pieces."""
    parts = max(1, min(parts, n))
    return [(n * k // parts, n * (k + 1) // parts) for k in range(parts)]


def run(fn, n: int, size: int | None = None) -> None:
    """Call ``fn(start, stop)`` over ranges covering range(n), one per thread (``map_parts``).
    ``size``: the number of elements the whole pass touches; below MIN_SIZE it runs as one
    call."""
    if (size if size is not None else n) < MIN_SIZE:
        fn(0, n)
        return
    map_parts(fn, n)


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
    if out.size < MIN_SIZE or get_num_threads() < 2 or not same_layout(out, *inputs):
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
    if view.size < MIN_SIZE or view.shape[0] < 2 or get_num_threads() < 2:
        return np.ascontiguousarray(view)
    out = np.empty(view.shape, dtype=view.dtype)
    run(lambda start, stop: np.copyto(out[start:stop], view[start:stop]), view.shape[0], view.size)
    return out


_OPENBLAS_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
                 "openblas_get_num_threads")
_OPENBLAS_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
                 "openblas_set_num_threads")


def _openblas_paths() -> list[str]:
    """Files of the OpenBLAS numpy has loaded: from the process's memory map (Linux), else the
    libraries shipped inside numpy's wheel."""
    import glob
    import re
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps.read())))
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*"):
        paths += sorted(glob.glob(os.path.join(root, pattern)))
    return paths


class _BlasThreads:
    """Get and set OpenBLAS's thread count (a process-wide setting) through ctypes."""

    def __init__(self):
        self.get = self.set = None
        import ctypes
        for path in _openblas_paths():
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            get = next((getattr(library, name) for name in _OPENBLAS_GET if hasattr(library, name)), None)
            set_ = next((getattr(library, name) for name in _OPENBLAS_SET if hasattr(library, name)), None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                self.get, self.set = get, set_
                return


_blas = None
_lock = threading.Lock()
_holders = 0          # parts running now, across all callers: BLAS is held to 1 thread while > 0
_saved_count = 1
_local = threading.local()
_part_pools = {}


def _blas_threads() -> _BlasThreads:
    global _blas
    if _blas is None:
        _blas = _BlasThreads()
    return _blas


def _hold_blas():
    global _holders, _saved_count
    if _blas_threads().get is None:
        return
    with _lock:
        if _holders == 0:
            _saved_count = _blas.get()
            _blas.set(1)
        _holders += 1


def _release_blas():
    global _holders
    if _blas.get is None:
        return
    with _lock:
        _holders -= 1
        if _holders == 0:
            _blas.set(_saved_count)


def _run_part(fn, start, stop):
    _local.inside = True
    try:
        return fn(start, stop)
    finally:
        _local.inside = False


class one_blas_thread:
    """Context manager: numpy's BLAS on one thread inside (nests; a no-op for another BLAS).
    A kernel whose parts run products holds it over its whole body, so that the products it
    makes outside its parts do not wake BLAS's workers either."""

    def __enter__(self):
        _hold_blas()
        return self

    def __exit__(self, *exc):
        _release_blas()
        return False


def inside_part() -> bool:
    return getattr(_local, "inside", False)


def map_parts(fn, n: int, parts: int | None = None) -> list:
    """``[fn(start, stop) for each range]`` over ranges covering range(n), one per thread (the
    calling thread takes the first; ``parts`` defaults to ``get_num_threads()``, and is 1
    inside a part), with BLAS on one thread until all are done."""
    parts = min(1 if inside_part() else get_num_threads() if parts is None else parts, n)
    if parts < 2:
        return [fn(0, n)]
    ranges = bounds(n, parts)
    pool = _part_pools.get(parts)
    if pool is None:
        pool = _part_pools[parts] = ThreadPoolExecutor(parts - 1, thread_name_prefix="tinygrad_cnn_part")
    _hold_blas()
    try:
        jobs = [pool.submit(_run_part, fn, start, stop) for start, stop in ranges[1:]]
        try:
            first = _run_part(fn, *ranges[0])
        finally:
            rest = [job.result() for job in jobs]
    finally:
        _release_blas()
    return [first] + rest


# OpenBLAS runs a product of fewer multiply-adds than this on one thread anyway (its
# SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD), so holding BLAS for it would only cost time
BLAS_THREADED_MACS = 1 << 18
NO_HOLD = contextlib.nullcontext()      # what for_products gives a small product


def for_products(macs: int):
    """``one_blas_thread()`` for a kernel whose products total ``macs`` multiply-adds, when BLAS
    would otherwise run them on several threads; a no-op context otherwise."""
    return NO_HOLD if macs < BLAS_THREADED_MACS or inside_part() else one_blas_thread()
