"""Anomaly mode: the first nan/inf names the op, forward or backward, the
shapes and the line of the user's code that called the op."""
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import autograd

THIS_FILE = __file__.rsplit("/", 1)[-1]


def test_off_by_default():
    assert not autograd.is_anomaly_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = tc.tensor([0.0]).log()           # no error: anomaly mode is off
    assert np.isinf(y.item())


def test_forward_nan_names_op_shapes_and_line():
    x = tc.tensor([1.0, -1.0], requires_grad=True)
    with autograd.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError) as info:
            x.sqrt()  # the line anomaly mode must point at
    message = str(info.value)
    assert "forward of 'sqrt'" in message and "nan" in message and "(2,)" in message
    assert THIS_FILE in message and "x.sqrt()  # the line anomaly mode must point at" in message
    assert not autograd.is_anomaly_enabled()       # restored on exit


def test_backward_inf_names_the_op_that_made_it():
    x = tc.tensor([4.0, 0.0], requires_grad=True)
    with autograd.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = x.sqrt()   # finite forward, infinite derivative at 0
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "backward of 'sqrt'" in message and "inf" in message and "input 0 (shape (2,))" in message
    assert "y = x.sqrt()" in message


def test_set_detect_anomaly_and_decorator():
    @autograd.detect_anomaly()
    def bad():
        return tc.tensor([0.0]).log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="forward of 'log'"):
            bad()
        autograd.set_detect_anomaly(True)
        try:
            with pytest.raises(RuntimeError, match="forward of 'div'"):
                tc.tensor([1.0]) / tc.tensor([0.0])
        finally:
            autograd.set_detect_anomaly(False)


def test_nan_already_in_the_inputs_is_not_blamed_on_the_next_op():
    with autograd.detect_anomaly():
        y = tc.tensor([np.nan, 1.0]) * 2       # the nan was born before: not this op's fault
    assert np.isnan(y[0].item())


def test_backward_through_the_fast_kernels_is_checked_too(fast_kernels):
    """The kernels' VJPs return arrays, not Tensors: anomaly mode checks those as well (a
    conv2d -> relu -> linear net, all with kernel VJPs), and names the op whose gradient
    overflows."""
    import tinygrad_cnn.nn.functional as F
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((1, 1, 8, 8)).astype(np.float32))
    w = tc.Tensor(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), requires_grad=True)
    v = tc.Tensor(rng.standard_normal((3, 72)).astype(np.float32), requires_grad=True)
    with autograd.detect_anomaly():
        F.linear(F.conv2d(x, w).relu().flatten(1), v).sum().backward()
    assert w.grad is not None and np.isfinite(w.grad.data).all()
    w.grad = v.grad = None
    with autograd.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        huge = F.linear(F.conv2d(x, w).relu().flatten(1), v)
        with pytest.raises(RuntimeError, match="backward of 'linear' produced (nan|inf)"):
            huge.backward(tc.Tensor(np.full((1, 3), 3e38, dtype=np.float32)))
