"""Array-level VJPs of log_softmax and nll_loss (the pieces of cross_entropy): numpy directly,
no recorded ops; and nll_loss's forward for a batch of one."""
import numpy as np

from .base import register
from ..ops import loss


def log_softmax_vjp(ctx, grad_out):
    out, axis = ctx.out.data, ctx.params["axis"]
    return (grad_out - np.exp(out) * grad_out.sum(axis, keepdims=True),)


def nll_loss_forward(ctx, log_probs, target, reduction="mean"):
    """A batch of one (a batch-1 step's loss): the one value read by index, no range
    reductions or index arrays; larger batches (and anything wrong) go to the reference."""
    if (log_probs.ndim != 2 or log_probs.shape[0] != 1 or target.shape != (1,) or target.dtype.kind not in "iu"
            or reduction not in ("mean", "sum", "none")):
        return NotImplemented
    label = int(target[0])
    if not 0 <= label < log_probs.shape[1]:
        return NotImplemented
    picked = log_probs[0, label:label + 1]          # (1,)
    if reduction == "none":
        return -picked
    # 0 - p, not -p: a sum starts from +0, so a log-probability of 0 loses +0.0, as the
    # reference's sum (and PyTorch) give, not -0.0
    return np.subtract(0, picked).reshape(())


def nll_loss_vjp(ctx, grad_out):
    log_probs, target = ctx.inputs
    n, classes = log_probs.shape
    reduction = ctx.params["reduction"]
    if n == 1 and reduction != "none":
        grad = np.zeros((1, classes), dtype=grad_out.dtype)
        grad[0, int(target.data[0])] = -grad_out
        return grad, None
    scale = grad_out.reshape(n, 1) if reduction == "none" else grad_out / n if reduction == "mean" else grad_out
    grad = np.zeros((n, classes), dtype=grad_out.dtype)
    grad[np.arange(n), target.data] = -1.0
    return np.multiply(grad, scale, dtype=grad.dtype), None


register(loss.log_softmax_op, vjp=log_softmax_vjp)
register(loss.nll_loss, nll_loss_forward, nll_loss_vjp)
