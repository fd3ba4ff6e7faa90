"""Reading ``data.pkl``: the weights-only unpickler and the full one.

Every global a pickle names goes through ``find_class``. The weights-only
unpickler answers only for what PyTorch's ``weights_only=True`` allows --
its tensor rebuild functions, storage classes, dtypes, ``torch.Size``,
``torch.device``, ``OrderedDict``/``Counter``, ``set``, ``complex``,
``bytearray`` and ``_codecs.encode`` (bytes) -- each mapped to tinygrad_cnn's
own function or class; any other name is refused before anything is called,
so nothing from the file runs. (Dicts, lists, tuples, numbers, strings,
booleans and None need no global.) The full unpickler (``weights_only=False``)
imports what the file names, as ``pickle`` does: it can run any code.
"""
from __future__ import annotations

import codecs
import math
import pickle
from collections import Counter, OrderedDict

import numpy as np

from ..nn.module import Parameter
from ..tensor import Tensor
from ..types import Size, CPU, torch_dtype
from .errors import CheckpointError, WeightsOnlyError
from .pickler import STORAGE_TYPES

__all__ = ["WeightsOnlyUnpickler", "FullUnpickler", "LoadedStorage", "add_safe_globals", "get_safe_globals",
           "clear_safe_globals", "safe_globals"]

_STORAGE_DTYPES = {name: dtype for dtype, name in STORAGE_TYPES.items()}
_BFLOAT16 = "bfloat16"     # numpy has no bfloat16: such tensors load as float32, exactly


class StorageType:
    """What ``torch.FloatStorage`` (and the other storage classes) stand for
    here: the element dtype of a storage record."""

    def __init__(self, name: str, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class LoadedStorage:
    """A storage record read from the archive: a 1-D array of its elements
    in native byte order, or its raw bytes (untyped; in the file's byte
    order, ``'<'`` or ``'>'``)."""

    def __init__(self, array: np.ndarray, untyped: bool, byteorder: str = "<"):
        self.array, self.untyped, self.byteorder = array, untyped, byteorder


class TorchOnlyDtype:
    """A PyTorch dtype numpy has no type for (bfloat16, float8 types, ...)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


def _fail(message: str):
    raise CheckpointError(message)


# --- rebuilding tensors ------------------------------------------------------------------


def _elements(storage, dtype=None) -> np.ndarray:
    """The storage's elements, as ``dtype`` for an untyped (byte) storage."""
    if not isinstance(storage, LoadedStorage):
        _fail(f"a tensor is rebuilt from a {type(storage).__name__}, not from a storage record")
    if not storage.untyped:
        return storage.array
    if isinstance(dtype, TorchOnlyDtype) and dtype.name == _BFLOAT16:
        return _bfloat16_to_float32(storage.array.view(np.dtype(np.uint16).newbyteorder(storage.byteorder)))
    if isinstance(dtype, TorchOnlyDtype):
        _fail(f"a tensor has dtype torch.{dtype.name}, which tinygrad_cnn does not have")
    if not hasattr(dtype, "dtype"):
        _fail(f"a tensor's dtype is {dtype!r}, not a dtype")
    element = np.dtype(dtype.dtype)
    if storage.array.size % element.itemsize:
        _fail(f"an untyped storage of {storage.array.size} bytes does not hold whole {dtype} elements")
    return storage.array.view(element.newbyteorder(storage.byteorder)).astype(element, copy=False)


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _view(elements: np.ndarray, offset, size, stride) -> np.ndarray:
    """The tensor ``size``/``stride`` describe, starting ``offset`` elements
    into ``elements``: a view when it is a contiguous run (so tensors that
    share a storage in the file share memory here, as in PyTorch), else a
    contiguous copy. Checked first: nothing may reach outside the storage."""
    if not (isinstance(offset, int) and offset >= 0 and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and all(isinstance(n, int) and n >= 0 for n in size + stride)):
        _fail(f"a tensor has a malformed layout (offset {offset!r}, size {size!r}, stride {stride!r})")
    numel = math.prod(size)       # Python ints: a crafted size cannot overflow
    if numel == 0:
        return np.empty(size, dtype=elements.dtype)
    last = offset + sum((n - 1) * step for n, step in zip(size, stride))
    if last >= elements.size:
        _fail(f"a tensor of size {list(size)} reaches element {last} of a storage of {elements.size}")
    contiguous = tuple(math.prod(size[axis + 1:]) for axis in range(len(size)))
    if all(step == want for n, step, want in zip(size, stride, contiguous) if n > 1):
        return elements[offset:offset + numel].reshape(size)
    window = np.lib.stride_tricks.as_strided(elements[offset:], shape=size,
                                             strides=[step * elements.itemsize for step in stride],
                                             writeable=False)
    return np.array(window, order="C")


def _tensor(array: np.ndarray, requires_grad) -> Tensor:
    return Tensor(array, requires_grad=bool(requires_grad) and array.dtype.kind == "f")


def rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor(_view(_elements(storage), storage_offset, size, stride), False)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _tensor(_view(_elements(storage), storage_offset, size, stride), requires_grad)


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                      metadata=None):
    return _tensor(_view(_elements(storage, dtype), storage_offset, size, stride), requires_grad)


def rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, Tensor):
        _fail(f"a Parameter is rebuilt from a {type(data).__name__}, not a tensor")
    return Parameter(data.data, requires_grad=bool(requires_grad))


def rebuild_from_type(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2``: a tensor rebuilt by ``func``,
    then made a ``new_type`` (here only Tensor or Parameter). Python
    attributes in ``state`` are not restored."""
    if func not in _REBUILD_FUNCTIONS or new_type not in (Tensor, Parameter) or not isinstance(args, tuple):
        _fail(f"a tensor is rebuilt by {func!r} as a {new_type!r}, which tinygrad_cnn does not rebuild")
    tensor = func(*args)
    if new_type is Parameter and not isinstance(tensor, Parameter):
        tensor = Parameter(tensor.data, requires_grad=tensor.requires_grad)
    return tensor


_REBUILD_FUNCTIONS = (rebuild_tensor, rebuild_tensor_v2, rebuild_tensor_v3, rebuild_parameter)


def _encode(text, encoding="latin1"):
    """``_codecs.encode`` as protocol 2 uses it for bytes: str -> bytes only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        _fail(f"_codecs.encode({type(text).__name__}, {encoding!r}) is not how bytes are pickled")
    return codecs.encode(text, encoding)


def _device(*args, **kwargs):
    return CPU      # everything loads onto the CPU (as map_location='cpu')


# --- the allowed names -------------------------------------------------------------------

_DTYPE_NAMES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
                "complex64", "complex128", "uint16", "uint32", "uint64")
_TORCH_ONLY_DTYPES = ("bfloat16", "complex32", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                      "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "quint8", "qint32",
                      "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
                      "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
                      "int1", "int2", "int3", "int4", "int5", "int6", "int7")
_LEGACY_ALIASES = {"double": "float64", "float": "float32", "half": "float16", "long": "int64",
                   "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}

ALLOWED = {
    "collections.OrderedDict": OrderedDict,
    "collections.Counter": Counter,
    "builtins.set": set,
    "builtins.complex": complex,
    "builtins.bytearray": bytearray,
    "_codecs.encode": _encode,
    "torch.Size": Size,
    "torch.device": _device,
    "torch.Tensor": Tensor,
    "torch.nn.parameter.Parameter": Parameter,
    "torch._utils._rebuild_tensor": rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": rebuild_from_type,
    "torch.storage.UntypedStorage": StorageType("UntypedStorage", None),
}
ALLOWED.update((f"torch.{name}", torch_dtype(np.dtype(name))) for name in _DTYPE_NAMES)
ALLOWED.update((f"torch.{name}", ALLOWED[f"torch.{target}"]) for name, target in _LEGACY_ALIASES.items())
ALLOWED.update((f"torch.{name}", TorchOnlyDtype(name)) for name in _TORCH_ONLY_DTYPES)
ALLOWED.update((f"torch.{name}", StorageType(name, dtype)) for name, dtype in _STORAGE_DTYPES.items())
ALLOWED["torch.BFloat16Storage"] = StorageType("BFloat16Storage", _BFLOAT16)

# Allowed by PyTorch's weights-only loader too, but naming tensors tinygrad_cnn has no counterpart for.
UNSUPPORTED = {
    "torch._utils._rebuild_qtensor": "a quantized tensor",
    "torch._utils._rebuild_sparse_tensor": "a sparse tensor",
    "torch._utils._rebuild_nested_tensor": "a nested tensor",
    "torch._utils._rebuild_meta_tensor_no_storage": "a meta tensor (it has no data)",
    "torch._utils._rebuild_wrapper_subclass": "a tensor subclass",
    "torch._utils._rebuild_device_tensor_from_numpy": "a tensor of another device",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": "a tensor of another device",
    "torch.serialization._get_layout": "a sparse tensor layout",
}

_RENAMED_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}    # protocol 2's Python 2 names


def _name(module: str, name: str) -> str:
    return f"{_RENAMED_MODULES.get(module, module)}.{name}"


# --- globals the user trusts (PyTorch's add_safe_globals) -------------------------------

_user_safe_globals: list = []


def _user_allowed() -> dict:
    allowed = {}
    for entry in _user_safe_globals:
        obj, name = entry if isinstance(entry, tuple) else (entry, f"{entry.__module__}.{entry.__qualname__}")
        allowed[name] = obj
    return allowed


def add_safe_globals(safe_globals: list) -> None:
    """Allow these functions or classes in weights-only loads, as PyTorch's
    ``torch.serialization.add_safe_globals``: the loader may then call them,
    or create such objects and set their state. Each entry is the object, or
    ``(object, "module.qualified_name")`` when the file names it otherwise."""
    for entry in safe_globals:
        if isinstance(entry, tuple) and not (len(entry) == 2 and isinstance(entry[1], str)):
            raise TypeError(f"add_safe_globals: expected an object or (object, 'module.name'), got {entry!r}")
        if not isinstance(entry, tuple) and not hasattr(entry, "__qualname__"):
            raise TypeError(f"add_safe_globals: {entry!r} is neither a function nor a class; "
                            "pass (object, 'module.name')")
    _user_safe_globals.extend(safe_globals)


def get_safe_globals() -> list:
    """The globals added by ``add_safe_globals``."""
    return list(_user_safe_globals)


def clear_safe_globals() -> None:
    _user_safe_globals.clear()


class safe_globals:
    """``with safe_globals([Net]): load(f)``: ``add_safe_globals`` for the
    block only."""

    def __init__(self, safe_globals: list):
        self._globals = list(safe_globals)

    def __enter__(self):
        self._before = get_safe_globals()
        add_safe_globals(self._globals)

    def __exit__(self, *exc_info):
        _user_safe_globals[:] = self._before


# --- the two unpicklers ------------------------------------------------------------------


class _ArchiveUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl``; ``read_storage(key, dtype, count)`` reads the
    storage record ``data/<key>`` of the same archive as ``count`` elements
    of ``dtype`` (in native byte order; raw bytes for uint8), and
    ``byteorder`` is the archive's ('<' or '>')."""

    def __init__(self, file, read_storage, byteorder: str = "<"):
        super().__init__(file)
        self._read_storage = read_storage
        self._byteorder = byteorder
        self._storages: dict[str, LoadedStorage] = {}

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[4] >= 0):
            raise WeightsOnlyError(f"unsupported persistent id {str(pid)[:100]} (only storages are)")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        loaded = self._storages.get(key)
        if loaded is None:
            untyped = storage_type.dtype is None
            bfloat16 = isinstance(storage_type.dtype, str)
            dtype = np.dtype(np.uint8 if untyped else np.uint16 if bfloat16 else storage_type.dtype)
            array = self._read_storage(key, dtype, numel)
            if bfloat16:
                array = _bfloat16_to_float32(array)
            loaded = self._storages[key] = LoadedStorage(array, untyped, self._byteorder)
        return loaded

    def find_class(self, module, name):
        full = _name(module, name)
        if full in ALLOWED:
            return ALLOWED[full]
        if full in UNSUPPORTED:
            raise CheckpointError(f"it holds {UNSUPPORTED[full]} ({full}), which tinygrad_cnn cannot rebuild")
        return self._other_global(full, module, name)

    def _other_global(self, full, module, name):
        raise NotImplementedError


class WeightsOnlyUnpickler(_ArchiveUnpickler):
    """Refuses every global outside ``ALLOWED``: nothing from the file runs."""

    def _other_global(self, full, module, name):
        allowed = _user_allowed()
        if full in allowed:
            return allowed[full]
        raise WeightsOnlyError(
            f"Weights only load failed: the file names the global {full}, which the weights-only "
            "loader does not allow (it allows tensors, storages, dtypes, OrderedDict and plain "
            "containers, numbers and strings). A whole pickled object -- a model saved with "
            "save(model, f), an optimizer, any class of your own -- needs weights_only=False, but "
            "loading with weights_only=False can run arbitrary code: do it only if you trust the "
            "source of the file (or, trusting just this one, allow it with "
            f"serialization.add_safe_globals([{name}])). Better: save model.state_dict(), and "
            "load it with model.load_state_dict(load(f)).")


class FullUnpickler(_ArchiveUnpickler):
    """``weights_only=False``: imports what the file names (it can run any
    code). PyTorch's own classes other than tensors cannot be rebuilt here."""

    def _other_global(self, full, module, name):
        if module == "torch" or module.startswith("torch."):
            raise CheckpointError(
                f"it holds {full}, a PyTorch object that tinygrad_cnn cannot rebuild (only tensors, "
                "storages, dtypes, Size and device are mapped); in PyTorch, save its state_dict() instead")
        return super(_ArchiveUnpickler, self).find_class(module, name)

