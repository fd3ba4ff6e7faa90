"""Array-level VJPs of elementwise ops: one numpy expression where the reference records
several Tensor ops (used when the gradient is not differentiated again), and relu split across
``get_num_threads()`` threads when its array is large."""
import numpy as np

from . import _threads
from .base import register
from ..ops import activation, elementwise


def tanh_vjp(ctx, grad_out):
    out = ctx.out.data
    return (grad_out * (1 - out * out),)


def sigmoid_vjp(ctx, grad_out):
    out = ctx.out.data
    return (grad_out * out * (1 - out),)


def relu_forward(ctx, x):
    if x.dtype.kind != "f":
        return NotImplemented
    if x.size < _threads.MIN_SIZE or _threads.get_num_threads() < 2:
        return np.maximum(x, 0)
    return _threads.elementwise(lambda out, part: np.maximum(part, 0, out=out), _threads.empty_like(x), x)


def _relu_grad(result, grad, out):
    np.multiply(grad, out > 0, out=result)


def relu_vjp(ctx, grad_out):
    out = ctx.out.data
    if grad_out.dtype != out.dtype:
        return NotImplemented
    if out.size < _threads.MIN_SIZE or not _threads.same_layout(grad_out, out):
        return (np.multiply(grad_out, out > 0),)
    # one pass (threaded when asked for), no separate mask array
    return (_threads.elementwise(_relu_grad, _threads.empty_like(out), grad_out, out),)


def elu_vjp(ctx, grad_out):
    x = ctx.inputs[0].data
    alpha = x.dtype.type(ctx.params.get("alpha", 1.0))
    # exp of min(x, 0): no overflow on the positive side, whose slope is 1
    return (grad_out * np.where(x > 0, 1, np.exp(np.minimum(x, 0)) * alpha),)


register(elementwise.tanh, vjp=tanh_vjp)
register(elementwise.sigmoid, vjp=sigmoid_vjp)
register(elementwise.relu, relu_forward, relu_vjp, thresholds={"thread_min_size": _threads.MIN_SIZE})
register(activation.elu, vjp=elu_vjp)
