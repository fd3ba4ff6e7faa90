"""Checkpoints that load without pickle: ``save(obj, f)`` / ``load(f)``, PyTorch's names.

    tc.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "epoch": 3, "history": {"loss": [0.9, 0.4]}}, "run/checkpoint.pth")
    checkpoint = tc.load("run/checkpoint.pth")
    model.load_state_dict(checkpoint["model"])

``f`` is a file name (any name: ``.pth``, ``.pt``, ``.ckpt``, ``.npz`` or
none -- it is used exactly as given) or a binary file object such as
``io.BytesIO``. What can be saved: dicts (keys ``str`` or ``int``), lists and
tuples, nested freely, holding Tensors, numpy arrays, numpy scalars,
``int``, ``float``, ``str``, ``bool`` and ``None``. ``load`` gives back the
same structure: Tensors as Tensors (with their dtype and ``requires_grad``;
a Parameter comes back as a plain Tensor), arrays as arrays, an
``OrderedDict`` (what ``state_dict()`` returns) as an ``OrderedDict`` and
every other mapping as a ``dict``. Whole modules or arbitrary objects cannot
be saved: that would need pickle (save ``model.state_dict()`` instead).

File layout: an uncompressed zip (what ``np.savez`` writes; float weights
barely compress), so ``np.load`` can read it too. Each array is one ``.npy``
member named by its path in the structure, e.g. ``model/conv1.weight`` or
``optimizer/state/0/exp_avg`` (each key percent-escaped, so a '/' inside a
key is not mistaken for nesting). The member ``#structure`` holds UTF-8 JSON
describing everything else and pointing at the array members. Loading uses
``np.load(allow_pickle=False)``: a checkpoint can never run code.

Saving to a file name is atomic: the file is written to a temporary file
beside the target, flushed to disk, then renamed over it, so an interrupted
save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import quote

import numpy as np

from ._atomic import atomic_write
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "tinygrad_cnn.checkpoint"
VERSION = 2          # 2 added Tensors and OrderedDicts; version 1 files still load
_READABLE = (1, 2)
# Escaped keys never contain '#', so this name cannot clash with an array's.
STRUCTURE_KEY = "#structure"
ROOT_ARRAY_KEY = "#root"

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # a zip with members / an empty zip
_NPY_MAGIC = b"\x93NUMPY"


class CheckpointError(ValueError):
    """A file that is not a readable tinygrad_cnn checkpoint."""


# --- save -------------------------------------------------------------------------------


class _Encoder:
    """Turns a structure into JSON-ready nodes, collecting its arrays.

    Nodes: JSON scalars as themselves, a list as a JSON list, and one-key
    objects for the rest: ``{"dict": [[key, node], ...]}`` (keeps int keys
    and order; ``"odict"`` for an OrderedDict), ``{"tuple": [...]}``,
    ``{"array": member}``, ``{"tensor": [member, requires_grad]}``,
    ``{"scalar": member}`` (a numpy scalar, kept with its dtype).
    """

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value, path: tuple):
        if isinstance(value, Tensor):
            return {"tensor": [self._add_array(value.data, path), bool(value.requires_grad)]}
        if isinstance(value, np.ndarray):
            return {"array": self._add_array(value, path)}
        if isinstance(value, np.generic):     # before float: np.float64 is a float
            return {"scalar": self._add_array(np.asarray(value), path)}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, Mapping):
            items = []
            for key, item in value.items():
                if isinstance(key, (bool, np.bool_)) or not isinstance(key, (str, int, np.integer)):
                    raise TypeError(f"save: key {key!r} at {_path_text(path)} is a {type(key).__name__}; "
                                    "only str and int keys can be saved")
                key = key if isinstance(key, str) else int(key)
                items.append([key, self.encode(item, path + (key,))])
            return {"odict" if isinstance(value, OrderedDict) else "dict": items}
        if isinstance(value, list):
            return [self.encode(item, path + (index,)) for index, item in enumerate(value)]
        if isinstance(value, tuple):
            return {"tuple": [self.encode(item, path + (index,)) for index, item in enumerate(value)]}
        if hasattr(value, "state_dict"):
            raise TypeError(f"save: {_path_text(path)} is a {type(value).__name__}: save its state_dict() "
                            "instead (tinygrad_cnn never pickles, so whole models and optimizers "
                            "cannot be saved; rebuild the model and load_state_dict() the saved state)")
        raise TypeError(f"save: {_path_text(path)} is a {type(value).__name__}, which cannot be saved "
                        "(use arrays, Tensors, numbers, str, bool, None, and dicts/lists/tuples of them)")

    def _add_array(self, array: np.ndarray, path: tuple) -> str:
        if array.dtype.hasobject:
            raise TypeError(f"save: {_path_text(path)} is an array of Python objects (dtype {array.dtype}); "
                            "only arrays of numbers, bools and strings can be saved without pickle")
        name = "/".join(_escape(key) for key in path) or ROOT_ARRAY_KEY
        unique, suffix = name, 1
        while unique in self.arrays:      # e.g. keys 1 and "1" in one dict
            suffix += 1
            unique = f"{name}~{suffix}"
        self.arrays[unique] = array
        return unique


def _escape(key) -> str:
    # '~' marks an empty key; collisions with a real "~" key are resolved
    # by the caller's de-duplication.
    return quote(str(key), safe="") or "~"


def _path_text(path: tuple) -> str:
    return "'" + "/".join(str(key) for key in path) + "'" if path else "the saved object"


def _write_member(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(name + ".npy", mode="w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _write_npz(file, arrays: dict, structure_text: str) -> None:
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        _write_member(archive, STRUCTURE_KEY, np.frombuffer(structure_text.encode("utf-8"), dtype=np.uint8))
        for name, array in arrays.items():
            _write_member(archive, name, array)


def save(obj, f) -> None:
    """Write ``obj`` (see the module docstring for what it may hold) to ``f``.

    f: a file name (str or os.PathLike) or a binary file object with
    ``write`` (e.g. ``io.BytesIO``; written from its current position, left
    open). A file name is used exactly as given: unlike ``np.savez``, no
    ``.npz`` is appended. Writing to a name is atomic: a temporary file in
    the same directory is written, fsynced and renamed over it; if anything
    fails (or is interrupted) the temporary file is removed and a previous
    file of that name is left untouched. An existing file keeps its
    permission bits; a new one gets the usual mode (0o666 minus the umask).

    Raises TypeError, before writing anything, for values that cannot be
    saved without pickle (modules, object arrays, sets, arbitrary classes).
    """
    if not hasattr(f, "write"):
        try:
            f = os.fspath(f)
        except TypeError:
            raise TypeError(f"save: f must be a file name (str or os.PathLike) or a binary file object, "
                            f"got {type(f).__name__}") from None
    # Encode everything first, so an unsaveable value never leaves a file.
    encoder = _Encoder()
    structure = {"format": FORMAT, "version": VERSION, "root": encoder.encode(obj, ())}
    structure_text = json.dumps(structure, ensure_ascii=False)

    if hasattr(f, "write"):
        _write_npz(f, encoder.arrays, structure_text)
        return
    directory = os.path.dirname(os.path.abspath(f))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory '{directory}' does not exist (saving '{f}')")
    with atomic_write(f, "wb") as file:
        _write_npz(file, encoder.arrays, structure_text)


# --- load -------------------------------------------------------------------------------


def load(f, map_location=None, *, weights_only=True, mmap=None):
    """Read a checkpoint written by ``save``; returns the saved structure.

    f: a file name or a binary file object with ``read`` (e.g. an
    ``io.BytesIO`` that ``save`` wrote to, after ``seek(0)``). Tensors come
    back as Tensors, arrays as arrays, with their dtypes; numpy scalars as
    numpy scalars; an OrderedDict as an OrderedDict, other mappings as dicts.

    map_location: everything is on the CPU, so None, 'cpu', a CPU device, a
    dict or a function are accepted and change nothing; a GPU device raises
    RuntimeError. weights_only: accepted for PyTorch's signature; nothing is
    ever unpickled, whatever its value (``weights_only=False`` does NOT enable
    pickle: checkpoints hold only arrays and JSON). mmap: only None/False.

    Raises FileNotFoundError when the file does not exist and CheckpointError
    (a ValueError) naming the file when it is truncated or corrupt, not ours,
    or holds a pickled object array (refused).
    """
    _check_map_location(map_location)
    if mmap:
        raise NotImplementedError("load: mmap=True is not supported")
    if hasattr(f, "read"):
        name = getattr(f, "name", None)
        label = f"'{name}'" if isinstance(name, str) else f"the {type(f).__name__} object"
        if not (hasattr(f, "seek") and f.seekable()):
            f = io.BytesIO(f.read())
        start = f.tell()
        magic = f.read(6)
        f.seek(start)
        source = f
    else:
        try:
            path = os.fspath(f)
        except TypeError:
            raise TypeError(f"load: f must be a file name (str or os.PathLike) or a binary file object, "
                            f"got {type(f).__name__}") from None
        label = f"'{path}'"
        try:
            with open(path, "rb") as file:
                magic = file.read(6)
        except FileNotFoundError:
            raise FileNotFoundError(f"load: no checkpoint at '{path}'") from None
        except IsADirectoryError:
            raise IsADirectoryError(f"load: '{path}' is a directory, not a checkpoint") from None
        source = path

    def fail(message, cause=None):
        raise CheckpointError(f"load: {label} {message}") from cause

    if not magic:
        fail("is empty, not a checkpoint")
    if magic.startswith(_NPY_MAGIC):
        fail("is a single .npy array, not a tinygrad_cnn checkpoint (.npz)")
    if not magic.startswith(_ZIP_MAGIC):
        fail("is not a tinygrad_cnn checkpoint: not an .npz (zip) file "
             "(files written by torch.save cannot be read: they hold pickles)")

    try:
        with np.load(source, allow_pickle=False) as npz:
            if STRUCTURE_KEY not in npz.files and any(n.endswith("data.pkl") for n in npz.files):
                fail("was written by torch.save: it holds pickles, which tinygrad_cnn never loads. "
                     "Convert it in PyTorch with numpy.savez(f, **{k: v.numpy() for k, v in "
                     "state_dict.items()}) and pass dict(numpy.load(f)) to load_state_dict")
            if STRUCTURE_KEY not in npz.files:
                listed = ", ".join(npz.files[:8]) + (", ..." if len(npz.files) > 8 else "")
                fail(f"is an .npz but not a tinygrad_cnn checkpoint: it has no '{STRUCTURE_KEY}' "
                     f"entry (entries: {listed or 'none'})")
            structure = _read_structure(npz[STRUCTURE_KEY], fail)
            arrays = {}
            for name in _array_names(structure["root"]):
                if name not in npz.files:
                    fail(f"is damaged: array '{name}' is missing")
                arrays[name] = _read_array(npz, name, fail)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        fail(f"is truncated or corrupt ({type(err).__name__}: {err})", err)
    return _decode(structure["root"], arrays, fail)


def _check_map_location(map_location) -> None:
    if map_location is None or callable(map_location) or isinstance(map_location, Mapping):
        return
    name = str(getattr(map_location, "type", map_location)).lower()
    if name != "cpu" and not name.startswith("cpu:"):
        raise RuntimeError(f"load: map_location={str(map_location)!r} is not available: "
                           "tinygrad_cnn runs on the CPU (use map_location='cpu' or leave it out)")


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
