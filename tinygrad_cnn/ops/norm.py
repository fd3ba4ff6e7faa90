"""Batch normalisation in training mode: per-channel statistics of the batch.

(Evaluation mode, with running statistics, is an affine map per channel and
is composed from existing ops in ``nn.functional.batch_norm``.)
"""
import numpy as np

from ..engine import defop
from ..tensor import Tensor


def _stat_axes(ndim: int) -> tuple:
    """Every axis but the channel axis 1: (0,), (0, 2) or (0, 2, 3)."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(ndim: int, channels: int) -> tuple:
    """(C,) broadcast against (N, C, ...): (1, C, 1, ...)."""
    return (1, channels) + (1,) * (ndim - 2)


# The per-channel sums accumulate in float64. numpy sums float32 pairwise
# only along a contiguous axis; a Conv2d output is an NCHW view of
# channels-last memory, so its sums over (N, H, W) would run one long
# float32 chain and lose about log10(N*H*W) digits. float64 accumulation is
# exact enough on any layout, needs no copy (numpy casts in small buffers)
# and costs a few milliseconds on a ConvNet's activations.

def _channel_sum(a: np.ndarray) -> np.ndarray:
    """sum(a) per channel (axis 1), in float64."""
    return a.sum(axis=_stat_axes(a.ndim), dtype=np.float64)


def _channel_sum_of_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b) per channel (axis 1), in float64: one pass, no temporary array."""
    letters = "nc" + "hwxyz"[:a.ndim - 2]
    return np.einsum(f"{letters},{letters}->c", a, b, dtype=np.float64)


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
    count = x.size // max(channels, 1)
    if count < 2:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    shape = _channel_shape(x.ndim, channels)
    mean = (_channel_sum(x) / count).astype(x.dtype).reshape(shape)
    centred = x - mean                                   # keeps x's memory layout
    var = _channel_sum_of_products(centred, centred) / count     # float64, (C,)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
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
    # the statistics again, as Tensor ops of x, so the gradient is itself
    # differentiable (through the mean and the variance too)
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
