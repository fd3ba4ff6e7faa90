"""PyTorch's names for what a tensor is made of and where it lives: ``dtype``
(numpy's dtypes under PyTorch's names), ``Size`` and ``device``."""
from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_DTYPE", "dtype", "torch_dtype", "as_dtype", "Size", "device", "CPU",
           "tensor_type_name", "type_arg", "to_dtype_arg"]

DEFAULT_DTYPE = np.dtype(np.float32)


class dtype:
    """A tensor's element type: numpy's dtype under PyTorch's name.

    It prints as PyTorch's does (``torch.float32``), compares equal to the
    numpy dtype, its type and its name (``t.dtype == np.float32``), and numpy
    takes it wherever it takes a dtype (``np.zeros(3, dtype=t.dtype)``)."""

    __slots__ = ("dtype",)      # numpy reads a ``.dtype`` attribute as the dtype

    def __init__(self, numpy_dtype):
        self.dtype = np.dtype(numpy_dtype)

    @property
    def name(self) -> str:
        return self.dtype.name

    @property
    def kind(self) -> str:
        return self.dtype.kind

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def type(self):
        return self.dtype.type

    @property
    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def is_signed(self) -> bool:
        return self.dtype.kind in "fi"

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self.dtype == other.dtype
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return "torch." + self.dtype.name

    __str__ = __repr__


_DTYPES: dict = {}


def torch_dtype(numpy_dtype) -> dtype:
    """The (shared) ``dtype`` object for a numpy dtype."""
    found = _DTYPES.get(numpy_dtype)
    if found is None:
        found = _DTYPES[np.dtype(numpy_dtype)] = dtype(numpy_dtype)
    return found


class Size(tuple):
    """A shape: a tuple that prints as PyTorch prints its shapes."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class device:
    """``device('cpu')``: the only device tinygrad_cnn runs on."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type = type.type
        type = str(type)
        if type.split(":")[0] != "cpu":
            raise RuntimeError(f"tinygrad_cnn runs on the CPU; device {type!r} is not available")
        self.type = "cpu"
        self.index = index

    def __eq__(self, other):
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"


CPU = device("cpu")


def as_dtype(dtype) -> np.dtype:
    """A numpy dtype from a dtype, its name, or Python's float/int/bool."""
    if dtype is float:          # as in PyTorch, Python's float is float64
        return np.dtype(np.float64)
    if dtype is int:
        return np.dtype(np.int64)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: {dtype!r} is not a dtype (try tinygrad_cnn.float32)") from None


# PyTorch's legacy type names: ``x.type()`` -> 'torch.FloatTensor'
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def tensor_type_name(numpy_dtype) -> str:
    name = np.dtype(numpy_dtype).name
    return "torch." + _TYPE_NAMES.get(name, name)


def type_arg(dtype):
    """The dtype meant by ``x.type(arg)``: a dtype, a name, ``'torch.LongTensor'``
    or the class ``torch.LongTensor``."""
    if callable(dtype) and getattr(dtype, "__name__", "") in _TYPE_NAMES.values():
        dtype = "torch." + dtype.__name__
    if isinstance(dtype, str) and dtype.startswith("torch."):
        names = {v: k for k, v in _TYPE_NAMES.items()}
        dtype = names.get(dtype[len("torch."):], dtype)
    return dtype


def to_dtype_arg(args, kwargs):
    """The dtype that ``x.to(*args, **kwargs)`` asks for (None for none); a
    device must be the CPU. A Tensor argument is passed as its dtype."""
    kwargs = dict(kwargs)
    dtype = kwargs.pop("dtype", None)
    for key in ("device", "non_blocking", "copy", "memory_format"):
        value = kwargs.pop(key, None)
        if key == "device" and value is not None:
            device(value)
    if kwargs:
        raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, (str, device)) and str(arg).split(":")[0] in ("cpu", "cuda", "mps"):
            device(arg)
        else:
            dtype = arg
    return dtype
