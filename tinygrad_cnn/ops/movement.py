"""Ops that move or select elements without arithmetic."""
import numpy as np

from ..tensor import Spec, defop, get_op, unbroadcast


@defop("reshape", spec=Spec(cases="tinygrad_cnn.testing.cases:reshape_cases"))
def reshape(ctx, x, shape):
    try:
        return x.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into shape {tuple(shape)}") from None


@reshape.defvjp
def reshape_vjp(ctx, grad_out):
    return (grad_out.reshape(ctx.inputs[0].shape),)


@defop("transpose", spec=Spec(cases="tinygrad_cnn.testing.cases:transpose_cases"))
def transpose(ctx, x, axes):
    try:
        return x.transpose(axes)
    except ValueError:
        raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                         f"{x.ndim} axes of a tensor of shape {x.shape}") from None


@transpose.defvjp
def transpose_vjp(ctx, grad_out):
    axes = ctx.params["axes"]
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis % len(axes)] = position
    return (grad_out.transpose(tuple(inverse)),)


@defop("flatten", spec=Spec(cases="tinygrad_cnn.testing.cases:flatten_cases"))
def flatten(ctx, x, start_axis=1, end_axis=-1):
    ndim = max(x.ndim, 1)
    start, end = start_axis % ndim, end_axis % ndim
    if not (-ndim <= start_axis < ndim and -ndim <= end_axis < ndim) or start > end:
        raise ValueError(f"flatten: start_axis={start_axis}, end_axis={end_axis} do not select "
                         f"a range of the axes of a tensor of shape {x.shape}")
    shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
    if x.size == 0:
        shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    return x.reshape(shape)


@flatten.defvjp
def flatten_vjp(ctx, grad_out):
    return (grad_out.reshape(ctx.inputs[0].shape),)


@defop("broadcast_to", spec=Spec(cases="tinygrad_cnn.testing.cases:broadcast_to_cases"))
def broadcast_to(ctx, x, shape):
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {tuple(shape)}") from None


@broadcast_to.defvjp
def broadcast_to_vjp(ctx, grad_out):
    return (unbroadcast(grad_out, ctx.inputs[0].shape),)


@defop("pad", spec=Spec(cases="tinygrad_cnn.testing.cases:pad_cases"))
def pad(ctx, x, pad_width, value=0.0):
    return np.pad(x, pad_width, mode="constant", constant_values=value)


@pad.defvjp
def pad_vjp(ctx, grad_out):
    inner = tuple(slice(before, size - after)
                  for (before, after), size in zip(ctx.params["pad_width"], grad_out.shape))
    return (grad_out[inner],)


def _is_basic(index) -> bool:
    """True when ``index`` uses only basic indexing (no element is selected twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer)) for p in parts)


@defop("getitem", spec=Spec(cases="tinygrad_cnn.testing.cases:getitem_cases"))
def getitem(ctx, x, index):
    try:
        return x[index]
    except IndexError as err:
        raise IndexError(f"getitem: {err} (tensor shape {x.shape}, index {index!r})") from None


@getitem.defvjp
def getitem_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    return (get_op("index_add")(grad_out, shape=x.shape, index=ctx.params["index"]),)


@defop("index_add", spec=Spec(cases="tinygrad_cnn.testing.cases:index_add_cases"))
def index_add(ctx, values, shape, index, unique=False):
    """Zeros of ``shape`` with ``values`` added at ``index``: the adjoint of
    getitem. Repeated indices accumulate (``np.add.at``); ``unique=True``
    promises there are none, which allows a plain (faster) assignment."""
    out = np.zeros(shape, dtype=values.dtype)
    if unique or _is_basic(index):
        out[index] = values
    else:
        np.add.at(out, index, values)
    return out


@index_add.defvjp
def index_add_vjp(ctx, grad_out):
    return (grad_out[ctx.params["index"]],)


def _check_same_shapes(name, arrays, axis, skip_axis):
    if not arrays:
        raise ValueError(f"{name}: needs at least one tensor")
    first = arrays[0]
    ndim = first.ndim + (0 if skip_axis else 1)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for {ndim}-dimensional result")
    for a in arrays[1:]:
        if skip_axis:
            ok = a.ndim == first.ndim and all(
                s == t for i, (s, t) in enumerate(zip(a.shape, first.shape)) if i != axis % ndim)
        else:
            ok = a.shape == first.shape
        if not ok:
            shapes = ", ".join(str(x.shape) for x in arrays)
            rule = f"the same shape except along axis {axis}" if skip_axis else "the same shape"
            raise ValueError(f"{name}: tensors must have {rule}, got {shapes}")


@defop("concatenate", spec=Spec(cases="tinygrad_cnn.testing.cases:concatenate_cases"))
def concatenate(ctx, *arrays, axis=0):
    _check_same_shapes("concatenate", arrays, axis, skip_axis=True)
    return np.concatenate(arrays, axis=axis)


@concatenate.defvjp
def concatenate_vjp(ctx, grad_out):
    axis = ctx.params["axis"] % grad_out.ndim
    grads, start = [], 0
    for tensor, needed in zip(ctx.inputs, ctx.needs_input_grad):
        stop = start + tensor.shape[axis]
        index = (slice(None),) * axis + (slice(start, stop),)
        grads.append(grad_out[index] if needed else None)
        start = stop
    return tuple(grads)


@defop("stack", spec=Spec(cases="tinygrad_cnn.testing.cases:stack_cases"))
def stack(ctx, *arrays, axis=0):
    _check_same_shapes("stack", arrays, axis, skip_axis=False)
    return np.stack(arrays, axis=axis)


@stack.defvjp
def stack_vjp(ctx, grad_out):
    axis = ctx.params["axis"] % grad_out.ndim
    return tuple(grad_out[(slice(None),) * axis + (i,)] if needed else None
                 for i, needed in enumerate(ctx.needs_input_grad))
