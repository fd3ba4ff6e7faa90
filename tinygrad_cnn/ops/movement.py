"""Ops that move or select elements without arithmetic, and their variants
(PyTorch's ``view``/``reshape``, ``flatten(start_dim, end_dim)``,
``transpose(dim0, dim1)``, ``permute``, ``squeeze``/``unsqueeze``, ``cat``,
``stack``, ``gather``, ...)."""
import numpy as np

from .._args import alias, indices_arg, dim_arg, dims_arg, shape_arg
from ..engine import apply, defop, unbroadcast
from ..errors import ShapeError
from ..registry import add_variant, get_op
from ..tensor import Tensor


@defop("reshape", saves=())
def reshape_op(ctx, x, shape):
    """The same elements in a new shape (one entry may be -1)."""
    try:
        return x.reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into shape {tuple(shape)}") from None


@reshape_op.defvjp
def reshape_vjp(ctx, grad_out):
    return (grad_out.reshape(ctx.inputs[0].shape),)


@defop("permute", saves=())
def permute_op(ctx, x, axes):
    """The axes of ``x`` reordered: output axis i is input axis ``axes[i]``."""
    try:
        return x.transpose(axes)
    except ValueError:
        raise ShapeError(f"permute: axes {tuple(axes)} are not a permutation of the "
                         f"{x.ndim} axes of a tensor of shape {x.shape}") from None


@permute_op.defvjp
def permute_vjp(ctx, grad_out):
    axes = ctx.params["axes"]
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis % len(axes)] = position
    return (permute_op(grad_out, axes=tuple(inverse)),)


@defop("flatten", saves=())
def flatten_op(ctx, x, start_axis=1, end_axis=-1):
    """Axes ``start_axis`` to ``end_axis`` merged into one."""
    ndim = max(x.ndim, 1)
    start, end = start_axis % ndim, end_axis % ndim
    if not (-ndim <= start_axis < ndim and -ndim <= end_axis < ndim) or start > end:
        raise ValueError(f"flatten: start_axis={start_axis}, end_axis={end_axis} do not select "
                         f"a range of the axes of a tensor of shape {x.shape}")
    shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
    if x.size == 0:
        shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    return x.reshape(shape)


@flatten_op.defvjp
def flatten_vjp(ctx, grad_out):
    return (grad_out.reshape(ctx.inputs[0].shape),)


@defop("broadcast_to", saves=())
def broadcast_to_op(ctx, x, shape):
    """``x`` repeated along new or size-1 axes to ``shape`` (a read-only view)."""
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {tuple(shape)}") from None


@broadcast_to_op.defvjp
def broadcast_to_vjp(ctx, grad_out):
    return (unbroadcast(grad_out, ctx.inputs[0].shape),)


@defop("pad", saves=())
def pad_op(ctx, x, pad_width, value=0.0):
    """numpy-style constant padding: one (before, after) pair per axis."""
    return np.pad(x, pad_width, mode="constant", constant_values=value)


@pad_op.defvjp
def pad_vjp(ctx, grad_out):
    inner = tuple(slice(before, size - after)
                  for (before, after), size in zip(ctx.params["pad_width"], grad_out.shape))
    return (grad_out[inner],)


def _is_basic(index) -> bool:
    """True when ``index`` uses only basic indexing (no element is selected twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer)) for p in parts)


@defop("getitem", saves=())
def getitem(ctx, x, index):
    """``x[index]``: basic, integer-array and boolean-mask indexing as numpy's."""
    try:
        return x[index]
    except IndexError as err:
        raise IndexError(f"getitem: {err} (tensor shape {x.shape}, index {index!r})") from None


@getitem.defvjp
def getitem_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    return (get_op("index_add")(grad_out, shape=x.shape, index=ctx.params["index"]),)


@defop("index_add", saves=())
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
            raise ShapeError(f"{name}: tensors must have {rule}, got {shapes}")


@defop("concatenate", saves=())
def concatenate(ctx, *arrays, axis=0):
    """Tensors joined along an existing axis."""
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


@defop("stack", saves=())
def stack_op(ctx, *arrays, axis=0):
    """Same-shaped tensors joined along a new axis."""
    _check_same_shapes("stack", arrays, axis, skip_axis=False)
    return np.stack(arrays, axis=axis)


@stack_op.defvjp
def stack_vjp(ctx, grad_out):
    axis = ctx.params["axis"] % grad_out.ndim
    return tuple(grad_out[(slice(None),) * axis + (i,)] if needed else None
                 for i, needed in enumerate(ctx.needs_input_grad))


@defop("index_put", saves=())
def index_put(ctx, x, values, index, accumulate=False):
    """A copy of ``x`` with ``x[index] = values`` (what ``x[index] = v`` does
    to a tensor inside a graph); ``accumulate=True`` adds instead, and an
    element indexed several times receives the sum of its values."""
    out = x.copy()
    try:
        if accumulate and _is_basic(index):       # a view: no element twice
            out[index] += values
        elif accumulate:
            np.add.at(out, index, values)
        else:
            out[index] = values
    except (IndexError, ValueError) as err:
        raise ValueError(f"index_put: cannot {'add' if accumulate else 'assign'} values of shape "
                         f"{values.shape} to index {index!r} of a tensor of shape {x.shape} "
                         f"({err})") from None
    return out


@index_put.defvjp
def index_put_vjp(ctx, grad_out):
    index = ctx.params["index"]
    needs = ctx.needs_input_grad
    grad_x = grad_values = None
    if needs[0]:
        if ctx.params.get("accumulate"):
            grad_x = grad_out
        else:
            keep = np.ones(grad_out.shape, dtype=bool)
            keep[index] = False
            grad_x = grad_out * Tensor(keep)
    if needs[1]:
        grad_values = grad_out[index]
    return grad_x, grad_values


@index_put.variant
def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``input[indices] = values``; with
    ``accumulate=True`` values are added, repeated indices summing
    (``cm.index_put((target, pred), ones, accumulate=True)`` counts pairs)."""
    input = _tensor(input)
    values = values if isinstance(values, Tensor) else Tensor(np.asarray(values, dtype=input.data.dtype))
    if values.data.dtype != input.data.dtype:
        raise RuntimeError(f"index_put: Index put requires the source and destination dtypes match, "
                           f"got {input.dtype} for the tensor and {values.dtype} for the values")
    return apply(get_op("index_put"), input, values, index=indices_arg(indices, "index_put"),
                 accumulate=bool(accumulate))


@defop("clone", saves=(), method=True, function=True)
def clone(ctx, x):
    """A copy of ``x`` that is part of the graph (the gradient passes through)."""
    return x.copy()


@clone.defvjp
def clone_vjp(ctx, grad_out):
    return (grad_out,)


# ---------------------------------------------------------------------------
# variants: PyTorch's signatures


def _tensor(input) -> Tensor:
    return input if isinstance(input, Tensor) else Tensor(input)


@reshape_op.variant
def reshape(input, *shape):
    """The same elements in ``shape`` (ints or one tuple; one entry may be -1)."""
    return reshape_op(_tensor(input), shape=shape_arg(shape, "reshape"))


add_variant("view", reshape, function=False)


def view_as(input, other):
    return reshape(input, other.shape)


add_variant("view_as", view_as, function=False)
add_variant("reshape_as", view_as, function=False)


@flatten_op.variant
def flatten(input, start_dim=0, end_dim=-1, *, start_axis=None, end_axis=None):
    """Dimensions ``start_dim``..``end_dim`` merged into one (all by default)."""
    start = alias(start_dim, start_axis, 0, "flatten", "start_dim", "start_axis")
    end = alias(end_dim, end_axis, -1, "flatten", "end_dim", "end_axis")
    input = _tensor(input)
    if input.data.ndim == 0:
        return reshape(input, 1)
    return flatten_op(input, start_axis=int(start), end_axis=int(end))


@add_variant
def ravel(input):
    return flatten(input)


@permute_op.variant
def permute(input, *dims):
    """Dimensions reordered: output dimension i is input dimension ``dims[i]``."""
    input = _tensor(input)
    dims = shape_arg(dims, "permute")
    if len(dims) != input.data.ndim:
        raise ShapeError(f"permute: got {len(dims)} dimensions {dims} for a tensor with "
                         f"{input.data.ndim} dimensions (shape {tuple(input.data.shape)})")
    return permute_op(input, axes=tuple(d % max(input.data.ndim, 1) for d in dims))


@add_variant
def transpose(input, dim0=None, dim1=None, *more):
    """PyTorch's ``transpose(dim0, dim1)``: two dimensions swapped. With no
    dimensions a matrix is transposed; numpy's full permutation (a tuple, or
    one dimension per axis) is accepted as well."""
    input = _tensor(input)
    ndim = input.data.ndim
    if dim0 is None and dim1 is None:
        return permute(input, tuple(range(ndim))[::-1])
    if more or not isinstance(dim0, (int, np.integer)) or (dim1 is None and ndim == 1):
        dims = tuple(dim0) if not isinstance(dim0, (int, np.integer)) else (dim0, dim1) + more
        return permute(input, dims)
    if dim1 is None:
        raise TypeError("transpose: give two dimensions to swap")
    first, second = dim_arg(dim0, ndim, "transpose"), dim_arg(dim1, ndim, "transpose")
    order = list(range(ndim))
    order[first], order[second] = order[second], order[first]
    return permute_op(input, axes=tuple(order))


add_variant("swapaxes", transpose)
add_variant("swapdims", transpose)


@add_variant
def t(input):
    """The transpose of a matrix (a vector is returned as it is)."""
    input = _tensor(input)
    if input.data.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape {tuple(input.data.shape)}")
    return input if input.data.ndim < 2 else transpose(input, 0, 1)


@add_variant
def squeeze(input, dim=None, *, axis=None):
    """Size-1 dimensions removed (only ``dim`` when given; a dimension that is
    not of size 1 is left as it is, as in PyTorch)."""
    input = _tensor(input)
    dim = alias(dim, axis, None, "squeeze", "dim", "axis")
    shape = input.data.shape
    dims = dims_arg(dim, input.data.ndim, "squeeze") if dim is not None else None
    new_shape = tuple(n for i, n in enumerate(shape) if not (n == 1 and (dims is None or i in dims)))
    return input if new_shape == shape else reshape(input, new_shape)


@add_variant
def unsqueeze(input, dim):
    """A size-1 dimension inserted at ``dim`` (negative counts from the end)."""
    input = _tensor(input)
    ndim = input.data.ndim
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError(f"unsqueeze: dimension {dim} is out of range for a tensor with {ndim} "
                         f"dimensions (expected to be in range [{-ndim - 1}, {ndim}])")
    dim = dim if dim >= 0 else dim + ndim + 1
    shape = input.data.shape
    return reshape(input, shape[:dim] + (1,) + shape[dim:])


@broadcast_to_op.variant
def broadcast_to(input, *shape):
    return broadcast_to_op(_tensor(input), shape=shape_arg(shape, "broadcast_to"))


@add_variant
def expand(input, *sizes):
    """PyTorch's expand: like broadcast_to, and -1 keeps a dimension."""
    input = _tensor(input)
    sizes = shape_arg(sizes, "expand")
    offset = len(sizes) - input.data.ndim
    sizes = tuple(input.data.shape[i - offset] if s == -1 and i >= offset else s
                  for i, s in enumerate(sizes))
    return broadcast_to(input, sizes)


def expand_as(input, other):
    return expand(input, other.shape)


add_variant("expand_as", expand_as, function=False)


@pad_op.variant(method=False)
def pad(input, pad, mode: str = "constant", value: float = 0.0):
    """PyTorch's ``nn.functional.pad``: ``pad`` lists (before, after) pairs
    from the last dimension backwards, e.g. ``(left, right, top, bottom)``.
    Constant mode only. (PyTorch has no ``Tensor.pad``, so neither do we.)"""
    input = _tensor(input)
    pad = tuple(int(p) for p in pad)
    ndim = input.data.ndim
    if len(pad) % 2 or len(pad) // 2 > ndim:
        raise ValueError(f"pad: expects an even number of sizes, at most 2 per dimension "
                         f"({2 * ndim} for shape {tuple(input.shape)}), got {pad}")
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    if min(pad, default=0) < 0:
        raise NotImplementedError(f"pad: negative padding (cropping) is not supported, got {pad}")
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return pad_op(input, pad_width=tuple(widths), value=value)


def _join_args(tensors, dim, axis, name):
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{name}: expected a non-empty list of tensors")
    dim = alias(dim, axis, 0, name, "dim", "axis")
    dtype = np.result_type(*[t.data.dtype for t in tensors])
    return [t if t.data.dtype == dtype else t._cast(dtype) for t in tensors], int(dim)


@concatenate.variant(method=False, name="cat")
def cat(tensors, dim=None, *, axis=None):
    """Tensors joined along an existing dimension."""
    tensors, dim = _join_args(tensors, dim, axis, "cat")
    return apply(get_op("concatenate"), *tensors, axis=dim)


add_variant("concatenate", cat, method=False)
add_variant("concat", cat, method=False)


@stack_op.variant(method=False)
def stack(tensors, dim=None, *, axis=None):
    """Same-shaped tensors joined along a new dimension."""
    tensors, dim = _join_args(tensors, dim, axis, "stack")
    return stack_op(*tensors, axis=dim)


@add_variant
def narrow(input, dim, start, length):
    """``length`` elements of ``dim`` from ``start`` on."""
    input = _tensor(input)
    dim = dim_arg(dim, input.data.ndim, "narrow")
    index = (slice(None),) * dim + (slice(int(start), int(start) + int(length)),)
    return input[index]


@add_variant
def split(input, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be shorter), or
    pieces of the given sizes."""
    input = _tensor(input)
    dim = dim_arg(dim, input.data.ndim, "split")
    total = input.data.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        sizes = [min(size, total - start) for start in range(0, total, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if np.sum(sizes) != total:
            raise ValueError(f"split: sizes {sizes} do not add up to {total}, the length of dimension {dim}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(narrow(input, dim, start, size))
        start += size
    return tuple(pieces)


@add_variant
def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces of equal size (the last may be smaller)."""
    input = _tensor(input)
    total = input.data.shape[dim_arg(dim, input.data.ndim, "chunk")]
    return split(input, max(-(-total // int(chunks)), 1), dim)


@add_variant
def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple."""
    input = _tensor(input)
    dim = dim_arg(dim, input.data.ndim, "unbind")
    return tuple(input[(slice(None),) * dim + (i,)] for i in range(input.data.shape[dim]))


def _along(index: np.ndarray, dim: int) -> tuple:
    """The numpy index that picks ``index`` along ``dim`` and keeps every
    other position: ``x[_along(i, d)][p] = x[p with p[d] replaced by i[p]]``."""
    grids = list(np.ix_(*[np.arange(n) for n in index.shape]))
    grids[dim] = index
    return tuple(grids)


@add_variant
def gather(input, dim, index):
    """``out[i][j] = input[index[i][j]][j]`` along ``dim`` (index: int64, the
    input's number of dimensions)."""
    input = _tensor(input)
    index = np.asarray(index.data if isinstance(index, Tensor) else index)
    dim = dim_arg(dim, input.data.ndim, "gather")
    if index.ndim != input.data.ndim or index.dtype.kind not in "iu":
        raise ValueError(f"gather: index must be an integer tensor with {input.data.ndim} dimensions "
                         f"like the input (shape {tuple(input.data.shape)}), got dtype {index.dtype} "
                         f"and shape {index.shape}")
    return input[_along(index, dim)]


@add_variant
def flip(input, dims):
    """The order of elements reversed along ``dims``."""
    input = _tensor(input)
    dims = dims_arg(dims, input.data.ndim, "flip")
    return input[tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(input.data.ndim))]


def _diagonal_steps(offset, rows, cols):
    """Row and column indices of the ``offset`` diagonal of a rows x cols block."""
    start_row, start_col = max(-offset, 0), max(offset, 0)
    steps = np.arange(max(min(rows - start_row, cols - start_col), 0))
    return steps + start_row, steps + start_col


@defop("diagonal", saves=())
def diagonal(ctx, x, offset=0, dim1=0, dim2=1):
    """The diagonal of the ``dim1``, ``dim2`` planes, as a new last dimension
    (``offset`` > 0 above the main diagonal)."""
    return np.diagonal(x, offset, dim1, dim2).copy()


@diagonal.defvjp
def diagonal_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    dim1, dim2 = ctx.params["dim1"] % x.ndim, ctx.params["dim2"] % x.ndim
    # the two dimensions moved last, where x[..., rows, cols] is the diagonal
    order = [d for d in range(x.ndim) if d not in (dim1, dim2)] + [dim1, dim2]
    moved = tuple(x.shape[d] for d in order)
    rows, cols = _diagonal_steps(ctx.params["offset"], moved[-2], moved[-1])
    grad_moved = get_op("index_add")(grad_out, shape=moved, index=(Ellipsis, rows, cols), unique=True)
    inverse = tuple(int(i) for i in np.argsort(order))
    return (apply(get_op("permute"), grad_moved, axes=inverse),)


@diagonal.variant
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of ``input`` over dimensions ``dim1`` and ``dim2``, as its
    last dimension (``offset`` > 0 above the main one, < 0 below)."""
    input = _tensor(input)
    ndim = input.data.ndim
    if ndim < 2:
        raise RuntimeError(f"diagonal: expects a tensor with at least 2 dimensions, got shape "
                           f"{tuple(input.data.shape)}")
    first, second = dim_arg(dim1, ndim, "diagonal"), dim_arg(dim2, ndim, "diagonal")
    if first == second:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dimension, got {dim1} and {dim2}")
    return apply(get_op("diagonal"), input, offset=int(offset), dim1=first, dim2=second)


@defop("diag_embed", saves=())
def diag_embed(ctx, x, offset=0):
    """(..., n) -> (..., m, m) with m = n + |offset|: each last-dimension
    vector placed on the ``offset`` diagonal of a matrix of zeros."""
    size = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (size, size), dtype=x.dtype)
    rows, cols = _diagonal_steps(offset, size, size)
    out[..., rows, cols] = x
    return out


@diag_embed.defvjp
def diag_embed_vjp(ctx, grad_out):
    return (apply(get_op("diagonal"), grad_out, offset=ctx.params["offset"], dim1=grad_out.ndim - 2,
                  dim2=grad_out.ndim - 1),)


@diag_embed.variant
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices whose ``offset`` diagonal is the last dimension of ``input``."""
    input = _tensor(input)
    if input.data.ndim < 1:
        raise RuntimeError("diag_embed: expects a tensor with at least 1 dimension, got a 0-d tensor")
    ndim = input.data.ndim + 1
    if (dim_arg(dim1, ndim, "diag_embed"), dim_arg(dim2, ndim, "diag_embed")) != (ndim - 2, ndim - 1):
        raise NotImplementedError(f"diag_embed: only dim1=-2, dim2=-1 are supported, got ({dim1}, {dim2})")
    return apply(get_op("diag_embed"), input, offset=int(offset))


@add_variant
def diag(input, diagonal=0):
    """A vector -> the square matrix with it on diagonal ``diagonal``; a
    matrix -> its diagonal ``diagonal`` as a vector (PyTorch's ``diag``)."""
    input = _tensor(input)
    if input.data.ndim == 1:
        return apply(get_op("diag_embed"), input, offset=int(diagonal))
    if input.data.ndim == 2:
        return apply(get_op("diagonal"), input, offset=int(diagonal), dim1=0, dim2=1)
    raise RuntimeError(f"diag: Supports 1D or 2D tensors. Got {input.data.ndim}D "
                       f"(shape {tuple(input.data.shape)})")


@add_variant
def trace(input):
    """The sum of a matrix's diagonal."""
    return diagonal(input).sum()
