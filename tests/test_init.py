"""nn.init: PyTorch's formulas for bounds and standard deviations, checked
statistically on large tensors; in place, dtype kept, seeded."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
from tinygrad_cnn.nn import init


def _param(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def _values(t):
    return t.data


@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                                ("tanh", None), ("relu", None), ("leaky_relu", None),
                                                ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(256, 128), (64, 32, 3, 3)])
def test_uniform_bounds(shape):
    receptive = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    cases = [
        (lambda t: init.xavier_uniform_(t), math.sqrt(6 / (fan_in + fan_out))),
        (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(6 / (fan_in + fan_out))),
        (lambda t: init.kaiming_uniform_(t), math.sqrt(2) * math.sqrt(3 / fan_in)),   # a=0: the relu gain
        (lambda t: init.kaiming_uniform_(t, a=0.01), math.sqrt(2 / (1 + 0.01 ** 2)) * math.sqrt(3 / fan_in)),
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(fan_in)),
        (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(6 / fan_out)),
        (lambda t: init.uniform_(t, -0.3, 0.3), 0.3),
    ]
    for fill, bound in cases:
        t = _param(*shape)
        assert fill(t) is t
        values = _values(t)
        assert values.dtype == np.float32 and t.requires_grad
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.99 * bound
        assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound
        assert abs(values.mean()) < 0.02 * bound


@pytest.mark.parametrize("shape", [(256, 128), (64, 32, 3, 3)])
def test_normal_stds(shape):
    receptive = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    cases = [
        (lambda t: init.xavier_normal_(t), math.sqrt(2 / (fan_in + fan_out))),
        (lambda t: init.kaiming_normal_(t), math.sqrt(2) / math.sqrt(fan_in)),
        (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / fan_out)),
        (lambda t: init.kaiming_normal_(t, nonlinearity="tanh"), 5 / 3 / math.sqrt(fan_in)),
        (lambda t: init.normal_(t, 0.0, 0.02), 0.02),
    ]
    for fill, std in cases:
        t = _param(*shape)
        values = _values(fill(t))
        assert values.dtype == np.float32
        assert abs(values.std() - std) < 0.03 * std
        assert abs(values.mean()) < 0.03 * std


def test_normal_mean_and_trunc_normal_bounds():
    t = _param(100_000)
    init.normal_(t, mean=3.0, std=0.5)
    assert abs(_values(t).mean() - 3.0) < 0.01
    init.trunc_normal_(t, mean=0.0, std=1.0, a=-0.5, b=1.0)
    values = _values(t)
    assert values.min() >= -0.5 and values.max() <= 1.0
    # a standard normal truncated to [-0.5, 1]: its mean is (phi(-0.5) - phi(1)) / (Phi(1) - Phi(-0.5))
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))
    assert abs(values.mean() - (phi(-0.5) - phi(1)) / (cdf(1) - cdf(-0.5))) < 0.01
    init.trunc_normal_(t, std=0.02)   # PyTorch's absolute bounds [-2, 2] do not bind
    assert abs(_values(t).std() - 0.02) < 0.001
    with pytest.raises(ValueError, match="lower bound"):
        init.trunc_normal_(t, a=1.0, b=0.0)


def test_constants_and_eye():
    t = _param(3, 4, dtype=np.float64)
    assert _values(init.ones_(t)).sum() == 12 and t.dtype == np.float64
    assert _values(init.constant_(t, 0.25)).tolist() == [[0.25] * 4] * 3
    assert not _values(init.zeros_(t)).any()
    np.testing.assert_array_equal(_values(init.eye_(t)), np.eye(3, 4))


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(_param(2, 2), mode="fan_avg")


def test_seeded_and_in_place_on_parameters_that_require_grad():
    layer = nn.Linear(8, 4)
    before = layer.weight.data
    tc.manual_seed(7)
    init.kaiming_normal_(layer.weight)
    first = layer.weight.data.copy()
    tc.manual_seed(7)
    init.kaiming_normal_(layer.weight)
    np.testing.assert_array_equal(layer.weight.data, first)
    assert layer.weight.data is before          # the same array, so optimizers keep it
    assert layer.weight.requires_grad and layer.weight.grad is None
