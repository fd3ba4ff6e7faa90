"""The safetensors layout, written and read here without the package::

    8 bytes     N, the header's length (unsigned, little-endian)
    N bytes     UTF-8 JSON: {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
                             ..., "__metadata__": {str: str}}  (optional), padded with spaces
    the rest    every tensor's raw little-endian elements, C order, at its offsets
                (relative to the end of the header), with no gaps and no overlaps

It holds a flat dict of name -> tensor and nothing else, so loading it can
never run code. bfloat16 tensors (numpy has no such type) load as float32,
exactly.
"""
from __future__ import annotations

import json
import math
import struct
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor
from .errors import CheckpointError

__all__ = ["prepare_safetensors", "write_safetensors", "read_safetensors", "looks_like_safetensors"]

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16,
          "U8": np.uint8, "BOOL": np.bool_, "C64": np.complex64}
CODES = {np.dtype(dtype): code for code, dtype in DTYPES.items()}
_MAX_HEADER = 100_000_000     # the package's own limit


def prepare_safetensors(state_dict) -> tuple[bytes, list]:
    """Check a flat dict of str -> Tensor (or numpy array) and lay it out:
    ``(the length and header, [array, ...])``. TypeError for anything else."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: a .safetensors file holds a flat dict of str -> tensor, got a "
                        f"{type(state_dict).__name__} (save other objects to a .pt file)")
    header, arrays, offset = {}, [], 0
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: a .safetensors file holds a flat dict of str -> tensor; the key "
                            f"{name!r} is a {type(name).__name__}")
        array = value.data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"save: a .safetensors file holds a flat dict of str -> tensor; '{name}' is a "
                            f"{type(value).__name__} (save nested checkpoints to a .pt file)")
        code = CODES.get(array.dtype)
        if code is None:
            raise TypeError(f"save: '{name}' has dtype {array.dtype}, which safetensors has no code for")
        array = array if array.flags.c_contiguous else np.array(array, order="C")   # (keeps 0-d arrays 0-d)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        arrays.append(array)
        offset += array.nbytes
    header["__metadata__"] = {"format": "pt"}     # what PyTorch-side readers look for
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)          # so the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text, arrays


def write_safetensors(file, prepared: tuple[bytes, list]) -> None:
    """Write what ``prepare_safetensors`` laid out to a binary file object."""
    header, arrays = prepared
    file.write(header)
    for array in arrays:
        file.write(memoryview(array.reshape(-1).view(np.uint8)))


def looks_like_safetensors(start: bytes) -> bool:
    """The first 9+ bytes: a plausible header length, then '{'."""
    return len(start) >= 9 and start[8:9] == b"{" and struct.unpack("<Q", start[:8])[0] <= _MAX_HEADER


def read_safetensors(file, size: int) -> OrderedDict:
    """Name -> Tensor from a binary file object positioned at the file's
    start (``size`` bytes long). Raises CheckpointError (without the file's
    name) for a malformed file."""
    start = file.tell()
    length = struct.unpack("<Q", _read_exactly(file, 8))[0]
    if length > _MAX_HEADER or 8 + length > size:
        raise CheckpointError(f"its safetensors header says {length} bytes, the file has {size}")
    try:
        header = json.loads(_read_exactly(file, length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"its safetensors header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError("its safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    data_size = size - 8 - length
    entries, end = [], 0
    for name, entry in header.items():
        entries.append((_check_entry(name, entry, data_size), name))
    entries.sort()
    for (begin, stop, _, _), name in entries:
        if begin != end:
            raise CheckpointError(f"its tensor '{name}' starts at byte {begin} of the data, expected {end} "
                                  "(tensors must follow each other with no gaps or overlaps)")
        end = stop
    if end != data_size:
        raise CheckpointError(f"its tensors cover {end} bytes of data, the file has {data_size}")
    tensors = {}
    for (begin, stop, dtype, shape), name in entries:
        file.seek(start + 8 + length + begin)
        array = np.empty(shape, dtype=np.dtype(np.uint16 if dtype == "BF16" else DTYPES[dtype]).newbyteorder("<"))
        view = memoryview(array.reshape(-1).view(np.uint8))
        if file.readinto(view) != view.nbytes:
            raise CheckpointError(f"its tensor '{name}' ends past the end of the file")
        if dtype == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = Tensor(array.astype(array.dtype.newbyteorder("="), copy=False))
    return OrderedDict((name, tensors[name]) for name in header)


def _check_entry(name, entry, data_size: int):
    if not (isinstance(entry, dict) and entry.get("dtype") in (*DTYPES, "BF16")
            and isinstance(entry.get("shape"), list) and isinstance(entry.get("data_offsets"), list)
            and all(isinstance(n, int) and n >= 0 for n in entry["shape"])
            and len(entry["data_offsets"]) == 2
            and all(isinstance(n, int) and n >= 0 for n in entry["data_offsets"])):
        raise CheckpointError(f"its entry for '{name}' is not a tensor description "
                              f"(dtype, shape, data_offsets): {str(entry)[:100]}")
    begin, stop = entry["data_offsets"]
    itemsize = 2 if entry["dtype"] == "BF16" else np.dtype(DTYPES[entry["dtype"]]).itemsize
    numel = math.prod(entry["shape"])      # Python ints: a crafted shape cannot overflow
    if stop - begin != numel * itemsize or stop > data_size:
        raise CheckpointError(f"its tensor '{name}' ({entry['dtype']}, shape {entry['shape']}) has data "
                              f"offsets [{begin}, {stop}], which do not fit it or the file")
    return begin, stop, entry["dtype"], tuple(entry["shape"])


def _read_exactly(file, count: int) -> bytes:
    data = file.read(count)
    if len(data) != count:
        raise CheckpointError("it ends inside its safetensors header")
    return data
