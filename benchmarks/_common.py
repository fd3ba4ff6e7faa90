"""Shared helpers for the benchmarks: interleaved timing and medians."""
import os
import statistics
import time


def try_torch(threads=2):
    """torch if installed (pip install torch==2.13.0), limited to ``threads``; else None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def interleaved(fns: dict, repeats: int, warmup: int = 2, inner: int = 1, pause: float = 0.3):
    """Time each callable ``repeats`` times, alternating between them so that
    machine noise hits all alike. Returns name -> list of seconds per call.

    ``pause`` seconds of sleep before each timed call: BLAS and OpenMP worker
    threads keep spinning for a while after they finish, and without a pause
    the previous framework's spinning threads steal cores from the next one
    (measured here: PyTorch's ConvNet step went from ~66 ms alone to ~106 ms
    when interleaved with no pause)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if pause:
                time.sleep(pause)
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    return times


def median(values):
    return statistics.median(values)


def report(title, times, baseline="torch", unit=1e3, unit_name="ms", per=1):
    """Print medians (and the ratio to ``baseline`` when it was measured)."""
    print(f"\n{title}")
    base = median(times[baseline]) if baseline in times else None
    for name, values in times.items():
        m = median(values) / per
        line = f"  {name:<14} median {m * unit:9.3f} {unit_name}"
        if base is not None and name != baseline:
            line += f"   ratio vs {baseline}: {median(values) / base:5.2f}x"
        print(line)


def describe_machine():
    print(f"cpus visible: {os.cpu_count()}  (OMP/MKL threads follow the environment)")
