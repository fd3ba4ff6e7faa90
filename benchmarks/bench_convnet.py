"""The seed networks against PyTorch on the CPU, same process, interleaved.

    python benchmarks/bench_convnet.py [--repeats 15] [--skip-memory | --memory-only]
                                       [--memory-steps 7] [--malloc tuned|system|both]

Times (medians, and ratios ours / PyTorch when torch is installed):
  * ConvNet training step at batch 100: forward + backward + Adam
  * ConvNet forward-only evaluation at batch 1000
  * TinyNet training step at batch 1 (per-op overhead dominates)
and the peak memory a ConvNet training run holds: the growth of the peak
resident set (VmHWM) of a fresh child process over its first
``--memory-steps`` training steps (batch 100, Adam), from just before the
first step (model, optimizer and batch already built) to after the last, so
the optimizer state created by the first step and whatever the allocator
keeps between steps are included. Median of ``--memory-runs`` children per
framework, each run's value printed, and the ratio ours / PyTorch.
``--malloc`` picks how our child's C allocator runs: ``tuned`` (the
package's default, see tinygrad_cnn/kernels/_malloc.py), ``system`` (glibc's own
thresholds, TINYGRAD_CNN_SYSTEM_MALLOC=1) or ``both``. The PyTorch child
always runs with glibc's own thresholds, as a plain PyTorch program does.
PyTorch runs with 2 threads (torch.set_num_threads(2)); numpy's BLAS uses the
machine's cores. Each timed call follows a short sleep, so that neither
framework's idle worker threads are still spinning when the other one runs,
and waits while another process keeps the cores busy (benchmarks/_common.py).
Install the comparison with ``pip install torch==2.13.0``.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from _common import interleaved, median, report, try_torch


def convnet_ours():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(3136, 1000), nn.Linear(1000, 10))


def tinynet_ours():
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1352, 10))


def convnet_torch(torch):
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Conv2d(32, 64, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(3136, 1000), tnn.Linear(1000, 10))


def tinynet_torch(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(1, 8, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(1352, 10))


def copy_weights(ours, theirs, torch):
    """Same starting weights in both (the layouts are PyTorch's, so arrays load as they are)."""
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in ours.state_dict().items()})


def batch(size, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((size, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, size)


def train_step_ours(model, images, labels, lr=1e-3):
    opt = optim.Adam(model.parameters(), lr=lr)
    x, y = tc.Tensor(images), tc.Tensor(labels)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def train_step_torch(torch, model, images, labels, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = torch.tensor(images), torch.tensor(labels)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def eval_ours(model, images):
    x = tc.Tensor(images)

    def run():
        model.eval()
        with tc.no_grad():
            model(x)
    return run


def eval_torch(torch, model, images):
    x = torch.tensor(images)

    def run():
        model.eval()
        with torch.no_grad():
            model(x)
    return run


def peak_rss_mib():
    """This process's peak resident set (VmHWM). Unlike ru_maxrss it is not
    inherited from the parent across fork + exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(framework, steps):
    """``steps`` ConvNet training steps in this (fresh) process: print the
    growth of the peak resident set over them (and after each step), in MiB."""
    images, labels = batch(100)
    if framework == "torch":
        torch = try_torch(2)
        step = train_step_torch(torch, convnet_torch(torch), images, labels)
    else:
        step = train_step_ours(convnet_ours(), images, labels)
    before = peak_rss_mib()
    per_step = []
    for _ in range(steps):
        step()
        per_step.append(peak_rss_mib() - before)
    print(json.dumps({"added_mib": per_step[-1], "per_step_mib": per_step}))


def measure_memory(framework, steps, runs=3, system_malloc=False):
    """Median (and each run's value) of the VmHWM growth over ``steps`` steps,
    one fresh child process per run."""
    env = dict(os.environ)
    env.pop("TINYGRAD_CNN_SYSTEM_MALLOC", None)
    if system_malloc or framework == "torch":
        env["TINYGRAD_CNN_SYSTEM_MALLOC"] = "1"
    values = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", framework,
                              "--memory-steps", str(steps)],
                             capture_output=True, text=True, check=True, env=env,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        values.append(json.loads(out.stdout.strip().splitlines()[-1])["added_mib"])
    return median(values), values


def report_memory(steps, runs, malloc, with_torch):
    print(f"\nPeak memory of a ConvNet training run: VmHWM growth over its first {steps} step{'s' if steps != 1 else ''} "
          f"(batch 100, Adam; fresh process, median of {runs})")
    runs_text = lambda values: ", ".join(f"{v:.0f}" for v in values)
    torch_mib = None
    if with_torch:
        torch_mib, torch_all = measure_memory("torch", steps, runs)
        print(f"  {'torch':<32} {torch_mib:7.1f} MiB  (runs: {runs_text(torch_all)})")
    modes = ["tuned", "system"] if malloc == "both" else [malloc]
    for mode in modes:
        ours_mib, ours_all = measure_memory("ours", steps, runs, system_malloc=mode == "system")
        name = "tinygrad_cnn" + (" (glibc thresholds)" if mode == "system" else " (tuned malloc)")
        line = f"  {name:<32} {ours_mib:7.1f} MiB  (runs: {runs_text(ours_all)})"
        if torch_mib:
            line += f"   ratio vs torch: {ours_mib / torch_mib:.2f}x"
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip-memory", action="store_true", help="only the timings")
    parser.add_argument("--memory-only", action="store_true", help="only the peak-memory measurement")
    parser.add_argument("--memory-steps", type=int, default=7,
                        help="training steps each memory child runs (default 7)")
    parser.add_argument("--memory-runs", type=int, default=3, help="fresh children per framework (default 3)")
    parser.add_argument("--malloc", choices=["tuned", "system", "both"], default="tuned",
                        help="our child's allocator: the package's tuning, glibc's own thresholds "
                             "(TINYGRAD_CNN_SYSTEM_MALLOC=1), or both (default tuned)")
    parser.add_argument("--memory-child", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_steps < 1 or args.memory_runs < 1:
        parser.error("--memory-steps and --memory-runs must be at least 1")
    if args.memory_child:
        return memory_child(args.memory_child, args.memory_steps)
    if args.memory_only:
        report_memory(args.memory_steps, args.memory_runs, args.malloc, try_torch(threads=2) is not None)
        return

    torch = try_torch(threads=2)
    tc.manual_seed(0)
    if torch is not None:
        torch.manual_seed(0)

    images, labels = batch(100)
    ours = convnet_ours()
    fns = {"tinygrad_cnn": train_step_ours(ours, images, labels)}
    if torch is not None:
        theirs = convnet_torch(torch)
        copy_weights(ours, theirs, torch)
        fns["torch"] = train_step_torch(torch, theirs, images, labels)
    report("ConvNet training step, batch 100 (forward + backward + Adam)",
           interleaved(fns, args.repeats, warmup=2))

    images_eval, _ = batch(1000, seed=1)
    fns = {"tinygrad_cnn": eval_ours(ours, images_eval)}
    if torch is not None:
        fns["torch"] = eval_torch(torch, theirs, images_eval)
    report("ConvNet evaluation, batch 1000 (forward only, no_grad)", interleaved(fns, max(5, args.repeats // 2)))

    images_one, labels_one = batch(1, seed=2)
    tiny = tinynet_ours()
    fns = {"tinygrad_cnn": train_step_ours(tiny, images_one, labels_one)}
    if torch is not None:
        tiny_torch = tinynet_torch(torch)
        copy_weights(tiny, tiny_torch, torch)
        fns["torch"] = train_step_torch(torch, tiny_torch, images_one, labels_one)
    # blocks of 50 steps: the pause before each block (see interleaved) wakes
    # cold threads once per block instead of once per sub-millisecond step
    report("TinyNet training step, batch 1 (forward + backward + Adam)",
           interleaved(fns, args.repeats * 2, inner=50), unit=1e6, unit_name="us")

    if not args.skip_memory:
        report_memory(args.memory_steps, args.memory_runs, args.malloc, torch is not None)
    if torch is None:
        print("\n(torch not installed: pip install torch==2.13.0 to compare)")


if __name__ == "__main__":
    main()
