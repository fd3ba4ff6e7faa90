"""The speed-only code paths give the same numbers as the plain ones.

Each fast path (threads over large arrays, Adam over one flat array, the
transposed im2col of few-channel convolutions, the in-cache bias, the 2x2
pool's gradient in the mask's memory order) is switched on or off here and
compared against the other way of computing the same thing."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import _parallel, optim
from tinygrad_cnn.ops import conv as conv_ops
from tinygrad_cnn.optim import optimizer as optimizer_module


def _channels_last(rng, shape):
    n, c, h, w = shape
    return rng.standard_normal((n, h, w, c)).astype(np.float32).transpose(0, 3, 1, 2)


def _relu_pool_step(x_array):
    x = tc.Tensor(x_array, requires_grad=True)
    out = F.max_pool2d(F.relu(x), 2)
    out.backward(tc.Tensor(np.arange(out.numel(), dtype=np.float32).reshape(out.shape) % 7 - 3))
    return out.data.copy(), x.grad.data.copy()


@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
def test_threads_give_the_same_relu_and_pool(monkeypatch, layout):
    rng = np.random.default_rng(0)
    x = _channels_last(rng, (6, 5, 8, 10)) if layout == "channels_last" else \
        rng.standard_normal((6, 5, 8, 10)).astype(np.float32)
    x[0, 0, :2, :2] = 1.5          # a tie: the first maximum (row-major) takes the gradient
    monkeypatch.setattr(_parallel, "THREADS", 1)
    expected = _relu_pool_step(x)
    monkeypatch.setattr(_parallel, "THREADS", 3)
    monkeypatch.setattr(_parallel, "MIN_SIZE", 1)
    got = _relu_pool_step(x)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    grad = expected[1]
    assert grad[0, 0, 0, 0] == 0 or x[0, 0, 0, 0] > 0
    window = grad[0, 0, :2, :2].ravel()
    assert np.count_nonzero(window) <= 1 and window[1:].sum() == 0   # only the first of the tied


def test_parallel_run_covers_every_index_once(monkeypatch):
    monkeypatch.setattr(_parallel, "THREADS", 3)
    seen = np.zeros(10, dtype=int)

    def mark(start, stop):
        seen[start:stop] += 1
    _parallel.run(mark, 10, size=1 << 30)
    np.testing.assert_array_equal(seen, 1)
    assert _parallel.bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]


def test_flat_view_follows_memory_order():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1).transpose(0, 3, 1, 2)   # channels last
    np.testing.assert_array_equal(_parallel.flat(a), np.arange(24))
    assert _parallel.flat(np.arange(24.0).reshape(4, 6)[:, ::2]) is None


def _adam_run(monkeypatch, flat_limit, steps=5, reload_at=2, drop_grad_at=3):
    monkeypatch.setattr(optimizer_module, "_FLAT_LIMIT", flat_limit)
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    for step in range(steps):
        opt.zero_grad()
        for index, param in enumerate(model.parameters()):
            if step == drop_grad_at and index == 0:
                continue                      # one parameter without a gradient this step
            param.grad = tc.Tensor(rng.standard_normal(param.shape).astype(np.float32))
        opt.step()
        if step == reload_at:                  # state replaced from outside: the flat copy must follow
            state = opt.state_dict()
            opt = optim.Adam(model.parameters(), lr=0.1)
            opt.load_state_dict(state)
    return [p.data.copy() for p in model.parameters()], opt.state_dict()


def test_adam_over_one_flat_array_equals_per_parameter(monkeypatch):
    params_flat, state_flat = _adam_run(monkeypatch, flat_limit=1 << 16)
    params_each, state_each = _adam_run(monkeypatch, flat_limit=0)
    for a, b in zip(params_flat, params_each):
        np.testing.assert_array_equal(a, b)
    for index, entry in state_each["state"].items():
        for key, value in entry.items():
            got = state_flat["state"][index][key]
            np.testing.assert_array_equal(np.asarray(got.data if isinstance(got, tc.Tensor) else got),
                                          np.asarray(value.data if isinstance(value, tc.Tensor) else value))


def test_adam_flat_path_keeps_state_tensors_live(monkeypatch):
    monkeypatch.setattr(optimizer_module, "_FLAT_LIMIT", 1 << 16)
    param = tc.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([param], lr=0.1)
    param.grad = tc.Tensor(np.full(3, 2.0, dtype=np.float32))
    opt.step()
    exp_avg = opt.state[param]["exp_avg"]
    np.testing.assert_allclose(exp_avg.data, 0.2)          # (1 - 0.9) * 2
    assert float(opt.state[param]["step"].data) == 1.0
    np.testing.assert_allclose(param.data, 0.9, rtol=1e-6)  # the first Adam step moves by lr
    opt.step()
    np.testing.assert_allclose(exp_avg.data, 0.38, rtol=1e-6)   # the same Tensor, updated in place


@pytest.mark.parametrize("channels,kernel", [(1, 5), (3, 3), (2, 3)])
def test_transposed_im2col_equals_the_direct_one(monkeypatch, channels, kernel):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, channels, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, channels, kernel, kernel)).astype(np.float32)
    g = rng.standard_normal((3, 4, 9, 8)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    results = []
    for short_run in (0, 1 << 10):          # 0: never transposed; large: always for these shapes
        monkeypatch.setattr(conv_ops, "_SHORT_RUN", short_run)
        out = conv_ops.conv2d_array(x, w, padding=(kernel // 2,) * 2, bias=bias)
        grad_w = conv_ops.conv2d_weight_array(x, g, w.shape, padding=(kernel // 2,) * 2)
        results.append((out, grad_w))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-4)


def test_bias_added_per_piece_equals_one_add(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    monkeypatch.setattr(conv_ops, "_COLS_BUDGET", 3 * 3 * 3 * 36 * 2)    # pieces of two images
    pieces = conv_ops.conv2d_array(x, w, bias=bias)
    whole = conv_ops.conv2d_array(x, w) + bias.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(pieces, whole, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"conv2d: bias has shape \(4,\), expected \(5,\)"):
        conv_ops.conv2d_array(x, w, bias=bias[:4])


def test_bias_gradient_of_a_channels_last_gradient_is_its_channel_sum():
    rng = np.random.default_rng(4)
    grad = _channels_last(rng, (5, 6, 40, 30))      # 6000 pixels: the BLAS path
    with tc.no_grad():
        got = conv_ops._bias_grad(tc.Tensor(grad))
    np.testing.assert_allclose(got.data, grad.astype(np.float64).sum((0, 2, 3)), rtol=1e-5, atol=1e-5)
    assert got.dtype == tc.float32 and got.shape == (6,)


def test_weight_gradient_orientations_agree():
    rng = np.random.default_rng(5)
    for channels, filters in ((1, 32), (16, 4)):       # kernel columns fewer / more than filters
        x = rng.standard_normal((4, channels, 8, 8)).astype(np.float32)
        g = rng.standard_normal((4, filters, 8, 8)).astype(np.float32)
        got = conv_ops.conv2d_weight_array(x, g, (filters, channels, 3, 3), padding=(1, 1))
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
        expected = np.zeros((filters, channels, 3, 3))
        for i in range(3):
            for j in range(3):
                expected[:, :, i, j] = np.einsum("nfhw,nchw->fc", g, xp[:, :, i:i + 8, j:j + 8])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_channels_last_pool_equals_the_corner_pool_with_ties():
    from tinygrad_cnn.ops import pool as pool_ops
    rng = np.random.default_rng(6)
    memory = rng.integers(0, 3, (4, 6, 8, 5)).astype(np.float32)      # many ties
    x_last = memory.transpose(0, 3, 1, 2)
    x_first = np.ascontiguousarray(x_last)
    results = []
    for x in (x_last, x_first):
        out = np.empty((4, 5, 3, 4), dtype=np.float32)
        mask = np.empty((4, 5, 3, 2, 4, 2), dtype=bool)
        pool_ops._max_pool_2x2(x, out, mask)
        results.append((out, mask))
    if x_last.strides[1] < x_last.strides[3]:      # the channels-last call took the two-stage path
        out = np.empty((4, 3, 4, 5), dtype=np.float32).transpose(0, 3, 1, 2)
        mask = np.empty((4, 3, 2, 4, 2, 5), dtype=bool).transpose(0, 5, 1, 2, 3, 4)
        pool_ops._max_pool_2x2(x_last, out, mask)
        results.append((out, mask))
    for out, mask in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(mask, results[0][1])
    windows = results[-1][1].reshape(4, 5, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    np.testing.assert_array_equal(windows.sum(1), 1)          # exactly one winner per window
    values = x_first.reshape(4, 5, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    np.testing.assert_array_equal(windows.argmax(1), values.argmax(1))   # the first maximum


@pytest.mark.parametrize("kernel,padding", [((3, 3), (1, 1)), ((5, 5), (2, 2)), ((3, 5), (0, 2)),
                                            ((5, 3), (4, 0)), ((1, 1), (0, 0))])
def test_both_conv_gradients_from_one_im2col(kernel, padding):
    rng = np.random.default_rng(7)
    x = _channels_last(rng, (3, 4, 9, 7))
    w = rng.standard_normal((6, 4) + kernel).astype(np.float32)
    geometry = dict(stride=(1, 1), padding=padding, dilation=(1, 1), groups=1)
    assert conv_ops._shares_input_im2col(w.shape, geometry)
    out = conv_ops.conv2d_array(x, w, padding=padding)
    g = rng.standard_normal(out.shape).astype(np.float32)
    grad_x, grad_w = conv_ops._input_and_weight_grads(x, w, g, padding)
    expected_x = conv_ops.conv_transpose2d_array(g, w, padding=padding,
                                                 output_padding=conv_ops._output_padding(x.shape, w.shape, geometry))
    expected_w = conv_ops.conv2d_weight_array(x, g, w.shape, padding=padding)
    assert grad_x.shape == x.shape and grad_w.shape == w.shape
    np.testing.assert_allclose(grad_x, expected_x, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(grad_w, expected_w, rtol=1e-5, atol=1e-4)


def test_conv_backward_takes_the_shared_path_and_matches_the_ops(monkeypatch):
    rng = np.random.default_rng(8)
    x = tc.Tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = tc.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    (F.conv2d(x, w, padding=1) ** 2).sum().backward()
    shared = x.grad.data.copy(), w.grad.data.copy()
    x.grad = w.grad = None
    monkeypatch.setattr(conv_ops, "_shares_input_im2col", lambda *args: False)
    (F.conv2d(x, w, padding=1) ** 2).sum().backward()
    np.testing.assert_allclose(shared[0], x.grad.data, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(shared[1], w.grad.data, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_numpy_vjps_equal_the_recorded_ones(batch, reduction):
    """Plain backward takes the numpy VJPs of linear, log_softmax and
    nll_loss; create_graph=True takes the Tensor-op ones."""
    rng = np.random.default_rng(9)
    x = tc.Tensor(rng.standard_normal((batch, 5)).astype(np.float32), requires_grad=True)
    layer = nn.Linear(5, 4)
    labels = tc.Tensor(rng.integers(0, 4, batch))
    results = []
    for create_graph in (False, True):
        loss = F.nll_loss(F.log_softmax(layer(x), dim=1), labels, reduction=reduction)
        if reduction == "none":
            loss = (loss * tc.Tensor(np.arange(1, batch + 1, dtype=np.float32))).sum()
        grads = tc.autograd.grad(loss, [x, layer.weight, layer.bias], create_graph=create_graph)
        results.append([g.data.copy() for g in grads])
    for plain, recorded in zip(*results):
        assert plain.dtype == recorded.dtype == np.float32
        np.testing.assert_allclose(plain, recorded, rtol=1e-5, atol=1e-6)
