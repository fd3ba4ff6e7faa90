"""Where TinyNet's training step at batch 1 spends its time, phase by phase and layer by layer.

    python benchmarks/profile_tinynet.py [--steps 300] [--blocks 3]

At batch 1 every op does a few microseconds of numpy work, so the step's time is per-op
overhead: Python, the recording of the graph, numpy's call overhead on tiny arrays. This
prints the median microseconds of each phase of the step (zero_grad, forward with the loss,
backward, Adam's step) and of each layer's forward (and the loss), ours and, when torch is
installed, PyTorch's on the same weights and image (2 threads), measured in the same way:
steps run back to back in blocks of ``--steps``, the frameworks alternating block by block.
The medians of the blocks are printed; their spread shows the machine's noise.
"""
import argparse
import statistics
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from bench_convnet import batch, copy_weights, tinynet_ours, tinynet_torch
from tinygrad_cnn import optim
from tinygrad_cnn.kernels.conv import conv2d_algorithm
from _common import try_torch, wait_quiet

PHASES = ("zero_grad", "forward + loss", "backward", "optimizer step", "whole step")


def run_block(model, x, y, opt, loss_fn, steps, warmup=30):
    """Medians (us) of each phase and of each layer's forward over ``steps`` steps."""
    layers = list(model)
    phases = {name: [] for name in PHASES}
    per_layer = {f"{i} {type(layer).__name__}": [] for i, layer in enumerate(layers)}
    per_layer["loss"] = []
    names = list(per_layer)
    clock = time.perf_counter
    for i in range(warmup + steps):
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        h = x
        marks = []
        for layer in layers:
            h = layer(h)
            marks.append(clock())
        loss = loss_fn(h, y)
        t2 = clock()
        loss.backward()
        t3 = clock()
        opt.step()
        t4 = clock()
        if i < warmup:
            continue
        for name, value in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
            phases[name].append(value)
        starts = [t1] + marks
        for name, start, stop in zip(names, starts, marks + [t2]):
            per_layer[name].append(stop - start)
    median = statistics.median
    return ({k: median(v) * 1e6 for k, v in phases.items()}, {k: median(v) * 1e6 for k, v in per_layer.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=3)
    args = parser.parse_args()
    torch = try_torch(2)
    images, labels = batch(1)
    ours = tinynet_ours()
    runs = {"tinygrad_cnn": (ours, tc.Tensor(images), tc.Tensor(labels), optim.Adam(ours.parameters(), lr=1e-3),
                             F.cross_entropy)}
    if torch is not None:
        theirs = tinynet_torch(torch)
        copy_weights(ours, theirs, torch)
        runs["torch"] = (theirs, torch.tensor(images), torch.tensor(labels),
                         torch.optim.Adam(theirs.parameters(), lr=1e-3), torch.nn.functional.cross_entropy)
    results = {name: [] for name in runs}
    for _ in range(args.blocks):
        for name, (model, x, y, opt, loss_fn) in runs.items():
            wait_quiet()
            results[name].append(run_block(model, x, y, opt, loss_fn, args.steps))
    print(f"TinyNet training step, batch 1: median us over {args.steps} steps back to back, "
          f"each of {args.blocks} blocks (frameworks alternate block by block)")
    for part in (0, 1):
        title = "phase" if part == 0 else "forward, layer by layer"
        keys = list(results["tinygrad_cnn"][0][part])
        print(f"\n  {title:<28}" + "".join(f"{name:>26}" for name in runs))
        for key in keys:
            cells = []
            for name in runs:
                values = [block[part][key] for block in results[name]]
                cells.append(f"{statistics.median(values):9.0f} ({min(values):.0f}-{max(values):.0f})")
            print(f"  {key:<28}" + "".join(f"{cell:>26}" for cell in cells))
    conv = ours[0]
    x_shape = (1,) + tuple(images.shape[1:])
    geometry = (conv.stride, conv.padding, conv.dilation, conv.groups)
    chosen = {direction: conv2d_algorithm(x_shape, conv.weight.shape, *geometry, direction=direction)
              for direction in ("forward", "backward")}
    print(f"\n  convolution algorithm (fast kernels): forward {chosen['forward']}, backward {chosen['backward']}")


if __name__ == "__main__":
    main()
