"""The checkpoints tinygrad_cnn wrote before it wrote PyTorch's format: an
uncompressed ``.npz`` (what ``np.savez`` writes), each array one ``.npy``
member named by its path in the structure (``model/conv1.weight``), and the
member ``#structure.npy`` holding UTF-8 JSON that describes everything else::

    {"format": "tinygrad_cnn.checkpoint", "version": 2, "root": NODE}

A NODE is a JSON scalar, a JSON list, or a one-key object:
``{"dict": [[key, NODE], ...]}`` (``"odict"`` for an OrderedDict),
``{"tuple": [...]}``, ``{"array": member}``, ``{"tensor": [member,
requires_grad]}`` or ``{"scalar": member}`` (a numpy scalar). Version 1
had no tensors or OrderedDicts. Read with ``allow_pickle=False``: such a
file can never run code. They load as they were saved (arrays as arrays).
"""
from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np

from ..tensor import Tensor

__all__ = ["STRUCTURE_MEMBER", "read_npz_checkpoint"]

FORMAT = "tinygrad_cnn.checkpoint"
_READABLE = (1, 2)
STRUCTURE_KEY = "#structure"
STRUCTURE_MEMBER = STRUCTURE_KEY + ".npy"


def read_npz_checkpoint(file, fail):
    """The structure an old checkpoint holds, from a binary file object;
    ``fail(message, cause=None)`` raises the caller's error."""
    with np.load(file, allow_pickle=False) as npz:
        structure = _read_structure(npz[STRUCTURE_KEY], fail)
        arrays = {}
        for name in _array_names(structure["root"]):
            if name not in npz.files:
                fail(f"is damaged: array '{name}' is missing")
            arrays[name] = _read_array(npz, name, fail)
    return _decode(structure["root"], arrays, fail)


def _read_structure(raw: np.ndarray, fail) -> dict:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        fail(f"has a malformed '{STRUCTURE_KEY}' entry (dtype {raw.dtype}, shape {raw.shape})")
    try:
        structure = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        fail(f"has a malformed '{STRUCTURE_KEY}' entry ({err})", err)
    if not isinstance(structure, dict) or structure.get("format") != FORMAT or "root" not in structure:
        fail(f"is not a tinygrad_cnn checkpoint (its '{STRUCTURE_KEY}' entry is not ours)")
    if structure.get("version") not in _READABLE:
        fail(f"has checkpoint format version {structure.get('version')!r}; "
             f"this tinygrad_cnn reads versions {', '.join(map(str, _READABLE))}")
    return structure


def _read_array(npz, name: str, fail) -> np.ndarray:
    try:
        return npz[name]
    except ValueError as err:
        if "allow_pickle" in str(err):
            fail(f"holds a pickled object array '{name}'; refused, since unpickling could run "
                 "arbitrary code (checkpoints are loaded with allow_pickle=False)", err)
        raise


def _array_names(node):
    """Every array member a structure node points at."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict) and len(node) == 1:
            (tag, body), = node.items()
            if tag in ("array", "scalar") and isinstance(body, str):
                yield body
            elif tag == "tensor" and isinstance(body, list) and body and isinstance(body[0], str):
                yield body[0]
            elif tag == "tuple" and isinstance(body, list):
                stack.extend(body)
            elif tag in ("dict", "odict") and isinstance(body, list):
                stack.extend(item[1] for item in body if isinstance(item, list) and len(item) == 2)


def _decode(node, arrays: dict, fail):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(item, arrays, fail) for item in node]
    if isinstance(node, dict) and len(node) == 1:
        (tag, body), = node.items()
        if tag == "array" and body in arrays:
            return arrays[body]
        if tag == "scalar" and body in arrays:
            return arrays[body][()]
        if (tag == "tensor" and isinstance(body, list) and len(body) == 2 and body[0] in arrays
                and isinstance(body[1], bool)):
            array = arrays[body[0]]
            return Tensor(array, requires_grad=body[1] and array.dtype.kind == "f")
        if tag == "tuple" and isinstance(body, list):
            return tuple(_decode(item, arrays, fail) for item in body)
        if tag in ("dict", "odict") and isinstance(body, list) and all(
                isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                and not isinstance(item[0], bool) for item in body):
            mapping = OrderedDict if tag == "odict" else dict
            return mapping((key, _decode(item, arrays, fail)) for key, item in body)
    fail(f"has a malformed '{STRUCTURE_KEY}' entry (unexpected node {str(node)[:80]})")
