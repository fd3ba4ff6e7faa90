"""The convolution algorithms that conv2d's kernel chooses between by layer shape (im2col,
Winograd F(4x4, 3x3) and F(4x4, 5x5)): the choice, the transforms, Winograd against the
reference op on drawn cases on both sides of its thresholds, and its float32 rounding."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import find, given, settings

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import kernels
from tinygrad_cnn.kernels import conv as conv_kernels, winograd
from tinygrad_cnn.ops.conv import conv2d_reference, conv2d_weight_reference, conv_transpose2d_reference
from tinygrad_cnn.testing import kernel_cases
from tinygrad_cnn.testing.kernels import check_kernel, kernel_cases_for

THRESHOLDS = kernels.registered()[tc.get_op("conv2d")].thresholds


@pytest.mark.parametrize("r", winograd.KERNEL_SIZES)
def test_transforms_give_the_exact_correlation(r):
    """In exact arithmetic, AT ((G g) * (BT d)) is the 4-output correlation of d with g."""
    at, g, bt = winograd._exact_transforms(r)
    a = winograd.TILE + r - 1
    rng = np.random.default_rng(r)
    for _ in range(3):
        d = [Fraction(int(v)) for v in rng.integers(-9, 10, a)]
        taps = [Fraction(int(v)) for v in rng.integers(-9, 10, r)]
        filtered = [sum(g[j][k] * taps[k] for k in range(r)) for j in range(a)]
        transformed = [sum(bt[j][i] * d[i] for i in range(a)) for j in range(a)]
        got = [sum(at[i][j] * filtered[j] * transformed[j] for j in range(a)) for i in range(winograd.TILE)]
        assert got == [sum(d[i + k] * taps[k] for k in range(r)) for i in range(winograd.TILE)]


def test_the_choice_by_layer_shape():
    choose = conv_kernels.conv2d_algorithm
    # the seed ConvNet: its second convolution takes Winograd, the first (one channel) im2col
    assert choose((100, 32, 14, 14), (64, 32, 5, 5), padding=(2, 2)) == "winograd F(4x4,5x5)"
    assert choose((100, 1, 28, 28), (32, 1, 5, 5), padding=(2, 2)) == "im2col"
    assert choose((1, 1, 28, 28), (8, 1, 3, 3)) == "gather"                     # TinyNet
    assert choose((100, 32, 14, 14), (64, 32, 3, 3), padding=(1, 1)) == "winograd F(4x4,3x3)"
    assert choose((1, 32, 14, 14), (64, 32, 5, 5), padding=(2, 2)) == "im2col"   # 16 tiles
    assert choose((2, 32, 14, 14), (64, 32, 5, 5), padding=(2, 2)) == "winograd F(4x4,5x5)"
    for geometry in [dict(stride=(2, 2)), dict(dilation=(2, 2)), dict(groups=2)]:
        w_shape = (64, 32 // geometry.get("groups", 1), 5, 5)
        assert choose((100, 32, 14, 14), w_shape, padding=(2, 2), **geometry) == "im2col"
    assert choose((100, 32, 14, 14), (64, 32, 5, 5), padding=(2, 2), dtype=np.float16) == "im2col"
    assert choose((100, 32, 14, 14), (64, 32, 4, 4), padding=(2, 2)) == "im2col"
    # the gradients take Winograd only with at least twice as many filters as channels
    assert choose((100, 32, 14, 14), (64, 32, 5, 5), padding=(2, 2), direction="backward") == "winograd F(4x4,5x5)"
    assert choose((100, 32, 14, 14), (32, 32, 5, 5), padding=(2, 2)) == "winograd F(4x4,5x5)"
    assert choose((100, 32, 14, 14), (32, 32, 5, 5), padding=(2, 2), direction="backward") == "im2col"
    assert choose((100, 1, 28, 28), (32, 1, 5, 5), padding=(2, 2), direction="backward") == "im2col"
    with pytest.raises(ValueError, match="conv2d_algorithm: direction"):
        choose((100, 32, 14, 14), (64, 32, 5, 5), direction="sideways")


def test_winograd_runs_in_both_directions(monkeypatch, fast_kernels):
    """The seed ConvNet's second layer goes through Winograd forward and backward; its first
    layer does not."""
    calls = []
    for name in ("conv2d", "conv2d_grads"):
        original = getattr(winograd, name)
        monkeypatch.setattr(winograd, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((2, 32, 14, 14)).astype(np.float32), requires_grad=True)
    w = tc.Tensor(rng.standard_normal((64, 32, 5, 5)).astype(np.float32) * 0.1, requires_grad=True)
    F.conv2d(x, w, padding=2).sum().backward()
    parts = calls.count("conv2d")      # one call per thread's part of the batch
    assert parts >= 1 and calls == ["conv2d"] * parts + ["conv2d_grads"] * parts
    calls.clear()
    first = tc.Tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
    F.conv2d(first, tc.Tensor(np.ones((32, 1, 5, 5), np.float32), requires_grad=True), padding=2).sum().backward()
    assert calls == []


@pytest.mark.parametrize("side", kernel_cases.WINOGRAD_SIDES)
def test_winograd_kernel_matches_reference(side):
    """float64, rtol 1e-9 of each result's largest magnitude (check_kernel's tolerance): the
    transforms' rounding in float64 measured ~1e-14 of it."""
    strategy = kernel_cases_for("conv2d", winograd=side)

    @settings(max_examples=2)
    @given(case=strategy)
    def test(case):
        check_kernel("conv2d", case, second_order=False)
    test()


def test_winograd_cases_reach_both_sides_of_every_threshold():
    strategy = kernel_cases_for("conv2d", winograd=True)

    def algorithm(case, direction="forward"):
        """'winograd' or 'other' (im2col, or the gathered im2col of small layers)."""
        x, w = case.args[:2]
        name = conv_kernels.conv2d_algorithm(x.shape, w.shape, padding=case.kwargs["padding"], dtype=x.dtype,
                                             direction=direction)
        return "winograd" if name.startswith("winograd") else "other"

    def values_per_call(case):
        x, w = case.args[:2]
        out_h, out_w = (x.shape[2 + a] + 2 * case.kwargs["padding"][a] - w.shape[2] + 1 for a in (0, 1))
        per_image = (w.shape[2] + 3) ** 2 * np.prod(winograd.tile_grid(out_h, out_w)) * max(x.shape[1], w.shape[0])
        return x.shape[0] * per_image
    find(strategy, lambda case: algorithm(case) == "winograd"
         and values_per_call(case) > THRESHOLDS["winograd_chunk_budget"], settings=settings(max_examples=200))
    find(strategy, lambda case: conv_kernels.conv2d_algorithm(
        case.args[0].shape, case.args[1].shape, padding=case.kwargs["padding"], dtype=case.args[0].dtype)
        == "winograd F(4x4,3x3)", settings=settings(max_examples=200))
    find(strategy, lambda case: algorithm(case, "backward") == "winograd", settings=settings(max_examples=200))
    find(strategy, lambda case: algorithm(case) == "winograd" and algorithm(case, "backward") == "other",
         settings=settings(max_examples=200))
    for test in [lambda x, w: x.shape[1] < THRESHOLDS["winograd_min_channels"],
                 lambda x, w: w.shape[0] < THRESHOLDS["winograd_min_filters"],
                 lambda x, w: w.shape[2] not in winograd.KERNEL_SIZES,
                 lambda x, w: x.shape[1] >= THRESHOLDS["winograd_min_channels"]
                 and w.shape[0] >= THRESHOLDS["winograd_min_filters"] and w.shape[2] in winograd.KERNEL_SIZES]:
        find(strategy, lambda case, test=test: algorithm(case) == "other" and test(*case.args[:2]),
             settings=settings(max_examples=200))


# float32 Winograd against the float64 reference: largest error over the largest magnitude of
# each result. Measured on these shapes (seeds 0-2, 3x3 and 5x5): forward 4e-6 to 7e-6, input
# gradient 2.5e-6 to 5e-6, weight gradient 5e-6 to 7.5e-6 (the float32 reference: 1.5e-7 to
# 9e-7). The bound leaves a margin of 13x.
WINOGRAD_FLOAT32_BOUND = 1e-4


@pytest.mark.parametrize("r", winograd.KERNEL_SIZES)
def test_winograd_float32_rounding_is_bounded(r):
    rng = np.random.default_rng(r)
    x = rng.standard_normal((8, 32, 14, 14))
    w = rng.standard_normal((64, 32, r, r)) * (2.0 / (32 * r * r)) ** 0.5
    padding = (r // 2, r // 2)
    assert conv_kernels.conv2d_algorithm(x.shape, w.shape, padding=padding) != "im2col"
    out64 = conv2d_reference(x, w, None, (1, 1), padding, (1, 1), 1)
    g = rng.standard_normal(out64.shape)
    grad_x64 = conv_transpose2d_reference(g, w, (1, 1), padding, (1, 1), 1, (0, 0))
    grad_w64 = conv2d_weight_reference(x, g, w.shape, (1, 1), padding, (1, 1), 1)
    x32, w32 = (tc.Tensor(a.astype(np.float32), requires_grad=True) for a in (x, w))
    out = F.conv2d(x32, w32, padding=padding)
    out.backward(tc.Tensor(g.astype(np.float32)))
    for got, expected in [(out, out64), (x32.grad, grad_x64), (w32.grad, grad_w64)]:
        assert got.dtype == np.float32
        error = np.max(np.abs(got.data - expected)) / np.max(np.abs(expected))
        assert error < WINOGRAD_FLOAT32_BOUND


def test_the_seed_convnet_trains_alike_with_winograd_and_the_reference(train_both_ways):
    """The seed ConvNet's layers at batch 4 (its second convolution takes Winograd both ways):
    6 Adam steps on one batch give the same losses in float32 as the reference ops (rtol 1e-3,
    as for the im2col kernels in tests/test_kernels.py), and the loss falls."""
    import tinygrad_cnn.nn as nn
    assert conv_kernels.conv2d_algorithm((4, 32, 14, 14), (64, 32, 5, 5), padding=(2, 2),
                                         direction="backward") != "im2col"
    rng = np.random.default_rng(0)
    images = np.repeat(rng.random((1, 4, 1, 28, 28)).astype(np.float32), 6, axis=0)
    labels = np.repeat(rng.integers(0, 10, (1, 4)), 6, axis=0)
    losses = train_both_ways(lambda: nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 10)),
        images, labels)
    np.testing.assert_allclose(losses["fast"], losses["reference"], rtol=1e-3)
    assert losses["fast"][-1] < losses["fast"][0]


@pytest.mark.parametrize("r", winograd.KERNEL_SIZES)
def test_winograd_with_several_chunks_in_each_threads_part(r, two_threads, monkeypatch):
    """Each thread pads and convolves its part of the batch one chunk at a time: with chunks of
    two images and two threads over 11 images, every part holds several chunks and the last
    chunk of each is short. Forward, input and weight gradients in float64 equal the reference
    to 1e-9 of each result's largest magnitude (the transforms' float64 rounding is ~1e-14)."""
    rng = np.random.default_rng(10 + r)
    n, c, f, size = 11, 16, 32, 10          # too large for the gathered path
    padding = (r // 2, r // 2)
    x = rng.standard_normal((n, c, size, size))
    w = rng.standard_normal((f, c, r, r)) / (c * r * r) ** 0.5
    b = rng.standard_normal(f)
    g = rng.standard_normal((n, f, size, size))
    per_image = (r + 3) ** 2 * np.prod(winograd.tile_grid(size, size)) * max(c, f)
    monkeypatch.setattr(winograd, "_CHUNK_BUDGET", 2 * per_image)
    monkeypatch.setattr(conv_kernels, "_PARALLEL_MIN_MACS", 0)
    for direction in ("forward", "backward"):
        assert conv_kernels.conv2d_algorithm(x.shape, w.shape, padding=padding, dtype=x.dtype,
                                             direction=direction).startswith("winograd")
    assert conv_kernels.conv2d_threads(x.shape, w.shape, padding=padding) == 2
    parts = conv_kernels._threads.bounds(n, 2)
    assert [len(winograd.chunks(stop - start, c, f, r, size, size)) for start, stop in parts] == [3, 3]
    xt, wt, bt = (tc.Tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, padding=padding)
    out.backward(tc.Tensor(g))
    expected = [conv2d_reference(x, w, b, (1, 1), padding, (1, 1), 1),
                conv_transpose2d_reference(g, w, (1, 1), padding, (1, 1), 1, (0, 0)),
                conv2d_weight_reference(x, g, w.shape, (1, 1), padding, (1, 1), 1)]
    for got, want in zip((out, xt.grad, wt.grad), expected):
        np.testing.assert_allclose(got.data, want, rtol=0, atol=1e-9 * np.max(np.abs(want)))
    np.testing.assert_allclose(bt.grad.data, g.sum(axis=(0, 2, 3)), rtol=1e-12)
