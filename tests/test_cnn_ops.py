"""CNN ops beyond the registry-driven gradient checks: forward values against
plain loops (as in the notebooks), the max-pool tie rule, composite losses,
dropout, error messages, and PyTorch parity when torch is installed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor
from tinygrad_cnn.testing import gradcheck, gradgradcheck
from tinygrad_cnn.testing.nn_cases import conv_geometry, pool_geometry
from tinygrad_cnn.testing.strategies import arrays, distinct_arrays


# --- loop references ---------------------------------------------------------

def conv2d_loops(x, w, stride, padding, dilation, groups):
    n, c, h, width = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (width + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, f, out_h, out_w))
    fg = f // groups
    for b in range(n):
        for o in range(f):
            group = o // fg
            for i in range(out_h):
                for j in range(out_w):
                    total = 0.0
                    for ci in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                total += xp[b, group * cg + ci, i * stride[0] + p * dilation[0],
                                            j * stride[1] + q * dilation[1]] * w[o, ci, p, q]
                    out[b, o, i, j] = total
    return out


def pool_loops(x, kernel, stride, padding, reduce, pad_value):
    stride = kernel if stride is None else stride
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=pad_value)
    out_h = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    out = np.zeros((n, c, out_h, out_w))
    for b in range(n):
        for ch in range(c):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[b, ch, i * stride[0]:i * stride[0] + kernel[0], j * stride[1]:j * stride[1] + kernel[1]]
                    out[b, ch, i, j] = reduce(window)
    return out


@given(data=st.data())
def test_conv2d_matches_loops(data):
    geometry = data.draw(conv_geometry(max_kernel=4))
    x = data.draw(arrays(geometry["input"]))
    w = data.draw(arrays(geometry["weight"]))
    params = geometry["params"]
    got = F.conv2d(Tensor(x), Tensor(w), **params).detach().numpy()
    np.testing.assert_allclose(got, conv2d_loops(x, w, **params), rtol=1e-10, atol=1e-10)


@given(data=st.data())
def test_pools_match_loops(data):
    shape, params = data.draw(pool_geometry())
    x = data.draw(distinct_arrays(shape))
    kernel, stride, padding = params["kernel_size"], params["stride"], params["padding"]
    got = F.max_pool2d(Tensor(x), **params).detach().numpy()
    np.testing.assert_array_equal(got, pool_loops(x, kernel, stride, padding, np.max, -np.inf))
    got = F.avg_pool2d(Tensor(x), **params).detach().numpy()
    np.testing.assert_allclose(got, pool_loops(x, kernel, stride, padding, np.mean, 0.0), rtol=1e-12, atol=1e-12)


def test_conv2d_on_channels_last_memory_matches_contiguous():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    a = F.conv2d(Tensor(x), Tensor(w), padding=1).detach().numpy()
    b = F.conv2d(Tensor(channels_last), Tensor(w), padding=1).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12)


# --- the max-pool tie rule -------------------------------------------------------

@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 1), (2, 1)])
def test_max_pool_gradient_goes_to_first_maximum(kernel, stride):
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32), requires_grad=True)
    out = F.max_pool2d(x, kernel, stride)
    out.sum().backward()
    expected = np.zeros((4, 4), dtype=np.float32)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            expected[i * stride, j * stride] += 1       # top-left element of each window
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_max_pool_padding_counts_as_minus_infinity():
    x = Tensor(-np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3))
    out = F.max_pool2d(x, 3, stride=1, padding=1).detach().numpy()[0, 0]
    assert out[0, 0] == -1.0 and out[2, 2] == -5.0


# --- softmax, losses ---------------------------------------------------------

def test_softmax_and_log_softmax_are_stable():
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [3.0, 3.0, 3.0]], dtype=np.float32))
    probs = F.softmax(logits, axis=1).detach().numpy()
    np.testing.assert_allclose(probs, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    assert np.isfinite(F.log_softmax(logits).detach().numpy()).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_finite_for_huge_logits(reduction):
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, Tensor(np.array([1, 1])), reduction=reduction)
    loss.sum().backward()
    assert np.isfinite(loss.detach().numpy()).all() and np.isfinite(logits.grad.numpy()).all()
    assert loss.dtype == np.float32


def test_cross_entropy_values_and_targets():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 5))
    labels = np.array([0, 3, 4, 1])
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    expected = -log_probs[np.arange(4), labels]
    got = F.cross_entropy(Tensor(logits), Tensor(labels), reduction="none").detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    onehot = np.eye(5)[labels]
    np.testing.assert_allclose(F.cross_entropy(Tensor(logits), Tensor(onehot)).item(), expected.mean(), rtol=1e-12)
    soft = rng.dirichlet(np.ones(5), size=4)
    np.testing.assert_allclose(F.cross_entropy(Tensor(logits), Tensor(soft), reduction="sum").item(),
                               -(soft * log_probs).sum(), rtol=1e-12)


@given(data=st.data())
def test_cross_entropy_gradients(data):
    n, classes = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 5))
    logits = data.draw(arrays((n, classes)))
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
    soft = data.draw(arrays((n, classes), 0.1, 1.0))
    soft = soft / soft.sum(1, keepdims=True)
    for target in (Tensor(labels), Tensor(soft)):
        def loss(z, target=target):
            return F.cross_entropy(z, target)
        assert gradcheck(loss, [logits])
        assert gradgradcheck(loss, [logits])


@pytest.mark.parametrize("logits, target, message", [
    (np.zeros((4, 10)), np.array([1, 2, 3]), r"cross_entropy: got 3 labels .* batch of 4"),
    (np.zeros((2, 10)), np.array([1, 12]), r"cross_entropy: label 12 is out of range for 10 classes"),
    (np.zeros((2, 10)), np.array([-1, 2]), r"label -1 is out of range"),
    (np.zeros((2, 10)), np.zeros((2, 9)), r"cross_entropy: probability targets must have the logits' shape"),
    (np.zeros(10), np.array([1]), r"cross_entropy: logits must be 2-D"),
])
def test_cross_entropy_errors(logits, target, message):
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(Tensor(logits), Tensor(target))


# --- dropout -------------------------------------------------------------------

def test_dropout_is_inverted_and_reproducible():
    x = tc.ones(200, 50)
    tc.manual_seed(3)
    a = F.dropout(x, p=0.3).detach().numpy()
    tc.manual_seed(3)
    b = F.dropout(x, p=0.3).detach().numpy()
    np.testing.assert_array_equal(a, b)
    kept = a != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(F.dropout(x, p=0.3, training=False).detach().numpy(), x.detach().numpy())


def test_dropout_gradient_uses_the_same_mask():
    tc.manual_seed(0)
    x = Tensor(np.ones((10, 10), dtype=np.float32), requires_grad=True)
    y = F.dropout(x, p=0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


# --- errors -------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(tc.zeros(1, 3, 8, 8), tc.zeros(4, 2, 3, 3)),
     r"conv2d: input has 3 channels but weight expects 2 \(input shape \(1, 3, 8, 8\), weight shape \(4, 2, 3, 3\)\)"),
    (lambda: F.conv2d(tc.zeros(1, 1, 4, 4), tc.zeros(2, 1, 7, 7)),
     r"conv2d: kernel 7x7 .* larger than the padded input 4x4"),
    (lambda: F.conv2d(tc.zeros(8, 8), tc.zeros(2, 3, 3, 3)), r"conv2d: expected a 3-D \(unbatched, C x H x W\) or 4-D"),
    (lambda: F.conv2d(tc.zeros(1, 3, 8, 8), tc.zeros(4, 1, 3, 3), groups=2), r"conv2d: groups=2 does not divide"),
    (lambda: F.max_pool2d(tc.zeros(1, 1, 3, 3), 4), r"max_pool2d: pool window 4x4 is larger than the padded input 3x3"),
    (lambda: F.avg_pool2d(tc.zeros(1, 1, 3, 3), 4), r"avg_pool2d: pool window 4x4"),
    (lambda: F.max_pool2d(tc.zeros(3, 3), 2), r"max_pool2d: expected a 3-D \(unbatched"),
    (lambda: F.linear(tc.zeros(2, 5), tc.zeros(3, 4)), r"linear: input has 5 features .* weight expects 4"),
    (lambda: F.conv2d(tc.zeros(1, 1, 4, 4), tc.zeros(2, 1, 3, 3), stride=(1, 2, 3)), r"conv2d: stride must be"),
])
def test_cnn_errors_name_op_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- PyTorch parity (only when torch is installed) ------------------------------

def test_parity_with_pytorch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(0)

    def both(fn_ours, fn_torch, *arrays_):
        ours = [Tensor(a, requires_grad=True) for a in arrays_]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays_]
        out, ref = fn_ours(*ours), fn_torch(*theirs)
        upstream = rng.standard_normal(out.shape)
        out.backward(Tensor(upstream))
        ref.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-10)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-10)

    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    geo = dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)
    both(lambda x, w, b: F.conv2d(x, w, b, **geo), lambda x, w, b: tF.conv2d(x, w, b, **geo), x, w, b)
    wt = rng.standard_normal((4, 3, 3, 2))
    geo_t = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    both(lambda x, w: F.conv_transpose2d(x, w, **geo_t), lambda x, w: tF.conv_transpose2d(x, w, **geo_t), x, wt)
    pool_x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0
    both(lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: tF.max_pool2d(x, 3, 2, 1), pool_x)
    both(lambda x: F.avg_pool2d(x, (3, 2), 2, 1), lambda x: tF.avg_pool2d(x, (3, 2), 2, 1), pool_x)
    logits, labels = rng.standard_normal((5, 7)), np.array([0, 6, 3, 3, 1])
    both(lambda z: F.cross_entropy(z, Tensor(labels)), lambda z: tF.cross_entropy(z, torch.tensor(labels)), logits)
    both(lambda z: F.log_softmax(z, 0), lambda z: tF.log_softmax(z, 0), logits)
    lw, lb = rng.standard_normal((3, 7)), rng.standard_normal(3)
    both(lambda z, w, b: F.linear(z, w, b), lambda z, w, b: tF.linear(z, w, b), logits, lw, lb)


@pytest.mark.parametrize("pool", ["max_pool2d 2", "max_pool2d 3 s1 p1", "adaptive_max_pool2d 2"])
def test_max_pools_send_a_nan_windows_gradient_to_its_last_nan(pool):
    """A window holding NaNs outputs NaN and its gradient goes to its last NaN in row-major
    window order, as in PyTorch (checked against it when installed); with no NaN, to its first
    maximum."""
    x = np.zeros((1, 2, 4, 4), dtype=np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan          # two NaNs in the first 2x2 window
    x[0, 0, 0, 0] = 5.0
    x[0, 1] = np.arange(16, dtype=np.float32).reshape(4, 4) % 3
    name, *rest = pool.split()
    args = {"max_pool2d 2": dict(kernel_size=2), "max_pool2d 3 s1 p1": dict(kernel_size=3, stride=1, padding=1),
            "adaptive_max_pool2d 2": dict(output_size=2)}[pool]
    t = tc.Tensor(x, requires_grad=True)
    out = getattr(F, name)(t, **args)
    upstream = np.arange(1, out.numel() + 1, dtype=np.float32).reshape(out.shape)
    out.backward(tc.Tensor(upstream))
    if pool != "max_pool2d 3 s1 p1":
        assert np.isnan(out.data[0, 0, 0, 0]) and t.grad.data[0, 0, 1, 0] == 1
        assert t.grad.data[0, 0, 0, 1] == 0 and t.grad.data[0, 0, 0, 0] == 0
    try:
        import torch
    except ImportError:
        return
    tt = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn.functional, name)(tt, **args)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    np.testing.assert_array_equal(t.grad.data, tt.grad.numpy())
