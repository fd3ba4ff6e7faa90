"""The Tensor: a numpy array that records the ops applied to it.

The arithmetic, reductions and reshaping methods are not written here: each
op publishes its variants (``Tensor.exp``, ``tinygrad_cnn.exp``) where it is
registered, in ``tinygrad_cnn/ops``. What lives here is what is not an op:
construction, conversions, the autograd attributes, the arithmetic operators'
fast path and the in-place methods, with PyTorch's names and semantics.
"""
from __future__ import annotations

import collections
import functools
import inspect

import numpy as np

from . import engine, inplace, registry
from ._args import indices_arg, shape_arg
from .grad_fn import GradFn, node_name
from ._printing import format_array, with_suffixes
from .random import generator
from .types import (  # noqa: F401
    CPU, DEFAULT_DTYPE, Size, as_dtype, device, dtype, tensor_type_name, to_dtype_arg, torch_dtype, type_arg,
)
from .engine import (  # noqa: F401  (re-exported: the engine's public names)
    Context, Op, apply, defop, get_op, grad, is_grad_enabled, no_grad, enable_grad,
    registered_ops, set_grad_enabled, unbroadcast,
)

__all__ = ["Tensor", "Size", "device", "DEFAULT_DTYPE"]


def _as_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        return array if dtype is None else array.astype(dtype, copy=False)
    # Python numbers and (nested) lists default to float32, as torch.Tensor(...) does.
    return np.asarray(data, dtype=DEFAULT_DTYPE if dtype is None else dtype)


def _wrap(array: np.ndarray) -> "Tensor":
    """A leaf Tensor around an array, skipping the constructor's checks."""
    result = Tensor.__new__(Tensor)
    result.data = array
    result.grad = None
    result.requires_grad = False
    result._ctx = None
    result._retains_grad = False
    result._version = 0
    result._previous = None
    result._hooks = None
    return result


class _HookHandle:
    def __init__(self, hooks: dict, key: int):
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


_hook_ids = iter(range(1, 1 << 62))


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``Tensor(data, dtype=None, requires_grad=False)``: a numpy array keeps its
    dtype (and its memory), Python floats and lists become float32, ``dtype=``
    converts. ``tinygrad_cnn.tensor(data)`` infers dtypes as PyTorch does
    (Python ints give int64).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "_version",
                 "_previous", "_hooks", "__weakref__")
    __array_priority__ = 1000  # so ``ndarray + Tensor`` defers to Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad: bool = False, device=None):
        self.data = _as_array(data, None if dtype is None else as_dtype(dtype))
        self.grad: Tensor | None = None
        self._ctx = None
        self._retains_grad = False
        self._version = 0
        self._previous = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- shape and type ------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self.data.shape)

    def size(self, dim=None):
        """The shape (a tuple), or its length along ``dim``."""
        if dim is None:
            return Size(self.data.shape)
        try:
            return self.data.shape[dim]
        except IndexError:
            raise IndexError(f"size: dimension {dim} is out of range for a tensor of shape "
                             f"{tuple(self.data.shape)}") from None

    @property
    def dtype(self) -> dtype:
        return torch_dtype(self.data.dtype)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self.data.size)

    nelement = numel

    def element_size(self) -> int:
        return self.data.itemsize

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return None if self._ctx is None else GradFn(self._ctx)

    @property
    def T(self) -> "Tensor":
        if self.data.ndim == 2:          # the common case, without the variant's checks
            return apply(_OPS["permute"], self, axes=(1, 0))
        return self.permute(tuple(range(self.data.ndim))[::-1])

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        if not self.requires_grad:      # plain rows, no graph to record
            return iter([_wrap(row) for row in self.data])
        return iter([self[i] for i in range(len(self.data))])

    def __contains__(self, element):
        return bool((self.data == (element.data if isinstance(element, Tensor) else element)).any())

    # --- conversion to Python and numpy ----------------------------------------
    def numpy(self, force: bool = False) -> np.ndarray:
        """The array itself (shares memory, as PyTorch's ``numpy()`` does).
        As in PyTorch, a tensor that requires grad must be detached first
        (or use ``.data``, which is the array)."""
        if self.requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy() (or tensor.data) instead")
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element converts to a Python "
                             f"number, got shape {tuple(self.data.shape)}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index, got dtype {self.dtype} and shape {tuple(self.data.shape)}")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {tuple(self.data.shape)}); use .any() or .all()")
        return bool(self.data)

    def __format__(self, spec):
        if self.data.size == 1 and self.data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self):
        extras = []
        kind = self.data.dtype.kind
        if self.data.dtype not in (DEFAULT_DTYPE, np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype=torch.{self.data.dtype.name}")
        if self.data.size == 0 and self.data.ndim != 1:
            extras.insert(0, f"size={tuple(self.data.shape)}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{node_name(self._ctx)}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        del kind
        return with_suffixes("tensor(" + format_array(self.data), extras, len("tensor("))

    def __hash__(self):
        return id(self)

    # --- dtype and device ------------------------------------------------------
    def _cast(self, dtype) -> "Tensor":
        dtype = as_dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if dtype.kind == "f" and self.requires_grad:
            return apply(_OPS["astype"], self, dtype=dtype)
        return Tensor(self.data.astype(dtype))

    astype = _cast

    def float(self): return self._cast(np.float32)
    def double(self): return self._cast(np.float64)
    def half(self): return self._cast(np.float16)
    def long(self): return self._cast(np.int64)
    def int(self): return self._cast(np.int32)
    def short(self): return self._cast(np.int16)
    def byte(self): return self._cast(np.uint8)
    def bool(self): return self._cast(np.bool_)

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``;
        the device can only be the CPU."""
        dtype = to_dtype_arg([a.dtype if isinstance(a, Tensor) else a for a in args], kwargs)
        return self if dtype is None else self._cast(dtype)

    def cpu(self) -> "Tensor":
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("tinygrad_cnn runs on the CPU; there is no CUDA device")

    def type(self, dtype=None):
        """The type's name (``'torch.FloatTensor'``), or a copy of another type."""
        if dtype is None:
            return tensor_type_name(self.data.dtype)
        return self._cast(type_arg(dtype))

    def type_as(self, other) -> "Tensor":
        return self._cast(other.dtype)

    def contiguous(self, memory_format=None) -> "Tensor":
        """This tensor if its array is C-contiguous, else a copy that is."""
        return self if self.data.flags.c_contiguous else self.clone()

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self.data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    # --- autograd ----------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                               f"got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False): only a leaf tensor can stop requiring grad; "
                               "use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory, like PyTorch)."""
        return _wrap(self.data)

    def detach_(self) -> "Tensor":
        self._ctx = None
        self._previous = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient has been computed; a
        returned Tensor replaces the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self._hooks is None:
            self._hooks = collections.OrderedDict()
        key = next(_hook_ids)
        self._hooks[key] = hook
        return _HookHandle(self._hooks, key)

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is required unless ``self`` has a single element.
        The graph is freed afterwards unless ``retain_graph=True``.
        """
        engine.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # --- arithmetic operands -------------------------------------------------------
    def _other(self, other) -> "Tensor":
        """``other`` as a Tensor of a dtype that mixes with this one as in
        PyTorch: Python numbers and integer tensors never widen a float tensor."""
        if other.__class__ is Tensor:
            if other.data.dtype is self.data.dtype:
                return other
            kind, other_kind = self.data.dtype.kind, other.data.dtype.kind
            # cast only where numpy would widen (int64 with float32); a bool
            # mask multiplies a float32 array into float32 in one pass as it is
            if kind == "f" and other_kind in "iub" and \
                    np.promote_types(self.data.dtype, other.data.dtype) != self.data.dtype:
                return other._cast(self.data.dtype)
            return other
        if other.__class__ in (int, float, bool):
            if self.data.dtype.kind == "f":
                return _wrap(np.array(other, dtype=self.data.dtype))
            if other.__class__ is float:
                return _wrap(np.array(other, dtype=DEFAULT_DTYPE))
            return _wrap(np.array(other, dtype=self.data.dtype if other.__class__ is int and
                                  self.data.dtype.kind in "iu" else None))
        if isinstance(other, Tensor):
            return other
        return self._other(Tensor(other) if isinstance(other, np.ndarray) else _wrap(np.asarray(other)))

    def _operands(self, other):
        """Both operands of a binary op, their dtypes mixed as in PyTorch: an
        integer tensor meeting a float one becomes float, a Python float
        makes an integer tensor float32, and nothing widens float32."""
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype:
            return self, other
        other = self._other(other)
        if self.data.dtype.kind in "iub" and other.data.dtype.kind == "f" and \
                np.promote_types(self.data.dtype, other.data.dtype) != other.data.dtype:
            return self._cast(other.data.dtype), other
        return self, other

    # the common case (two tensors of one dtype) goes straight to the op
    def __add__(self, other):
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype:
            return apply(_OPS["add"], self, other)
        return self.add(other)

    def __radd__(self, other): return self._other(other).add(self)

    def __sub__(self, other):
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype:
            return apply(_OPS["sub"], self, other)
        return self.sub(other)

    def __rsub__(self, other): return self._other(other).sub(self)

    def __mul__(self, other):
        # same dtypes, or a bool mask on floats (numpy keeps the float dtype)
        if other.__class__ is Tensor and (other.data.dtype is self.data.dtype or
                                          other.data.dtype.kind == "b" and self.data.dtype.kind == "f"):
            return apply(_OPS["mul"], self, other)
        return self.mul(other)

    def __rmul__(self, other): return self._other(other).mul(self)

    def __truediv__(self, other):
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype and self.data.dtype.kind == "f":
            return apply(_OPS["div"], self, other)
        return self.div(other)

    def __rtruediv__(self, other): return self._other(other).div(self)
    def __pow__(self, other): return self.pow(other)
    def __rpow__(self, other): return self._other(other).pow(self)
    def __matmul__(self, other):
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype:
            return apply(_OPS["matmul"], self, other)
        return self.matmul(other)
    def __rmatmul__(self, other): return Tensor(other).matmul(self) if not isinstance(other, Tensor) else other.matmul(self)
    def __neg__(self): return self.neg()
    def __abs__(self): return self.abs()

    # comparisons, logic and integer division (no gradient): tinygrad_cnn/ops/compare.py

    def __pos__(self): return self

    # --- in-place changes -----------------------------------------------------------
    def _binary_inplace(self, name, op_name, ufunc, other, alpha=None):
        if alpha is not None and alpha != 1:
            other = other * alpha if isinstance(other, Tensor) else np.asarray(other) * alpha
        needs = isinstance(other, Tensor) and other.requires_grad
        other_array = other.data if isinstance(other, Tensor) else other

        def in_array(array):
            ufunc(array, np.asarray(other_array, dtype=array.dtype) if array.dtype.kind == "f"
                  else other_array, out=array, casting="same_kind")
        return inplace.change(self, name, lambda old: getattr(old, op_name)(other), in_array, needs)

    def add_(self, other, alpha=1): return self._binary_inplace("add_", "__add__", np.add, other, alpha)
    def sub_(self, other, alpha=1): return self._binary_inplace("sub_", "__sub__", np.subtract, other, alpha)
    def mul_(self, other): return self._binary_inplace("mul_", "__mul__", np.multiply, other)

    def div_(self, other):
        if self.data.dtype.kind != "f":
            raise RuntimeError(f"div_: result type float can't be cast to the tensor's dtype {self.dtype}")
        return self._binary_inplace("div_", "__truediv__", np.true_divide, other)

    def pow_(self, exponent): return self._binary_inplace("pow_", "__pow__", np.power, exponent)
    __iadd__, __isub__, __imul__, __itruediv__, __ipow__ = add_, sub_, mul_, div_, pow_

    def clamp_(self, min=None, max=None):
        def in_array(array):
            np.clip(array, min, max, out=array)
        return inplace.change(self, "clamp_", lambda old: old.clamp(min, max), in_array)

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        """Set the elements where ``mask`` is true to ``value``, in place."""
        mask = np.broadcast_to(np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool),
                               self.data.shape)
        source = value if isinstance(value, Tensor) else None

        def out_of_place(old):
            return old.masked_fill(mask, value)

        def in_array(array):
            np.copyto(array, value.data if source is not None else value, where=mask, casting="same_kind")
        return inplace.change(self, "masked_fill_", out_of_place, in_array,
                             other_needs_grad=source is not None and source.requires_grad)

    def relu_(self):
        return inplace.change(self, "relu_", lambda old: old.relu(), lambda a: np.maximum(a, 0, out=a))

    def _fill_from(self, name, values, source=None):
        """Overwrite every element with ``values`` (an array of this shape);
        inside a graph the result is a constant (``source`` None) or
        ``source`` broadcast to this shape."""
        def out_of_place(old):
            if source is not None:
                return _OPS["index_put"](old, source, index=Ellipsis)
            return _OPS["index_put"](old, _wrap(values), index=Ellipsis)

        def in_array(array):
            array[...] = values
        return inplace.change(self, name, out_of_place, in_array,
                             other_needs_grad=source is not None and source.requires_grad)

    def zero_(self): return self._fill_from("zero_", np.zeros((), dtype=self.data.dtype))
    def fill_(self, value): return self._fill_from("fill_", np.asarray(value.data if isinstance(value, Tensor) else value, dtype=self.data.dtype))

    def copy_(self, src, non_blocking=False):
        source = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        try:
            values = np.broadcast_to(source.data, self.data.shape)
        except ValueError:
            raise RuntimeError(f"copy_: the source of shape {tuple(source.data.shape)} does not "
                               f"broadcast to the tensor's shape {tuple(self.data.shape)}") from None
        return self._fill_from("copy_", values.astype(self.data.dtype, copy=False), source)

    def uniform_(self, a: float = 0.0, b: float = 1.0):
        values = generator().uniform(a, b, self.data.shape).astype(self.data.dtype)
        return self._fill_from("uniform_", values)

    def normal_(self, mean: float = 0.0, std: float = 1.0):
        values = (generator().standard_normal(self.data.shape, dtype=np.float32) * std + mean)
        return self._fill_from("normal_", values.astype(self.data.dtype))

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        """``self[index[i][j]][j] = src[i][j]`` along ``dim`` (no gradient)."""
        if reduce is not None:
            raise NotImplementedError("scatter_: reduce= is not supported")
        index_array = np.asarray(index.data if isinstance(index, Tensor) else index)
        if index_array.ndim == 0:
            index_array = index_array.reshape(1)
        values = value if src is None else (src.data if isinstance(src, Tensor) else src)
        if src is None and value is None:
            raise TypeError("scatter_: give src or value")

        def in_array(array):
            np.put_along_axis(array, index_array, np.broadcast_to(
                np.asarray(values, dtype=array.dtype), index_array.shape) if np.ndim(values) == 0
                else np.asarray(values, dtype=array.dtype)[tuple(slice(0, n) for n in index_array.shape)],
                axis=dim)

        def out_of_place(old):
            raise RuntimeError("scatter_: not supported on a tensor that is part of a graph")
        return inplace.change(self, "scatter_", out_of_place, in_array)

    def index_put_(self, indices, values, accumulate=False):
        """``self[indices] = values`` in place (``indices``: a tuple of index
        tensors); ``accumulate=True`` adds, summing over repeated indices."""
        index = indices_arg(indices, "index_put_")
        source = values if isinstance(values, Tensor) else Tensor(np.asarray(values, dtype=self.data.dtype))
        if source.data.dtype != self.data.dtype:
            raise RuntimeError(f"index_put_: Index put requires the source and destination dtypes "
                               f"match, got {self.dtype} for the tensor and {source.dtype} for the values")

        def out_of_place(old):
            return old.index_put(indices, source, accumulate)

        def in_array(array):
            if accumulate:
                np.add.at(array, index, source.data)
            else:
                array[index] = source.data
        return inplace.change(self, "index_put_", out_of_place, in_array, other_needs_grad=source.requires_grad)

    def __setitem__(self, index, value):
        index = _index_arg(index)
        source = value if isinstance(value, Tensor) else None

        def out_of_place(old):
            values = source if source is not None else Tensor(np.asarray(value, dtype=old.data.dtype))
            return _OPS["index_put"](old, values._cast(old.data.dtype), index=index)

        def in_array(array):
            array[index] = source.data if source is not None else value
        inplace.change(self, "setitem", out_of_place, in_array,
                      other_needs_grad=source is not None and source.requires_grad)

    def __getitem__(self, index):
        return apply(_OPS["getitem"], self, index=_index_arg(index))

    # new_tensor, new_zeros, ...: tinygrad_cnn/creation.py


def _index_arg(index):
    """Turn Tensors inside an index into numpy arrays (indices are constants)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        if any(isinstance(i, (Tensor, list, slice)) or i is None or i is Ellipsis for i in index):
            return tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return np.asarray(index)
    return index


_OPS = registry._REGISTRY


def _install_method(name, fn, method, function):
    if method:
        setattr(Tensor, name, fn)


engine.bind_tensor_class(Tensor, _wrap)
registry.on_variant(_install_method)
