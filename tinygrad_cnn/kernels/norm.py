"""batch_norm's array-level VJP: numpy on the statistics the forward saved (a few passes over
x, per-channel sums accumulated in float64 as in the forward), where the reference recomputes
the statistics as Tensor ops of x so that its gradient differentiates again."""
from .base import register
from ..ops import norm


def batch_norm_vjp(ctx, grad_out):
    x, weight, _ = ctx.inputs
    needs = ctx.needs_input_grad
    shape = norm._channel_shape(x.ndim, x.shape[1])
    count = x.data.size // x.shape[1]
    g = grad_out
    xhat = (x.data - ctx.saved["mean"]) * ctx.saved["inv_std"]
    grad_bias = norm._channel_sum(g).astype(g.dtype)
    grad_weight = norm._channel_sum_of_products(g, xhat).astype(g.dtype)
    grad_x = None
    if needs[0]:
        scale = weight.data.reshape(shape) * ctx.saved["inv_std"]
        xhat *= (grad_weight / g.dtype.type(count)).reshape(shape)
        grad_x = (g - xhat - (grad_bias / g.dtype.type(count)).reshape(shape)) * scale
    return grad_x, grad_weight if needs[1] else None, grad_bias if needs[2] else None


register(norm.batch_norm, vjp=batch_norm_vjp)
