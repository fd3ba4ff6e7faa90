"""Softmax, log-softmax and the negative log-likelihood: the registered
pieces that the classification losses of ``nn.functional`` are built from."""
import numpy as np

from .._args import alias, check_reduction
from ..engine import defop
from ..errors import LabelError
from ..tensor import Tensor


def _check_axis(op, x, axis):
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for input of shape {x.shape}")


@defop("softmax", saves=("out",))
def softmax(ctx, x, axis=-1):
    _check_axis("softmax", x, axis)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))   # shift by the max: no overflow
    return shifted / shifted.sum(axis=axis, keepdims=True)


softmax_op = softmax


@softmax.defvjp
def softmax_vjp(ctx, grad_out):
    out, axis = ctx.out, ctx.params["axis"]
    return (out * (grad_out - (grad_out * out).sum(axis, keepdim=True)),)


@defop("log_softmax", saves=("out",))
def log_softmax(ctx, x, axis=-1):
    _check_axis("log_softmax", x, axis)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


log_softmax_op = log_softmax


@log_softmax.defvjp
def log_softmax_vjp(ctx, grad_out):
    out, axis = ctx.out, ctx.params["axis"]
    return (grad_out - out.exp() * grad_out.sum(axis, keepdim=True),)


@defop("nll_loss", saves=(1,))
def nll_loss(ctx, log_probs, target, reduction="mean"):
    """Negative log-likelihood of integer class labels: log_probs (N, C), target (N,)."""
    check_reduction(reduction, "nll_loss")
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: input must be 2-D (N, C), got shape {log_probs.shape}")
    n, classes = log_probs.shape
    if target.ndim != 1 or target.shape[0] != n:
        raise ValueError(f"nll_loss: got {target.shape[0] if target.ndim == 1 else target.shape} labels "
                         f"for a batch of {n} (input shape {log_probs.shape}, target shape {target.shape})")
    if target.dtype.kind not in "iu":
        raise ValueError(f"nll_loss: labels must be integers, got dtype {target.dtype}")
    if n and (target.min() < 0 or target.max() >= classes):
        bad = target[(target < 0) | (target >= classes)][0]
        raise LabelError(f"nll_loss: label {bad} is out of range for {classes} classes")
    picked = -log_probs[np.arange(n), target]
    if reduction == "none":
        return picked
    total = picked.sum()
    return total / log_probs.dtype.type(n) if reduction == "mean" else total


@nll_loss.defvjp
def nll_loss_vjp(ctx, grad_out):
    log_probs, target = ctx.inputs
    n, classes = log_probs.shape
    onehot = np.zeros((n, classes), dtype=grad_out.dtype)
    onehot[np.arange(n), target.data] = -1.0
    reduction = ctx.params["reduction"]
    onehot = Tensor(onehot)
    if reduction == "none":
        return onehot * grad_out.reshape(n, 1), None
    if reduction == "mean":
        return onehot * (grad_out / n), None
    return onehot * grad_out, None


def _softmax_dim(dim, axis, name):
    """``dim`` (``axis`` is numpy's alias). Required, as in PyTorch's
    ``torch.softmax`` and ``Tensor.softmax``; only ``nn.functional.softmax``
    picks one when it is left out."""
    dim = alias(dim, axis, None, name, "dim", "axis")
    if dim is None:
        raise TypeError(f"{name}() missing 1 required positional argument: 'dim'")
    return int(dim)


@softmax.variant
def softmax(input, dim=None, dtype=None, *, axis=None):
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max for stability."""
    input = input if isinstance(input, Tensor) else Tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    return softmax_op(input, axis=_softmax_dim(dim, axis, "softmax"))


@log_softmax.variant
def log_softmax(input, dim=None, dtype=None, *, axis=None):
    """x - logsumexp(x) along ``dim``, computed stably."""
    input = input if isinstance(input, Tensor) else Tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    return log_softmax_op(input, axis=_softmax_dim(dim, axis, "log_softmax"))


# Binary cross-entropy of probabilities. PyTorch clamps each log at -100, so
# probabilities of exactly 0 and 1 give a finite loss (100 per element at
# worst), and divides the gradient by max(x * (1 - x), 1e-12).
_BCE_LOG_FLOOR = -100.0
_BCE_EPSILON = 1e-12


@defop("binary_cross_entropy")
def binary_cross_entropy(ctx, x, target):
    """Elementwise -(t * log(x) + (1 - t) * log(1 - x)), each log clamped at
    -100: x (any shape) probabilities in [0, 1], target of x's shape."""
    if x.shape != target.shape:
        raise ValueError(f"binary_cross_entropy: input shape {x.shape} and target shape {target.shape} differ")
    floor = x.dtype.type(_BCE_LOG_FLOOR)
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), floor)
        log_rest = np.maximum(np.log1p(-x), floor)
    return -(target * log_x + (1 - target) * log_rest)


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) floored at -100 without evaluating log(0)."""
    tiny = float(np.exp(np.float64(_BCE_LOG_FLOOR)))
    return p.clamp(min=tiny).log().clamp(min=_BCE_LOG_FLOOR)


@binary_cross_entropy.defvjp
def binary_cross_entropy_vjp(ctx, grad_out):
    x, target = ctx.inputs
    grad_x = grad_target = None
    if ctx.needs_input_grad[0]:
        grad_x = grad_out * (x - target) / (x * (1 - x)).clamp(min=_BCE_EPSILON)
    if ctx.needs_input_grad[1]:
        grad_target = grad_out * (_clamped_log(1 - x) - _clamped_log(x))
    return grad_x, grad_target


@defop("mse_loss", broadcast=True, saves=(0, 1))
def mse_loss(ctx, input, target, reduction="mean"):
    """Squared error (input - target)**2 of broadcastable shapes: elementwise
    ('none'), summed ('sum') or averaged ('mean') over all elements."""
    check_reduction(reduction, "mse_loss")
    squared = np.square(np.subtract(input, target))
    if reduction == "none":
        return squared
    return np.asarray(squared.mean() if reduction == "mean" else squared.sum(), dtype=squared.dtype)


@mse_loss.defvjp
def mse_loss_vjp(ctx, grad_out):
    input, target = ctx.inputs
    diff = input - target
    reduction = ctx.params.get("reduction", "mean")
    # Python floats, so float32 stays float32
    scale = grad_out * (2.0 / diff.numel()) if reduction == "mean" else grad_out * 2.0
    grad = diff * scale
    needs = ctx.needs_input_grad
    return (grad if needs[0] else None), (-grad if needs[1] else None)
