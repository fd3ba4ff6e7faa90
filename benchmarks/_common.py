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


def _cpu_sample():
    """(all jiffies, idle jiffies, this process's jiffies) from /proc, or None."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:9]]
        with open("/proc/self/stat") as own:
            fields = own.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return sum(values), values[3] + values[4], int(fields[11]) + int(fields[12])


def wait_quiet(seconds: float = 0.3, limit: float = 30.0, busy: float = 0.08):
    """Sleep ``seconds``; on Linux, keep sleeping (up to ``limit`` seconds)
    while other processes keep more than ``busy`` of the machine's CPU time
    busy, so that a timed call does not share the cores with a neighbour."""
    deadline = time.monotonic() + limit
    while True:
        before = _cpu_sample()
        time.sleep(seconds)
        after = _cpu_sample()
        if before is None or after is None or time.monotonic() > deadline:
            return
        total = max(after[0] - before[0], 1)
        others = (total - (after[1] - before[1])) - (after[2] - before[2])
        if others / total < busy:
            return


def interleaved(fns: dict, repeats: int, warmup: int = 2, inner: int = 1, pause: float = 0.3):
    """Time each callable ``repeats`` times, alternating between them so that
    machine noise hits all alike. Returns name -> list of seconds per call.

    ``pause`` seconds of sleep before each timed call: BLAS and OpenMP worker
    threads keep spinning for a while after they finish, and without a pause
    the previous framework's spinning threads steal cores from the next one
    (measured here: PyTorch's ConvNet step went from ~66 ms alone to ~106 ms
    when interleaved with no pause). The pause also waits while another
    process keeps the cores busy (see ``wait_quiet``)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if pause:
                wait_quiet(pause)
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
