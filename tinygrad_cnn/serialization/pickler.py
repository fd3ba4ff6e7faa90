"""A protocol-2 pickler that writes what ``torch.save`` writes, without torch.

``pickle.Pickler`` cannot be used for this: it writes a global only after
importing it and checking that it is the object being saved, and here the
globals (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``, ...)
name a library that need not be installed. So the opcodes are written by
hand; there are few of them (see ``pickletools`` for each one's meaning).

What a Tensor becomes, as in PyTorch's files::

    torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())

where ``storage`` is a persistent id ``('storage', torch.FloatStorage, key,
'cpu', numel)`` naming the archive record ``data/<key>`` that holds the raw
little-endian elements. A Parameter wraps that in
``torch._utils._rebuild_parameter(tensor, requires_grad, OrderedDict())``.
Anything that is not a tensor, a plain container, a number, a string, a
dtype, a Size or a device is pickled by Python's reduce protocol
(``__reduce_ex__(2)``), exactly as ``pickle`` would: that is how a whole
model is saved, and why the weights-only loader then refuses the file.
"""
from __future__ import annotations

import copyreg
import pickle
import struct
import sys
import types
import numpy as np

from ..nn.module import Parameter
from ..tensor import Tensor
from ..types import Size, device, dtype as tensor_dtype

__all__ = ["TorchPickler", "STORAGE_TYPES"]

# numpy dtype -> the storage class PyTorch names in its persistent ids.
STORAGE_TYPES = {
    np.dtype(np.float64): "DoubleStorage", np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage", np.dtype(np.int16): "ShortStorage",
    np.dtype(np.int8): "CharStorage", np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage", np.dtype(np.complex64): "ComplexFloatStorage",
    np.dtype(np.complex128): "ComplexDoubleStorage",
}
# dtypes PyTorch added later have no typed storage: an untyped (byte)
# storage, rebuilt by _rebuild_tensor_v3, which also names the dtype.
UNTYPED_DTYPES = {np.dtype(np.uint16): "uint16", np.dtype(np.uint32): "uint32", np.dtype(np.uint64): "uint64"}

_BATCH = 1000          # items per APPENDS / SETITEMS, as pickle does


class TorchPickler:
    """``dumps(obj)`` -> the bytes of ``data.pkl``; ``storages`` then lists
    ``(key, array)``: each array C-contiguous and little-endian, to be written
    as the record ``data/<key>``."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._memo: dict[int, tuple[int, object]] = {}     # id -> (memo index, the object, kept alive)
        self._globals: dict[tuple[str, str], int] = {}
        self._next_index = 0
        self._storage_ids: dict[int, tuple] = {}          # id(array) -> its persistent id
        self._arrays: list[np.ndarray] = []               # keeps those ids valid
        self.storages: list[tuple[str, np.ndarray]] = []
        self._path: list = []

    def dumps(self, obj) -> bytes:
        self._write(pickle.PROTO + b"\x02")
        self._save(obj)
        self._write(pickle.STOP)
        return b"".join(self._chunks)

    # --- the pieces ------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        self._chunks.append(data)

    def _put(self, obj) -> None:
        self._memo[id(obj)] = (self._write_put(), obj)

    def _write_put(self) -> int:
        index = self._next_index
        self._next_index += 1
        self._write(pickle.BINPUT + bytes([index]) if index < 256
                    else pickle.LONG_BINPUT + struct.pack("<I", index))
        return index

    def _get(self, index: int) -> None:
        self._write(pickle.BINGET + bytes([index]) if index < 256
                    else pickle.LONG_BINGET + struct.pack("<I", index))

    def _global(self, module: str, name: str) -> None:
        index = self._globals.get((module, name))
        if index is not None:
            return self._get(index)
        self._write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n")
        self._globals[(module, name)] = self._write_put()

    def _call(self, module: str, name: str, *args) -> None:
        """``module.name(*args)``: GLOBAL, the argument tuple, REDUCE."""
        self._global(module, name)
        self._save(tuple(args))
        self._write(pickle.REDUCE)

    def _where(self) -> str:
        return "'" + "/".join(str(key) for key in self._path) + "'" if self._path else "the saved object"

    # --- dispatch --------------------------------------------------------------------
    def _save(self, obj) -> None:
        if obj is None:
            return self._write(pickle.NONE)
        if obj is True or obj is False:
            return self._write(pickle.NEWTRUE if obj else pickle.NEWFALSE)
        kind = type(obj)
        if kind is int:
            return self._save_int(obj)
        if kind is float:
            return self._write(pickle.BINFLOAT + struct.pack(">d", obj))
        if kind is str:
            data = obj.encode("utf-8", "surrogatepass")
            return self._write(pickle.BINUNICODE + struct.pack("<I", len(data)) + data)
        if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
            return self._save(obj.item())      # numpy scalars become Python numbers
        memo = self._memo.get(id(obj))
        if memo is not None:
            return self._get(memo[0])
        if isinstance(obj, Tensor):
            return self._save_tensor(obj)
        if isinstance(obj, np.ndarray):     # numpy arrays become tensors
            self._save_array(obj, requires_grad=False)
            return self._put(obj)
        if kind is tuple:
            return self._save_tuple(obj)
        if kind is list:
            self._write(pickle.EMPTY_LIST)
            self._put(obj)
            return self._save_items(enumerate(obj), pickle.APPENDS, pairs=False)
        if kind is dict:
            self._write(pickle.EMPTY_DICT)
            self._put(obj)
            return self._save_items(obj.items(), pickle.SETITEMS, pairs=True)
        if kind is bytes:       # as protocol 2 writes bytes (and torch's loader allows)
            self._call("_codecs", "encode", obj.decode("latin1"), "latin1")
            return self._put(obj)
        if isinstance(obj, tensor_dtype):
            return self._global("torch", _torch_dtype_name(obj.dtype, self._where()))
        if isinstance(obj, Size):
            self._call("torch", "Size", tuple(int(n) for n in obj))
            return self._put(obj)
        if isinstance(obj, device):
            self._call("torch", "device", "cpu")
            return self._put(obj)
        if isinstance(obj, (type, types.FunctionType)):
            return self._save_global(obj, getattr(obj, "__qualname__", obj.__name__))
        return self._save_reduce(obj)

    def _save_int(self, value: int) -> None:
        if 0 <= value < 256:
            return self._write(pickle.BININT1 + bytes([value]))
        if 0 <= value < 65536:
            return self._write(pickle.BININT2 + struct.pack("<H", value))
        if -2**31 <= value < 2**31:
            return self._write(pickle.BININT + struct.pack("<i", value))
        data = value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)
        self._write((pickle.LONG1 + bytes([len(data)]) if len(data) < 256
                     else pickle.LONG4 + struct.pack("<i", len(data))) + data)

    def _save_tuple(self, obj: tuple) -> None:
        if not obj:
            return self._write(pickle.EMPTY_TUPLE)
        short = len(obj) <= 3
        if not short:
            self._write(pickle.MARK)
        for index, item in enumerate(obj):
            self._path.append(index)
            self._save(item)
            self._path.pop()
        memo = self._memo.get(id(obj))
        if memo is not None:
            # The tuple was reached again through its own items (via a list or
            # an object): drop the items just pushed and use the memoized one.
            self._write(pickle.POP * len(obj) if short else pickle.POP_MARK)
            return self._get(memo[0])
        self._write((pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3)[len(obj) - 1] if short else pickle.TUPLE)
        self._put(obj)

    def _save_items(self, items, opcode: bytes, pairs: bool) -> None:
        """APPENDS (items of a list) or SETITEMS (pairs of a dict), in batches."""
        batch = []
        for key, value in items:
            batch.append((key, value))
            if len(batch) == _BATCH:
                self._save_batch(batch, opcode, pairs)
                batch = []
        if batch:
            self._save_batch(batch, opcode, pairs)

    def _save_batch(self, batch, opcode: bytes, pairs: bool) -> None:
        self._write(pickle.MARK)
        for key, value in batch:
            if pairs:
                self._save(key)
            self._path.append(key)
            self._save(value)
            self._path.pop()
        self._write(opcode)

    # --- tensors -----------------------------------------------------------------------
    def _save_tensor(self, tensor: Tensor) -> None:
        requires_grad = bool(tensor.requires_grad)
        if isinstance(tensor, Parameter):
            self._global("torch._utils", "_rebuild_parameter")
            self._write(pickle.MARK)
            self._save_array(tensor.data, requires_grad=False)
            self._save(requires_grad)
            self._empty_ordered_dict()
            self._write(pickle.TUPLE + pickle.REDUCE)
        else:
            self._save_array(tensor.data, requires_grad)
        self._put(tensor)

    def _save_array(self, array: np.ndarray, requires_grad: bool) -> None:
        """An array as PyTorch's ``_rebuild_tensor_v2`` (v3 for the dtypes
        that have no typed storage) of a contiguous copy of it."""
        untyped = UNTYPED_DTYPES.get(array.dtype)
        if array.dtype not in STORAGE_TYPES and untyped is None:
            raise TypeError(f"save: {self._where()} is an array of dtype {array.dtype}, which has no "
                            "PyTorch tensor type (arrays of numbers and bools can be saved)")
        self._global("torch._utils", "_rebuild_tensor_v3" if untyped else "_rebuild_tensor_v2")
        self._write(pickle.MARK)
        self._save_storage(array, untyped is not None)
        shape = tuple(int(n) for n in array.shape)
        strides = tuple(int(np.prod(shape[axis + 1:], dtype=np.int64)) for axis in range(len(shape)))
        self._save(0)
        self._save(shape)
        self._save(strides)
        self._save(requires_grad)
        self._empty_ordered_dict()
        if untyped:
            self._global("torch", untyped)
        self._write(pickle.TUPLE + pickle.REDUCE)

    def _save_storage(self, array: np.ndarray, untyped: bool) -> None:
        pid = self._storage_ids.get(id(array))
        if pid is None:
            data = array if array.flags.c_contiguous else np.array(array, order="C")
            data = data.astype(data.dtype.newbyteorder("<"), copy=False)
            key = str(len(self.storages))
            self.storages.append((key, data))
            if untyped:
                pid = ("storage", ("torch.storage", "UntypedStorage"), key, "cpu", int(data.nbytes))
            else:
                pid = ("storage", ("torch", STORAGE_TYPES[array.dtype]), key, "cpu", int(data.size))
            self._storage_ids[id(array)] = pid
            self._arrays.append(array)
        self._write(pickle.MARK)
        self._save(pid[0])
        self._global(*pid[1])
        for item in pid[2:]:
            self._save(item)
        self._write(pickle.TUPLE + pickle.BINPERSID)

    def _empty_ordered_dict(self) -> None:
        self._global("collections", "OrderedDict")
        self._write(pickle.EMPTY_TUPLE + pickle.REDUCE)

    # --- everything else: globals and the reduce protocol --------------------------------
    def _save_global(self, obj, name: str, module: str | None = None) -> None:
        module = module or getattr(obj, "__module__", None)
        target = sys.modules.get(module) if module else None
        for part in name.split("."):
            target = getattr(target, part, None)
        if target is not obj:
            raise TypeError(f"save: {self._where()} is {obj!r}, which cannot be pickled: it is not "
                            f"importable as {module}.{name} (lambdas and local functions or classes "
                            "are not)")
        self._global(module, name)

    def _save_reduce(self, obj) -> None:
        try:
            reduced = obj.__reduce_ex__(2)
        except Exception as err:    # noqa: BLE001  (pickle's own refusal, with where it happened)
            raise TypeError(f"save: {self._where()} is a {type(obj).__name__}, which cannot be pickled "
                            f"({err})") from None
        if isinstance(reduced, str):
            return self._save_global(obj, reduced, getattr(obj, "__module__", None))
        func, args, state, list_items, dict_items = (tuple(reduced) + (None,) * 5)[:5]
        if func is copyreg.__newobj__:
            self._save(args[0])
            self._save(tuple(args[1:]))
            self._write(pickle.NEWOBJ)
        elif func is getattr(copyreg, "__newobj_ex__", None):
            cls, args, kwargs = args
            if kwargs:
                raise TypeError(f"save: {self._where()} is a {type(obj).__name__}, which needs keyword "
                                "arguments to be rebuilt; protocol 2 cannot pickle it")
            self._save(cls)
            self._save(tuple(args))
            self._write(pickle.NEWOBJ)
        else:
            self._save(func)
            self._save(tuple(args))
            self._write(pickle.REDUCE)
        memo = self._memo.get(id(obj))
        if memo is not None:         # reached again through its own arguments
            self._write(pickle.POP)
            return self._get(memo[0])
        self._put(obj)
        if list_items is not None:
            self._save_items(enumerate(list_items), pickle.APPENDS, pairs=False)
        if dict_items is not None:
            self._save_items(dict_items, pickle.SETITEMS, pairs=True)
        if state is not None:
            self._save(state)
            self._write(pickle.BUILD)


def _torch_dtype_name(numpy_dtype: np.dtype, where: str) -> str:
    """``torch.<name>``: for every dtype a tensor can have here, numpy's name is PyTorch's."""
    if numpy_dtype in STORAGE_TYPES or numpy_dtype in UNTYPED_DTYPES:
        return numpy_dtype.name
    raise TypeError(f"save: {where} is the dtype {numpy_dtype}, which PyTorch has no name for")
