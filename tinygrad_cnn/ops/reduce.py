"""Reductions. The ops take ``axis`` (None, or a sorted tuple of non-negative
axes) and ``keepdims``; their variants take PyTorch's ``dim`` and ``keepdim``
(numpy's names are accepted too) and normalise them."""
import collections

import numpy as np

from .._args import alias, dims_arg, dim_arg
from ..engine import apply, defop
from ..registry import add_variant, get_op
from ..tensor import Tensor, _wrap
from .movement import gather


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


@defop("sum", saves=())
def sum_op(ctx, x, axis=None, keepdims=False):
    """Sum over ``axis`` (all elements when None)."""
    return x.sum(axis=axis, keepdims=keepdims)


@sum_op.defvjp
def sum_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    return (_spread(grad_out, x.shape, ctx.params["axis"]),)


@defop("mean", saves=())
def mean_op(ctx, x, axis=None, keepdims=False):
    """Mean over ``axis`` (all elements when None)."""
    if _reduced_count(x.shape, axis) == 0:
        raise ValueError(f"mean: cannot average over an empty axis (shape {x.shape}, axis {axis})")
    return x.mean(axis=axis, keepdims=keepdims)


@mean_op.defvjp
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


@defop("amax", saves=(0, "out"))
def amax_op(ctx, x, axis=None, keepdims=False):
    """Largest value over ``axis``; tied maxima share the gradient evenly."""
    _check_nonempty("amax", x, axis)
    return x.max(axis=axis, keepdims=keepdims)


@defop("amin", saves=(0, "out"))
def amin_op(ctx, x, axis=None, keepdims=False):
    """Smallest value over ``axis``; tied minima share the gradient evenly."""
    _check_nonempty("amin", x, axis)
    return x.min(axis=axis, keepdims=keepdims)


amax_op.defvjp(_extreme_vjp)
amin_op.defvjp(_extreme_vjp)


@defop("var", saves=(0,))
def var_op(ctx, x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` with ``ddof`` degrees of freedom removed
    (the variant's default, ``correction=1``, is the unbiased estimate)."""
    count = _reduced_count(x.shape, axis)
    if count - ddof <= 0:
        raise ValueError(f"var: {count} value(s) per reduction with ddof={ddof} leaves no degrees "
                         f"of freedom (shape {x.shape}, axis {axis})")
    return x.var(axis=axis, keepdims=keepdims, ddof=ddof)


@var_op.defvjp
def var_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    axis, ddof = ctx.params["axis"], ctx.params["ddof"]
    # written with Tensor ops so that the second derivative sees x - mean(x)
    centred = x - x.mean(axis=axis, keepdims=True)
    scale = 2.0 / (_reduced_count(x.shape, axis) - ddof)
    return (_spread(grad_out, x.shape, axis) * centred * scale,)


# ---------------------------------------------------------------------------
# variants: PyTorch's signatures


def _tensor(input) -> Tensor:
    return input if isinstance(input, Tensor) else Tensor(input)


def _reduce_args(input, dim, keepdim, axis, keepdims, name):
    if axis is not None or keepdims is not None:
        dim = alias(dim, axis, None, name, "dim", "axis")
        keepdim = alias(keepdim, keepdims, False, name, "keepdim", "keepdims")
    return dims_arg(dim, input.data.ndim, name), bool(keepdim)


@sum_op.variant
def sum(input, dim=None, keepdim=None, *, dtype=None, axis=None, keepdims=None):
    """Sum over ``dim`` (an int, a tuple, or None for all elements)."""
    input = _tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    dims, keep = _reduce_args(input, dim, keepdim, axis, keepdims, "sum")
    return sum_op(input, axis=dims, keepdims=keep)


@mean_op.variant
def mean(input, dim=None, keepdim=None, *, dtype=None, axis=None, keepdims=None):
    """Mean over ``dim``; integer tensors need ``dtype=`` (as in PyTorch)."""
    input = _tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    if input.data.dtype.kind not in "fc":
        raise RuntimeError(f"mean: input dtype must be floating point, got {input.dtype} "
                           "(convert with .float() or pass dtype=)")
    dims, keep = _reduce_args(input, dim, keepdim, axis, keepdims, "mean")
    return mean_op(input, axis=dims, keepdims=keep)


@amax_op.variant
def amax(input, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Largest values over ``dim``; tied maxima share the gradient evenly."""
    input = _tensor(input)
    dims, keep = _reduce_args(input, dim, keepdim, axis, keepdims, "amax")
    return amax_op(input, axis=dims, keepdims=keep)


@amin_op.variant
def amin(input, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Smallest values over ``dim``; tied minima share the gradient evenly."""
    input = _tensor(input)
    dims, keep = _reduce_args(input, dim, keepdim, axis, keepdims, "amin")
    return amin_op(input, axis=dims, keepdims=keep)


def _return_type(name: str):
    """PyTorch's ``torch.return_types.<name>``: a ``(values, indices)`` named
    tuple that prints as PyTorch's, one field per line."""
    base = collections.namedtuple(name, ["values", "indices"])

    def __repr__(self):
        return f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": "tinygrad_cnn.return_types"})


return_types = {name: _return_type(name) for name in ("max", "min", "sort", "topk")}


def _extreme(name, input, dim, keepdim, other):
    """PyTorch's max/min: no dim -> the 0-d extreme; a dim -> (values,
    indices), the gradient going to the returned index; a tensor -> elementwise."""
    input = _tensor(input)
    if isinstance(dim, Tensor) or other is not None:
        other = dim if other is None else other
        return (input.maximum if name == "max" else input.minimum)(other)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}: keepdim needs a dim")
        return apply(get_op("a" + name), input, axis=None, keepdims=False)
    dim = dim_arg(dim, input.data.ndim, name)
    if input.data.ndim and input.data.shape[dim] == 0:
        raise IndexError(f"{name}: cannot reduce the empty dimension {dim} of a tensor of shape "
                         f"{tuple(input.data.shape)}")
    pick = np.argmax if name == "max" else np.argmin     # both return the first extreme
    indices = np.expand_dims(pick(input.data, axis=dim), dim) if input.data.ndim else np.zeros((), np.int64)
    values = gather(input, dim, indices) if input.data.ndim else input
    if not keepdim and input.data.ndim:
        values = values.squeeze(dim)
        indices = indices.squeeze(dim)
    return return_types[name](values, _wrap(indices.astype(np.int64, copy=False)))


@add_variant
def max(input, dim=None, keepdim=None, *, other=None, axis=None, keepdims=None):
    """``x.max()`` the largest value; ``x.max(dim)`` (values, indices), as
    PyTorch (``axis=`` is read as ``dim``; ``amax`` gives values only);
    ``x.max(other)`` the elementwise maximum."""
    dim = alias(dim, axis, None, "max", "dim", "axis")
    return _extreme("max", input, dim, alias(keepdim, keepdims, False, "max", "keepdim", "keepdims"), other)


@add_variant
def min(input, dim=None, keepdim=None, *, other=None, axis=None, keepdims=None):
    """``x.min()``, ``x.min(dim)`` -> (values, indices), ``x.min(other)``."""
    dim = alias(dim, axis, None, "min", "dim", "axis")
    return _extreme("min", input, dim, alias(keepdim, keepdims, False, "min", "keepdim", "keepdims"), other)


def _arg_extreme(pick, name, input, dim, keepdim):
    input = _tensor(input)
    if dim is None:
        result = pick(input.data.reshape(-1))
        return _wrap(np.asarray(result, dtype=np.int64).reshape((1,) * input.data.ndim if keepdim else ()))
    dim = dim_arg(dim, input.data.ndim, name)
    return _wrap(np.asarray(pick(input.data, axis=dim, keepdims=bool(keepdim)), dtype=np.int64))


@add_variant
def argmax(input, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Index of the (first) largest value, over all elements or along ``dim``."""
    return _arg_extreme(np.argmax, "argmax", input, alias(dim, axis, None, "argmax", "dim", "axis"),
                        alias(keepdim, keepdims, False, "argmax", "keepdim", "keepdims"))


@add_variant
def argmin(input, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Index of the (first) smallest value, over all elements or along ``dim``."""
    return _arg_extreme(np.argmin, "argmin", input, alias(dim, axis, None, "argmin", "dim", "axis"),
                        alias(keepdim, keepdims, False, "argmin", "keepdim", "keepdims"))


def _var_args(input, dim, unbiased, keepdim, correction, axis, keepdims, ddof, name):
    if isinstance(dim, bool):           # var(unbiased): PyTorch's older overload
        dim, unbiased = None, dim
    dims, keep = _reduce_args(input, dim, keepdim, axis, keepdims, name)
    if ddof is not None:
        correction = ddof
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dims, keep, int(correction)


@var_op.variant
def var(input, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None,
        keepdims=None, ddof=None):
    """Variance over ``dim``; unbiased (``correction=1``) by default, as in PyTorch."""
    input = _tensor(input)
    dims, keep, correction = _var_args(input, dim, unbiased, keepdim, correction, axis, keepdims,
                                       ddof, "var")
    return var_op(input, axis=dims, keepdims=keep, ddof=correction)


@add_variant
def std(input, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None,
        keepdims=None, ddof=None):
    """Standard deviation over ``dim``; unbiased by default, as in PyTorch."""
    return var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
               keepdims=keepdims, ddof=ddof).sqrt()


def _logical_reduce(ufunc, name, input, dim, keepdim):
    input = _tensor(input)
    dims = dims_arg(dim, input.data.ndim, name)
    return _wrap(np.asarray(ufunc(input.data.astype(bool, copy=False), axis=dims, keepdims=bool(keepdim))))


@add_variant
def all(input, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Whether every element (along ``dim``) is non-zero: a bool tensor."""
    return _logical_reduce(np.all, "all", input, alias(dim, axis, None, "all", "dim", "axis"),
                           alias(keepdim, keepdims, False, "all", "keepdim", "keepdims"))


@add_variant
def any(input, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Whether some element (along ``dim``) is non-zero: a bool tensor."""
    return _logical_reduce(np.any, "any", input, alias(dim, axis, None, "any", "dim", "axis"),
                           alias(keepdim, keepdims, False, "any", "keepdim", "keepdims"))


@add_variant
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over ``dim`` (all elements by default): p = 2 or
    'fro', 1, inf, -inf, or any other positive number."""
    input = _tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    magnitude = input.abs() if p != 2 and p != "fro" else input
    if p in (2, "fro"):
        return sum(input * input, dim, keepdim).sqrt()
    if p == 1:
        return sum(magnitude, dim, keepdim)
    if p == float("inf"):
        return amax(magnitude, dim, keepdim)
    if p == float("-inf"):
        return amin(magnitude, dim, keepdim)
    if isinstance(p, str) or p <= 0:
        raise ValueError(f"norm: p must be 'fro' or a positive number, got {p!r}")
    return sum(magnitude ** p, dim, keepdim) ** (1.0 / p)


@add_variant
def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) along ``dim``, shifted by the maximum for stability."""
    input = _tensor(input)
    dims = dims_arg(dim, input.data.ndim, "logsumexp")
    shift = Tensor(np.max(input.data, axis=dims, keepdims=True))
    shift.data[~np.isfinite(shift.data)] = 0
    out = (input - shift).exp().sum(dims, keepdim=True).log() + shift
    return out if keepdim else out.reshape(tuple(n for i, n in enumerate(input.data.shape) if i not in dims))


@add_variant
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over ``dim`` (all elements when None); the gradient is computed
    as the product of the other elements, so zeros are handled exactly."""
    input = _tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        flat = input.reshape(-1)
        return _prod_along(flat, 0, False) if flat.data.size else Tensor(np.ones((), input.data.dtype))
    return _prod_along(input, dim_arg(dim, input.data.ndim, "prod"), keepdim)


def _prod_along(input, dim, keepdim):
    # an unrolled product of slices: differentiable by the engine, exact at zeros
    n = input.data.shape[dim]
    out = input.narrow(dim, 0, 1)
    for i in range(1, n):
        out = out * input.narrow(dim, i, 1)
    return out if keepdim else out.squeeze(dim)


def _sorted_along(input, dim, descending, name):
    input = _tensor(input)
    if input.data.ndim == 0:
        return input, _wrap(np.zeros((), dtype=np.int64))
    dim = dim_arg(dim, input.data.ndim, name)
    keys = -input.data if descending and input.data.dtype.kind != "b" else input.data
    # stable, so equal values keep their order (PyTorch's stable=True)
    order = np.argsort(keys, axis=dim, kind="stable")
    if descending and input.data.dtype.kind == "b":
        order = np.flip(np.argsort(input.data, axis=dim, kind="stable"), axis=dim)
    return gather(input, dim, order), _wrap(order.astype(np.int64, copy=False))


@add_variant
def sort(input, dim=-1, descending=False, stable=False):
    """Values sorted along ``dim`` and the indices they came from; the
    gradient goes back to those positions."""
    values, indices = _sorted_along(input, dim, descending, "sort")
    return return_types["sort"](values, indices)


@add_variant
def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim``."""
    return _sorted_along(input, dim, descending, "argsort")[1]


@add_variant
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices."""
    input = _tensor(input)
    dim = dim_arg(dim, input.data.ndim or 1, "topk")
    size = input.data.shape[dim] if input.data.ndim else 1
    if not 0 <= k <= size:
        raise IndexError(f"topk: k={k} is out of range for dimension {dim} of size {size}")
    values, indices = _sorted_along(input, dim, largest, "topk")
    index = (slice(None),) * dim + (slice(0, k),)
    return return_types["topk"](values[index], _wrap(indices.data[index]))


@defop("cumsum", saves=())
def cumsum_op(ctx, x, axis):
    """Running sums along ``axis``."""
    return np.cumsum(x, axis=axis, dtype=x.dtype)


@cumsum_op.defvjp
def cumsum_vjp(ctx, grad_out):
    # each input feeds every later output: the running sum of the gradient from the end
    axis = ctx.params["axis"]
    return (grad_out.flip(axis).cumsum(axis).flip(axis),)


@cumsum_op.variant
def cumsum(input, dim, *, dtype=None, axis=None):
    """Running sums along ``dim``."""
    input = _tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    dim = alias(dim, axis, None, "cumsum", "dim", "axis")
    if input.data.ndim == 0:
        return input.clone()
    return cumsum_op(input, axis=dim_arg(dim, input.data.ndim, "cumsum"))


@add_variant
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse indices and counts."""
    input = _tensor(input)
    if dim is not None:
        raise NotImplementedError("unique: dim= is not supported")
    values, inverse, counts = np.unique(input.data, return_inverse=True, return_counts=True)
    result = [_wrap(values)]
    if return_inverse:
        result.append(_wrap(inverse.reshape(input.data.shape).astype(np.int64)))
    if return_counts:
        result.append(_wrap(counts.astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


@add_variant
def bincount(input, weights=None, minlength=0):
    """How often each non-negative integer occurs in a 1-D tensor."""
    input = _tensor(input)
    if input.data.ndim != 1 or input.data.dtype.kind not in "iu":
        raise ValueError(f"bincount: expects a 1-D integer tensor, got shape {tuple(input.data.shape)} "
                         f"and dtype {input.dtype}")
    w = None if weights is None else np.asarray(weights.data if isinstance(weights, Tensor) else weights)
    counts = np.bincount(input.data, weights=w, minlength=minlength)
    return _wrap(counts if w is not None else counts.astype(np.int64))
