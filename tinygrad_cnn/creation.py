"""Creating tensors, with PyTorch's names and dtype rules: ``tensor`` infers
int64 for Python ints and float32 for floats, ``from_numpy`` shares memory,
random tensors come from the library's seeded generator."""
import numpy as np

from ._args import shape_arg
from .random import numpy_generator
from .registry import add_variant
from .tensor import Tensor
from .types import DEFAULT_DTYPE, as_dtype, device

__all__ = ["tensor", "from_numpy", "as_tensor", "zeros", "ones", "full", "empty", "zeros_like",
           "ones_like", "full_like", "empty_like", "rand", "randn", "randint", "rand_like",
           "randn_like", "randint_like", "randperm", "arange", "linspace", "eye", "is_tensor",
           "numel", "get_default_dtype"]


def _check_device(dev):
    if dev is not None:
        device(dev)


def _make(array, requires_grad, dev=None) -> Tensor:
    _check_device(dev)
    return Tensor(array, requires_grad=requires_grad)


def _dtype(dtype, default=DEFAULT_DTYPE):
    return default if dtype is None else as_dtype(dtype)


def _infer(data, dtype):
    """PyTorch's inference: bools -> bool, ints -> int64, floats -> float32;
    numpy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=as_dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f":
        return array.astype(DEFAULT_DTYPE)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind not in "b":
        raise TypeError(f"tensor: could not infer a dtype for {type(data).__name__} data "
                        f"(numpy made {array.dtype})")
    return array


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    return _make(_infer(data, dtype), requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """A tensor sharing ``data``'s memory when it already is an array of the
    right dtype (a Tensor is returned as it is)."""
    _check_device(device)
    if isinstance(data, Tensor) and (dtype is None or as_dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray):
        return Tensor(data if dtype is None else data.astype(as_dtype(dtype), copy=False))
    return tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``array`` (changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    return Tensor(array)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.zeros(shape_arg(size, "zeros"), _dtype(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.ones(shape_arg(size, "ones"), _dtype(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Like ``zeros`` (numpy's uninitialised memory would make runs differ)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``size`` filled with ``fill_value``; the dtype follows the value
    (bool, int64 or float32) unless given."""
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else
                 np.int64 if isinstance(fill_value, (int, np.integer)) else DEFAULT_DTYPE)
    return _make(np.full(shape_arg((size,), "full"), fill_value, as_dtype(dtype)), requires_grad, device)


def _like(input, dtype):
    data = input.data if isinstance(input, Tensor) else np.asarray(input)
    return data.shape, (data.dtype if dtype is None else as_dtype(dtype))


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return _make(np.zeros(shape, dtype), requires_grad, device)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return _make(np.ones(shape, dtype), requires_grad, device)


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return _make(np.full(shape, fill_value, dtype), requires_grad, device)


def _float_dtype(dtype, name):
    dtype = _dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}: expects a floating point dtype, got {dtype}")
    return dtype


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from the library's seeded generator (or ``generator``)."""
    dtype = _float_dtype(dtype, "rand")
    values = numpy_generator(generator, "rand").random(shape_arg(size, "rand"), dtype=np.float32).astype(dtype, copy=False)
    return _make(values, requires_grad, device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the library's seeded generator (or ``generator``)."""
    dtype = _float_dtype(dtype, "randn")
    values = numpy_generator(generator, "randn").standard_normal(shape_arg(size, "randn"), dtype=np.float32).astype(dtype, copy=False)
    return _make(values, requires_grad, device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` starts at 0), int64."""
    if size is None:                 # randint(high, size)
        if high is None:
            raise TypeError("randint: expected randint(low, high, size) or randint(high, size)")
        low, high, size = 0, low, high
    values = numpy_generator(generator, "randint").integers(low, high, shape_arg((size,), "randint"))
    return _make(values.astype(_dtype(dtype, np.dtype(np.int64))), requires_grad, device)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return rand(shape, dtype=dtype, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return randn(shape, dtype=dtype, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None) -> Tensor:
    shape, dtype = _like(input, dtype)
    return randint(low, high, shape, dtype=dtype) if high is not None else randint(0, low, shape, dtype=dtype)


def randperm(n, *, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    return _make(numpy_generator(generator, "randperm").permutation(int(n)).astype(_dtype(dtype, np.dtype(np.int64))), False, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Numbers from ``start`` to ``end`` (excluded) by ``step``: int64 when all
    three are integers, float32 otherwise (as in PyTorch)."""
    if end is None:
        start, end = 0, start
    numbers = (start, end, step)
    if dtype is None:
        whole = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in numbers)
        dtype = np.int64 if whole else DEFAULT_DTYPE
    dtype = as_dtype(dtype)
    if dtype.kind == "f":   # count as PyTorch does: ceil((end - start) / step) values
        count = int(np.ceil((end - start) / step))
        values = (start + np.arange(max(count, 0), dtype=np.float64) * step).astype(dtype)
    else:
        values = np.arange(start, end, step, dtype=dtype)
    return _make(values, requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included)."""
    steps, start, end = int(steps), float(start), float(end)
    dtype = _dtype(dtype)
    if steps == 1:
        return _make(np.array([start], dtype=dtype), requires_grad, device)
    # PyTorch's rounding: a step of the output dtype, walked from both ends
    step = float(np.asarray((end - start) / (steps - 1), dtype=dtype if dtype.kind == "f" else np.float64))
    index = np.arange(steps, dtype=np.float64)
    half = steps // 2
    values = np.where(index < half, start + step * index, end - step * (steps - 1 - index))
    return _make(values.astype(dtype), requires_grad, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.eye(int(n), None if m is None else int(m), dtype=_dtype(dtype)), requires_grad, device)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return input.numel()


def get_default_dtype():
    return DEFAULT_DTYPE


# PyTorch's ``x.new_*``: a new tensor of x's dtype (Tensor methods only)
def _dtype_of(self, dtype):
    return self.data.dtype if dtype is None else as_dtype(dtype)


def new_tensor(self, data, dtype=None, requires_grad=False):
    data = data.data if isinstance(data, Tensor) else data
    return Tensor(np.array(data, dtype=_dtype_of(self, dtype)), requires_grad=requires_grad)


def new_zeros(self, *size, dtype=None, requires_grad=False):
    return Tensor(np.zeros(shape_arg(size), _dtype_of(self, dtype)), requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, requires_grad=False):
    return Tensor(np.ones(shape_arg(size), _dtype_of(self, dtype)), requires_grad=requires_grad)


def new_full(self, size, fill_value, dtype=None, requires_grad=False):
    return Tensor(np.full(shape_arg((size,)), fill_value, _dtype_of(self, dtype)), requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, requires_grad=False):
    return new_zeros(self, *size, dtype=dtype, requires_grad=requires_grad)


for _method in (new_tensor, new_zeros, new_ones, new_full, new_empty):
    add_variant(_method.__name__, _method, function=False)


def _legacy(name, numpy_dtype):
    def constructor(*args):
        """PyTorch's legacy typed constructor: sizes give zeros, data a copy."""
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return Tensor(np.zeros(tuple(int(a) for a in args), dtype=numpy_dtype))
        return tensor(args[0] if args else [], dtype=numpy_dtype)
    constructor.__name__ = constructor.__qualname__ = name
    return constructor


FloatTensor = _legacy("FloatTensor", np.float32)
DoubleTensor = _legacy("DoubleTensor", np.float64)
LongTensor = _legacy("LongTensor", np.int64)
IntTensor = _legacy("IntTensor", np.int32)
ByteTensor = _legacy("ByteTensor", np.uint8)
BoolTensor = _legacy("BoolTensor", np.bool_)
__all__ += ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor", "BoolTensor"]
