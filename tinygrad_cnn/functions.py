"""``tc.exp(x)`` and friends: the function face of the Tensor methods, and
constructors. ``tc.exp(x)`` is ``x.exp()`` for a Tensor ``x``."""
import numpy as np

from .random import generator
from .tensor import DEFAULT_DTYPE, Tensor, apply, get_op


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def add(a, b): return _t(a) + b
def sub(a, b): return _t(a) - b
def mul(a, b): return _t(a) * b
def div(a, b): return _t(a) / b
def pow(a, b): return _t(a) ** b
def matmul(a, b): return _t(a) @ b
def neg(x): return -_t(x)
def exp(x): return _t(x).exp()
def log(x): return _t(x).log()
def sqrt(x): return _t(x).sqrt()
def tanh(x): return _t(x).tanh()
def sigmoid(x): return _t(x).sigmoid()
def relu(x): return _t(x).relu()
def abs(x): return _t(x).abs()
def maximum(a, b): return _t(a).maximum(b)
def minimum(a, b): return _t(a).minimum(b)
def clip(x, min=None, max=None): return _t(x).clip(min, max)
def sum(x, axis=None, keepdims=False): return _t(x).sum(axis, keepdims)
def mean(x, axis=None, keepdims=False): return _t(x).mean(axis, keepdims)
def max(x, axis=None, keepdims=False): return _t(x).max(axis, keepdims)
def min(x, axis=None, keepdims=False): return _t(x).min(axis, keepdims)
def var(x, axis=None, keepdims=False, ddof=0): return _t(x).var(axis, keepdims, ddof)
def reshape(x, shape): return _t(x).reshape(shape)
def transpose(x, axes=None): return _t(x).transpose(*(() if axes is None else (axes,)))
def permute(x, axes): return _t(x).transpose(axes)
def flatten(x, start_axis=1, end_axis=-1): return _t(x).flatten(start_axis, end_axis)
def broadcast_to(x, shape): return _t(x).broadcast_to(shape)
def expand(x, shape): return _t(x).expand(shape)
def pad(x, pad_width, value=0.0): return _t(x).pad(pad_width, value)


def concatenate(tensors, axis=0) -> Tensor:
    """Join tensors along an existing axis."""
    return apply(get_op("concatenate"), *[_t(x) for x in tensors], axis=int(axis))


def stack(tensors, axis=0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    return apply(get_op("stack"), *[_t(x) for x in tensors], axis=int(axis))


cat = concatenate


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape, dtype=DEFAULT_DTYPE, requires_grad=False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=DEFAULT_DTYPE, requires_grad=False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def full(shape, value, dtype=DEFAULT_DTYPE, requires_grad=False) -> Tensor:
    return Tensor(np.full(_shape((shape,)), value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(np.zeros_like(_t(x).data, dtype=dtype), requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(np.ones_like(_t(x).data, dtype=dtype), requires_grad=requires_grad)


def arange(*args, dtype=DEFAULT_DTYPE) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype))


def randn(*shape, dtype=DEFAULT_DTYPE, requires_grad=False) -> Tensor:
    """Standard normal samples from the library's seeded generator."""
    return Tensor(generator().standard_normal(_shape(shape), dtype=np.float32).astype(dtype, copy=False),
                  requires_grad=requires_grad)


def rand(*shape, dtype=DEFAULT_DTYPE, requires_grad=False) -> Tensor:
    """Uniform [0, 1) samples from the library's seeded generator."""
    return Tensor(generator().random(_shape(shape), dtype=np.float32).astype(dtype, copy=False),
                  requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
