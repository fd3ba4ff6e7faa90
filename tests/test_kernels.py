"""The fast kernels against the reference ops, and the switch between them.

Every registered op kernel is compared with its op's reference by ``testing.check_kernel`` on
cases from ``testing.kernel_cases``, drawn on both sides of each size threshold the kernel
declares; Adam's group kernel is compared with the reference update over several steps."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import settings

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import kernels, optim
from tinygrad_cnn.kernels import _threads, adam as adam_kernel
from tinygrad_cnn.testing import kernel_cases
from tinygrad_cnn.testing.kernels import kernel_cases_for, kernel_test

# the kernels that split large work across threads do so in these tests, on any machine
pytestmark = pytest.mark.usefixtures("two_threads")

OP_KERNELS = sorted(kernel.name for target, kernel in kernels.registered().items() if hasattr(target, "forward"))


def test_every_op_kernel_has_threshold_cases():
    assert {"conv2d", "conv_transpose2d", "conv2d_weight", "max_pool2d", "linear", "relu"} <= set(OP_KERNELS)
    for name in OP_KERNELS:
        assert hasattr(kernel_cases, name + "_cases"), f"no kernel_cases.{name}_cases"


CONV_REGIMES = [("small", False), ("small", True), ("one_chunk", False), ("one_chunk", True), ("chunked", False),
                ("chunked", True), ("beyond_keep", False)]


@pytest.mark.parametrize("name", [n for n in OP_KERNELS if not n.startswith("conv")])
def test_kernel_matches_reference(name):
    kernel_test(name)()


@pytest.mark.parametrize("name", [n for n in OP_KERNELS if n.startswith("conv")])
@pytest.mark.parametrize("size_class, few", CONV_REGIMES)
def test_conv_kernel_matches_reference(name, size_class, few):
    """Each side of the gathered path's limit, the chunk budget, the kept-matrix limit and the
    short-row threshold, with a few drawn cases each (the other thresholds and geometries are drawn within them)."""
    test = kernel_test(name, kernel_cases_for(name, size_class=size_class, few=few))
    settings(max_examples=3)(test)()


def test_conv_cases_reach_every_threshold():
    """The conv strategy draws cases on both sides of each threshold (checked on 60 draws)."""
    from hypothesis import find
    thresholds = kernels.registered()[tc.get_op("conv2d")].thresholds

    def values(case):
        x, w = case.args[:2]
        n, c, h, width = x.shape
        f, cg, kh, kw = w.shape
        s, p, d = (case.kwargs[k] for k in ("stride", "padding", "dilation"))
        out_h = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
        out_w = (width + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
        gathered = case.kwargs["groups"] == 1 and n * out_h * out_w * kh * kw * c <= thresholds["gather_max_values"]
        return (n * out_h * out_w * kh * kw * c, kw * c, n * out_h * out_w, n * out_h * out_w * kh * kw * cg * f, n,
                gathered)
    strategy = kernel_cases_for("conv2d")
    split = thresholds["parallel_min_macs"]
    # the im2col thresholds are reached by layers too large for the gathered path
    for name, test in [
            ("gathered", lambda v: v[5]),
            ("gathered, BLAS-sized bias gradient", lambda v: v[5] and v[2] >= thresholds["bias_blas_pixels"]),
            ("several chunks", lambda v: v[0] > thresholds["cols_budget"]),
            ("one chunk", lambda v: not v[5] and v[0] <= thresholds["cols_budget"]),
            ("beyond the kept matrix", lambda v: v[0] > thresholds["keep_limit"]),
            ("short rows", lambda v: not v[5] and v[1] < thresholds["short_run"]),
            ("long rows", lambda v: not v[5] and v[1] >= thresholds["short_run"]),
            ("BLAS bias gradient", lambda v: not v[5] and v[2] >= thresholds["bias_blas_pixels"]),
            ("batch split across threads", lambda v: v[3] >= split and v[4] >= 2),
            ("one thread", lambda v: not v[5] and v[3] < split)]:
        find(strategy, lambda case, test=test: test(values(case)), settings=settings(max_examples=200))


def test_pool_cases_reach_nans_on_both_sides_of_the_gathered_path():
    from hypothesis import find
    limit = kernels.registered()[tc.get_op("max_pool2d")].thresholds["gather_max_size"]
    strategy = kernel_cases_for("max_pool2d")

    def with_nan(case):
        x = case.args[0]
        return case.kwargs["kernel_size"] == 2 and bool(np.isnan(x).any())
    for test in (lambda x: x.size <= limit, lambda x: x.size > limit and x.strides[1] < x.strides[3],
                 lambda x: x.size > limit and x.strides[1] > x.strides[3]):
        find(strategy, lambda case, test=test: with_nan(case) and test(case.args[0]), settings=settings(max_examples=300))


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("size", [4, 128])
def test_a_nan_wins_its_pool_window_as_in_the_reference(size, layout):
    """Where a 2x2 window holds NaNs its output is NaN and its gradient goes to its last NaN
    in row-major window order (the reference, and PyTorch), on both sides of the gathered
    path's limit (2x2x4x4 values gathered, 2x2x128x128 not)."""
    x = (np.arange(2 * 2 * size * size, dtype=np.float32) % 7).reshape(2, 2, size, size)
    x[0, 0, 0, 1] = x[0, 0, 2, 2] = x[1, 1, 1, 0] = x[1, 1, 1, 1] = np.nan
    x[0, 0, 3, 3] = 100.0                           # a larger value beside a NaN does not win
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    results = []
    for mode in ("fast", "reference"):
        t = tc.Tensor(x, requires_grad=True)
        with kernels.use(mode):
            out = F.max_pool2d(t, 2)
            out.backward(tc.Tensor(np.arange(out.numel(), dtype=np.float32).reshape(out.shape) + 1))
        results.append((out.data, t.grad.data))
    (fast_out, fast_grad), (ref_out, ref_grad) = results
    np.testing.assert_array_equal(fast_out, ref_out)          # NaNs in the same places
    np.testing.assert_array_equal(fast_grad, ref_grad)
    assert fast_grad[0, 0, 0, 1] == 1 and fast_grad[0, 0, 2, 2] != 0 and fast_grad[1, 1, 1, 1] != 0
    assert fast_grad[0, 0, 3, 3] == 0 and fast_grad[1, 1, 1, 0] == 0
    try:
        import torch
    except ImportError:
        return
    t = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.max_pool2d(t, 2)
    out.backward(torch.arange(1, out.numel() + 1, dtype=torch.float32).reshape(out.shape))
    np.testing.assert_array_equal(out.detach().numpy(), fast_out)
    np.testing.assert_array_equal(t.grad.numpy(), fast_grad)


# --- the switch ----------------------------------------------------------------------------------

def test_use_switches_and_restores(fast_kernels):
    assert kernels.current() == "fast"
    conv = tc.get_op("conv2d")
    assert conv.kernel is not None
    with kernels.use("reference"):
        assert kernels.current() == "reference" and conv.kernel is None
        assert optim.Adam.kernel is None
    assert kernels.current() == "fast" and conv.kernel is not None
    kernels.use("reference")
    try:
        assert kernels.current() == "reference"
    finally:
        kernels.use("fast")
    with pytest.raises(ValueError, match="kernels.use: expected one of"):
        kernels.use("faster")


def test_environment_chooses_the_kernels():
    code = "import tinygrad_cnn as tc; print(tc.kernels.current(), tc.get_op('conv2d').kernel)"
    env = dict(os.environ, TINYGRAD_CNN_KERNELS="reference")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["reference", "None"], out.stderr
    env["TINYGRAD_CNN_KERNELS"] = "quick"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "TINYGRAD_CNN_KERNELS must be one of" in out.stderr


def test_a_kernel_forward_then_a_reference_double_backward():
    """create_graph after the fast forward: the engine replays the reference forward, so the
    reference VJP finds what it saves (max_pool2d's winner positions, not the kernel's mask)."""
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
    results = []
    for name in ("fast", "reference"):
        with kernels.use(name):
            y = (F.max_pool2d(F.relu(x), 2) ** 3).sum()
            (g,) = tc.grad(y, [x], create_graph=True)
            (gg,) = tc.grad((g * g).sum(), [x])
            results.append((g.data, gg.data))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


# --- threads -------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
def test_threads_give_the_same_relu_and_pool(two_threads, layout):
    rng = np.random.default_rng(0)
    shape = (8, 16, 64, 64)       # above the size at which a pass is split
    x = rng.standard_normal((8, 64, 64, 16)).astype(np.float32).transpose(0, 3, 1, 2) \
        if layout == "channels_last" else rng.standard_normal(shape).astype(np.float32)
    x[0, 0, :2, :2] = 1.5          # a tie: the first maximum (row-major) takes the gradient

    def step():
        t = tc.Tensor(x, requires_grad=True)
        out = F.max_pool2d(F.relu(t), 2)
        out.backward(tc.Tensor(np.arange(out.numel(), dtype=np.float32).reshape(out.shape) % 7 - 3))
        return out.data.copy(), t.grad.data.copy()
    threaded = step()
    tc.set_num_threads(1)
    single = step()
    with kernels.use("reference"):
        reference = step()
    for a, b, c in zip(threaded, single, reference):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    window = threaded[1][0, 0, :2, :2].ravel()
    assert np.count_nonzero(window) == 1 and window[0] != 0     # only the first of the tied


def test_parallel_run_covers_every_index_once(two_threads):
    seen = np.zeros(10, dtype=int)

    def mark(start, stop):
        seen[start:stop] += 1
    _threads.run(mark, 10, size=1 << 30)
    np.testing.assert_array_equal(seen, 1)
    assert _threads.bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]


def test_parts_hold_blas_to_one_thread_and_give_it_back(two_threads):
    """map_parts runs one part per thread with BLAS on one thread meanwhile, restores BLAS's
    count afterwards (also when a part fails), and runs a nested call as one part."""
    blas = _threads._blas_threads()
    if blas.get is None:
        pytest.skip("numpy's BLAS is not OpenBLAS: its thread count cannot be set")
    before = blas.get()
    seen = []

    def part(start, stop):
        inner = _threads.map_parts(lambda a, b: (a, b), stop - start)
        seen.append((start, stop, blas.get(), inner))
        return start
    assert _threads.map_parts(part, 10) == [0, 5]
    assert sorted(seen) == [(0, 5, 1, [(0, 5)]), (5, 10, 1, [(0, 5)])]
    assert blas.get() == before

    def failing(start, stop):
        if start:
            raise RuntimeError("part failed")
    with pytest.raises(RuntimeError, match="part failed"):
        _threads.map_parts(failing, 4)
    assert blas.get() == before and not _threads.inside_part()


def test_set_num_threads_checks_its_argument():
    """A RuntimeError, as PyTorch's (checked when torch is installed), and a ValueError."""
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(RuntimeError, match="set_num_threads: expected a whole number >= 1"):
            tc.set_num_threads(bad)
        with pytest.raises(ValueError):
            tc.set_num_threads(bad)


def test_torch_refuses_the_same_thread_counts():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(RuntimeError):
            torch.set_num_threads(bad)
    assert torch.get_num_threads() == before


def test_flat_view_follows_memory_order():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1).transpose(0, 3, 1, 2)   # channels last
    np.testing.assert_array_equal(_threads.flat(a), np.arange(24))
    assert _threads.flat(np.arange(24.0).reshape(4, 6)[:, ::2]) is None


# --- Adam ------------------------------------------------------------------------------------------

def _adam_run(kernel_set, sizes, steps=5, reload_at=2, drop_grad_at=3, **options):
    """Adam over parameters of the given sizes: the state is reloaded from a state_dict at one
    step and one parameter has no gradient at another (both make the flat buffers stale)."""
    with kernels.use(kernel_set):
        rng = np.random.default_rng(1)
        params = [tc.Tensor(rng.standard_normal(size).astype(np.float32), requires_grad=True) for size in sizes]
        opt = optim.Adam(params, lr=0.1, **options)
        for step in range(steps):
            opt.zero_grad()
            for index, param in enumerate(params):
                if step == drop_grad_at and index == 0:
                    continue
                param.grad = tc.Tensor(rng.standard_normal(param.shape).astype(np.float32))
            opt.step()
            if step == reload_at:
                state = opt.state_dict()
                opt = optim.Adam(params, lr=0.1, **options)
                opt.load_state_dict(state)
        return [p.data.copy() for p in params], opt.state_dict()


def _state_arrays(state):
    return {(i, k): np.asarray(v.data if isinstance(v, tc.Tensor) else v)
            for i, entry in state["state"].items() for k, v in entry.items()}


@pytest.mark.parametrize("sizes", [
    [(4, 3), (3,), (2, 3)],                                  # one flat group (below flat_limit)
    [(adam_kernel._FLAT_LIMIT + 1,), (5,)],                  # per parameter, one block
    [(2 * adam_kernel._BLOCK + 17,)],                        # per parameter, several blocks
])
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1}, {"amsgrad": True}])
def test_adam_kernel_matches_the_reference_update(sizes, options):
    """float32 over 5 steps: the kernel moves the second moment's bias correction out of the
    denominator, so values agree to a few float32 ulps of the parameters (rtol 1e-6)."""
    fast_params, fast_state = _adam_run("fast", sizes, **options)
    ref_params, ref_state = _adam_run("reference", sizes, **options)
    for a, b in zip(fast_params, ref_params):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    fast_arrays, ref_arrays = _state_arrays(fast_state), _state_arrays(ref_state)
    assert fast_arrays.keys() == ref_arrays.keys()
    for key in ref_arrays:
        np.testing.assert_allclose(fast_arrays[key], ref_arrays[key], rtol=1e-6, atol=1e-7, err_msg=str(key))


def test_adam_flat_path_keeps_state_tensors_live(fast_kernels):
    param = tc.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([param], lr=0.1)
    param.grad = tc.Tensor(np.full(3, 2.0, dtype=np.float32))
    opt.step()
    exp_avg = opt.state[param]["exp_avg"]
    assert opt._flat_cache, "a 3-value group takes the flat path"
    np.testing.assert_allclose(exp_avg.data, 0.2)          # (1 - 0.9) * 2
    assert float(opt.state[param]["step"].data) == 1.0
    np.testing.assert_allclose(param.data, 0.9, rtol=1e-6)  # the first Adam step moves by lr
    opt.step()
    np.testing.assert_allclose(exp_avg.data, 0.38, rtol=1e-6)   # the same Tensor, updated in place


def test_adam_flat_path_counts_each_parameters_steps_and_follows_a_loaded_state(fast_kernels):
    """The flat path keeps every parameter's step count in one array (their 0-d state Tensors
    are views of it): each reads the count, and a state loaded with another count is followed."""
    params = [tc.Tensor(np.ones(shape, dtype=np.float32), requires_grad=True) for shape in [(3,), (2, 2)]]
    opt = optim.Adam(params, lr=0.1)
    for _ in range(3):
        for param in params:
            param.grad = tc.Tensor(np.full(param.shape, 2.0, dtype=np.float32))
        opt.step()
    assert [float(opt.state[param]["step"].data) for param in params] == [3.0, 3.0]
    saved = opt.state_dict()
    assert [float(saved["state"][i]["step"]) for i in (0, 1)] == [3.0, 3.0]
    fresh = optim.Adam(params, lr=0.1)
    for param in params:
        param.grad = None
    fresh.step()              # no gradients: nothing moves, no state
    assert not fresh.state
    for param in params:
        param.grad = tc.Tensor(np.full(param.shape, 2.0, dtype=np.float32))
    fresh.step()
    assert [float(fresh.state[param]["step"].data) for param in params] == [1.0, 1.0]
    fresh.load_state_dict(saved)
    fresh.step()
    assert [float(fresh.state[param]["step"].data) for param in params] == [4.0, 4.0]


def test_the_reference_trains_the_seed_convnet_like_the_kernels(train_both_ways):
    """Both kernel sets train a seed ConvNet for 8 steps on the same batches to the same loss:
    float32 training diverges only by rounding (rtol 1e-3: see tests/test_torch_programs.py)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, (8, 16))
    # each class a bright 6x6 square at its own place, on noise: learnable in a few steps
    images = rng.random((8, 16, 1, 28, 28)).astype(np.float32) * 0.3
    for batch in range(8):
        for item, label in enumerate(labels[batch]):
            row, col = divmod(int(label), 5)
            images[batch, item, 0, 4 + 12 * row:10 + 12 * row, 2 + 5 * col:8 + 5 * col] += 1.0
    losses = train_both_ways(lambda: nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(784, 10)),
        images, labels)
    assert losses["fast"][0] == pytest.approx(losses["reference"][0], rel=1e-6)
    np.testing.assert_allclose(losses["fast"], losses["reference"], rtol=1e-3)
    assert losses["fast"][-1] < losses["fast"][0]
