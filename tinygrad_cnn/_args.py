"""Argument normalising shared by the ops' variants, nn and the constructors:
shapes, dimensions, pairs, conv/pool output sizes and loss reductions.
These run on every op call, so the common cases return early."""
import operator

import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def shape_arg(args, name: str = "shape") -> tuple:
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(Size)`` -> ``(2, 3)``."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        args = args[0]
        if args.__class__ is tuple:       # a shape from .shape or a VJP: usually all ints already
            for s in args:
                if s.__class__ is not int:
                    break
            else:
                return args
    try:
        return tuple(map(operator.index, args))
    except TypeError:
        raise TypeError(f"{name}: expected a shape (ints, or one tuple of ints), got {args!r}") from None


def dims_arg(dim, ndim: int, name: str):
    """None, an int or a sequence of ints -> None or a sorted tuple of
    non-negative dimensions (a 0-d tensor accepts 0 and -1)."""
    if dim is None:
        return None
    if dim.__class__ is int and 0 <= dim < ndim:
        return (dim,)
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        d = int(d)
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{name}: dimension {d} is out of range for a tensor with {ndim} "
                             f"dimensions (expected to be in range [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
        out.append(d % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dimension repeated in {dim}")
    return tuple(sorted(out))


def dim_arg(dim, ndim: int, name: str) -> int:
    """One dimension, wrapped to ``0 <= dim < ndim``."""
    return dims_arg(int(dim), ndim, name)[0]


def alias(value, numpy_value, default, name: str, torch_name: str, numpy_name: str):
    """PyTorch's keyword, with numpy's spelling accepted when it does not conflict."""
    if numpy_value is None:
        return default if value is None else value
    if value is not None and value != numpy_value:
        raise TypeError(f"{name}: got both {torch_name}={value!r} and {numpy_name}={numpy_value!r}")
    return numpy_value


def pair(value, name: str = "value", op: str = "conv2d") -> tuple:
    """``3 -> (3, 3)``; ``(2, 3)`` unchanged; anything else is an error."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    try:
        first, second = value
        return (int(first), int(second))
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window sliding along ``size``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_reduction(reduction: str, name: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def indices_arg(indices, name):
    """PyTorch's ``indices`` (a tuple of index tensors, one per leading
    dimension) as a numpy index."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{name}: indices must be a tuple of tensors (one per indexed dimension), "
                        f"got {type(indices).__name__}")
    index = []
    for i in indices:
        # a Tensor's array (its .data), or an array-like (an ndarray's own .data is its buffer)
        array = np.asarray(i if isinstance(i, np.ndarray) else getattr(i, "data", i))
        if array.dtype.kind not in "iub":
            raise IndexError(f"{name}: tensors used as indices must be long, int, byte or bool "
                             f"tensors, got dtype {array.dtype}")
        index.append(array)
    return tuple(index)
