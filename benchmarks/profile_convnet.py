"""Where one ConvNet training step spends its time, op by op.

    python benchmarks/profile_convnet.py [--steps 15] [--torch]

Wraps every registered op's forward and VJP, and every fast kernel's
(tinygrad_cnn.kernels), with a timer and runs the seed ConvNet's training
step at batch 100 (forward, backward, Adam step), then prints each one's
median milliseconds per step over the steps (each step follows a short
pause, as in bench_convnet.py, so medians shrug off a busy neighbour). A
VJP's time includes the ops it calls (for the reference conv2d: its two
adjoints), so the rows overlap; the forward rows do not. Then the algorithm
each convolution ran in each direction (kernels.conv.conv2d_algorithm).

``--torch`` (with torch installed) also profiles PyTorch's step on the same
model and batch with torch.profiler (2 threads) and prints its time per step
for the same parts: convolutions, dense layers, pooling, ReLU, dropout, Adam.
"""
import argparse
import collections
import statistics
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from bench_convnet import batch, convnet_ours, convnet_torch, copy_weights
from tinygrad_cnn import kernels, optim
from tinygrad_cnn.kernels.conv import conv2d_algorithm, conv2d_threads
from _common import try_torch, wait_quiet

# PyTorch's CPU kernels for each part of the step (self time, torch.profiler)
TORCH_PARTS = {
    "convolutions, forward": ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward"),
    "convolutions, backward": ("aten::convolution_backward",),
    "dense layers": ("aten::mm", "aten::addmm"),
    "pooling, forward and backward": ("aten::max_pool2d_with_indices", "aten::max_pool2d_with_indices_backward"),
    "ReLU, forward and backward": ("aten::clamp_min", "aten::threshold_backward", "aten::relu"),
    "dropout": ("aten::bernoulli_", "aten::div_", "aten::mul"),
    "Adam": ("Optimizer.step#Adam.step",),
}


def instrument(totals):
    def timed(fn, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[key] += time.perf_counter() - start
        return wrapper

    for name, op in tc.registered_ops().items():
        op.forward = timed(op.forward, f"{name} forward")
        if op.vjp_fn is not None:
            op.vjp_fn = timed(op.vjp_fn, f"{name} VJP (incl. ops it calls)")
    for target, kernel in kernels.registered().items():
        if kernel.forward is not None:
            kernel.forward = timed(kernel.forward, f"{kernel.name} kernel forward")
        if kernel.vjp is not None:
            kernel.vjp = timed(kernel.vjp, f"{kernel.name} kernel VJP")


def record_conv_algorithms(choices):
    """Note, per conv2d layer shape, which algorithm its forward and its VJP ran."""
    kernel = kernels.registered()[tc.get_op("conv2d")]
    forward, vjp = kernel.forward, kernel.vjp

    def layer(x_shape, w_shape, params):
        return (f"x {tuple(x_shape)}, w {tuple(w_shape)}, padding {params['padding']}, "
                f"stride {params['stride']}")

    def algorithm(x_shape, w_shape, params, dtype, direction="forward"):
        geometry = params["stride"], params["padding"], params["dilation"], params["groups"]
        threads = conv2d_threads(x_shape, w_shape, *geometry)
        return (conv2d_algorithm(x_shape, w_shape, *geometry, dtype, direction)
                + f" on {threads} thread{'s' if threads > 1 else ''}")

    def recorded_forward(ctx, x, w, *args, **params):
        choices.setdefault(layer(x.shape, w.shape, params), {})["forward"] = algorithm(
            x.shape, w.shape, params, x.dtype)
        return forward(ctx, x, w, *args, **params)

    def recorded_vjp(ctx, grad_out):
        x, w = ctx.inputs[0].data, ctx.inputs[1].data
        needs = ctx.needs_input_grad
        what = "backward (" + " and ".join(name for name, need in zip(("input", "weight"), needs) if need) + ")"
        choices.setdefault(layer(x.shape, w.shape, ctx.params), {})[what] = algorithm(
            x.shape, w.shape, ctx.params, x.dtype, "backward")
        return vjp(ctx, grad_out)

    kernel.forward, kernel.vjp = recorded_forward, recorded_vjp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--torch", action="store_true", help="also profile PyTorch's step (torch.profiler)")
    args = parser.parse_args()
    tc.manual_seed(0)
    model = convnet_ours()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    images, labels = batch(100)
    x, y = tc.Tensor(images), tc.Tensor(labels)
    totals = collections.defaultdict(float)
    instrument(totals)
    choices = {}
    record_conv_algorithms(choices)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        start = time.perf_counter()
        opt.step()
        totals["Adam step"] += time.perf_counter() - start

    for _ in range(2):
        step()
    per_step, elapsed = collections.defaultdict(list), []
    for _ in range(args.steps):
        totals.clear()
        wait_quiet(0.3)
        start = time.perf_counter()
        step()
        elapsed.append(time.perf_counter() - start)
        for key, seconds in totals.items():
            per_step[key].append(seconds)
    print(f"training step, batch 100: median {statistics.median(elapsed) * 1e3:.1f} ms "
          f"(forward + backward + Adam, {args.steps} steps)")
    medians = {key: statistics.median(values + [0.0] * (args.steps - len(values)))
               for key, values in per_step.items()}
    for key, seconds in sorted(medians.items(), key=lambda item: -item[1]):
        if seconds >= 5e-5:
            print(f"  {key:<42} {seconds * 1e3:7.2f} ms")
    print("\nconvolution algorithms (fast kernels):")
    for layer, directions in choices.items():
        print(f"  {layer}: " + "; ".join(f"{what} {name}" for what, name in directions.items()))
    if args.torch:
        profile_torch(model, images, labels, args.steps)


def profile_torch(model, images, labels, steps):
    torch = try_torch(threads=2)
    if torch is None:
        print("\n(torch not installed: pip install torch==2.13.0 to compare)")
        return
    from torch.profiler import ProfilerActivity, profile
    theirs = convnet_torch(torch)
    copy_weights(model, theirs, torch)
    opt = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    x, y = torch.tensor(images), torch.tensor(labels)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(theirs(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    wait_quiet(0.3)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    elapsed = (time.perf_counter() - start) / steps
    events = {event.key: event for event in prof.key_averages()}
    print(f"\nPyTorch's step (torch.profiler, {steps} steps in a row, profiler included): "
          f"{elapsed * 1e3:.1f} ms per step")
    for part, names in TORCH_PARTS.items():
        # Adam's step is a Python-level range: its total time; kernels: their own time
        total = sum((events[name].cpu_time_total if name.startswith("Optimizer") else
                     events[name].self_cpu_time_total) for name in names if name in events)
        print(f"  {part:<42} {total / steps / 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
