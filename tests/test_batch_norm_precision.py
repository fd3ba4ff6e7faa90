"""Training-mode batch norm is accurate on any memory layout: a Conv2d output
(an NCHW view of channels-last memory, of the ConvNet's first-layer size) is
normalised, and its weight and bias gradients summed, to within a few float32
ulps of a float64 reference, as a contiguous input is."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F

EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def conv_output():
    rng = np.random.default_rng(0)
    images = tc.tensor(rng.random((100, 1, 28, 28), dtype=np.float32))
    weight = tc.tensor(rng.standard_normal((32, 1, 5, 5)).astype(np.float32) * 0.2)
    bias = tc.tensor(rng.standard_normal(32).astype(np.float32) + 3.0)     # means far from 0
    with tc.no_grad():
        out = F.conv2d(images, weight, bias, padding=2)
    return out.data


def _reference(x, gamma, upstream):
    """Output and weight/bias gradients in float64."""
    x64, g64 = x.astype(np.float64), upstream.astype(np.float64)
    axes = (0, 2, 3)
    mean = x64.mean(axis=axes, keepdims=True)
    xhat = (x64 - mean) / np.sqrt(((x64 - mean) ** 2).mean(axis=axes, keepdims=True) + 1e-5)
    return xhat * gamma.reshape(1, -1, 1, 1), (g64 * xhat).sum(axis=axes), g64.sum(axis=axes)


@pytest.mark.parametrize("layout", ["conv output (channels-last memory)", "contiguous"])
def test_training_batch_norm_is_accurate_on_any_layout(conv_output, layout):
    x = conv_output if layout.startswith("conv") else np.ascontiguousarray(conv_output)
    assert x.flags.c_contiguous == (layout == "contiguous")
    rng = np.random.default_rng(1)
    gamma = (rng.random(32) + 0.5).astype(np.float32)
    upstream = rng.standard_normal(x.shape).astype(np.float32)
    layer = nn.BatchNorm2d(32)
    with tc.no_grad():
        layer.weight.copy_(tc.tensor(gamma))
    inputs = tc.Tensor(x, requires_grad=True)
    out = layer(inputs)
    out.backward(tc.tensor(upstream))
    expected, grad_weight, grad_bias = _reference(x, gamma, upstream)
    # the output: a few ulps of its largest value (float32 rounding of x - mean and of the result)
    assert np.abs(out.data - expected).max() <= 8 * EPS32 * np.abs(expected).max()
    # the gradient sums over 78,400 values per channel: float64 accumulation keeps them to ~ulps
    count = x.size // 32
    for got, want, upstream_scale in [(layer.weight.grad.data, grad_weight, np.abs(upstream).max()),
                                      (layer.bias.grad.data, grad_bias, np.abs(upstream).max())]:
        bound = 8 * EPS32 * (np.abs(want).max() + np.sqrt(count) * upstream_scale)
        assert np.abs(got - want).max() <= bound
    np.testing.assert_allclose(layer.running_mean.data, 0.1 * x.astype(np.float64).mean(axis=(0, 2, 3)),
                               rtol=8 * EPS32)


def test_training_batch_norm_on_a_conv_output_is_as_accurate_as_torch(conv_output):
    torch = pytest.importorskip("torch")
    # torch on a contiguous copy (on this strided view its own error is ~100x larger)
    contiguous = torch.from_numpy(np.ascontiguousarray(conv_output))
    expected = torch.nn.functional.batch_norm(contiguous, None, None, training=True).numpy()
    got = F.batch_norm(tc.Tensor(conv_output), None, None, training=True).data
    reference, _, _ = _reference(conv_output, np.ones(32, np.float32), np.zeros_like(conv_output))
    ours, theirs = np.abs(got - reference).max(), np.abs(expected - reference).max()
    assert ours <= max(2 * theirs, 8 * EPS32 * np.abs(reference).max())
