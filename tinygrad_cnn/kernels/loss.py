"""Array-level VJPs of log_softmax and nll_loss (the pieces of cross_entropy): numpy directly,
no recorded ops."""
import numpy as np

from .base import register
from ..ops import loss


def log_softmax_vjp(ctx, grad_out):
    out, axis = ctx.out.data, ctx.params["axis"]
    return (grad_out - np.exp(out) * grad_out.sum(axis, keepdims=True),)


def nll_loss_vjp(ctx, grad_out):
    log_probs, target = ctx.inputs
    n, classes = log_probs.shape
    reduction = ctx.params["reduction"]
    scale = grad_out.reshape(n, 1) if reduction == "none" else grad_out / n if reduction == "mean" else grad_out
    grad = np.zeros((n, classes), dtype=grad_out.dtype)
    grad[np.arange(n), target.data] = -1.0
    return np.multiply(grad, scale, dtype=grad.dtype), None


register(loss.log_softmax_op, vjp=log_softmax_vjp)
register(loss.nll_loss, vjp=nll_loss_vjp)
