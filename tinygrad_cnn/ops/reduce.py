"""Reductions over ``axis`` (None, or a sorted tuple of non-negative axes: the
Tensor methods normalise it) with ``keepdims``."""
import numpy as np

from ..tensor import Spec, Tensor, defop

_CASES = "tinygrad_cnn.testing.cases:reduction_cases"


def _reduced_count(shape, axis) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axis], dtype=np.int64))


def _kept_shape(shape, axis) -> tuple:
    """The output shape with keepdims=True (reduced axes become 1)."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else size for i, size in enumerate(shape))


def _spread(grad_out: Tensor, shape, axis) -> Tensor:
    """Broadcast a reduction's output gradient back over the reduced axes."""
    return grad_out.reshape(_kept_shape(shape, axis)).broadcast_to(shape)


@defop("sum", spec=Spec(cases=_CASES))
def sum(ctx, x, axis=None, keepdims=False):
    return x.sum(axis=axis, keepdims=keepdims)


@sum.defvjp
def sum_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    return (_spread(grad_out, x.shape, ctx.params["axis"]),)


@defop("mean", spec=Spec(cases=_CASES))
def mean(ctx, x, axis=None, keepdims=False):
    if _reduced_count(x.shape, axis) == 0:
        raise ValueError(f"mean: cannot average over an empty axis (shape {x.shape}, axis {axis})")
    return x.mean(axis=axis, keepdims=keepdims)


@mean.defvjp
def mean_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    axis = ctx.params["axis"]
    return (_spread(grad_out, x.shape, axis) / _reduced_count(x.shape, axis),)


def _extreme_vjp(ctx, grad_out):
    # Ties share the gradient evenly (like PyTorch's amax/amin and HIPS
    # autograd): every tied extreme gets grad / (number of ties).
    x = ctx.inputs[0]
    axis = ctx.params["axis"]
    kept = _kept_shape(x.shape, axis)
    hits = x.data == ctx.out.data.reshape(kept)
    counts = hits.sum(axis=axis, keepdims=True)
    weights = Tensor((hits / counts).astype(grad_out.dtype))
    return (_spread(grad_out, x.shape, axis) * weights,)


def _check_nonempty(name, x, axis):
    if _reduced_count(x.shape, axis) == 0:
        raise ValueError(f"{name}: cannot reduce an empty axis (shape {x.shape}, axis {axis})")


@defop("max", spec=Spec(cases=_CASES, distinct=True))
def max(ctx, x, axis=None, keepdims=False):
    _check_nonempty("max", x, axis)
    return x.max(axis=axis, keepdims=keepdims)


@defop("min", spec=Spec(cases=_CASES, distinct=True))
def min(ctx, x, axis=None, keepdims=False):
    _check_nonempty("min", x, axis)
    return x.min(axis=axis, keepdims=keepdims)


max.defvjp(_extreme_vjp)
min.defvjp(_extreme_vjp)


@defop("var", spec=Spec(cases="tinygrad_cnn.testing.cases:var_cases"))
def var(ctx, x, axis=None, keepdims=False, ddof=0):
    count = _reduced_count(x.shape, axis)
    if count - ddof <= 0:
        raise ValueError(f"var: {count} value(s) per reduction with ddof={ddof} leaves no degrees "
                         f"of freedom (shape {x.shape}, axis {axis})")
    return x.var(axis=axis, keepdims=keepdims, ddof=ddof)


@var.defvjp
def var_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    axis, ddof = ctx.params["axis"], ctx.params["ddof"]
    # written with Tensor ops so that the second derivative sees x - mean(x)
    centred = x - x.mean(axis=axis, keepdims=True)
    scale = 2.0 / (_reduced_count(x.shape, axis) - ddof)
    return (_spread(grad_out, x.shape, axis) * centred * scale,)
