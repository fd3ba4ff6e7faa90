"""Batch normalisation in training mode: per-channel statistics of the batch.

(Evaluation mode, with running statistics, is an affine map per channel and
is composed from existing ops in ``nn.functional.batch_norm``.)
"""
import numpy as np

from ..engine import defop, is_grad_enabled
from ..tensor import Tensor


def _stat_axes(ndim: int) -> tuple:
    """Every axis but the channel axis 1: (0,), (0, 2) or (0, 2, 3)."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(ndim: int, channels: int) -> tuple:
    """(C,) broadcast against (N, C, ...): (1, C, 1, ...)."""
    return (1, channels) + (1,) * (ndim - 2)


def _channel_sum_of_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b) per channel (axis 1): one pass, no temporary array."""
    letters = "nc" + "hwxyz"[:a.ndim - 2]
    return np.einsum(f"{letters},{letters}->c", a, b)


def _update_running(running: Tensor, batch_stat: np.ndarray, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * batch_stat, in place
    (the version counter moves, as for any in-place change)."""
    data = running.data
    data *= data.dtype.type(1.0 - momentum)
    data += (batch_stat * momentum).astype(data.dtype, copy=False)
    running._version += 1


@defop("batch_norm", saves=(0, 1))
def batch_norm(ctx, x, weight, bias, eps=1e-5, running_mean=None, running_var=None, momentum=0.1):
    """Training-mode batch normalisation.

    x (N, C), (N, C, L) or (N, C, H, W); weight, bias (C,) -> x's shape:
    (x - mean) / sqrt(var + eps) * weight + bias, where mean and the biased
    var are taken per channel over every axis but 1. ``running_mean`` and
    ``running_var`` (float Tensors (C,), or None) are updated in place, as
    PyTorch's kernel updates them: ``(1 - momentum) * running + momentum *
    batch``, with the *unbiased* batch variance."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C), (N, C, L) or (N, C, H, W), got shape {x.shape}")
    channels = x.shape[1]
    for name, array in (("weight", weight), ("bias", bias)):
        if array.shape != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {array.shape}, expected ({channels},) "
                             f"for input of shape {x.shape}")
    axes = _stat_axes(x.ndim)
    count = x.size // max(channels, 1)
    if count < 2:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    shape = _channel_shape(x.ndim, channels)
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean                                   # keeps x's memory layout
    var = _channel_sum_of_products(centred, centred) / x.dtype.type(count)   # one pass, no temporary
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))
    np.multiply(centred, (inv_std * weight).reshape(shape), out=centred)
    np.add(centred, bias.reshape(shape), out=centred)
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(-1), momentum)
    if running_var is not None:
        _update_running(running_var, var * (count / (count - 1)), momentum)
    if ctx.needs_input_grad:
        ctx.save(mean=mean, inv_std=inv_std.reshape(shape))
    return centred


@batch_norm.defvjp
def batch_norm_vjp(ctx, grad_out):
    x, weight, _ = ctx.inputs
    needs = ctx.needs_input_grad
    axes = _stat_axes(x.ndim)
    shape = _channel_shape(x.ndim, x.shape[1])
    count = x.data.size // x.shape[1]
    if not is_grad_enabled():
        # plain backward: numpy on the saved statistics, a few passes over x
        g = grad_out.data
        xhat = (x.data - ctx.saved["mean"]) * ctx.saved["inv_std"]
        grad_bias = g.sum(axis=axes)
        grad_weight = _channel_sum_of_products(g, xhat)
        grad_x = None
        if needs[0]:
            scale = (weight.data.reshape(shape) * ctx.saved["inv_std"])
            xhat *= (grad_weight / g.dtype.type(count)).reshape(shape)
            grad_x = Tensor((g - xhat - (grad_bias / g.dtype.type(count)).reshape(shape)) * scale)
        return (grad_x, Tensor(grad_weight) if needs[1] else None, Tensor(grad_bias) if needs[2] else None)
    # create_graph: the statistics again, as Tensor ops of x, so the gradient
    # is itself differentiable (through the mean and the variance too)
    centred = x - x.mean(axes, keepdim=True)
    inv_std = ((centred * centred).mean(axes, keepdim=True) + ctx.params.get("eps", 1e-5)) ** -0.5
    xhat = centred * inv_std
    grad_bias = grad_out.sum(axes)
    grad_weight = (grad_out * xhat).sum(axes)
    grad_x = None
    if needs[0]:
        grad_x = (grad_out - grad_bias.reshape(shape) / count - xhat * (grad_weight.reshape(shape) / count)) \
            * (weight.reshape(shape) * inv_std)
    return grad_x, grad_weight if needs[1] else None, grad_bias if needs[2] else None
